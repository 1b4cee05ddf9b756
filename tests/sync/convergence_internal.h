// Pieces shared by the parts of the convergence suite: the seeded random source, the
// operation log, the failures found, the client files of a scenario, and the random
// write transactions and end checks that run against them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "convergence_ledger.h"
#include "sync_support.h"

namespace zumero::convergence {

using synctest::Client;

// Every random decision of a scenario comes from here, on the main thread only, so
// the seed alone decides the operations (up to what concurrent syncs change).
class Random {
public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  int below(std::size_t n) { return n ? static_cast<int>(engine_() % n) : 0; }
  int between(int low, int high) { return low + below(static_cast<std::size_t>(high - low + 1)); }
  bool percent(int chance) { return below(100) < chance; }
  template <typename T>
  const T &pick(const std::vector<T> &items) {
    return items[static_cast<std::size_t>(below(items.size()))];
  }

private:
  std::mt19937_64 engine_;
};

// What happened, in order, so a failing seed can be read and replayed.
class OperationLog {
public:
  // Also print each line as it is added (a crash then still shows what led to it).
  void stream_to_stdout(bool on) { stream_ = on; }
  void add(const std::string &who, const std::string &what);
  std::vector<std::string> lines() const;

private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  bool stream_ = false;
};

struct Failure {
  std::string check;
  std::string detail;
};

class Failures {
public:
  void add(const std::string &check, const std::string &detail);
  std::vector<Failure> all() const;

private:
  mutable std::mutex mutex_;
  std::vector<Failure> failures_;
};

// One client database file and its main connection.
struct ClientFile {
  int index = 0;
  std::filesystem::path path;
  bool foreign_keys = false;  // PRAGMA foreign_keys on this file's connections
  std::unique_ptr<Client> connection;
  std::string name() const { return "c" + std::to_string(index); }
};

// A new connection to the file (extension loaded, the file's pragmas set).
std::unique_ptr<Client> open_connection(const ClientFile &file);

// A column one client adds in the middle of the history.
struct AddedColumn {
  std::string table;
  std::string name;
  std::string definition;
};

struct Context {
  explicit Context(std::uint64_t seed) : random(seed) {}
  Random random;
  Ledger ledger;
  OperationLog log;
  Failures failures;
  AddedColumn added_column;
  std::vector<std::unique_ptr<ClientFile>> files;
};

// The zumero tables every scenario creates, in creation order (z_audit not included).
const std::vector<std::string> &user_tables();
// The statements that create them.
std::string create_tables_sql();

// SQLite errors a real app expects from a local write (a constraint of the table).
bool is_constraint_error(const synctest::SqlError &error);

// Runs one random write transaction (one to three statements) on `connection`, a
// connection of `file`. A transaction refused by a constraint is rolled back and
// logged; any other error is a failure.
void random_transaction(Context &context, ClientFile &file, Client &connection);

// Inserts the first rows of every table (used by the creating client).
void initial_rows(Context &context, ClientFile &file, Client &connection);

// The end checks: every client against a fresh observer, integrity, tokens, deletions.
void check_convergence(Context &context, Client &observer);

// Values rendered with their SQLite type, so 1, 1.0 and '1' differ.
std::vector<std::vector<std::string>> typed_rows(Client &client, const std::string &sql);

std::string quote_identifier(const std::string &name);

// The quarantined package `qid` in `client`'s t$q holds a row whose value is `token`
// (a package stores a text value as its length, one byte below 128, then its bytes).
bool package_holds(Client &client, std::int64_t qid, const std::string &token);

}  // namespace zumero::convergence
