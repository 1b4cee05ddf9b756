// Attacks from outside, as an attacker would mount them: table definitions that try
// to run SQL, bodies that announce or inflate to far more than they carry, numbers
// that overflow on the wire, and client mistakes that must stay 4xx. Requests are
// written byte by byte here, with zlib called directly, so that the tests do not rest
// on the codec they attack. A fake HTTP server on 127.0.0.1 plays a hostile server for
// the client's side.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/tests/server_process.h"
#include "server_requests.h"
#include "sync/http_client.h"
#include "sync_support.h"

using nlohmann::json;
using zumero::HttpResponse;
using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

constexpr std::uint32_t kTwoGiB = std::uint32_t(1) << 31;
constexpr std::size_t kMiB = std::size_t(1) << 20;
constexpr std::size_t kServerPayloadLimit = 16 * kMiB;  // the server's default --max-payload-bytes
constexpr std::size_t kClientPayloadLimit = 256 * kMiB;

// ---- the wire, by hand (docs/protocol.md) -------------------------------------------

void put_u32(std::string &out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void put_varint(std::string &out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_svarint(std::string &out, std::int64_t value) {
  std::uint64_t bits = static_cast<std::uint64_t>(value);
  put_varint(out, (bits << 1) ^ (value < 0 ? ~std::uint64_t{0} : 0));
}

void put_string(std::string &out, std::string_view text) {
  put_varint(out, text.size());
  out.append(text);
}

std::string null_cell() { return std::string(1, '\0'); }

std::string integer_cell(std::int64_t number) {
  std::string out(1, '\1');
  put_svarint(out, number);
  return out;
}

std::string text_cell(std::string_view text) {
  std::string out(1, '\3');
  put_string(out, text);
  return out;
}

std::string schema_entry(const std::string &kind, const std::string &table, const std::string &detail,
                         std::uint64_t seq = 0, std::uint64_t rv = 0) {
  std::string out = "S";
  put_varint(out, seq);
  put_varint(out, rv);
  put_string(out, kind);
  put_string(out, table);
  put_string(out, detail);
  return out;
}

std::string create_table_entry(const std::string &table, const std::vector<std::string> &arguments,
                               std::uint64_t seq = 0, std::uint64_t rv = 0) {
  return schema_entry("create_table", table, json(arguments).dump(), seq, rv);
}

std::string table_start(const std::string &name, const std::vector<std::string> &columns) {
  std::string out = "T";
  put_string(out, name);
  put_varint(out, columns.size());
  for (const std::string &column : columns) put_string(out, column);
  return out;
}

// A live row: kind 1, the recid difference, rv, then the cells.
std::string live_row(std::int64_t delta, const std::vector<std::string> &cells, std::uint64_t rv = 0) {
  std::string out(1, '\1');
  put_svarint(out, delta);
  put_varint(out, rv);
  for (const std::string &cell : cells) out += cell;
  return out;
}

std::string table_section(const std::string &name, const std::vector<std::string> &columns,
                          const std::vector<std::string> &rows) {
  std::string out = table_start(name, columns);
  for (const std::string &row : rows) out += row;
  return out + '\0';
}

std::string payload_of(const std::string &header, const std::string &package) {
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(header.size()));
  return out + header + package;
}

std::string deflated(std::string_view data) {
  uLongf size = compressBound(data.size());
  std::string out(size, '\0');
  int rc = compress2(reinterpret_cast<Bytef *>(&out[0]), &size, reinterpret_cast<const Bytef *>(data.data()),
                     data.size(), 6);
  if (rc != Z_OK) throw std::runtime_error("compress2 failed");
  out.resize(size);
  return out;
}

// "ZMRO", version 2, flags, the announced payload length, then whatever follows.
std::string envelope_bytes(std::uint32_t announced, std::uint8_t flags, std::string_view rest) {
  std::string out = "ZMRO";
  out.push_back(2);
  out.push_back(static_cast<char>(flags));
  put_u32(out, announced);
  out.append(rest);
  return out;
}

std::string envelope(const std::string &header, const std::string &package) {
  std::string payload = payload_of(header, package);
  return envelope_bytes(static_cast<std::uint32_t>(payload.size()), 1, deflated(payload));
}

// One piece of a streamed payload: `pattern` repeated (the last copy cut short) to
// `bytes` bytes.
struct Segment {
  std::string pattern;
  std::size_t bytes;
};

// A zlib stream (or a gzip member) of the segments one after the other, compressed as
// it is produced, so a gigabyte costs no gigabyte here.
std::string deflated_segments(const std::vector<Segment> &segments, bool gzip = false) {
  bool zeros = segments.size() == 1 && segments[0].pattern == std::string(1, '\0');
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, gzip ? 15 + 16 : 15, 9, zeros ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out;
  auto feed = [&](std::string_view data, int flush) {
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    do {
      char buffer[64 * 1024];
      stream.next_out = reinterpret_cast<Bytef *>(buffer);
      stream.avail_out = sizeof buffer;
      deflate(&stream, flush);
      out.append(buffer, sizeof buffer - stream.avail_out);
    } while (stream.avail_out == 0 || stream.avail_in > 0);
  };
  for (const Segment &segment : segments) {
    std::string chunk;
    while (chunk.size() < kMiB && chunk.size() < segment.bytes) chunk.append(segment.pattern);
    for (std::size_t left = segment.bytes; left > 0;) {
      std::size_t take = std::min(left, chunk.size());
      feed(std::string_view(chunk).substr(0, take), Z_NO_FLUSH);
      left -= take;
    }
  }
  feed(std::string_view(), Z_FINISH);
  deflateEnd(&stream);
  return out;
}

// `prefix`, then `pattern` repeated until the stream holds `total` bytes.
std::string deflated_repeat(const std::string &prefix, const std::string &pattern, std::size_t total) {
  return deflated_segments({{prefix, prefix.size()}, {pattern, total - std::min(total, prefix.size())}});
}

// A gigabyte of zeros in about a megabyte; built once per process.
const std::string &zero_bomb() {
  static const std::string bomb = deflated_segments({{std::string(1, '\0'), std::size_t(1) << 30}});
  return bomb;
}

// A gigabyte of zeros as a gzip member, for HTTP's Content-Encoding.
std::string gzip_bomb() { return deflated_segments({{std::string(1, '\0'), std::size_t(1) << 30}}, true); }

// ---- requests -------------------------------------------------------------------------

std::string new_client_id() {
  static std::atomic<int> counter{0};
  return "hostile-" + std::to_string(++counter);
}

json push_header(const std::string &dbfile) {
  return {{"dbfile", dbfile}, {"auth", nullptr},       {"client", new_client_id()},
          {"base", 0},        {"base_token", nullptr}, {"pkg", 1}};
}

json pull_header(const std::string &dbfile) {
  return {{"dbfile", dbfile}, {"auth", nullptr},       {"client", new_client_id()},
          {"base", 0},        {"base_token", nullptr}, {"target", 0},
          {"exclude", 0},     {"history", true},       {"cursor", nullptr}};
}

HttpResponse post(const ServerProcess &server, const std::string &path, const std::string &body) {
  return zumero::http_post(server.url(), path, body, "application/x-zumero", 120);
}

HttpResponse push(const ServerProcess &server, const std::string &dbfile, const std::string &package) {
  return post(server, "/push", envelope(push_header(dbfile).dump(), package));
}

// The "error" field of a JSON error body, or a marker saying why there is none.
std::string error_id(const HttpResponse &response) {
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_object()) return "<body is not JSON>";
  if (!body.contains("error") || !body["error"].is_string()) return "<no error field>";
  return body["error"].get<std::string>();
}

// Status and body for failure messages; binary bodies only by size.
std::string describe(const HttpResponse &response) {
  bool json_body = json::accept(response.body);
  return "status " + std::to_string(response.status) + ": " +
         (json_body ? response.body : "<" + std::to_string(response.body.size()) + " bytes>");
}

bool is_definition_error(const std::string &identifier) {
  return identifier == "syntax_error" || identifier == "invalid_argument" ||
         identifier == "no_dollar_sign_in_table_name";
}

