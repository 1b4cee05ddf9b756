#include "server/pg_client.h"

#include <libpq-fe.h>

#include <charconv>
#include <utility>

#include <poll.h>

namespace zumero::server::pg {
namespace {

// Type OIDs from pg_type.h (stable since PostgreSQL's early days).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kUnknownOid = 0;  // let the server infer the type

// libpq prints notices (e.g. "there is no transaction in progress") to stderr by
// default; the server's log is its own, so they are dropped.
void ignore_notice(void *, const char *) {}

std::string without_trailing_newlines(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  return message;
}

// PQexecParams wants parallel arrays; these own them for the duration of the call.
struct ParamArrays {
  std::vector<Oid> types;
  std::vector<const char *> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

ParamArrays to_arrays(const std::vector<Param> &params) {
  ParamArrays arrays;
  for (const Param &param : params) {
    const char *value = param.kind == Param::Kind::null ? nullptr : param.value.c_str();
    Oid type = param.kind == Param::Kind::bytes ? kByteaOid
               : param.kind == Param::Kind::integer ? kInt8Oid
                                                      : kUnknownOid;
    bool binary = param.kind == Param::Kind::bytes;
    arrays.types.push_back(type);
    arrays.values.push_back(value);
    arrays.lengths.push_back(binary ? static_cast<int>(param.value.size()) : 0);
    arrays.formats.push_back(binary ? 1 : 0);
  }
  return arrays;
}

// A text parameter travels as a C string, so a NUL would silently cut it short.
void check_text_params(const std::vector<Param> &params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].kind == Param::Kind::text && params[i].value.find('\0') != std::string::npos) {
      throw PgError("text parameter $" + std::to_string(i + 1) + " contains a NUL character", "22021", false);
    }
  }
}

// Connection defaults the conninfo may override: libpq lets later keywords win, and
// the expanded dbname (the caller's conninfo) comes last.
PGconn *connect_with_defaults(const std::string &conninfo) {
  const char *keywords[] = {"connect_timeout", "client_encoding", "fallback_application_name", "dbname", nullptr};
  const char *values[] = {"5", "UTF8", "zumero-server", conninfo.c_str(), nullptr};
  return PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
}

bool socket_readable(PGconn *connection) {
  pollfd descriptor{PQsocket(connection), POLLIN, 0};
  return descriptor.fd >= 0 && poll(&descriptor, 1, 0) > 0;
}

}  // namespace

// ---------------------------------------------------------------------------------

PgError::PgError(const std::string &message, std::string sqlstate, bool unavailable)
    : std::runtime_error(message), sqlstate_(std::move(sqlstate)), unavailable_(unavailable) {}

bool PgError::serialization_failure() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

