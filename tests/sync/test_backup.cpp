// Scheduled online backups and `zumero-server restore`: copies taken while clients
// push are whole, consistent databases; a server restored from them serves again, and
// clients that synced past the backup bring it up to date without losing anything.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "server/tests/server_process.h"
#include "sync_support.h"

namespace fs = std::filesystem;
using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::SqlError;
using zumero::test::run_command;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

const std::string kDbfile = "backedup";

std::vector<fs::path> copies_in(const fs::path &folder) {
  std::vector<fs::path> copies;
  if (!fs::is_directory(folder)) return copies;
  for (const auto &entry : fs::directory_iterator(folder)) copies.push_back(entry.path());
  std::sort(copies.begin(), copies.end());
  return copies;
}

// PRAGMA integrity_check of a copy, opened read-only with plain SQLite.
std::string integrity_of(const fs::path &file) {
  sqlite3 *db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW)
      result = reinterpret_cast<const char *>(sqlite3_column_text(statement, 0));
    else
      result = sqlite3_errmsg(db);
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return result;
}

std::int64_t count_rows(const fs::path &file, const std::string &table) {
  sqlite3 *db = nullptr;
  std::int64_t count = -1;
  sqlite3_stmt *statement = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW)
    count = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

zumero::test::CommandResult restore(const std::vector<std::string> &args) {
  std::vector<std::string> argv{ZUMERO_SERVER_PATH, "restore"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

// Every client inserts rows and syncs until `stop`; returns each client's labels.
std::vector<std::set<std::string>> write_and_sync(std::vector<std::unique_ptr<Client>> &clients,
                                                  const std::string &url, const std::string &prefix,
                                                  const std::atomic<bool> &stop, std::atomic<int> &failures) {
  std::vector<std::set<std::string>> labels(clients.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; !stop; ++n) {
        std::string label = prefix + std::to_string(i) + "-" + std::to_string(n);
        try {
          clients[i]->exec("INSERT INTO t (label) VALUES ('" + label + "')");
          labels[i].insert(label);
          clients[i]->sync_complete(url, kDbfile);
        } catch (const SqlError &) {
          ++failures;
        }
      }
    });
  }
  for (auto &thread : threads) thread.join();
  return labels;
}

}  // namespace

// --backup-dir is for SQLite files; PostgreSQL is backed up with its own tools.
TEST_CASE("Backups taken while clients push restore into a server that loses nothing", "[sync][backup][sqlite-files]") {
  TempDir dir;
  const fs::path backups = dir.path() / "backups";
  ServerProcess server({"--backup-dir", backups.string(), "--backup-interval", "1", "--backup-keep", "3"});

  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(dir.path() / ("c" + std::to_string(i) + ".db")));
  clients[0]->exec("CREATE VIRTUAL TABLE t USING zumero (label TEXT NOT NULL UNIQUE)");
  for (auto &client : clients) client->sync_complete(server.url(), kDbfile);

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread stopper([&] {
    // Two full rounds of backups begin and end while the clients write.
    const fs::path folder = backups / kDbfile;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (copies_in(folder).size() < 3 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  auto before = write_and_sync(clients, server.url(), "before", stop, failures);
  stopper.join();
  REQUIRE(failures == 0);
  server.stop();  // waits for a backup in progress

  // Only the newest three copies of each dbfile stay, and every one is whole.
  for (const std::string &dbfile : {kDbfile, std::string("zumero_log")}) {
    auto copies = copies_in(backups / dbfile);
    INFO(dbfile);
    REQUIRE(copies.size() >= 1);
    CHECK(copies.size() <= 3);
    for (const auto &copy : copies) {
      CHECK(copy.extension() == ".db");
      CHECK(integrity_of(copy) == "ok");
    }
  }

  // Writes after the last backup: the restored server will not have them.
  std::atomic<bool> later_stop{false};
  std::thread later_stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    later_stop = true;
  });
  // Restarting resets the backup timer: no copy is taken in the next 300 ms.
  server.restart();
  auto after = write_and_sync(clients, server.url(), "after", later_stop, failures);
  later_stopper.join();
  REQUIRE(failures == 0);
  server.stop();

  SECTION("restore refuses a data directory that holds dbfiles") {
    auto result = restore({"--from", backups.string(), "--data-dir", server.data_dir().string()});
    CHECK(result.exit_code == 1);
    CHECK(result.output.find("restore into an empty one") != std::string::npos);
  }

  SECTION("restore --at before the first copy finds nothing") {
    auto result = restore({"--from", backups.string(), "--data-dir", (dir.path() / "none").string(), "--at",
                           "20000101T000000Z"});
    CHECK(result.exit_code == 1);
    CHECK(result.output.find("no backups found") != std::string::npos);
  }

  SECTION("clients bring a restored server up to date") {
    fs::remove_all(server.data_dir());
    auto result = restore({"--from", backups.string(), "--data-dir", server.data_dir().string()});
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    std::int64_t written = 0, written_after = 0;
    for (const auto &labels : before) written += static_cast<std::int64_t>(labels.size());
    for (const auto &labels : after) written_after += static_cast<std::int64_t>(labels.size());
    REQUIRE(written_after > 0);
    // The restored dbfile is older than the clients: it lacks at least the later rows.
    CHECK(count_rows(server.data_dir() / (kDbfile + ".db"), "t") <= written);
    server.restart();

    for (int round = 0; round < 3; ++round)
      for (auto &client : clients) REQUIRE_NOTHROW(client->sync_complete(server.url(), kDbfile));

    Client fresh(dir.path() / "fresh.db");
    fresh.sync_complete(server.url(), kDbfile);
    Rows expected;
    for (const auto *written : {&before, &after})
      for (const auto &labels : *written)
        for (const auto &label : labels) expected.push_back({label});
    std::sort(expected.begin(), expected.end());
    CHECK(fresh.rows("SELECT label FROM t ORDER BY label") == expected);
    for (auto &client : clients) CHECK(client->dump("t") == fresh.dump("t"));
  }
}
