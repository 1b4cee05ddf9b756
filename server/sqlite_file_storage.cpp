// Storage as one SQLite file per dbfile under the data directory (the default).
#include <mutex>
#include <optional>

#include "base/sql.h"
#include "server/storage.h"

namespace zumero::server {
namespace {

namespace fs = std::filesystem;

// The session of an existing dbfile: its pooled connection inside BEGIN IMMEDIATE.
class FileWriteSession : public WriteSession {
public:
  FileWriteSession(std::unique_lock<std::mutex> lock, PooledConnection connection)
      : lock_(std::move(lock)), connection_(std::move(connection)), transaction_(connection_.get(), "BEGIN IMMEDIATE") {}
  sqlite3 *db() override { return connection_.get(); }
  bool creating() const override { return false; }
  void commit() override { transaction_.commit(); }

private:
  std::unique_lock<std::mutex> lock_;
  PooledConnection connection_;
  Transaction transaction_;
};

// The session of a dbfile being created: a draft that takes the dbfile's name once
// committed (DbfileStore::create), so nobody ever sees half a dbfile.
class DraftWriteSession : public WriteSession {
public:
  DraftWriteSession(std::unique_lock<std::mutex> lock, DbfileStore &store, const std::string &dbfile)
      : lock_(std::move(lock)), store_(store), dbfile_(dbfile), draft_(store.open_draft(dbfile)),
        transaction_(std::in_place, draft_->get(), "BEGIN IMMEDIATE") {}
  ~DraftWriteSession() override {
    transaction_.reset();
    draft_.reset();
    if (!committed_) store_.drop_draft(dbfile_);
  }
  sqlite3 *db() override { return draft_->get(); }
  bool creating() const override { return true; }
  void commit() override {
    transaction_->commit();
    transaction_.reset();
    draft_.reset();
    store_.publish_draft(dbfile_);
    committed_ = true;
  }

private:
  std::unique_lock<std::mutex> lock_;
  DbfileStore &store_;
  std::string dbfile_;
  std::unique_ptr<Connection> draft_;
  std::optional<Transaction> transaction_;
  bool committed_ = false;
};

class SqliteFileStorage : public Storage {
public:
  explicit SqliteFileStorage(fs::path data_dir) : store_(std::move(data_dir)) {}

  void open() override { fs::create_directories(store_.data_dir()); }
  std::string kind() const override { return "sqlite-files"; }
  std::vector<std::string> list() override { return store_.list(); }
  bool exists(const std::string &dbfile) override { return store_.exists(dbfile); }
  std::optional<PooledConnection> try_read(const std::string &dbfile) override {
    if (!store_.exists(dbfile)) return std::nullopt;
    return store_.acquire(dbfile, false);
  }

  std::unique_ptr<WriteSession> write(const std::string &dbfile) override {
    // Creating and removing a dbfile happen only under this lock, so what exists() says
    // holds for the whole session.
    std::unique_lock<std::mutex> lock(store_.writer_lock(dbfile));
    if (store_.exists(dbfile)) return std::make_unique<FileWriteSession>(std::move(lock), store_.acquire(dbfile, false));
    return std::make_unique<DraftWriteSession>(std::move(lock), store_, dbfile);
  }

  std::int64_t size(const std::string &dbfile) override {
    std::error_code error;
    auto bytes = fs::file_size(store_.path_of(dbfile), error);
    return error ? 0 : static_cast<std::int64_t>(bytes);
  }

  void backup(const std::string &dbfile, const fs::path &target) override {
    copy_database_file(store_.path_of(dbfile), target);
  }

  void remove(const std::string &dbfile) override {
    std::lock_guard<std::mutex> held(store_.writer_lock(dbfile));
    store_.discard(dbfile);
  }

private:
  DbfileStore store_;
};

}  // namespace

PooledConnection Storage::read(const std::string &dbfile) {
  std::optional<PooledConnection> connection = try_read(dbfile);
  if (!connection) fail("no_such_dbfile");
  return std::move(*connection);
}

std::unique_ptr<Storage> make_sqlite_file_storage(const fs::path &data_dir) {
  return std::make_unique<SqliteFileStorage>(data_dir);
}

}  // namespace zumero::server
