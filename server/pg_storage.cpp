// Storage in PostgreSQL (--store postgresql://...): several stateless server nodes
// share one PostgreSQL, which holds the only authoritative record of every dbfile.
//
// PostgreSQL keeps, per dbfile, a numbered sequence of records (zumero_changes): a
// whole SQLite image of the dbfile, or the change record (row_changes.h) of one write
// session. Each node keeps a disposable SQLite copy per dbfile under its --data-dir
// and, before it reads or writes, brings the copy up to the newest record. A write
// session locks the dbfile's row in zumero_dbfiles (SELECT ... FOR UPDATE), which
// serialises writers across all nodes, works in the node's copy, stores the record
// and commits PostgreSQL first; only then does the copy commit. A node that dies
// between the two leaves PostgreSQL ahead of nothing but its own copy, which the next
// catch-up repairs. See "Several nodes over PostgreSQL" in docs/design.md.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <zlib.h>

#include "base/sql.h"
#include "server/logging.h"
#include "server/pg_client.h"
#include "server/row_changes.h"
#include "server/storage.h"

namespace zumero::server {
namespace {

namespace fs = std::filesystem;
using pg::Param;
using pg::PgConnection;
using pg::PgError;
using pg::PgPool;

// The copy's own bookkeeping: the last record applied and the dbfile's incarnation.
// Not replicated (the tracker ignores it); whole images carry it.
const char *const kNodeTable = "t$node";
// Records fetched per round trip while catching up.
const int kRecordsPerFetch = 32;
// Change records since the last image may add up to the dbfile's size (at least
// this much) before the next write stores an image and drops the records before it.
const std::int64_t kMinimumCompactionBytes = 1 << 20;

const char *const kSchema[] = {
    "CREATE TABLE IF NOT EXISTS zumero_dbfiles (name text PRIMARY KEY, incarnation text NOT NULL, "
    "seq bigint NOT NULL, image_seq bigint NOT NULL, bytes_since_image bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS zumero_changes (dbfile text NOT NULL REFERENCES zumero_dbfiles (name) "
    "ON DELETE CASCADE, seq bigint NOT NULL, whole boolean NOT NULL, data bytea NOT NULL, PRIMARY KEY (dbfile, seq))",
    // The parts of pushes sent in several requests (push_staging.cpp), which may reach
    // different nodes; a dbfile may not exist yet when its first push is staged.
    "CREATE TABLE IF NOT EXISTS zumero_push_parts (dbfile text NOT NULL, client text NOT NULL, pkg bigint NOT NULL, "
    "part bigint NOT NULL, parts bigint NOT NULL, digest text NOT NULL, body bytea NOT NULL, "
    "received timestamptz NOT NULL, PRIMARY KEY (dbfile, client, pkg, part))",
};

// Runs `work`, turning every PostgreSQL failure into StorageUnavailable: the client
// is told to retry, and nothing it sent was kept.
template <typename Work>
auto guarded(const char *what, Work &&work) -> decltype(work()) {
  try {
    return work();
  } catch (const PgError &failure) {
    throw StorageUnavailable(std::string(what) + ": " + failure.what());
  }
}

std::string random_token() {
  unsigned char bytes[12];
  sqlite3_randomness(sizeof bytes, bytes);
  return hex_bytes(bytes, sizeof bytes);
}

// Records travel compressed (images are mostly empty pages): the uncompressed size as
// 8 bytes little-endian, then zlib's stream.
std::string pack(const std::string &data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string packed(8 + size, '\0');
  for (int i = 0; i < 8; ++i) packed[i] = static_cast<char>((static_cast<std::uint64_t>(data.size()) >> (8 * i)) & 0xff);
  if (compress2(reinterpret_cast<Bytef *>(&packed[8]), &size, reinterpret_cast<const Bytef *>(data.data()),
                static_cast<uLong>(data.size()), 1) != Z_OK)
    throw Error(SQLITE_NOMEM, "cannot compress a change record");
  packed.resize(8 + size);
  return packed;
}

std::string unpack(const std::string &packed) {
  const std::uint64_t kLargest = std::uint64_t(1) << 31;  // PostgreSQL keeps at most 1 GB per value anyway
  if (packed.size() < 8) throw Error(SQLITE_CORRUPT, "zumero: a stored change record is malformed");
  std::uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= static_cast<std::uint64_t>(static_cast<unsigned char>(packed[i])) << (8 * i);
  if (size > kLargest) throw Error(SQLITE_CORRUPT, "zumero: a stored change record is malformed");
  std::string data(static_cast<std::size_t>(size), '\0');
  uLongf produced = static_cast<uLongf>(size);
  if (uncompress(reinterpret_cast<Bytef *>(data.data()), &produced, reinterpret_cast<const Bytef *>(packed.data() + 8),
                 static_cast<uLong>(packed.size() - 8)) != Z_OK ||
      produced != size)
    throw Error(SQLITE_CORRUPT, "zumero: a stored change record is malformed");
  return data;
}

// With ZUMERO_TEST_HOOKS=1, ZUMERO_TEST_RECORD_STALL=<dbfile>:<ms> holds every write
// of that dbfile after PostgreSQL committed it and before the copy and the client learn
// of it, so tests can kill a node in that window. Other dbfiles (the server log) never
// wait.
void stall_after_record_for_tests(const std::string &dbfile) {
  const char *hooks = std::getenv("ZUMERO_TEST_HOOKS");
  const char *stall = std::getenv("ZUMERO_TEST_RECORD_STALL");
  if (!hooks || std::string(hooks) != "1" || !stall) return;
  std::string setting(stall);
  std::size_t colon = setting.rfind(':');
  if (colon == std::string::npos || setting.substr(0, colon) != dbfile) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(setting.c_str() + colon + 1)));
}

