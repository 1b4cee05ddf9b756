// The server's dbfiles: one SQLite file per dbfile under the data directory, each a
// zumero database with full history. Writers of one dbfile are serialised; readers
// use their own connections (WAL) and never wait for a writer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"

namespace zumero::server {

// An open connection with the zumero module registered; closes itself.
class Connection {
public:
  // wal: the dbfiles in service use write-ahead logging; a dbfile being created does
  // not, so that its file holds everything once committed and closed.
  Connection(const std::filesystem::path &path, bool create, bool wal = true);
  ~Connection();
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  sqlite3 *get() const { return db_; }

private:
  sqlite3 *db_ = nullptr;
};

// The largest string, blob or row any dbfile connection may make (SQLITE_LIMIT_LENGTH):
// a definition such as DEFAULT (zeroblob(1e9)) fails with SQLITE_TOOBIG instead of
// taking the memory. The service sets it to the largest payload it accepts.
void set_value_limit(std::size_t bytes);

class DbfileStore;

// A connection borrowed from the store; goes back to its pool when destroyed, unless
// the dbfile was discarded meanwhile.
class PooledConnection {
public:
  PooledConnection(DbfileStore &store, std::string dbfile, std::uint64_t generation,
                   std::unique_ptr<Connection> connection)
      : store_(store), dbfile_(std::move(dbfile)), generation_(generation), connection_(std::move(connection)) {}
  ~PooledConnection();
  PooledConnection(PooledConnection &&) = default;
  PooledConnection(const PooledConnection &) = delete;
  PooledConnection &operator=(const PooledConnection &) = delete;
  sqlite3 *get() const { return connection_->get(); }

private:
  DbfileStore &store_;
  std::string dbfile_;
  std::uint64_t generation_;
  std::unique_ptr<Connection> connection_;
};

class DbfileStore {
public:
  explicit DbfileStore(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

  // Connections stay open between requests: reopening a WAL database for every
  // request would checkpoint it (and sync the disk) each time the last one closes.
  // Without `create`, a dbfile that does not exist throws zumero::Error.
  PooledConnection acquire(const std::string &dbfile, bool create);
  void give_back(const std::string &dbfile, std::uint64_t generation, std::unique_ptr<Connection> connection);
  // Closes the pooled connections of dbfile and removes its files. Connections
  // borrowed before are closed when they come back.
  void discard(const std::string &dbfile);

  // Creates dbfile, which must not exist: build() fills a draft file under a name no
  // dbfile can have, and when it returns true the draft takes the dbfile's name (an
  // atomic rename), so nobody ever sees a dbfile half made. Otherwise, or when build
  // throws, nothing is left. The caller holds the dbfile's writer lock.
  bool create(const std::string &dbfile, const std::function<bool(sqlite3 *)> &build);
  // The same in steps: a fresh draft, then either its publication under the dbfile's
  // name or its removal. The draft's connection must be closed first.
  std::unique_ptr<Connection> open_draft(const std::string &dbfile);
  void publish_draft(const std::string &dbfile);
  void drop_draft(const std::string &dbfile);

  std::filesystem::path path_of(const std::string &dbfile) const { return data_dir_ / (dbfile + ".db"); }
  // Every dbfile, by name.
  std::vector<std::string> list() const;
  bool exists(const std::string &dbfile) const { return std::filesystem::exists(path_of(dbfile)); }
  // The lock every writer of dbfile holds for the length of its transaction.
  std::mutex &writer_lock(const std::string &dbfile);
  const std::filesystem::path &data_dir() const { return data_dir_; }

private:
  std::filesystem::path draft_path(const std::string &dbfile) const;
  struct Pool {
    std::uint64_t generation = 0;
    std::vector<std::unique_ptr<Connection>> idle;
  };
  std::filesystem::path data_dir_;
  std::mutex locks_mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;
  std::mutex pool_mutex_;
  std::map<std::string, Pool> pools_;
};

// A consistent copy of the database file `source` as a self-contained file `target`,
// through SQLite's online backup API in one read transaction (writers of a WAL
// database go on meanwhile).
void copy_database_file(const std::filesystem::path &source, const std::filesystem::path &target);

// Server-side bookkeeping in a dbfile: its current version with a random token per
// version (so a client can tell this history from another one under the same numbers,
// after a restore from backup), per client the packages applied with the replies they
// got (so a retried push gets the same answer), and the rows clients restored after
// versions were lost, with the lost version each came from (t$restored).
void ensure_server_tables(sqlite3 *db);
std::int64_t current_version(sqlite3 *db);
// The token of a version; empty for version 0 or a version this dbfile never had.
std::string version_token(sqlite3 *db, std::int64_t version);
// Makes `version` the current version with a fresh token; returns the token.
std::string advance_version(sqlite3 *db, std::int64_t version);

// Runs change(version) in the write transaction of `db` as the dbfile's next
// version (the server tables made first when missing); returns that version.
std::int64_t next_version(sqlite3 *db, const std::function<void(std::int64_t)> &change);

}  // namespace zumero::server
