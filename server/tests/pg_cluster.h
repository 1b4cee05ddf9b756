// Test fixture: a private PostgreSQL server on a free 127.0.0.1 port.
//
//   if (!zumero::test::PgCluster::available()) { WARN("PostgreSQL not installed"); return; }
//   zumero::test::PgCluster cluster;                 // initdb + start, about a second
//   cluster.create_database("zumero");
//   zumero::server::pg::PgConnection db(cluster.conninfo("zumero"));
//   cluster.kill_hard();  cluster.start();           // crash and crash recovery
//
// The cluster lives in a fresh directory (data/, postgres.log, initdb.log) under
// /dev/shm when that has room and TMPDIR is not set (initdb is several times faster
// in memory than on a busy disk), else under the system temporary directory. It is
// deleted on destruction unless ZUMERO_KEEP_TEST_DIRS=1. The server runs with fsync off: a
// killed server loses nothing that was committed, only a machine crash would. Trust
// authentication, superuser "postgres", UTF8, C locale, time zone UTC.
//
// PostgreSQL refuses to run as root, so as root the programs run as the "postgres"
// system user (the directory is handed to it); otherwise as the current user.
//
// Nothing outlives the test program: the server is its child process and is asked to
// shut down (SIGQUIT, immediate mode) when the thread that started it dies, so create
// clusters from a thread that outlives them (the main thread, for Catch2 tests). A
// directory left behind by a test program that crashed is removed by the next one
// (each directory holds a lock for as long as its owner or its server lives). Every
// cluster has its own directory and port, so concurrent runs never meet.
//
// Not thread-safe: one thread drives a cluster (connections to it are independent).
#pragma once

#include <filesystem>
#include <string>

#include <sys/types.h>

namespace zumero::test {

class PgCluster {
public:
  // Runs initdb, then start(). Throws std::runtime_error (with the log) on failure.
  PgCluster();
  // Immediate shutdown, then the directory is removed. Never throws.
  ~PgCluster();
  PgCluster(const PgCluster &) = delete;
  PgCluster &operator=(const PgCluster &) = delete;

  // PostgreSQL's initdb and postgres were found (and, as root, a postgres user
  // exists). Tests tagged [postgresql] skip with a WARN otherwise.
  static bool available();

  // "postgresql://postgres@127.0.0.1:PORT/DATABASE". The port stays the same across
  // stop()/start(), so pools and connection strings keep working after a restart.
  std::string conninfo(const std::string &database = "postgres") const;
  void create_database(const std::string &name);

  // Starts the server when it is not running and waits until it accepts
  // connections (after a kill_hard(), that includes crash recovery).
  void start();
  // Fast shutdown: sessions are ended, the server checkpoints and exits.
  void stop();
  void restart();
  // SIGKILL to the postmaster and every backend at once, as in a crash: clients see
  // their connections drop, and the next start() runs crash recovery. Makes the test
  // program a child subreaper (prctl), so that it can reap the orphaned backends.
  void kill_hard();

  bool running() const { return postmaster_ > 0; }
  int port() const { return port_; }
  pid_t postmaster_pid() const { return postmaster_; }
  const std::filesystem::path &directory() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  // Everything the server wrote so far, across restarts.
  std::string log() const;

private:
  void initdb();
  bool launch(int port);
  void signal_and_wait(int signal);

  void release_directory() noexcept;

  std::filesystem::path dir_;
  int lock_fd_ = -1;
  pid_t postmaster_ = -1;
  int port_ = 0;  // chosen by the first successful start()
};

}  // namespace zumero::test