// What PostgreSQL says about one dbfile.
struct DbfileRow {
  std::string incarnation;
  std::int64_t seq = 0;
  std::int64_t image_seq = 0;
  std::int64_t bytes_since_image = 0;
};

std::optional<DbfileRow> dbfile_row(PgConnection &connection, const std::string &dbfile, bool for_update) {
  pg::PgResult result = connection.exec(
      std::string("SELECT incarnation, seq, image_seq, bytes_since_image FROM zumero_dbfiles WHERE name = $1") +
          (for_update ? " FOR UPDATE" : ""),
      {Param::text(dbfile)});
  if (result.rows() == 0) return std::nullopt;
  return DbfileRow{result.text(0, 0), result.integer(0, 1), result.integer(0, 2), result.integer(0, 3)};
}

void write_node_state(sqlite3 *db, std::int64_t seq, const std::string &incarnation) {
  exec(db, std::string("CREATE TABLE IF NOT EXISTS ") + quote_identifier(kNodeTable) + " (key TEXT PRIMARY KEY, value)");
  Statement record(db, std::string("INSERT OR REPLACE INTO ") + quote_identifier(kNodeTable) +
                           " (key, value) VALUES ('seq', ?1), ('incarnation', ?2)");
  record.bind(1, seq).bind(2, incarnation).run();
}

// The whole database of `db` (its open transaction included) as bytes.
std::string serialize(sqlite3 *db) {
  sqlite3_int64 size = 0;
  unsigned char *image = sqlite3_serialize(db, "main", &size, 0);
  if (!image) throw Error(SQLITE_NOMEM, "cannot serialize a dbfile");
  std::string bytes(reinterpret_cast<const char *>(image), static_cast<std::size_t>(size));
  sqlite3_free(image);
  return bytes;
}

std::int64_t database_bytes(sqlite3 *db) {
  return query_int(db, "PRAGMA page_count") * query_int(db, "PRAGMA page_size");
}

