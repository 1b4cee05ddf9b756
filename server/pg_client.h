// A small libpq wrapper for the server's PostgreSQL store.
//
//   pg::PgPool pool("postgresql://zumero@db.example/zumero");
//   auto connection = pool.lease();
//   pg::PgConnection::Transaction tx(*connection);
//   connection->exec("INSERT INTO t(name, body) VALUES ($1, $2)",
//                    {pg::Param::text(name), pg::Param::bytes(body)});
//   tx.commit();
//
// Values always travel as parameters of one statement (PQexecParams), never inside
// the SQL text, so nothing a client sends can change what a statement does. Errors
// are PgError; unavailable() separates "the database is down or unreachable" (the
// server answers 503) from errors of the statement itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

// libpq's handle types (PGconn, PGresult), so this header does not need libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace zumero::server::pg {

class PgError : public std::runtime_error {
public:
  PgError(const std::string &message, std::string sqlstate, bool unavailable);

  // The five-character SQLSTATE the server sent; empty for errors raised by libpq
  // itself (lost connection, cannot connect) or by this wrapper.
  const std::string &sqlstate() const { return sqlstate_; }
  // The server cannot be reached or the connection broke: retrying later, on a new
  // connection, may succeed.
  bool unavailable() const { return unavailable_; }
  // serialization_failure (40001) or deadlock_detected (40P01): the transaction was
  // rolled back and may simply be run again.
  bool serialization_failure() const;

private:
  std::string sqlstate_;
  bool unavailable_;
};

// True for SQLSTATEs that blame the server rather than the statement: class 08
// (connection exception), class 53 (insufficient resources) and 57P01..57P03
// (admin shutdown, crash shutdown, cannot connect now).
bool sqlstate_means_unavailable(const std::string &sqlstate);

// One statement parameter ($1, $2, ...).
struct Param {
  enum class Kind { text, integer, bytes, null };

  // Untyped text: the server infers the type from where $n appears, as it does for
  // a quoted literal (write $1::text where it cannot). Must not contain NUL.
  static Param text(std::string value);
  // A bigint.
  static Param integer(std::int64_t value);
  // A bytea sent in binary, so every byte value (NUL included) goes through as is.
  static Param bytes(std::string value);
  static Param null();

  Kind kind = Kind::null;
  std::string value;
};

// The rows of one statement, in text format. Cell accessors throw
// std::out_of_range for a row or column that does not exist, and the typed ones
// (text, integer, bytes) throw PgError on NULL: check is_null() first.
class PgResult {
public:
  explicit PgResult(pg_result *result);  // takes ownership
  PgResult(PgResult &&) noexcept = default;
  PgResult &operator=(PgResult &&) noexcept = default;

  int rows() const;
  int columns() const;
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  // A cell that must be an integer (bigint, integer, smallint); PgError otherwise.
  std::int64_t integer(int row, int column) const;
  // A bytea cell, decoded.
  std::string bytes(int row, int column) const;
  // Rows inserted, updated, deleted, selected...; 0 when the command has no count.
  std::int64_t affected() const;
  // The command tag, e.g. "INSERT 0 1" or "COMMIT".
  std::string command() const;

private:
  const char *cell(int row, int column) const;  // never NULL

  struct Clear {
    void operator()(pg_result *result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

enum class Isolation { read_committed, repeatable_read, serializable };

// One server connection. Not thread-safe: one thread uses it at a time (PgPool
// hands each request thread its own).
class PgConnection {
public:
  // `conninfo` is a postgresql:// URI or a "key=value ..." string. Unless it says
  // otherwise, connecting gives up after a few seconds, the client encoding is UTF8
  // and application_name is zumero-server. Throws PgError (unavailable) when no
  // connection can be made.
  explicit PgConnection(const std::string &conninfo);
  PgConnection(PgConnection &&) noexcept = default;
  PgConnection &operator=(PgConnection &&) noexcept = default;

  // Runs one statement with its parameters (several statements in one string are
  // refused by the server). Throws PgError on failure.
  PgResult exec(const std::string &sql, const std::vector<Param> &params = {});

  // The connection cannot be used any more (it broke, or an error said the server is
  // unavailable); open a new one.
  bool broken() const;
  // A transaction block is open (or failed and not yet rolled back).
  bool in_transaction() const;
  // Reads, without waiting, whatever the server sent while the connection sat idle,
  // and returns false when that shows the server has closed it (e.g. it restarted).
  bool check_alive();

  // BEGIN on construction; rolls back on destruction unless commit() succeeded.
  class Transaction {
  public:
    explicit Transaction(PgConnection &connection, Isolation isolation = Isolation::read_committed);
    ~Transaction();  // never throws
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;

    // Throws PgError when the transaction did not commit: the commit itself failed,
    // or an earlier statement had failed (SQLSTATE 25P02; the server rolled back).
    void commit();

  private:
    PgConnection &connection_;
    bool committed_ = false;
  };

private:
  PgError error_from(pg_result *result);
  PgError connection_error(const std::string &what);
  pg_conn *handle() const;

  struct Finish {
    void operator()(pg_conn *connection) const;
  };
  std::unique_ptr<pg_conn, Finish> connection_;
  bool broken_ = false;
};

// Idle connections to one database, shared by the server's request threads.
// Thread-safe. The pool must outlive its leases.
class PgPool {
public:
  // A connection on loan; goes back to the pool on destruction unless it is broken.
  class Lease {
  public:
    Lease(Lease &&other) noexcept;
    Lease &operator=(Lease &&other) noexcept;
    ~Lease();
    Lease(const Lease &) = delete;
    Lease &operator=(const Lease &) = delete;

    PgConnection &operator*() { return *connection_; }
    PgConnection *operator->() { return &*connection_; }

  private:
    friend class PgPool;
    Lease(PgPool &pool, PgConnection connection);
    void give_back() noexcept;

    PgPool *pool_;
    std::optional<PgConnection> connection_;
  };

  // Keeps at most `max_idle` idle connections; more may be leased at once.
  explicit PgPool(std::string conninfo, std::size_t max_idle = 8);
  PgPool(const PgPool &) = delete;
  PgPool &operator=(const PgPool &) = delete;

  // The most recently returned idle connection that is still alive, or a new one.
  // Throws PgError (unavailable) when a new one is needed and cannot be opened.
  Lease lease();
  std::size_t idle_count() const;

private:
  std::optional<PgConnection> take_idle();
  void put_back(PgConnection connection) noexcept;

  const std::string conninfo_;
  const std::size_t max_idle_;
  mutable std::mutex mutex_;
  std::vector<PgConnection> idle_;
};

}  // namespace zumero::server::pg
