// Many clients syncing at once, and convergence of clients making random changes.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "server/tests/server_process.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

TEST_CASE("16 clients on 4 dbfiles sync concurrently without losing an insert", "[sync][concurrency]") {
  constexpr int kDbfiles = 4;
  constexpr int kClientsPerDbfile = 4;
  constexpr int kRounds = 4;
  constexpr int kInsertsPerRound = 3;
  ServerProcess server;
  TempDir dir;
  std::vector<std::unique_ptr<Client>> clients;
  auto dbfile_of = [](int client) { return "conc_" + std::to_string(client / kClientsPerDbfile); };
  for (int i = 0; i < kDbfiles * kClientsPerDbfile; ++i)
    clients.push_back(std::make_unique<Client>(dir.path() / ("client" + std::to_string(i) + ".db")));
  for (int f = 0; f < kDbfiles; ++f) {
    Client &creator = *clients[f * kClientsPerDbfile];
    creator.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER, who TEXT);"
                 "CREATE VIRTUAL TABLE n USING zumero (id INTEGER PRIMARY KEY, who TEXT);"
                 "INSERT INTO t VALUES ('shared', 0, 'nobody');");
    creator.sync_complete(server.url(), dbfile_of(f * kClientsPerDbfile));
  }
  for (int i = 0; i < kDbfiles * kClientsPerDbfile; ++i) clients[i]->sync_complete(server.url(), dbfile_of(i));

  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int i = 0; i < kDbfiles * kClientsPerDbfile; ++i) {
    threads.emplace_back([&, i] {
      Client &c = *clients[i];
      const std::string me = "c" + std::to_string(i);
      try {
        for (int round = 0; round < kRounds; ++round) {
          for (int j = 0; j < kInsertsPerRound; ++j) {
            c.exec("INSERT INTO t VALUES ('" + me + "_" + std::to_string(round) + "_" + std::to_string(j) + "', " +
                   std::to_string(j) + ", '" + me + "')");
            c.exec("INSERT INTO n (who) VALUES ('" + me + "')");
          }
          c.exec("UPDATE t SET v = v + 100 WHERE who = '" + me + "' AND v < 100");
          c.exec("UPDATE t SET v = v + 1, who = '" + me + "' WHERE k = 'shared'");
          c.sync_complete(server.url(), dbfile_of(i));
        }
      } catch (const std::exception &failure) {
        std::lock_guard<std::mutex> guard(mutex);
        errors.push_back(me + ": " + failure.what());
      }
    });
  }
  for (auto &thread : threads) thread.join();
  for (const auto &error : errors) FAIL_CHECK(error);

  // Everybody catches up.
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < kDbfiles * kClientsPerDbfile; ++i) clients[i]->sync_complete(server.url(), dbfile_of(i));

  for (int f = 0; f < kDbfiles; ++f) {
    INFO("dbfile " << dbfile_of(f * kClientsPerDbfile));
    Client &first = *clients[f * kClientsPerDbfile];
    const int expected = kClientsPerDbfile * kRounds * kInsertsPerRound;
    CHECK(first.integer("SELECT count(*) FROM t WHERE k <> 'shared'") == expected);
    CHECK(first.integer("SELECT count(*) FROM t WHERE k <> 'shared' AND v < 100") == 0);
    CHECK(first.integer("SELECT count(*) FROM n") == expected);
    CHECK(first.integer("SELECT count(*) FROM t WHERE k = 'shared'") == 1);
    for (int k = 1; k < kClientsPerDbfile; ++k) {
      Client &other = *clients[f * kClientsPerDbfile + k];
      CHECK(other.dump("t") == first.dump("t"));
      CHECK(other.dump("n") == first.dump("n"));
    }
  }
}

TEST_CASE("Three clients with random changes converge", "[sync][convergence]") {
  ServerProcess server;
  TempDir dir;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(std::make_unique<Client>(dir.path() / ("client" + std::to_string(i) + ".db")));
  clients[0]->exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, a INTEGER, b TEXT);"
                   "CREATE VIRTUAL TABLE n USING zumero (id INTEGER PRIMARY KEY, val INTEGER);"
                   "INSERT INTO t VALUES ('seed1', 1, 'x'), ('seed2', 2, 'y'), ('seed3', 3, 'z');");
  for (auto &c : clients) c->sync_complete(server.url(), "converge");

  std::mt19937 random(20240611);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  int serial = 0;
  std::vector<std::string> errors;
  for (int round = 0; round < 8; ++round) {
    for (int ci = 0; ci < 3; ++ci) {
      Client &c = *clients[ci];
      int operations = 1 + pick(4);
      for (int op = 0; op < operations; ++op) {
        Rows keys = c.rows("SELECT k FROM t ORDER BY k");
        Rows ids = c.rows("SELECT id FROM n ORDER BY id");
        switch (pick(6)) {
          case 0:
            c.exec("INSERT INTO t VALUES ('c" + std::to_string(ci) + "_" + std::to_string(++serial) + "', " +
                   std::to_string(pick(1000)) + ", 'new')");
            break;
          case 1:
            if (!keys.empty())
              c.exec("UPDATE t SET a = " + std::to_string(pick(1000)) + " WHERE k = '" + keys[pick(keys.size())][0] + "'");
            break;
          case 2:
            if (!keys.empty())
              c.exec("UPDATE t SET b = 'by c" + std::to_string(ci) + "' WHERE k = '" + keys[pick(keys.size())][0] + "'");
            break;
          case 3:
            if (!keys.empty()) c.exec("DELETE FROM t WHERE k = '" + keys[pick(keys.size())][0] + "'");
            break;
          case 4:
            c.exec("INSERT INTO n (val) VALUES (" + std::to_string(pick(1000)) + ")");
            break;
          case 5:
            if (!ids.empty()) {
              if (pick(2)) c.exec("DELETE FROM n WHERE id = " + ids[pick(ids.size())][0]);
              else c.exec("UPDATE n SET val = val + 1 WHERE id = " + ids[pick(ids.size())][0]);
            }
            break;
        }
      }
    }
    std::vector<int> order = {0, 1, 2};
    std::shuffle(order.begin(), order.end(), random);
    for (int ci : order) {
      if (pick(4) == 0) continue;  // sometimes a client skips a round
      std::string error = clients[ci]->sync_error(server.url(), "converge");
      if (!error.empty()) errors.push_back("round " + std::to_string(round) + " client " + std::to_string(ci) + ": " + error);
      else clients[ci]->sync_complete(server.url(), "converge");
    }
  }
  for (const auto &error : errors) FAIL_CHECK(error);
  for (int pass = 0; pass < 2; ++pass)
    for (auto &c : clients) c->sync_complete(server.url(), "converge");

  INFO("client 0 t:\n" << zumero::synctest::to_string(clients[0]->dump("t")));
  CHECK(clients[1]->dump("t") == clients[0]->dump("t"));
  CHECK(clients[2]->dump("t") == clients[0]->dump("t"));
  CHECK(clients[1]->dump("n") == clients[0]->dump("n"));
  CHECK(clients[2]->dump("n") == clients[0]->dump("n"));
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "converge");
  CHECK(fresh.dump("t") == clients[0]->dump("t"));
  CHECK(fresh.dump("n") == clients[0]->dump("n"));
}