// Replaces everything in `target` with the image, through the backup API, so the
// copy's file is never swapped under connections that have it open.
void load_image(sqlite3 *target, std::string image) {
  if (image.size() < 100) throw Error(SQLITE_CORRUPT, "zumero: a stored dbfile image is malformed");
  // An in-memory database cannot be in WAL mode; the backup sets the target's own mode.
  image[18] = image[19] = 1;
  sqlite3 *memory = nullptr;
  if (sqlite3_open(":memory:", &memory) != SQLITE_OK) {
    sqlite3_close(memory);
    throw Error(SQLITE_NOMEM, "cannot open an in-memory database");
  }
  struct Close {
    sqlite3 *db;
    ~Close() { sqlite3_close(db); }
  } close{memory};
  auto *buffer = static_cast<unsigned char *>(sqlite3_malloc64(image.size()));
  if (!buffer) throw Error(SQLITE_NOMEM, "out of memory");
  std::memcpy(buffer, image.data(), image.size());
  int rc = sqlite3_deserialize(memory, "main", buffer, static_cast<sqlite3_int64>(image.size()),
                               static_cast<sqlite3_int64>(image.size()), SQLITE_DESERIALIZE_FREEONCLOSE);
  if (rc != SQLITE_OK) throw Error(rc, "zumero: a stored dbfile image cannot be opened");
  sqlite3_backup *backup = sqlite3_backup_init(target, "main", memory, "main");
  if (!backup) throw Error(sqlite3_errcode(target), sqlite3_errmsg(target));
  rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) throw Error(rc, std::string("cannot load a dbfile image: ") + sqlite3_errstr(rc));
}

// One dbfile's copy on this node.
struct Copy {
  // Writers of this node queue here before they wait for PostgreSQL's row lock, so
  // each node holds at most one PostgreSQL connection waiting per dbfile.
  std::mutex writer_gate;
  // Held while the copy changes (catching up, or a write session's transaction).
  std::mutex lock;
  // The state of the copy; seq -1 when unknown (the copy must be rebuilt).
  std::atomic<std::int64_t> seq{-1};
  std::string incarnation;  // under `lock`
  std::unique_ptr<Connection> applier;  // foreign keys off; under `lock`
};

class PgStorage;

class PgWriteSession : public WriteSession {
public:
  PgWriteSession(PgStorage &storage, const std::string &dbfile);
  ~PgWriteSession() override;
  sqlite3 *db() override { return db_; }
  bool creating() const override { return creating_; }
  void commit() override;

private:
  std::string record_for(std::int64_t seq);
  void store_record(std::int64_t seq, bool whole, const std::string &data);

  PgStorage &storage_;
  std::string dbfile_;
  Copy &copy_;
  std::unique_lock<std::mutex> gate_;
  std::optional<PgPool::Lease> lease_;
  std::optional<PgConnection::Transaction> pg_transaction_;
  DbfileRow row_;
  bool creating_ = false;
  std::unique_lock<std::mutex> copy_lock_;
  std::unique_ptr<Connection> draft_;
  std::optional<PooledConnection> connection_;
  sqlite3 *db_ = nullptr;
  std::optional<Transaction> transaction_;
  std::optional<RowChangeTracker> tracker_;
  std::int64_t schema_before_ = 0;
  bool whole_ = false;
};

class PgStorage : public Storage {
public:
  PgStorage(std::string conninfo, fs::path cache_dir, std::size_t connections)
      : pool_(std::move(conninfo), connections), cache_dir_(std::move(cache_dir)), copies_(cache_dir_ / "copies") {}

  void open() override {
    // Copies are disposable: a restarted node rebuilds each from PostgreSQL when first used.
    fs::remove_all(cache_dir_ / "copies");
    fs::create_directories(cache_dir_ / "copies");
    guarded("preparing PostgreSQL", [&] {
      PgPool::Lease connection = pool_.lease();
      PgConnection::Transaction transaction(*connection);
      // Nodes starting together must not race to make the same tables.
      connection->exec("SELECT pg_advisory_xact_lock(7342010001)");
      for (const char *statement : kSchema) connection->exec(statement);
      transaction.commit();
    });
  }