// Sends `request` as is to the server's port and returns the status of the answer
// (0 when none came).
int raw_http_status(const ServerProcess &server, const std::string &request) {
  int connection = socket(AF_INET, SOCK_STREAM, 0);
  if (connection < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  timeval timeout{30, 0};
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (connect(connection, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) {
    std::string_view rest = request;
    while (!rest.empty()) {
      ssize_t sent = send(connection, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (sent <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(sent));
    }
    char buffer[4096];
    while (answer.find("\r\n") == std::string::npos) {
      ssize_t got = recv(connection, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(got));
    }
  }
  close(connection);
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) return 0;
  return std::atoi(answer.substr(9, 3).c_str());
}

bool server_healthy(const ServerProcess &server) {
  try {
    return zumero::test::http_get(server.url() + "/health", "", 10).status == 200;
  } catch (const std::exception &) {
    return false;
  }
}

bool starts_with(const std::string &text, const std::string &prefix) { return text.rfind(prefix, 0) == 0; }

// ---- looking at the server's files with plain SQLite ------------------------------------

class ServerFile {
public:
  ServerFile(const ServerProcess &server, const std::string &dbfile) {
    std::string path = zumero::synctest::readable_dbfile(server, dbfile).string();
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "cannot open";
      sqlite3_close(db_);
      throw std::runtime_error("open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 10000);
  }
  ~ServerFile() { sqlite3_close(db_); }
  ServerFile(const ServerFile &) = delete;
  ServerFile &operator=(const ServerFile &) = delete;

  std::int64_t integer(const std::string &sql) {
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    std::int64_t value = -1;
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
    std::string message = sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + message);
    return value;
  }

  std::int64_t objects_named(const std::string &pattern) {
    return integer("SELECT count(*) FROM sqlite_master WHERE name LIKE " + sql_quote(pattern));
  }

private:
  sqlite3 *db_ = nullptr;
};

// Zumero tables of a client database, by name.
std::vector<std::string> zumero_tables(Client &client) {
  std::vector<std::string> names;
  for (const auto &row : client.rows("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%' "
                                     "ORDER BY name"))
    names.push_back(row[0]);
  return names;
}

std::int64_t objects_named(Client &client, const std::string &pattern) {
  return client.integer("SELECT count(*) FROM sqlite_master WHERE name LIKE " + sql_quote(pattern));
}

// Lines of the server's log at level error (every 500 writes one).
std::vector<std::string> error_lines(const ServerProcess &server) {
  std::vector<std::string> lines;
  std::istringstream log(server.log());
  for (std::string line; std::getline(log, line);)
    if (line.find("[error]") != std::string::npos) lines.push_back(line);
  return lines;
}

std::string joined(const std::vector<std::string> &lines) {
  std::string out;
  for (const std::string &line : lines) out += line + "\n";
  return out;
}

// ---- memory ------------------------------------------------------------------------------

std::optional<std::int64_t> status_kib(const std::string &process, const std::string &field) {
  std::ifstream status("/proc/" + process + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) != 0) continue;
    return std::stoll(line.substr(field.size() + 1));
  }
  return std::nullopt;
}

// The growth of a process's peak resident memory since reset(). Where the kernel lets
// us clear the peak (clear_refs 5), it starts from the current resident size.
class PeakMemory {
public:
  explicit PeakMemory(std::string process) : process_(std::move(process)) {}

  bool available() const { return status_kib(process_, "VmHWM").has_value(); }

  void reset() {
    std::ofstream clear("/proc/" + process_ + "/clear_refs");
    clear << "5";
    clear.flush();
    bool cleared = clear.good();
    baseline_kib_ = status_kib(process_, cleared ? "VmRSS" : "VmHWM").value_or(0);
  }

  double growth_mib() const {
    return static_cast<double>(status_kib(process_, "VmHWM").value_or(0) - baseline_kib_) / 1024.0;
  }

private:
  std::string process_;
  std::int64_t baseline_kib_ = 0;
};

// ThreadSanitizer's shadow memory grows with every byte the program touches, so a
// resident size says nothing about the program's own use there; the requests still
// run and their answers are checked.
void check_memory(const PeakMemory &memory, double limit_mib) {
#if defined(__SANITIZE_THREAD__)
  (void)memory;
  (void)limit_mib;
#else
  CHECK(memory.growth_mib() < limit_mib);
#endif
}

// ASan keeps freed blocks in a quarantine, so its resident size counts every buffer a
// request ever had; without the quarantine the peak is the program's own.
ServerProcess::Options memory_test_options() {
  ServerProcess::Options options;
#if defined(__SANITIZE_ADDRESS__)
  const char *inherited = std::getenv("ASAN_OPTIONS");
  std::string value = inherited ? std::string(inherited) + ":" : std::string();
  options.env.push_back({"ASAN_OPTIONS", value + "quarantine_size_mb=0"});
#endif
  return options;
}

// ---- a hostile server for the client ---------------------------------------------------

struct FakeReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/x-zumero";
  std::string extra_headers;  // whole lines, each ending in \r\n
};

// Answers every request on 127.0.0.1 with what `answer(path, body)` returns, one
// connection at a time, and closes the connection after each answer.
class FakeServer {
public:
  using Answer = std::function<FakeReply(const std::string &path, const std::string &body)>;