bool sqlstate_means_unavailable(const std::string &sqlstate) {
  if (sqlstate.size() != 5) return false;
  std::string error_class = sqlstate.substr(0, 2);
  return error_class == "08" || error_class == "53" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

Param Param::text(std::string value) { return Param{Kind::text, std::move(value)}; }
Param Param::integer(std::int64_t value) { return Param{Kind::integer, std::to_string(value)}; }
Param Param::bytes(std::string value) { return Param{Kind::bytes, std::move(value)}; }
Param Param::null() { return Param{Kind::null, {}}; }

// ---------------------------------------------------------------------------------

void PgResult::Clear::operator()(pg_result *result) const { PQclear(result); }

PgResult::PgResult(pg_result *result) : result_(result) {}

int PgResult::rows() const { return PQntuples(result_.get()); }
int PgResult::columns() const { return PQnfields(result_.get()); }

const char *PgResult::cell(int row, int column) const {
  if (row < 0 || row >= rows() || column < 0 || column >= columns()) {
    throw std::out_of_range("no cell at row " + std::to_string(row) + ", column " + std::to_string(column));
  }
  return PQgetvalue(result_.get(), row, column);
}

bool PgResult::is_null(int row, int column) const {
  cell(row, column);
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string PgResult::text(int row, int column) const {
  const char *value = cell(row, column);
  if (is_null(row, column)) {
    throw PgError(std::string("column ") + PQfname(result_.get(), column) + " is NULL", "", false);
  }
  return std::string(value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t PgResult::integer(int row, int column) const {
  std::string value = text(row, column);
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) {
    throw PgError(std::string("column ") + PQfname(result_.get(), column) + " is not an integer", "", false);
  }
  return number;
}

std::string PgResult::bytes(int row, int column) const {
  std::string escaped = text(row, column);
  std::size_t length = 0;
  unsigned char *raw = PQunescapeBytea(reinterpret_cast<const unsigned char *>(escaped.c_str()), &length);
  if (!raw) throw PgError("out of memory decoding a bytea value", "", false);
  std::string decoded(reinterpret_cast<const char *>(raw), length);
  PQfreemem(raw);
  return decoded;
}

std::int64_t PgResult::affected() const {
  std::string count = PQcmdTuples(result_.get());
  std::int64_t number = 0;
  std::from_chars(count.data(), count.data() + count.size(), number);
  return number;
}

std::string PgResult::command() const { return PQcmdStatus(result_.get()); }

// ---------------------------------------------------------------------------------

void PgConnection::Finish::operator()(pg_conn *connection) const { PQfinish(connection); }

PgConnection::PgConnection(const std::string &conninfo) : connection_(connect_with_defaults(conninfo)) {
  if (!connection_) throw PgError("cannot connect to PostgreSQL: out of memory", "", true);
  if (PQstatus(handle()) != CONNECTION_OK) {
    // The message names host and port but never the password.
    throw connection_error("cannot connect to PostgreSQL");
  }
  PQsetNoticeProcessor(handle(), ignore_notice, nullptr);
}

pg_conn *PgConnection::handle() const {
  if (!connection_) throw std::logic_error("PgConnection used after it was moved from");
  return connection_.get();
}

PgError PgConnection::connection_error(const std::string &what) {
  broken_ = true;
  return PgError(what + ": " + without_trailing_newlines(PQerrorMessage(handle())), "", true);
}

PgError PgConnection::error_from(pg_result *result) {
  const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string sqlstate = state ? state : "";
  // An error without SQLSTATE comes from libpq itself: the connection failed.
  bool unavailable = PQstatus(handle()) == CONNECTION_BAD || sqlstate.empty() || sqlstate_means_unavailable(sqlstate);
  if (unavailable) broken_ = true;
  return PgError(without_trailing_newlines(PQresultErrorMessage(result)), sqlstate, unavailable);
}

PgResult PgConnection::exec(const std::string &sql, const std::vector<Param> &params) {
  check_text_params(params);
  ParamArrays arrays = to_arrays(params);
  pg_result *raw = PQexecParams(handle(), sql.c_str(), static_cast<int>(params.size()), arrays.types.data(),
                                arrays.values.data(), arrays.lengths.data(), arrays.formats.data(),
                                /*resultFormat=*/0);
  if (!raw) throw connection_error("PostgreSQL query failed");
  PgResult result(raw);
  switch (PQresultStatus(raw)) {
  case PGRES_COMMAND_OK:
  case PGRES_TUPLES_OK:
    return result;
  case PGRES_FATAL_ERROR:
  case PGRES_NONFATAL_ERROR:
    throw error_from(raw);
  default:
    // COPY and friends leave the connection in a state exec() cannot get it out of.
    broken_ = true;
    throw PgError(std::string("unsupported result from PostgreSQL: ") + PQresStatus(PQresultStatus(raw)), "", false);
  }
}

bool PgConnection::broken() const {
  return !connection_ || broken_ || PQstatus(connection_.get()) == CONNECTION_BAD;
}

bool PgConnection::in_transaction() const {
  return connection_ && PQtransactionStatus(connection_.get()) != PQTRANS_IDLE;
}

bool PgConnection::check_alive() {
  if (broken()) return false;
  // An idle connection normally has nothing to read. When the server closed it, the
  // first read may only bring its farewell error message and the next one the end of
  // the stream, hence the loop (bounded, in case it keeps sending notifications).
  for (int reads = 0; reads < 8 && socket_readable(handle()); ++reads) {
    if (PQconsumeInput(handle()) == 0) break;
    while (PGnotify *notification = PQnotifies(handle())) PQfreemem(notification);
  }
  if (PQstatus(handle()) == CONNECTION_BAD) broken_ = true;
  return !broken_;
}

// ---------------------------------------------------------------------------------

namespace {

const char *begin_statement(Isolation isolation) {
  switch (isolation) {
  case Isolation::repeatable_read:
    return "BEGIN ISOLATION LEVEL REPEATABLE READ";
  case Isolation::serializable:
    return "BEGIN ISOLATION LEVEL SERIALIZABLE";
  case Isolation::read_committed:
    break;
  }
  return "BEGIN ISOLATION LEVEL READ COMMITTED";
}

}  // namespace

PgConnection::Transaction::Transaction(PgConnection &connection, Isolation isolation) : connection_(connection) {
  // A nested BEGIN is only a warning to PostgreSQL, and the inner commit would then
  // commit the outer transaction.
  if (connection_.in_transaction()) throw std::logic_error("a transaction is already open on this connection");
  connection_.exec(begin_statement(isolation));
}

PgConnection::Transaction::~Transaction() {
  if (committed_ || connection_.broken() || !connection_.in_transaction()) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (...) {
    // Nothing to do: a connection that cannot roll back is broken, and the server
    // ends the transaction when the connection closes.
  }
}

void PgConnection::Transaction::commit() {
  PgResult result = connection_.exec("COMMIT");
  // COMMIT of a failed transaction "succeeds" with the tag ROLLBACK.
  if (result.command() == "ROLLBACK") {
    throw PgError("the transaction was rolled back because a statement in it failed", "25P02", false);
  }
  committed_ = true;
}

// ---------------------------------------------------------------------------------

PgPool::Lease::Lease(PgPool &pool, PgConnection connection) : pool_(&pool), connection_(std::move(connection)) {}

PgPool::Lease::Lease(Lease &&other) noexcept : pool_(other.pool_), connection_(std::move(other.connection_)) {
  other.connection_.reset();
}

PgPool::Lease &PgPool::Lease::operator=(Lease &&other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = other.pool_;
    connection_ = std::move(other.connection_);
    other.connection_.reset();
  }
  return *this;
}

PgPool::Lease::~Lease() { give_back(); }

void PgPool::Lease::give_back() noexcept {
  if (!connection_) return;
  pool_->put_back(std::move(*connection_));
  connection_.reset();
}

PgPool::PgPool(std::string conninfo, std::size_t max_idle) : conninfo_(std::move(conninfo)), max_idle_(max_idle) {}

PgPool::Lease PgPool::lease() {
  while (std::optional<PgConnection> idle = take_idle()) {
    if (idle->check_alive()) return Lease(*this, std::move(*idle));
    // Closed by the server while idle (a restart, an idle timeout): drop it.
  }
  return Lease(*this, PgConnection(conninfo_));
}

std::size_t PgPool::idle_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

std::optional<PgConnection> PgPool::take_idle() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.empty()) return std::nullopt;
  std::optional<PgConnection> connection(std::move(idle_.back()));
  idle_.pop_back();
  return connection;
}

void PgPool::put_back(PgConnection connection) noexcept {
  // The next borrower must not inherit a half-done transaction.
  if (connection.in_transaction() && !connection.broken()) {
    try {
      connection.exec("ROLLBACK");
    } catch (...) {
    }
  }
  if (connection.broken() || connection.in_transaction()) return;  // closed here
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
  } catch (...) {
    // Out of memory: the connection is closed instead of kept.
  }
}

}  // namespace zumero::server::pg