  std::string kind() const override { return "postgresql"; }

  std::vector<std::string> list() override {
    return guarded("listing dbfiles", [&] {
      PgPool::Lease connection = pool_.lease();
      pg::PgResult result = connection->exec("SELECT name FROM zumero_dbfiles ORDER BY name");
      std::vector<std::string> names;
      for (int i = 0; i < result.rows(); ++i) names.push_back(result.text(i, 0));
      return names;
    });
  }

  bool exists(const std::string &dbfile) override { return current_row(dbfile).has_value(); }

  std::optional<PooledConnection> try_read(const std::string &dbfile) override {
    std::optional<DbfileRow> row = current_row(dbfile);
    if (!row) return std::nullopt;
    Copy &copy = copy_of(dbfile);
    if (copy.seq.load() != row->seq || !fs::exists(copies_.path_of(dbfile))) {
      std::lock_guard<std::mutex> held(copy.lock);
      forget_if_deleted(dbfile, copy);
      catch_up(dbfile, copy, *row);
    }
    return copies_.acquire(dbfile, true);
  }

  std::unique_ptr<WriteSession> write(const std::string &dbfile) override {
    return std::make_unique<PgWriteSession>(*this, dbfile);
  }

  std::int64_t size(const std::string &dbfile) override {
    std::optional<PooledConnection> connection = try_read(dbfile);
    return connection ? database_bytes(connection->get()) : 0;
  }

  void backup(const std::string &dbfile, const fs::path &target) override {
    if (!try_read(dbfile)) fail("no_such_dbfile");
    copy_database_file(copies_.path_of(dbfile), target);
  }

  void remove(const std::string &dbfile) override {
    Copy &copy = copy_of(dbfile);
    std::lock_guard<std::mutex> gate(copy.writer_gate);
    std::lock_guard<std::mutex> held(copy.lock);
    guarded("removing a dbfile", [&] {
      PgPool::Lease connection = pool_.lease();
      connection->exec("DELETE FROM zumero_dbfiles WHERE name = $1", {Param::text(dbfile)});
    });
    copy.applier.reset();
    copy.seq = -1;
    copies_.discard(dbfile);
  }

  // ---- for write sessions ------------------------------------------------------

  PgPool &pool() { return pool_; }
  DbfileStore &copies() { return copies_; }

  Copy &copy_of(const std::string &dbfile) {
    std::lock_guard<std::mutex> held(copies_mutex_);
    std::unique_ptr<Copy> &copy = copy_states_[dbfile];
    if (!copy) copy = std::make_unique<Copy>();
    return *copy;
  }

  // Someone deleted the copy's file, or the whole data directory, while the node ran:
  // connections still open on the deleted file go, and the copy is rebuilt from
  // PostgreSQL in a directory made anew. The caller holds copy.lock.
  void forget_if_deleted(const std::string &dbfile, Copy &copy) {
    if (fs::exists(copies_.path_of(dbfile))) return;
    copy.applier.reset();
    copies_.discard(dbfile);
    copy.seq = -1;
    copy.incarnation.clear();
    fs::create_directories(copies_.data_dir());
  }

  // Brings the copy at least to `row`'s newest record. The caller holds copy.lock.
  void catch_up(const std::string &dbfile, Copy &copy, DbfileRow row) {
    for (int attempt = 0;; ++attempt) {
      if (copy.seq.load() >= row.seq && copy.incarnation == row.incarnation) return;
      if (catch_up_once(dbfile, copy, row)) return;
      // An image replaced the records the copy needed meanwhile: start from it.
      if (attempt == 2) throw StorageUnavailable("the copy of " + dbfile + " cannot be brought up to date");
      std::optional<DbfileRow> fresh = current_row(dbfile);
      if (!fresh) fail("no_such_dbfile");
      row = *fresh;
    }
  }

private:
  std::optional<DbfileRow> current_row(const std::string &dbfile) {
    return guarded("reading the dbfile list", [&] {
      PgPool::Lease connection = pool_.lease();
      return dbfile_row(*connection, dbfile, false);
    });
  }