  explicit FakeServer(Answer answer) : answer_(std::move(answer)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    if (listener_ < 0) throw std::runtime_error("socket failed");
    int yes = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (bind(listener_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
      close(listener_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeServer() {
    stopping_ = true;
    thread_.join();
    close(listener_);
  }
  FakeServer(const FakeServer &) = delete;
  FakeServer &operator=(const FakeServer &) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return paths_;
  }

private:
  void serve() {
    while (!stopping_) {
      pollfd ready{listener_, POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) continue;
      int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      timeval timeout{10, 0};
      setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      answer_one(connection);
      close(connection);
    }
  }

  void answer_one(int connection) {
    std::string request;
    std::size_t header_end = std::string::npos;
    char buffer[64 * 1024];
    while (header_end == std::string::npos) {
      ssize_t got = recv(connection, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      request.append(buffer, static_cast<std::size_t>(got));
      header_end = request.find("\r\n\r\n");
    }
    std::string head = request.substr(0, header_end);
    std::string lower = head;
    for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t length = 0;
    std::size_t field = lower.find("\r\ncontent-length:");
    if (field != std::string::npos) length = std::stoull(head.substr(field + 17));
    if (lower.find("\r\nexpect: 100-continue") != std::string::npos)
      send_all(connection, "HTTP/1.1 100 Continue\r\n\r\n");
    std::string body = request.substr(header_end + 4);
    while (body.size() < length) {
      ssize_t got = recv(connection, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      body.append(buffer, static_cast<std::size_t>(got));
    }
    std::size_t path_start = head.find(' ') + 1;
    std::string path = head.substr(path_start, head.find(' ', path_start) - path_start);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      paths_.push_back(path);
    }
    FakeReply reply = answer_(path, body);
    std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " Fake\r\nContent-Type: " + reply.content_type +
                           "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n" + reply.extra_headers +
                           "Connection: close\r\n\r\n";
    send_all(connection, response);
    send_all(connection, reply.body);
  }

  static void send_all(int connection, std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = send(connection, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
  }

  Answer answer_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> paths_;
};

FakeReply envelope_reply(const json &header, const std::string &package) {
  return FakeReply{200, envelope(header.dump(), package), "application/x-zumero", ""};
}

// A pull reply for a client at base 0: everything up to version 1, in one part.
FakeReply pull_reply(const std::string &package) {
  return envelope_reply({{"target", 1}, {"token", "fake-token-1"}, {"partial", false}}, package);
}

// ---- the hostile definitions --------------------------------------------------------

struct HostileTable {
  std::string what;
  std::string table;
  std::vector<std::string> arguments;
};

std::vector<HostileTable> hostile_tables(const std::string &attach_path) {
  const std::string attach = "ATTACH " + sql_quote(attach_path) + " AS a";
  return {
      {"an argument closing the parenthesis", "t2", {"x) ; DELETE FROM \"z$t\"; CREATE TABLE pwned(a); --"}},
      {"a second argument closing the parenthesis", "t2", {"a TEXT", "b TEXT); CREATE TABLE pwned(a); --"}},
      {"load_extension in DEFAULT", "t2", {"a TEXT DEFAULT (load_extension('/tmp/x.so'))"}},
      {"load_extension in CHECK", "t2", {"a TEXT CHECK (load_extension('/tmp/x.so') IS NULL)"}},
      {"an ATTACH argument", "t2", {"a TEXT", attach}},
      {"an ATTACH after a column", "t2", {"a TEXT); " + attach + "; --"}},
      {"a CHECK with a subquery", "t2", {"a INTEGER CHECK (a > (SELECT count(*) FROM sqlite_master))"}},
      {"a CHECK with EXISTS", "t2", {"a INTEGER", "CHECK (EXISTS (SELECT 1 FROM \"z$t\"))"}},
      {"a CHECK with IN table", "t2", {"a TEXT CHECK (a IN \"z$t\")"}},
      {"a zumero function in DEFAULT", "t2", {"a TEXT DEFAULT (zumero_purge_history('main'))"}},
      {"zumero_recording in CHECK", "t2", {"a INTEGER CHECK (zumero_recording('t', a) IS NULL)"}},
      {"zumero_sync in DEFAULT", "t2", {"a TEXT DEFAULT (zumero_sync('main', 'http://127.0.0.1:9', 'x'))"}},
      {"an application function in DEFAULT", "t2", {"a TEXT DEFAULT (application_function(1))"}},
      {"writefile in CHECK", "t2", {"a TEXT CHECK (writefile('/tmp/zumero-pwned', a) > 0)"}},
      {"a statement after a DEFAULT", "t2", {"a TEXT DEFAULT (1); DROP TABLE \"z$t\""}},
      {"a bind parameter", "t2", {"a TEXT CHECK (a = ?1)"}},
      {"NUL inside a string", "t2", {std::string("a TEXT DEFAULT 'x\0y'", 20)}},
      {"a table named sqlite_master", "sqlite_master", {"a TEXT"}},
      {"a table named sqlite_schema", "sqlite_schema", {"a TEXT"}},
      {"an empty table name", "", {"a TEXT"}},
      {"a table name with NUL", std::string("t\0x", 3), {"a TEXT"}},
      {"a table name with $", "z$t", {"a TEXT"}},
      {"a table name with $ inside", "a$b", {"a TEXT"}},
  };
}

struct HostileColumn {
  std::string what;
  std::string detail;  // the JSON detail of the add_column entry
};

std::vector<HostileColumn> hostile_columns(const std::string &attach_path) {
  auto definition = [](const std::string &text) { return json{{"definition", text}}.dump(); };
  return {
      {"a column closing the statement", definition("b) ; DELETE FROM \"z$t\"; CREATE TABLE pwned(a); --")},
      {"load_extension in DEFAULT", definition("b TEXT DEFAULT (load_extension('/tmp/x.so'))")},
      {"a CHECK with a subquery", definition("b TEXT CHECK ((SELECT count(*) FROM sqlite_master) > 0)")},
      {"a zumero function in DEFAULT", definition("b TEXT DEFAULT (zumero_purge_history('main'))")},
      {"an application function in CHECK", definition("b TEXT CHECK (application_function(b))")},
      {"an ATTACH", definition("ATTACH " + sql_quote(attach_path) + " AS a")},
      {"a statement after the column", definition("b TEXT; DROP TABLE \"z$t\"")},
      {"a definition that is not a string", R"({"definition": ["b TEXT"]})"},
      {"a detail that is not JSON", "b TEXT); DROP TABLE \"z$t\"; --"},
  };
}

// A dbfile "victim" with t(k, v) and three rows, pushed by a real client.
Rows make_victim(const ServerProcess &server, Client &owner) {
  owner.exec(
      "CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
      "INSERT INTO t VALUES ('one', 1), ('two', 2), ('three', 3);");
  owner.sync_complete(server.url(), "victim");
  return owner.dump("t");
}

// Nothing of an attack reached the victim's file on the server.
void check_victim_untouched(const ServerProcess &server, const std::filesystem::path &attach_path) {
  ServerFile file(server, "victim");
  CHECK(file.objects_named("pwned") == 0);
  CHECK(file.objects_named("%t2%") == 0);
  CHECK(file.integer("SELECT count(*) FROM \"z$t\"") == 3);
  CHECK(file.integer("SELECT count(*) FROM pragma_table_info('z$t')") == 2);
  CHECK_FALSE(std::filesystem::exists(attach_path));
}

}  // namespace

// ---- 1. SQL injection through table definitions ----------------------------------------

TEST_CASE("Hostile table definitions in a push are refused and run nothing", "[sync][hostile][injection]") {
  ServerProcess server;
  TempDir dir;
  const std::filesystem::path attach_path = dir.path() / "attached.db";
  Client owner(dir.path() / "owner.db");
  const Rows before = make_victim(server, owner);
  REQUIRE(before.size() == 3);

  int number = 0;
  for (const HostileTable &attack : hostile_tables(attach_path.string())) {
    INFO("create_table: " << attack.what);
    // A push that would create its dbfile creates nothing.
    const std::string created = "created_" + std::to_string(number++);
    HttpResponse creating = push(server, created, create_table_entry(attack.table, attack.arguments));
    CHECK(creating.status == 400);
    CHECK(is_definition_error(error_id(creating)));
    CHECK_FALSE(server.has_dbfile(created));
    // A valid table in the same push does not carry the hostile one in.
    HttpResponse mixed = push(
        server, created, create_table_entry("fine", {"a TEXT"}) + create_table_entry(attack.table, attack.arguments));
    CHECK(mixed.status == 400);
    CHECK_FALSE(server.has_dbfile(created));
    // A push to an existing dbfile changes nothing in it.
    HttpResponse existing = push(server, "victim", create_table_entry(attack.table, attack.arguments));
    CHECK(existing.status == 400);
    CHECK(is_definition_error(error_id(existing)));
    check_victim_untouched(server, attach_path);
  }

  for (const HostileColumn &attack : hostile_columns(attach_path.string())) {
    INFO("add_column: " << attack.what);
    const std::string created = "created_" + std::to_string(number++);
    HttpResponse creating =
        push(server, created, create_table_entry("t", {"k TEXT"}) + schema_entry("add_column", "t", attack.detail));
    CHECK(creating.status == 400);
    CHECK(is_definition_error(error_id(creating)));
    CHECK_FALSE(server.has_dbfile(created));
    HttpResponse existing = push(server, "victim", schema_entry("add_column", "t", attack.detail));
    CHECK(existing.status == 400);
    CHECK(is_definition_error(error_id(existing)));
    check_victim_untouched(server, attach_path);
  }

  // Clients that sync afterwards have none of it.
  owner.sync_complete(server.url(), "victim");
  CHECK(owner.dump("t") == before);
  CHECK(objects_named(owner, "pwned") == 0);
  CHECK(zumero_tables(owner) == std::vector<std::string>{"t"});
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "victim");
  CHECK(fresh.dump("t") == before);
  CHECK(objects_named(fresh, "pwned") == 0);
  CHECK(zumero_tables(fresh) == std::vector<std::string>{"t"});
  CHECK(fresh.integer("SELECT count(*) FROM pragma_table_info('t')") == 2);
  Client never(dir.path() / "never.db");
  CHECK(never.sync_error(server.url(), "created_0") == "");
  CHECK(zumero_tables(never).empty());
  CHECK_FALSE(std::filesystem::exists(attach_path));
  CHECK(error_lines(server).empty());
}

TEST_CASE("SQL inside quoted names and string literals stays a name or a string", "[sync][hostile][injection]") {
  ServerProcess server;
  TempDir dir;
  const std::string weird_column = "k\"); CREATE TABLE pwned(a); --";
  const std::string weird_default = "x'); CREATE TABLE pwned(a); --";
  const std::vector<std::string> arguments = {
      "\"k\"\"); CREATE TABLE pwned(a); --\" TEXT",
      "v TEXT DEFAULT 'x''); CREATE TABLE pwned(a); --'",
      "w TEXT CHECK (w <> 'x''); DROP TABLE \"z$quoted\"; --')",
  };
  HttpResponse created = push(server, "quoted", create_table_entry("quoted", arguments));
  REQUIRE(created.status == 200);
  {
    ServerFile file(server, "quoted");
    CHECK(file.objects_named("pwned") == 0);
    CHECK(file.objects_named("z$quoted") == 1);
  }

  // A table name that reads like SQL: refused, or kept as a plain name.
  const std::string weird_table = "t\"); CREATE TABLE pwned(a); --";
  HttpResponse named = push(server, "quoted", create_table_entry(weird_table, {"a TEXT"}));
  INFO("push of a table named like SQL: " << describe(named));
  CHECK((named.status == 200 || (named.status == 400 && is_definition_error(error_id(named)))));

  Client c(dir.path() / "c.db");
  c.sync_complete(server.url(), "quoted");
  CHECK(objects_named(c, "pwned") == 0);
  Rows columns = c.rows("SELECT name FROM pragma_table_info('quoted') ORDER BY cid");
  CHECK(columns == Rows{{weird_column}, {"v"}, {"w"}});
  // The default is the string, and the CHECK compares with the string.
  c.exec("INSERT INTO quoted (\"k\"\"); CREATE TABLE pwned(a); --\") VALUES ('row')");
  CHECK(c.text("SELECT v FROM quoted") == weird_default);
  CHECK_FALSE(c.error_of("INSERT INTO quoted (w) VALUES ('x''); DROP TABLE \"z$quoted\"; --')").empty());
  if (named.status == 200) {
    CHECK(c.integer("SELECT count(*) FROM sqlite_master WHERE name = " + sql_quote(weird_table)) == 1);
    c.exec("INSERT INTO " + std::string("\"t\"\"); CREATE TABLE pwned(a); --\"") + " VALUES ('kept')");
  }
  c.sync_complete(server.url(), "quoted");
  ServerFile file(server, "quoted");
  CHECK(file.objects_named("pwned") == 0);
  CHECK(file.integer("SELECT count(*) FROM \"z$quoted\"") == 1);
  if (named.status == 200) CHECK(file.integer("SELECT count(*) FROM \"z$t\"\"); CREATE TABLE pwned(a); --\"") == 1);
  CHECK(objects_named(c, "pwned") == 0);
  CHECK(error_lines(server).empty());
}

TEST_CASE("A client refuses hostile definitions a server sends it", "[sync][hostile][injection]") {
  TempDir dir;
  const std::filesystem::path attach_path = dir.path() / "attached.db";
  int number = 0;
  auto check_refused = [&](const std::string &package) {
    FakeServer fake([&](const std::string &path, const std::string &) {
      if (path == "/pull") return pull_reply(package);
      return FakeReply{500, R"({"error": "http_500"})", "application/json", ""};
    });
    Client c(dir.path() / ("c" + std::to_string(number++) + ".db"));
    std::string error = c.sync_error(fake.url(), "hostile");
    CHECK(starts_with(error, "zumero:"));
    CHECK(objects_named(c, "pwned") == 0);
    CHECK(objects_named(c, "z$%") == 0);
    CHECK(zumero_tables(c).empty());
    CHECK_FALSE(std::filesystem::exists(attach_path));
    return error;
  };
  for (const HostileTable &attack : hostile_tables(attach_path.string())) {
    INFO("create_table: " << attack.what);
    std::string error = check_refused(create_table_entry(attack.table, attack.arguments, 1, 1));
    CHECK((error == "zumero:syntax_error" || error == "zumero:invalid_argument" ||
           error == "zumero:no_dollar_sign_in_table_name"));
  }
  for (const HostileColumn &attack : hostile_columns(attach_path.string())) {
    INFO("add_column: " << attack.what);
    // The valid table of the same reply is not kept either: the pull applies whole.
    std::string error =
        check_refused(create_table_entry("t", {"k TEXT"}, 1, 1) + schema_entry("add_column", "t", attack.detail, 2, 1));
    CHECK((error == "zumero:syntax_error" || error == "zumero:invalid_argument"));
  }
}

// ---- 2. memory from a few bytes -------------------------------------------------------

namespace {

struct Attack {
  std::string what;
  std::string body;
};

// The header and the start of a package, as the uncompressed payload begins.
std::string payload_start(const std::string &dbfile, const std::string &package_start) {
  return payload_of(push_header(dbfile).dump(), package_start);
}

std::vector<Attack> memory_attacks(const std::string &dbfile) {
  std::vector<Attack> attacks;
  std::string two_gib_stub = envelope_bytes(kTwoGiB, 1, zero_bomb().substr(0, 99));
  attacks.push_back({"109 bytes announcing 2 GiB", two_gib_stub});
  attacks.push_back({"an uncompressed body announcing 2 GiB", envelope_bytes(kTwoGiB, 0, std::string(99, 'x'))});
  attacks.push_back({"a zlib bomb announcing 2 GiB", envelope_bytes(kTwoGiB, 1, zero_bomb())});
  attacks.push_back({"a zlib bomb announcing the payload limit",
                     envelope_bytes(static_cast<std::uint32_t>(kServerPayloadLimit), 1, zero_bomb())});
  attacks.push_back({"a zlib bomb announcing 1 KiB", envelope_bytes(1024, 1, zero_bomb())});

  // Rows of NULLs up to the payload limit, the last one cut short.
  std::string nulls = payload_start(dbfile, table_start("t", {"k", "v"}));
  attacks.push_back(
      {"NULL rows up to the payload limit",
       envelope_bytes(static_cast<std::uint32_t>(kServerPayloadLimit), 1,
                      deflated_repeat(nulls, live_row(1, {null_cell(), null_cell()}), kServerPayloadLimit))});
  std::vector<std::string> wide;
  for (int i = 0; i < 2000; ++i) wide.push_back("c" + std::to_string(i));
  std::string wide_start = payload_start(dbfile, table_start("t", wide));
  attacks.push_back(
      {"2000 columns with rows of NULLs up to the payload limit",
       envelope_bytes(static_cast<std::uint32_t>(kServerPayloadLimit), 1,
                      deflated_repeat(wide_start, live_row(1, std::vector<std::string>(2000, null_cell())),
                                      kServerPayloadLimit))});

  // Counts and lengths far beyond the bytes that follow.
  auto small = [&](const std::string &what, const std::string &package) {
    attacks.push_back({what, envelope(push_header(dbfile).dump(), package)});
  };
  std::string columns = "T";
  put_string(columns, "t");
  put_varint(columns, 2000);
  put_string(columns, "k");
  small("a column count of 2000 with one name", columns);
  std::string huge_columns = "T";
  put_string(huge_columns, "t");
  put_varint(huge_columns, std::uint64_t(1) << 62);
  small("a column count of 2^62", huge_columns);
  for (char tag : {'E', 'R'}) {
    std::string ranges(1, tag);
    put_string(ranges, "t");
    put_varint(ranges, std::uint64_t(1) << 62);
    put_svarint(ranges, 1);
    put_varint(ranges, 1);
    small(std::string("an ") + tag + " section counting 2^62 pairs", ranges);
  }
  std::string long_name = "T";
  put_varint(long_name, std::uint64_t(1) << 60);
  long_name += "t";
  small("a table name of 2^60 bytes", long_name);
  std::string long_value = table_start("t", {"k", "v"});
  long_value += std::string(1, '\1');
  put_svarint(long_value, 1);
  put_varint(long_value, 0);
  long_value += '\3';
  put_varint(long_value, std::uint64_t(1) << 40);
  long_value += "abc";
  small("a text value of 2^40 bytes", long_value);
  std::string long_detail = "S";
  put_varint(long_detail, 0);
  put_varint(long_detail, 0);
  put_string(long_detail, "create_table");
  put_string(long_detail, "t9");
  put_varint(long_detail, std::uint64_t(1) << 62);
  small("a schema detail of 2^62 bytes", long_detail);
  std::string huge_header;
  put_u32(huge_header, 0xffffffffu);
  huge_header += "{}";
  attacks.push_back({"a header length of 4 GiB",
                     envelope_bytes(static_cast<std::uint32_t>(huge_header.size()), 1, deflated(huge_header))});
  return attacks;
}

}  // namespace

TEST_CASE("Hostile bodies cost the server little memory and get 400 or 413", "[sync][hostile][memory]") {
  ServerProcess server(memory_test_options());
  PeakMemory memory(std::to_string(server.pid()));
  if (!memory.available()) {
    WARN("/proc/" << server.pid() << "/status is not readable: the server's memory cannot be measured");
    return;
  }
  TempDir dir;
  Client owner(dir.path() / "owner.db");
  make_victim(server, owner);
  const std::vector<Attack> attacks = memory_attacks("victim");

  for (const Attack &attack : attacks) {
    for (const char *path : {"/push", "/pull"}) {
      INFO(attack.what << " (" << attack.body.size() << " bytes) to " << path);
      memory.reset();
      HttpResponse response = post(server, path, attack.body);
      CHECK((response.status == 400 || response.status == 413));
      check_memory(memory, 64);
      REQUIRE(server_healthy(server));
    }
  }

  for (const char *name : {"a zlib bomb announcing the payload limit", "NULL rows up to the payload limit"}) {
    INFO("four at once: " << name);
    auto found =
        std::find_if(attacks.begin(), attacks.end(), [&](const Attack &attack) { return attack.what == name; });
    REQUIRE(found != attacks.end());
    const std::string &body = found->body;
    memory.reset();
    std::vector<long> statuses(4, 0);
    std::vector<std::thread> senders;
    for (int i = 0; i < 4; ++i) {
      senders.emplace_back([&, i] {
        try {
          statuses[i] = post(server, "/push", body).status;
        } catch (const std::exception &) {
          statuses[i] = -1;
        }
      });
    }
    for (std::thread &sender : senders) sender.join();
    for (long status : statuses) CHECK((status == 400 || status == 413));
    check_memory(memory, 256);
    CHECK(server_healthy(server));
  }

  // The victim is as it was, and nothing was a server fault.
  ServerFile file(server, "victim");
  CHECK(file.integer("SELECT count(*) FROM \"z$t\"") == 3);
  CHECK(error_lines(server).empty());
}

TEST_CASE("An HTTP body with Content-Encoding: gzip costs the server little memory", "[sync][hostile][memory]") {
  ServerProcess server(memory_test_options());
  PeakMemory memory(std::to_string(server.pid()));
  if (!memory.available()) {
    WARN("/proc/" << server.pid() << "/status is not readable: the server's memory cannot be measured");
    return;
  }
  // A gigabyte of zeros in about a megabyte, compressed at the HTTP level instead of
  // in the envelope.
  const std::string bomb = gzip_bomb();
  memory.reset();
  int status = raw_http_status(server,
                               "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-zumero\r\n"
                               "Content-Encoding: gzip\r\nContent-Length: " +
                                   std::to_string(bomb.size()) + "\r\nConnection: close\r\n\r\n" + bomb);
  CHECK(status >= 400);
  CHECK(status < 500);
  check_memory(memory, 64);
  CHECK(server_healthy(server));
  CHECK(error_lines(server).empty());
}

namespace {

// A payload of `limit` bytes whose one schema entry has a detail of nested brackets
// filling the rest: "[[[[...]]]]".
std::string nested_detail_envelope(const json &header, std::size_t limit, std::uint64_t seq, std::uint64_t rv) {
  std::string entry = "S";
  put_varint(entry, seq);
  put_varint(entry, rv);
  put_string(entry, "create_table");
  put_string(entry, "t");
  std::string start = payload_of(header.dump(), entry);
  std::size_t depth = (limit - start.size() - 4) / 2;  // a varint of 4 bytes holds the length
  put_varint(entry, 2 * depth);
  start = payload_of(header.dump(), entry);
  std::size_t total = start.size() + 2 * depth;
  return envelope_bytes(static_cast<std::uint32_t>(total), 1,
                        deflated_segments({{start, start.size()}, {"[", depth}, {"]", depth}}));
}

}  // namespace

TEST_CASE("A definition cannot make the server use much memory from a few bytes", "[sync][hostile][memory]") {
  ServerProcess server(memory_test_options());
  PeakMemory memory(std::to_string(server.pid()));
  if (!memory.available()) {
    WARN("/proc/" << server.pid() << "/status is not readable: the server's memory cannot be measured");
    return;
  }
  std::vector<Attack> attacks;
  // Each definition passes the parser (the functions are SQLite's own); evaluating it
  // for one row asks for a few hundred megabytes.
  auto one_row = [&](const std::string &what, const std::vector<std::string> &arguments) {
    // The row names only k: the server fills in the other column.
    attacks.push_back({what, envelope(push_header("huge_" + std::to_string(attacks.size())).dump(),
                                      create_table_entry("t", arguments) +
                                          table_section("t", {"k"}, {live_row(1, {text_cell("row")})}))});
  };
  one_row("a DEFAULT taken on the server", {"k TEXT", "b BLOB DEFAULT (zeroblob(40000000))"});
  one_row("a CHECK building a value", {"k TEXT CHECK (length(hex(zeroblob(20000000))) > 0)"});
  one_row("a DEFAULT building text", {"k TEXT", "b TEXT DEFAULT (printf('%.*c', 40000000, 'x'))"});
  // 100 columns with an IN list of 4990 values each: a million pieces from text
  // that compresses to a few kilobytes.
  std::string values = "1";
  for (int i = 1; i < 4990; ++i) values += ",1";
  std::vector<std::string> wide;
  for (int i = 0; i < 100; ++i)
    wide.push_back("c" + std::to_string(i) + " INTEGER CHECK (c" + std::to_string(i) + " IN (" + values + "))");
  attacks.push_back(
      {"100 CHECKs of 4990 values", envelope(push_header("huge_wide").dump(), create_table_entry("t", wide))});
  // JSON nested eight million levels deep.
  attacks.push_back({"a detail of nested brackets up to the payload limit",
                     nested_detail_envelope(push_header("huge_nested"), kServerPayloadLimit, 0, 0)});

  for (const Attack &attack : attacks) {
    INFO(attack.what << " (" << attack.body.size() << " bytes)");
    memory.reset();
    HttpResponse response = post(server, "/push", attack.body);
    INFO(describe(response));
    CHECK((response.status >= 400 && response.status < 500));
    check_memory(memory, 64);
    CHECK(server_healthy(server));
  }
  CHECK(error_lines(server).empty());
}

TEST_CASE("Hostile pull replies fail the sync with a zumero error and cost the client little memory",
          "[sync][hostile][memory]") {
  PeakMemory memory("self");
  if (!memory.available()) {
    WARN("/proc/self/status is not readable: the client's memory cannot be measured");
    return;
  }
  TempDir dir;
  std::vector<Attack> replies;
  replies.push_back({"109 bytes announcing 2 GiB", envelope_bytes(kTwoGiB, 1, zero_bomb().substr(0, 99))});
  replies.push_back({"a zlib bomb announcing 2 GiB", envelope_bytes(kTwoGiB, 1, zero_bomb())});
  replies.push_back({"a zlib bomb announcing the client's limit",
                     envelope_bytes(static_cast<std::uint32_t>(kClientPayloadLimit), 1, zero_bomb())});
  replies.push_back({"a zlib bomb announcing 1 KiB", envelope_bytes(1024, 1, zero_bomb())});
  replies.push_back({"a zlib bomb announcing one byte over the client's limit",
                     envelope_bytes(static_cast<std::uint32_t>(kClientPayloadLimit + 1), 1, zero_bomb())});
  std::string counted = "T";
  put_string(counted, "t");
  put_varint(counted, std::uint64_t(1) << 62);
  replies.push_back({"a table section counting 2^62 columns",
                     envelope(json{{"target", 1}, {"token", "x"}, {"partial", false}}.dump(), counted)});
  std::string ranges = "E";
  put_string(ranges, "t");
  put_varint(ranges, std::uint64_t(1) << 62);
  replies.push_back({"an echo section counting 2^62 ranges",
                     envelope(json{{"target", 1}, {"token", "x"}, {"partial", false}}.dump(), ranges)});

  const std::string gzip_header = "Content-Encoding: gzip\r\n";
  replies.push_back({"an HTTP body with Content-Encoding: gzip inflating to a gigabyte", gzip_bomb()});

  int number = 0;
  for (const Attack &reply : replies) {
    INFO(reply.what << " (" << reply.body.size() << " bytes)");
    const bool gzip = reply.what.find("gzip") != std::string::npos;
    FakeServer fake([&](const std::string &, const std::string &) {
      return FakeReply{200, reply.body, "application/x-zumero", gzip ? gzip_header : std::string()};
    });
    Client c(dir.path() / ("c" + std::to_string(number++) + ".db"));
    memory.reset();
    std::string error = c.sync_error(fake.url(), "hostile");
    CHECK(starts_with(error, "zumero:"));
    check_memory(memory, 300);
    CHECK(zumero_tables(c).empty());
  }
}

TEST_CASE("A definition in a pull reply cannot make the client use much memory", "[sync][hostile][memory]") {
  PeakMemory memory("self");
  if (!memory.available()) {
    WARN("/proc/self/status is not readable: the client's memory cannot be measured");
    return;
  }
  TempDir dir;
  // A schema entry whose detail is JSON nested eight million levels deep, in 16 KB.
  const std::string reply =
      nested_detail_envelope({{"target", 1}, {"token", "x"}, {"partial", false}}, 16 * kMiB, 1, 1);
  FakeServer fake([&](const std::string &, const std::string &) {
    return FakeReply{200, reply, "application/x-zumero", ""};
  });
  Client c(dir.path() / "c.db");
  memory.reset();
  CHECK(starts_with(c.sync_error(fake.url(), "hostile"), "zumero:"));
  check_memory(memory, 300);
  CHECK(zumero_tables(c).empty());
}

// ---- 3. signed overflow on wire input -------------------------------------------------

TEST_CASE("Numbers that overflow on the wire are refused and abort nothing", "[sync][hostile][overflow]") {
  ServerProcess server;
  TempDir dir;
  REQUIRE(push(server, "numbers", create_table_entry("t", {"k TEXT", "v INTEGER"})).status == 200);
  const std::vector<std::string> columns = {"k", "v"};
  auto row = [](std::int64_t delta, std::uint64_t rv = 0) {
    return live_row(delta, {text_cell("x"), integer_cell(1)}, rv);
  };

  struct Case {
    const char *what;
    std::string package;
  };
  std::vector<Case> cases = {
      {"INT64_MAX, then a difference of +1", table_section("t", columns, {row(INT64_MAX), row(1)})},
      {"INT64_MIN, then a difference of -1", table_section("t", columns, {row(INT64_MIN), row(-1)})},
      {"+INT64_MAX twice", table_section("t", columns, {row(INT64_MAX), row(INT64_MAX)})},
      {"an rv of 2^63", table_section("t", columns, {row(1, std::uint64_t(1) << 63)})},
      {"an rv of 2^64 - 1", table_section("t", columns, {row(1, UINT64_MAX)})},
      {"a schema seq of 2^63",
       schema_entry("create_table", "t3", json::array({"a TEXT"}).dump(), std::uint64_t(1) << 63, 0)},
      {"a schema rv of 2^64 - 1", schema_entry("create_table", "t3", json::array({"a TEXT"}).dump(), 0, UINT64_MAX)},
  };
  std::string echoed = "E";
  put_string(echoed, "t");
  put_varint(echoed, 1);
  put_svarint(echoed, INT64_MAX - 1);
  put_varint(echoed, 5);
  cases.push_back({"an echoed range past INT64_MAX", echoed});
  std::string echoed_max = "E";
  put_string(echoed_max, "t");
  put_varint(echoed_max, 1);
  put_svarint(echoed_max, 1);
  put_varint(echoed_max, UINT64_MAX);
  cases.push_back({"an echoed range of length 2^64 - 1", echoed_max});
  std::string renumbered = "R";
  put_string(renumbered, "t");
  put_varint(renumbered, 1);
  put_svarint(renumbered, INT64_MAX);
  put_svarint(renumbered, INT64_MIN);
  cases.push_back({"a renumbering in a push", renumbered});
  std::string long_varint = table_start("t", columns) + '\1';
  long_varint += std::string(9, '\xff') + '\x02';  // a tenth byte above 1: more than 64 bits
  long_varint += '\0';
  cases.push_back({"a varint of 65 bits", long_varint});
  std::string endless_varint = table_start("t", columns) + '\1' + std::string(12, '\x80') + '\0';
  cases.push_back({"a varint of 12 bytes", endless_varint});

  for (const Case &attack : cases) {
    INFO(attack.what);
    HttpResponse response = push(server, "numbers", attack.package);
    CHECK(response.status == 400);
    CHECK(server_healthy(server));
  }

  // Header numbers out of range.
  for (const auto &[field, value] : std::vector<std::pair<std::string, json>>{{"pkg", UINT64_MAX},
                                                                              {"pkg", std::uint64_t(1) << 63},
                                                                              {"base", std::uint64_t(1) << 63},
                                                                              {"base", INT64_MIN},
                                                                              {"part", UINT64_MAX},
                                                                              {"parts", UINT64_MAX},
                                                                              {"pkg", 1e300}}) {
    INFO("header " << field << " = " << value.dump());
    json header = push_header("numbers");
    header[field] = value;
    HttpResponse response = post(server, "/push", envelope(header.dump(), table_section("t", columns, {row(7)})));
    CHECK(response.status == 400);
  }
  for (const json &cursor : {json{{"phase", 1}, {"table", 0}, {"after", UINT64_MAX}},
                             json{{"phase", UINT64_MAX}, {"table", 0}, {"after", nullptr}},
                             json{{"phase", 1}, {"table", UINT64_MAX}, {"after", nullptr}}}) {
    INFO("cursor " << cursor.dump());
    json header = pull_header("numbers");
    header["cursor"] = cursor;
    CHECK(post(server, "/pull", envelope(header.dump(), "")).status == 400);
  }

  // Values at the ends of int64 are data, kept exactly.
  HttpResponse extremes = push(server, "numbers",
                               table_section("t", columns,
                                             {live_row(10, {text_cell("min"), integer_cell(INT64_MIN)}),
                                              live_row(1, {text_cell("max"), integer_cell(INT64_MAX)})}));
  CHECK(extremes.status == 200);
  Client c(dir.path() / "c.db");
  c.sync_complete(server.url(), "numbers");
  CHECK(c.rows("SELECT k, v FROM t ORDER BY k") ==
        Rows{{"max", std::to_string(INT64_MAX)}, {"min", std::to_string(INT64_MIN)}});

  CHECK(error_lines(server).empty());
  CHECK(server.stop() == 0);
}

TEST_CASE("A new row that collides when INT64_MAX is taken gets an unused identity", "[sync][hostile][overflow]") {
  ServerProcess server;
  TempDir dir;
  for (const char *table : {"t", "u"}) {
    INFO("table " << table);
    const std::string dbfile = std::string("full_") + table;
    // t renumbers by its row identity; u has an INTEGER PRIMARY KEY that follows it.
    const bool keyed = std::string(table) == "u";
    const std::vector<std::string> columns =
        keyed ? std::vector<std::string>{"id", "k"} : std::vector<std::string>{"k"};
    auto cells = [&](std::int64_t id, const std::string &k) {
      return keyed ? std::vector<std::string>{integer_cell(id), text_cell(k)} : std::vector<std::string>{text_cell(k)};
    };
    std::string create = create_table_entry(table, keyed ? std::vector<std::string>{"id INTEGER PRIMARY KEY", "k TEXT"}
                                                         : std::vector<std::string>{"k TEXT"});
    // The first client holds identities 5 and INT64_MAX.
    HttpResponse first = push(server, dbfile,
                              create + table_section(table, columns,
                                                     {live_row(5, cells(5, "first-5")),
                                                      live_row(INT64_MAX - 5, cells(INT64_MAX, "first-max"))}));
    REQUIRE(first.status == 200);
    // Another client, from base 0, also made row 5: it needs an identity above every
    // one in use, and there is none.
    HttpResponse second =
        push(server, dbfile, create + table_section(table, columns, {live_row(5, cells(5, "second-5"))}));
    INFO(describe(second));
    CHECK(second.status == 200);

    ServerFile file(server, dbfile);
    const std::string storage = "\"z$" + std::string(table) + "\"";
    CHECK(file.integer("SELECT count(*) FROM " + storage) == 3);
    CHECK(file.integer("SELECT count(DISTINCT rowid) FROM " + storage) == 3);
    std::int64_t moved = file.integer("SELECT rowid FROM " + storage + " WHERE k = 'second-5'");
    CHECK(moved != 5);
    CHECK(moved != INT64_MAX);
    CHECK(moved > 0);
    CHECK(file.integer("SELECT rowid FROM " + storage + " WHERE k = 'first-5'") == 5);
    if (keyed) CHECK(file.integer("SELECT id FROM " + storage + " WHERE k = 'second-5'") == moved);

    Client c(dir.path() / (dbfile + ".db"));
    c.sync_complete(server.url(), dbfile);
    CHECK(c.integer(std::string("SELECT count(*) FROM ") + table) == 3);
    CHECK(c.integer(std::string("SELECT rowid FROM ") + table + " WHERE k = 'second-5'") == moved);
  }
  CHECK(error_lines(server).empty());
  CHECK(server.stop() == 0);
}

TEST_CASE("A client refuses replies whose numbers overflow", "[sync][hostile][overflow]") {
  TempDir dir;
  const json pushed = {{"version", 1}, {"token", "fake-token-1"}};
  auto range_reply = [](std::int64_t first, std::uint64_t length) {
    std::string ranges = "E";
    put_string(ranges, "t");
    put_varint(ranges, 1);
    put_svarint(ranges, first);
    put_varint(ranges, length);
    return ranges;
  };
  const std::string create = create_table_entry("t", {"k TEXT"}, 1, 1);
  struct Case {
    const char *what;
    std::string push_reply;  // package of the push reply
    std::string pull_reply;  // package of the pull reply
  };
  const std::vector<Case> cases = {
      {"an echoed range past INT64_MAX", range_reply(INT64_MAX - 1, 5), ""},
      {"an echoed range of length 2^64 - 1", range_reply(1, UINT64_MAX), ""},
      {"pulled rows at INT64_MAX, then +1", "",
       create +
           table_section("t", {"k"}, {live_row(INT64_MAX, {text_cell("a")}, 1), live_row(1, {text_cell("b")}, 1)})},
      {"a pulled rv of 2^63", "",
       create + table_section("t", {"k"}, {live_row(1, {text_cell("a")}, std::uint64_t(1) << 63)})},
      {"a schema entry with seq 2^63", "", create_table_entry("t", {"k TEXT"}, std::uint64_t(1) << 63, 1)},
  };
  int number = 0;
  for (const Case &attack : cases) {
    INFO(attack.what);
    FakeServer fake([&](const std::string &path, const std::string &) {
      if (path == "/push") return envelope_reply(pushed, attack.push_reply);
      if (attack.pull_reply.empty()) return FakeReply{304, "", "application/x-zumero", ""};
      return pull_reply(attack.pull_reply);
    });
    Client c(dir.path() / ("c" + std::to_string(number++) + ".db"));
    if (!attack.push_reply.empty()) c.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('a')");
    CHECK(starts_with(c.sync_error(fake.url(), "hostile"), "zumero:"));
  }
}

// ---- 4. client mistakes are 4xx, name no server path, and log no 500 -------------------

TEST_CASE("Client mistakes get a 4xx with a zumero identifier and reveal no server path", "[sync][hostile][errors]") {
  ServerProcess server;
  TempDir dir;
  Client owner(dir.path() / "owner.db");
  make_victim(server, owner);
  const std::string data_dir = server.data_dir().string();
  const std::string work_dir = server.work_dir().string();

  struct Case {
    std::string what;
    std::string path;
    std::string body;
  };
  std::vector<Case> cases;
  auto push_case = [&](const std::string &what, const std::string &dbfile, const std::string &package) {
    cases.push_back({what, "/push", envelope(push_header(dbfile).dump(), package)});
  };
  auto header_case = [&](const std::string &what, const std::string &path, json header, const std::string &package) {
    cases.push_back({what, path, envelope(header.dump(), package)});
  };
  const std::string row = table_section("t", {"k", "v"}, {live_row(100, {text_cell("new"), integer_cell(1)})});

  for (const std::string &dbfile : {std::string("victim"), std::string("created")}) {
    push_case("an empty table name in " + dbfile, dbfile, create_table_entry("", {"a TEXT"}));
    push_case("a table name with NUL in " + dbfile, dbfile, create_table_entry(std::string("a\0b", 3), {"a TEXT"}));
    push_case("a table name starting with sqlite_ in " + dbfile, dbfile, create_table_entry("sqlite_x", {"a TEXT"}));
    push_case("a table name starting with SQLITE_ in " + dbfile, dbfile, create_table_entry("SQLITE_y", {"a TEXT"}));
    push_case("a CHECK with a subquery in " + dbfile, dbfile,
              create_table_entry("t2", {"a INTEGER CHECK (a IN (SELECT 1))"}));
    std::vector<std::string> many;
    for (int i = 0; i < 2000; ++i) many.push_back("c" + std::to_string(i) + " TEXT");
    push_case("2000 columns in " + dbfile, dbfile, create_table_entry("wide", many));
    push_case("an unknown schema kind in " + dbfile, dbfile, schema_entry("drop_table", "t", "{}"));
    push_case("a create_table detail that is not a list in " + dbfile, dbfile,
              schema_entry("create_table", "t2", R"({"a": "TEXT"})"));
    push_case("a rule detail of the wrong shape in " + dbfile, dbfile, schema_entry("row_rule", "", R"({"x": 1})"));
  }
  for (std::size_t length : {129, 250, 513, 5000}) {
    for (const char *path : {"/push", "/pull"}) {
      json header =
          std::string(path) == "/push" ? push_header(std::string(length, 'a')) : pull_header(std::string(length, 'a'));
      header_case("a dbfile name of " + std::to_string(length) + " characters to " + path, path, header,
                  std::string(path) == "/push" ? row : "");
    }
  }
  push_case("unknown column names", "victim",
            table_section("t", {"k", "nosuch"}, {live_row(100, {text_cell("new"), integer_cell(1)})}));
  push_case("a repeated column name", "victim",
            table_section("t", {"k", "k"}, {live_row(100, {text_cell("new"), text_cell("again")})}));
  push_case("rows for an unknown table", "victim", table_section("nosuch", {"k"}, {live_row(1, {text_cell("x")})}));
  push_case("rows out of order", "victim",
            table_section(
                "t", {"k", "v"},
                {live_row(200, {text_cell("a"), integer_cell(1)}), live_row(-1, {text_cell("b"), integer_cell(2)})}));
  push_case("a history row in a push", "victim", [] {
    std::string section = table_start("t", {"k", "v"}) + '\3';
    put_svarint(section, 100);
    put_varint(section, 1);
    put_varint(section, 2);
    section += '\0';
    return section + text_cell("h") + integer_cell(1) + '\0';
  }());
  push_case("an empty package to a new dbfile", "created", "");
  push_case("a push to zumero_log", "zumero_log", row);
  push_case("a push to zumero_other", "zumero_other", create_table_entry("t", {"a TEXT"}));

  for (const auto &[field, value] : std::vector<std::pair<std::string, json>>{{"pkg", 1.5},
                                                                              {"pkg", "1"},
                                                                              {"pkg", 0},
                                                                              {"pkg", nullptr},
                                                                              {"base", -1},
                                                                              {"base", "0"},
                                                                              {"base", 2e3},
                                                                              {"client", ""},
                                                                              {"client", "two words"},
                                                                              {"client", std::string(65, 'c')},
                                                                              {"client", 7},
                                                                              {"auth", "anonymous"},
                                                                              {"auth", json{{"scheme", "x"}}},
                                                                              {"dbfile", 5},
                                                                              {"dbfile", "Upper"},
                                                                              {"dbfile", "../victim"},
                                                                              {"dbfile", "victim.db"},
                                                                              {"dbfile", std::string("victim\0x", 8)},
                                                                              {"dbfile", ""},
                                                                              {"part", 2},
                                                                              {"parts", 0},
                                                                              {"digest", std::string(65, 'd')},
                                                                              {"base_token", 3}}) {
    json header = push_header("victim");
    header[field] = value;
    header_case("push header " + field + " = " + value.dump(), "/push", header, row);
  }
  for (const json &cursor :
       {json{{"phase", 1}}, json::array({1, 0, nullptr}), json("start"),
        json{{"phase", 3}, {"table", 0}, {"after", nullptr}}, json{{"phase", 0}, {"table", 0}, {"after", nullptr}},
        json{{"phase", 1}, {"table", -1}, {"after", nullptr}}, json{{"phase", 1}, {"table", 0}, {"after", "x"}},
        json{{"phase", 1.5}, {"table", 0}, {"after", nullptr}},
        json{{"phase", 1}, {"table", 0}, {"after", nullptr}, {"extra", 1}}}) {
    json header = pull_header("victim");
    header["cursor"] = cursor;
    header_case("a pull cursor " + cursor.dump(), "/pull", header, "");
  }
  for (const auto &[field, value] : std::vector<std::pair<std::string, json>>{
           {"base", -1}, {"base", 1.5}, {"target", -1}, {"target", 99}, {"exclude", "0"}, {"history", 1}}) {
    json header = pull_header("victim");
    header[field] = value;
    header_case("pull header " + field + " = " + value.dump(), "/pull", header, "");
  }
  header_case("a pull carrying a package", "/pull", pull_header("victim"), row);
  header_case("a pull carrying a schema entry", "/pull", pull_header("victim"), create_table_entry("t2", {"a TEXT"}));
  header_case("versions that are not pairs", "/versions",
              json{{"dbfile", "victim"}, {"auth", nullptr}, {"client", "c"}, {"versions", json::array({1, 2})}}, "");
  header_case("an unknown route", "/nothing", pull_header("victim"), "");
  cases.push_back({"a header that is not an object", "/push", envelope("[1, 2, 3]", row)});
  cases.push_back({"a header that is not JSON", "/pull", envelope("{\"dbfile\": ", "")});

  for (const Case &mistake : cases) {
    INFO(mistake.what << " to " << mistake.path);
    HttpResponse response = post(server, mistake.path, mistake.body);
    INFO(describe(response));
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
    CHECK(error_id(response).rfind("<", 0) == std::string::npos);
    CHECK(response.body.find(data_dir) == std::string::npos);
    CHECK(response.body.find(work_dir) == std::string::npos);
  }
  // The long names get the identifier the client reports as zumero:invalid_dbfile_name.
  for (std::size_t length : {250, 5000}) {
    INFO("a dbfile name of " << length << " characters");
    HttpResponse response = post(server, "/push", envelope(push_header(std::string(length, 'a')).dump(), row));
    CHECK(error_id(response) == "invalid_dbfile_name");
  }
  CHECK(error_id(post(server, "/push", envelope(push_header("zumero_log").dump(), row))) == "invalid_dbfile_name");

  // Nothing was applied, and no request counted as a server fault.
  ServerFile file(server, "victim");
  CHECK(file.integer("SELECT count(*) FROM \"z$t\"") == 3);
  CHECK_FALSE(server.has_dbfile("created"));
  INFO("error lines:\n" << joined(error_lines(server)));
  CHECK(error_lines(server).empty());
  ServerFile log(server, "zumero_log");
  CHECK(log.integer("SELECT count(*) FROM \"z$log\" WHERE status >= 500") == 0);
}

TEST_CASE("Definitions SQLite refuses only when it runs them are still the client's mistake",
          "[sync][hostile][errors]") {
  ServerProcess server;
  const std::string data_dir = server.data_dir().string();
  struct Case {
    const char *what;
    std::vector<std::string> arguments;
    std::vector<std::string> row_columns;
    std::vector<std::string> row_cells;
  };
  const std::vector<Case> cases = {
      {"an unknown collation", {"k TEXT COLLATE no_such_collation"}, {}, {}},
      {"an unknown collation in a CHECK",
       {"k TEXT CHECK (k COLLATE no_such_collation = 'x')"},
       {"k"},
       {text_cell("x")}},
      {"a function given the wrong number of arguments", {"k INTEGER CHECK (abs(k, 1) > 0)"}, {}, {}},
      {"a DEFAULT that fails when evaluated", {"k TEXT", "j TEXT DEFAULT (json('not json'))"}, {"k"}, {text_cell("a")}},
      {"a CHECK that fails when evaluated", {"k TEXT CHECK (json(k) IS NOT NULL)"}, {"k"}, {text_cell("not json")}},
      {"a CHECK that overflows", {"k INTEGER CHECK (abs(k) >= 0)"}, {"k"}, {integer_cell(INT64_MIN)}},
      // SQLite creates these tables, and only refuses the DEFAULT or the literal when a
      // row is written; the server refuses the definition itself.
      {"a DEFAULT given the wrong number of arguments", {"k TEXT", "j TEXT DEFAULT (random(1))"}, {}, {}},
      {"a hex literal above 64 bits", {"k INTEGER CHECK (k <> 0x10000000000000000)"}, {}, {}},
      {"likelihood() without a literal probability", {"k REAL CHECK (likelihood(k > 0, k))"}, {}, {}},
      {"parentheses nested deeper than CREATE VIRTUAL TABLE can read",
       {"k INTEGER CHECK (" + std::string(40, '(') + "k" + std::string(40, ')') + " > 0)"},
       {},
       {}},
  };
  int number = 0;
  for (const Case &mistake : cases) {
    INFO(mistake.what);
    const std::string dbfile = "runtime_" + std::to_string(number++);
    std::string package = create_table_entry("t", mistake.arguments);
    if (!mistake.row_columns.empty())
      package += table_section("t", mistake.row_columns, {live_row(1, mistake.row_cells)});
    HttpResponse response = push(server, dbfile, package);
    INFO(describe(response));
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
    CHECK(error_id(response).rfind("<", 0) == std::string::npos);
    CHECK(response.body.find(data_dir) == std::string::npos);
    CHECK_FALSE(server.has_dbfile(dbfile));
  }
  INFO("error lines:\n" << joined(error_lines(server)));
  CHECK(error_lines(server).empty());
}

// ---- 5. the authorizer -----------------------------------------------------------------
//
// Every definition the parser accepts names only SQLite's own scalar functions from
// expression.cpp's list, which the authorizer allows too; the parser refuses every
// statement, subquery, ATTACH, PRAGMA, table-valued function and application function
// before the authorizer could. No definition was found that the parser accepts and
// the authorizer would have to stop. The reverse matters as much: what the parser
// accepts must apply under the authorizer.

TEST_CASE("A push using every feature of a definition applies under the authorizer", "[sync][hostile][authorizer]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec(
      "CREATE VIRTUAL TABLE parent USING zumero ("
      "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
      "  born TEXT DEFAULT (date('2000-01-01', '+1 day')),"
      "  CHECK (length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%!%' ESCAPE '!' AND name NOT GLOB '*[0-9]*'));"
      "CREATE VIRTUAL TABLE child USING zumero ("
      "  * WITH_STRICT_TYPES,"
      "  id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id),"
      "  qty INTEGER CHECK (qty IN (1, 2, 3) OR qty > 10),"
      "  label TEXT DEFAULT (upper(printf('%s-%d', 'x', 7))),"
      "  info TEXT CHECK (json_valid(info) AND CASE WHEN info IS NULL THEN 0 ELSE 1 END = 1),"
      "  ratio REAL DEFAULT (round(abs(-1.25), 1)),"
      "  CONSTRAINT one_label UNIQUE (parent_id, label),"
      "  CHECK (CAST(qty AS TEXT) <> ''));"
      "INSERT INTO parent (id, name) VALUES (1, 'ann'), (2, 'bob');"
      "INSERT INTO child (id, parent_id, qty, info) VALUES (1, 1, 2, '{\"a\": 1}'), (2, 2, 11, '[]');");
  REQUIRE(a.sync_error(server.url(), "full") == "");

  // An added column, rules, and the audit trail.
  a.exec(
      "SELECT zumero_alter_table_add_column('main', 'parent', 'nick TEXT DEFAULT ''nick''');"
      "SELECT zumero_define_audit_table('main');"
      "SELECT zumero_add_row_rule('main', 'parent', zumero_named_constant('situation_mod_after_mod'),"
      "  zumero_named_constant('action_column_merge'), NULL);"
      "SELECT zumero_add_column_rule('main', 'parent', 'name', zumero_named_constant('action_accept'), NULL);");
  a.reopen();
  REQUIRE(a.sync_error(server.url(), "full") == "");

  // Two clients change the same row: the server resolves it and writes z_audit.
  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), "full");
  a.exec("UPDATE parent SET name = 'anna' WHERE id = 1");
  b.exec("UPDATE parent SET nick = 'annie' WHERE id = 1");
  REQUIRE(a.sync_error(server.url(), "full") == "");
  REQUIRE(b.sync_error(server.url(), "full") == "");
  a.sync_complete(server.url(), "full");

  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "full");
  CHECK(fresh.rows("SELECT id, name, born, nick FROM parent ORDER BY id") ==
        Rows{{"1", "anna", "2000-01-02", "annie"}, {"2", "bob", "2000-01-02", "nick"}});
  CHECK(fresh.rows("SELECT id, parent_id, qty, label, ratio FROM child ORDER BY id") ==
        Rows{{"1", "1", "2", "X-7", "1.3"}, {"2", "2", "11", "X-7", "1.3"}});
  CHECK(fresh.integer("SELECT count(*) FROM z_audit WHERE tbl = 'parent'") >= 1);
  ServerFile file(server, "full");
  CHECK(file.integer("SELECT count(*) FROM \"z$z_audit\"") >= 1);
  CHECK(server.log().find("refused while applying a package") == std::string::npos);
  CHECK(error_lines(server).empty());
}

