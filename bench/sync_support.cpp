#include "sync_support.h"

#include <charconv>
#include <fstream>

namespace zumero_bench {
namespace {

// A sync that still says "partial" after this many calls is treated as stuck.
constexpr int kMaxSyncCalls = 100000;

std::vector<std::int64_t> parse_sync_result(const std::string &text) {
  std::vector<std::int64_t> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(';', start);
    std::string field = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::int64_t value = 0;
    auto [next, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || error != std::errc() || next != field.data() + field.size())
      throw BenchError("cannot read the result of zumero_sync: '" + text + "'");
    fields.push_back(value);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (fields.size() != 8) throw BenchError("zumero_sync returned " + std::to_string(fields.size()) +
                                           " fields, expected 8: '" + text + "'");
  return fields;
}

}  // namespace

std::string default_server_path() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw BenchError("cannot locate this executable through /proc/self/exe: " + error.message() +
                              "; pass --server PATH");
  return (self.parent_path() / "zumero-server").string();
}

std::string tail_of_file(const std::string &path, std::size_t count) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > count) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string &line : lines) out += "  " + line + "\n";
  return out.empty() ? "  (empty)\n" : out;
}

std::uint64_t peak_memory_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  }
  return 0;
}

bool reset_peak_memory(pid_t pid) {
  std::ofstream clear("/proc/" + std::to_string(pid) + "/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

SyncTotals sync_until_done(Database &db, const std::string &url, const std::string &dbfile) {
  Statement sync(db, "SELECT zumero_sync('main', ?, ?)");
  SyncTotals totals;
  std::vector<std::string> results;
  Stopwatch clock;
  while (true) {
    sync.bind(1, std::string_view(url));
    sync.bind(2, std::string_view(dbfile));
    bool have_row = false;
    try {
      have_row = sync.step();
    } catch (const BenchError &error) {
      std::string message = std::string("sync with dbfile '") + dbfile + "' failed: " + error.what();
      try {
        sync.reset();
        Statement details(db, "SELECT zumero_last_error_details()");
        if (details.step() && sqlite3_column_type(details.get(), 0) != SQLITE_NULL)
          message += "\ndetails: " + std::string(reinterpret_cast<const char *>(sqlite3_column_text(details.get(), 0)));
      } catch (const BenchError &) {
        // the details are a courtesy; the original error is what matters
      }
      throw BenchError(message);
    }
    if (!have_row || sqlite3_column_type(sync.get(), 0) != SQLITE_TEXT)
      throw BenchError("zumero_sync with dbfile '" + dbfile + "' returned no text");
    results.emplace_back(reinterpret_cast<const char *>(sqlite3_column_text(sync.get(), 0)));
    sync.reset();
    ++totals.calls;
    std::vector<std::int64_t> fields = parse_sync_result(results.back());
    totals.up_full += fields[2];
    totals.down_full += fields[3];
    totals.up_compressed += fields[4];
    totals.down_compressed += fields[5];
    totals.net_ms += fields[6];
    if (fields[1] != 0)
      throw BenchError("zumero_sync with dbfile '" + dbfile + "' quarantined a package: '" + results.back() + "'");
    if (fields[0] == 0) break;
    if (totals.calls >= kMaxSyncCalls)
      throw BenchError("zumero_sync with dbfile '" + dbfile + "' still partial after " +
                       std::to_string(totals.calls) + " calls");
  }
  totals.ms = clock.elapsed_ms();
  return totals;
}

}  // namespace zumero_bench