  sqlite3 *applier(const std::string &dbfile, Copy &copy) {
    if (!copy.applier) {
      copy.applier = std::make_unique<Connection>(copies_.path_of(dbfile), true);
      exec(copy.applier->get(), "PRAGMA foreign_keys = OFF");
    }
    return copy.applier->get();
  }

  // False when a record the copy needs is gone (an image replaced it meanwhile).
  bool catch_up_once(const std::string &dbfile, Copy &copy, const DbfileRow &row) {
    sqlite3 *db = applier(dbfile, copy);
    std::int64_t applied = copy.incarnation == row.incarnation ? copy.seq.load() : -1;
    if (applied < row.image_seq) applied = row.image_seq - 1;  // the image comes first
    return guarded("catching up a dbfile", [&] {
      PgPool::Lease connection = pool_.lease();
      while (applied < row.seq) {
        pg::PgResult records = connection->exec(
            "SELECT seq, whole, data FROM zumero_changes WHERE dbfile = $1 AND seq > $2 AND seq <= $3 "
            "ORDER BY seq LIMIT " + std::to_string(kRecordsPerFetch),
            {Param::text(dbfile), Param::integer(applied), Param::integer(row.seq)});
        if (records.rows() == 0 || records.integer(0, 0) != applied + 1) return false;
        for (int i = 0; i < records.rows(); ++i) {
          std::int64_t seq = records.integer(i, 0);
          if (seq != applied + 1) return false;
          apply_record(db, records.text(i, 1) == "t", unpack(records.bytes(i, 2)));
          applied = seq;
          copy.incarnation = row.incarnation;
          copy.seq = seq;
        }
      }
      return true;
    });
  }

  static void apply_record(sqlite3 *db, bool whole, std::string data) {
    if (whole) {
      load_image(db, std::move(data));
      return;
    }
    Transaction transaction(db, "BEGIN IMMEDIATE");
    apply_changes(db, data);
    transaction.commit();
  }

  PgPool pool_;
  fs::path cache_dir_;
  DbfileStore copies_;
  std::mutex copies_mutex_;
  std::map<std::string, std::unique_ptr<Copy>> copy_states_;
};

PgWriteSession::PgWriteSession(PgStorage &storage, const std::string &dbfile)
    : storage_(storage), dbfile_(dbfile), copy_(storage.copy_of(dbfile)), gate_(copy_.writer_gate) {
  guarded("locking a dbfile", [&] {
    lease_.emplace(storage_.pool().lease());
    pg_transaction_.emplace(**lease_);
    std::optional<DbfileRow> row = dbfile_row(**lease_, dbfile_, true);
    if (!row) {
      // A concurrent creator makes this wait until it commits; then the row is there.
      std::string incarnation = random_token();
      pg::PgResult inserted = (*lease_)->exec(
          "INSERT INTO zumero_dbfiles (name, incarnation, seq, image_seq, bytes_since_image) "
          "VALUES ($1, $2, 0, 0, 0) ON CONFLICT (name) DO NOTHING",
          {Param::text(dbfile_), Param::text(incarnation)});
      if (inserted.affected() == 1) {
        creating_ = true;
        row = DbfileRow{incarnation, 0, 0, 0};
      } else {
        row = dbfile_row(**lease_, dbfile_, true);
        if (!row) throw PgError("a dbfile vanished while it was being created", "", true);
      }
    }
    row_ = *row;
  });
  copy_lock_ = std::unique_lock<std::mutex>(copy_.lock);
  storage_.forget_if_deleted(dbfile_, copy_);
  if (creating_) {
    draft_ = storage_.copies().open_draft(dbfile_);
    db_ = draft_->get();
  } else {
    // Ahead of the record while holding its lock: PostgreSQL went back (restored from a
    // backup), so the copy is rebuilt from what PostgreSQL has.
    if (copy_.seq.load() > row_.seq) copy_.seq = -1;
    storage_.catch_up(dbfile_, copy_, row_);
    connection_.emplace(storage_.copies().acquire(dbfile_, true));
    db_ = connection_->get();
  }
  transaction_.emplace(db_, "BEGIN IMMEDIATE");
  schema_before_ = query_int(db_, "PRAGMA schema_version");
  tracker_.emplace(db_, kNodeTable);
}