TEST_CASE("CURRENT_TIMESTAMP and CURRENT_DATE in definitions apply under the authorizer",
          "[sync][hostile][authorizer]") {
  ServerProcess server;
  TempDir dir;
  SECTION("a CHECK with CURRENT_DATE, created by a push") {
    HttpResponse response =
        push(server, "dated", create_table_entry("t", {"k TEXT", "d TEXT CHECK (d IS NULL OR d <= CURRENT_DATE)"}));
    INFO(describe(response));
    CHECK(response.status == 200);
  }
  SECTION("a DEFAULT CURRENT_TIMESTAMP the server fills in for a row that lacks it") {
    REQUIRE(push(server, "stamped", create_table_entry("t", {"k TEXT", "at TEXT DEFAULT CURRENT_TIMESTAMP"})).status ==
            200);
    HttpResponse response = push(server, "stamped", table_section("t", {"k"}, {live_row(1, {text_cell("row")})}));
    INFO(describe(response));
    CHECK(response.status == 200);
    Client c(dir.path() / "c.db");
    c.sync_complete(server.url(), "stamped");
    CHECK(c.integer("SELECT count(*) FROM t WHERE k = 'row' AND at LIKE '2%-%-% %:%:%'") == 1);
  }
  SECTION("a client's table with both, synced") {
    Client c(dir.path() / "c.db");
    c.exec(
        "CREATE VIRTUAL TABLE t USING zumero (k TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP,"
        " d TEXT DEFAULT CURRENT_DATE CHECK (d <= CURRENT_DATE), h TEXT DEFAULT CURRENT_TIME);"
        "INSERT INTO t (k) VALUES ('row');");
    CHECK(c.sync_error(server.url(), "clock") == "");
  }
  CHECK(server.log().find("refused while applying a package") == std::string::npos);
  CHECK(error_lines(server).empty());
}

TEST_CASE("Unfinished multi-part pushes cannot fill the server's disk", "[sync][hostile]") {
  ServerProcess server({"--max-push-bytes", "100000"});
  const std::string part = create_table_entry("t", {"k TEXT"}) +
                           table_section("t", {"k"}, {live_row(1, {text_cell(std::string(60000, 'x'))})});
  auto first_of_two = [&](int n) {
    json header = push_header("staged");
    header["parts"] = 2;
    header["part"] = 1;
    header["pkg"] = n + 1;
    return post(server, "/push", envelope(header.dump(), part));
  };
  // Four times --max-push-bytes may wait for last parts; the next part is refused.
  int accepted = 0;
  HttpResponse refused;
  for (int n = 0; n < 10 && refused.status == 0; ++n) {
    HttpResponse response = first_of_two(n);
    if (response.status == 202) ++accepted;
    else refused = response;
  }
  CHECK(accepted == 6);
  CHECK(refused.status == 503);
  CHECK(error_id(refused) == "server_busy");
  // A push in one request needs no staging and still goes through.
  CHECK(push(server, "staged", part).status == 200);
  CHECK(server_healthy(server));
}
