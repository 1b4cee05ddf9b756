// The one seam between the sync service and where dbfiles live. Push, pull, the
// log, auth, queries, storage usage and backups reach dbfiles only through Storage.
//
// Every dbfile is read and written as a SQLite database with zumero's tables, so the
// sync logic is the same whatever the backend: SqliteFileStorage keeps one file per
// dbfile under --data-dir; PgStorage (--store postgresql://...) keeps the
// authoritative record in PostgreSQL and a disposable SQLite copy per node.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/dbfile_store.h"

namespace zumero::server {

// The backend cannot be reached or failed in a way the client may retry (HTTP 503).
class StorageUnavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// An open write transaction on one dbfile, holding the dbfile's writer lock: no other
// writer, on this node or any other, runs until it ends. Destroying it without
// commit() rolls everything back; a dbfile being created then never appears.
class WriteSession {
public:
  virtual ~WriteSession() = default;
  virtual sqlite3 *db() = 0;
  // The dbfile did not exist: it appears, whole, when commit() returns.
  virtual bool creating() const = 0;
  // Makes the transaction durable in the backend; throws (and keeps nothing) on failure.
  virtual void commit() = 0;
};

class Storage {
public:
  virtual ~Storage() = default;

  // Prepares the backend (tables, directories); called once before serving.
  virtual void open() = 0;
  // What the backend is, for logs, /metrics and /status ("sqlite-files", "postgresql").
  virtual std::string kind() const = 0;

  virtual std::vector<std::string> list() = 0;
  virtual bool exists(const std::string &dbfile) = 0;
  // A connection showing the dbfile's newest committed state (the caller opens its own
  // read transaction); nothing when the dbfile does not exist. read() throws
  // zumero:no_such_dbfile instead.
  virtual std::optional<PooledConnection> try_read(const std::string &dbfile) = 0;
  PooledConnection read(const std::string &dbfile);
  // Begins a write transaction (BEGIN IMMEDIATE) on the dbfile, or on a draft of it
  // when it does not exist yet.
  virtual std::unique_ptr<WriteSession> write(const std::string &dbfile) = 0;
  // Bytes the dbfile takes; 0 when it does not exist.
  virtual std::int64_t size(const std::string &dbfile) = 0;
  // A consistent copy of the dbfile as one self-contained SQLite file at `target`.
  virtual void backup(const std::string &dbfile, const std::filesystem::path &target) = 0;
  // Deletes the dbfile and everything recorded about it.
  virtual void remove(const std::string &dbfile) = 0;
};

// The default backend: one SQLite file per dbfile under the data directory.
std::unique_ptr<Storage> make_sqlite_file_storage(const std::filesystem::path &data_dir);
// PostgreSQL at `conninfo` holds every dbfile; `cache_dir` keeps this node's copies.
// It keeps up to `connections` connections to PostgreSQL open between requests.
std::unique_ptr<Storage> make_postgresql_storage(const std::string &conninfo, const std::filesystem::path &cache_dir,
                                                 std::size_t connections);


}  // namespace zumero::server