PgWriteSession::~PgWriteSession() {
  tracker_.reset();
  transaction_.reset();
  if (draft_) {
    draft_.reset();
    storage_.copies().drop_draft(dbfile_);
  }
}

// The record of this session: a change record, or an image when the schema changed,
// the dbfile is new, or the change records since the last image add up to its size.
std::string PgWriteSession::record_for(std::int64_t seq) {
  write_node_state(db_, seq, row_.incarnation);
  bool schema_changed = query_int(db_, "PRAGMA schema_version") != schema_before_;
  if (!creating_ && !schema_changed) {
    std::optional<std::string> changes = encode_changes(db_, *tracker_);
    std::int64_t budget = std::max(kMinimumCompactionBytes, database_bytes(db_));
    if (changes && row_.bytes_since_image + static_cast<std::int64_t>(changes->size()) <= budget)
      return std::move(*changes);
  }
  whole_ = true;
  return serialize(db_);
}

void PgWriteSession::store_record(std::int64_t seq, bool whole, const std::string &data) {
  PgConnection &connection = **lease_;
  std::string packed = pack(data);
  connection.exec("INSERT INTO zumero_changes (dbfile, seq, whole, data) VALUES ($1, $2, $3, $4)",
                  {Param::text(dbfile_), Param::integer(seq), Param::text(whole ? "t" : "f"), Param::bytes(packed)});
  std::int64_t since_image = whole ? 0 : row_.bytes_since_image + static_cast<std::int64_t>(packed.size());
  connection.exec("UPDATE zumero_dbfiles SET seq = $2, image_seq = $3, bytes_since_image = $4 WHERE name = $1",
                  {Param::text(dbfile_), Param::integer(seq), Param::integer(whole ? seq : row_.image_seq),
                   Param::integer(since_image)});
  // An image makes every record before it unnecessary.
  if (whole)
    connection.exec("DELETE FROM zumero_changes WHERE dbfile = $1 AND seq < $2",
                    {Param::text(dbfile_), Param::integer(seq)});
  pg_transaction_->commit();
}

void PgWriteSession::commit() {
  if (!creating_ && tracker_->empty() && query_int(db_, "PRAGMA schema_version") == schema_before_) {
    transaction_->commit();  // nothing changed: nothing to record
    return;
  }
  std::int64_t seq = row_.seq + 1;
  std::string record = record_for(seq);
  tracker_.reset();
  guarded("recording a write", [&] { store_record(seq, whole_, record); });
  stall_after_record_for_tests(dbfile_);
  // PostgreSQL has it now; the copy follows. Should it fail, the copy is rebuilt later.
  copy_.seq = -1;
  if (creating_) {
    transaction_->commit();
    transaction_.reset();
    draft_.reset();
    storage_.copies().drop_draft(dbfile_);
    Connection target(storage_.copies().path_of(dbfile_), true);
    load_image(target.get(), std::move(record));
  } else {
    transaction_->commit();
  }
  copy_.incarnation = row_.incarnation;
  copy_.seq = seq;
}

}  // namespace

std::unique_ptr<Storage> make_postgresql_storage(const std::string &conninfo, const fs::path &cache_dir,
                                                 std::size_t connections) {
  return std::make_unique<PgStorage>(conninfo, cache_dir, connections);
}

}  // namespace zumero::server
