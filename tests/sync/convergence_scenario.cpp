#include "convergence_scenario.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <thread>

#include "server/tests/server_process.h"
#include "tcp_proxy.h"

namespace zumero::convergence {

using synctest::SqlError;
using synctest::sql_quote;
using synctest::SyncStats;
using namespace std::chrono_literals;

void OperationLog::add(const std::string &who, const std::string &what) {
  std::lock_guard<std::mutex> guard(mutex_);
  lines_.push_back("[" + who + "] " + what);
  if (stream_) std::cout << lines_.back() << std::endl;
}

std::vector<std::string> OperationLog::lines() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return lines_;
}

void Failures::add(const std::string &check, const std::string &detail) {
  std::lock_guard<std::mutex> guard(mutex_);
  failures_.push_back({check, detail});
}

std::vector<Failure> Failures::all() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return failures_;
}

namespace {

void apply_pragmas(const ClientFile &file, Client &connection) {
  // Short enough that a lock held across the network shows up as an error, long
  // enough for any sync's apply phase.
  sqlite3_busy_timeout(connection.db(), 10000);
  if (file.foreign_keys) connection.exec("PRAGMA foreign_keys = ON");
}

}  // namespace

std::unique_ptr<Client> open_connection(const ClientFile &file) {
  auto connection = std::make_unique<Client>(file.path);
  apply_pragmas(file, *connection);
  return connection;
}

namespace {

const std::string kDbfile = "convergence";

// Errors a sync may legitimately end with; the app then quarantines its changes.
bool is_refusal(const std::string &error) {
  return error == "zumero:unique_constraint_violation" || error == "zumero:check_constraint_violation" ||
         error == "zumero:foreign_key_constraint_violation" || error == "zumero:package_rejected";
}

std::string named(const std::string &constant) { return "zumero_named_constant('" + constant + "')"; }

std::string row_rule(const std::string &table, const std::string &situation, const std::string &action) {
  return "SELECT zumero_add_row_rule('main', " + (table.empty() ? std::string("NULL") : sql_quote(table)) + ", " +
         named(situation) + ", " + named(action) + ", NULL)";
}

std::string column_rule(const std::string &table, const std::string &column, const std::string &action) {
  return "SELECT zumero_add_column_rule('main', " + sql_quote(table) + ", " +
         (column.empty() ? std::string("NULL") : sql_quote(column)) + ", " + action + ", NULL)";
}

// Rules one client may add mid-history. Any that discards an incoming change runs
// after z_audit exists, so the discarded change is on record.
const std::vector<std::string> &candidate_rules() {
  static const std::vector<std::string> rules = {
      row_rule("inbox", "situation_mod_after_mod", "action_ignore"),
      row_rule("outbox", "situation_del_after_mod", "action_accept"),
      row_rule("child", "situation_mod_after_del", "action_ignore"),
      row_rule("Parent", "situation_mod_after_mod", "action_accept"),
      row_rule("alpha", "situation_mod_after_mod", "action_column_merge"),
      row_rule("inbox", "situation_del_after_mod", "action_reject"),
      row_rule("", "situation_mod_after_del", "action_accept"),
      column_rule("alpha", "a", named("action_ignore")),
      column_rule("alpha", "b", named("action_reject")),
      column_rule("alpha", "tag", named("action_ignore")),
      column_rule("alpha", "", named("action_accept")),
      column_rule("Notes", "body", named("action_attempt_text_merge") + " | " + named("action_accept")),
      column_rule("Notes", "title", named("action_ignore")),
  };
  return rules;
}

const std::vector<AddedColumn> &candidate_columns() {
  static const std::vector<AddedColumn> columns = {
      {"Notes", "extra", "extra TEXT"},
      {"inbox", "prio", "prio INTEGER DEFAULT 3"},
      {"alpha", "note", "note TEXT"},
  };
  return columns;
}

struct SessionOutcome {
  bool ok = false;
  std::string error;
  SyncStats stats;  // of the last call
  int calls = 0;
  std::vector<std::int64_t> quarantines;  // non-zero second fields
};

enum class Settled { ok, refused, failed };

class Scenario {
public:
  Scenario(std::uint64_t seed, bool stream_log) : seed_(seed), context_(seed * 0x9E3779B97F4A7C15ull + 1) {
    context_.log.stream_to_stdout(stream_log);
  }
  ScenarioReport run();

private:
  Random &random() { return context_.random; }
  void log(const std::string &who, const std::string &what) { context_.log.add(who, what); }
  void fail(const std::string &check, const std::string &detail) { context_.failures.add(check, detail); }

  void choose_parameters();
  void start();
  void play_round(int round);
  void round_events(int round);
  void client_turn(ClientFile &file);
  void finish();
  void check_resources();

  bool joined(ClientFile &file);
  ClientFile &add_file(bool foreign_keys);
  void reopen(ClientFile &file);
  void reopen_if_schema_changed(ClientFile &file);

  // Sync machinery. `session` is safe on any thread; the rest run on the main thread.
  SessionOutcome session(Client &connection, const std::string &url, const std::function<void()> &between_parts);
  Settled settle(ClientFile &file, Client &connection, std::int64_t started, const SessionOutcome &outcome,
                 const std::string &how);
  void quarantine(ClientFile &file);
  void sync_until_settled(ClientFile &file, const std::string &how, bool writes_between_parts);
  void slow_sync_with_concurrent_writes(ClientFile &file);
  void two_connections_sync_at_once(ClientFile &file);
  void copy_file(ClientFile &source);
  void try_restore(ClientFile &file);
  void run_statement(ClientFile &file, const std::string &sql);

  std::uint64_t seed_;
  Context context_;
  std::unique_ptr<test::TempDir> dir_;
  std::unique_ptr<test::ServerProcess> server_;
  std::unique_ptr<synctest::TcpProxy> slow_proxy_;

  // Chosen from the seed.
  int clients_ = 3;
  int rounds_ = 8;
  std::size_t pull_chunk_bytes_ = 0;  // 0: the server's default
  int reply_delay_ms_ = 50;
  bool audit_at_creation_ = true;
  int rules_client_ = 0;
  std::map<int, std::vector<std::string>> rules_by_round_;
  int alter_client_ = 0;
  int alter_round_ = 0;
  int copy_round_ = -1;
  int copy_source_ = 0;

  bool audit_defined_ = false;
  std::vector<std::string> rules_waiting_;
};

void Scenario::choose_parameters() {
  clients_ = random().between(3, 5);
  rounds_ = random().between(6, 10);
  pull_chunk_bytes_ = random().percent(50) ? 0 : static_cast<std::size_t>(random().between(200, 3000));
  reply_delay_ms_ = random().between(20, 120);
  audit_at_creation_ = random().percent(50);
  rules_client_ = random().below(static_cast<std::size_t>(clients_));
  std::vector<std::string> rules = candidate_rules();
  int rule_count = random().between(2, 5);
  for (int i = 0; i < rule_count && !rules.empty(); ++i) {
    std::size_t at = static_cast<std::size_t>(random().below(rules.size()));
    rules_by_round_[random().between(1, rounds_ - 1)].push_back(rules[at]);
    rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(at));
  }
  context_.added_column = random().pick(candidate_columns());
  alter_client_ = random().below(static_cast<std::size_t>(clients_));
  alter_round_ = random().between(1, rounds_ - 2);
  if (random().percent(60)) {
    copy_round_ = random().between(2, rounds_ - 2);
    copy_source_ = random().below(static_cast<std::size_t>(clients_));
  }
}

ClientFile &Scenario::add_file(bool foreign_keys) {
  auto file = std::make_unique<ClientFile>();
  file->index = static_cast<int>(context_.files.size());
  file->path = dir_->path() / (file->name() + ".db");
  file->foreign_keys = foreign_keys;
  file->connection = open_connection(*file);
  context_.files.push_back(std::move(file));
  return *context_.files.back();
}

void Scenario::reopen(ClientFile &file) {
  file.connection->reopen();
  apply_pragmas(file, *file.connection);
}

// A column added by a sync needs a new connection before the app sees it (guide 3.7.2).
void Scenario::reopen_if_schema_changed(ClientFile &file) {
  Client &c = *file.connection;
  for (const std::string &table : user_tables()) {
    std::int64_t declared = c.integer("SELECT count(*) FROM pragma_table_info(" + sql_quote(table) + ")");
    std::int64_t stored = c.integer("SELECT count(*) FROM pragma_table_info(" + sql_quote("z$" + table) + ")");
    if (declared != stored) {
      log(file.name(), "reopen: " + table + " has " + std::to_string(stored) + " columns now");
      reopen(file);
      return;
    }
  }
}

bool Scenario::joined(ClientFile &file) {
  return file.connection->integer("SELECT count(*) FROM sqlite_master WHERE name = 'z$Notes'") > 0;
}

void Scenario::start() {
  dir_ = std::make_unique<test::TempDir>("zumero-convergence-");
  std::vector<std::string> args;
  if (pull_chunk_bytes_) args = {"--pull-chunk-bytes", std::to_string(pull_chunk_bytes_)};
  server_ = std::make_unique<test::ServerProcess>(args);
  synctest::TcpProxyOptions proxy;
  proxy.reply_delay = std::chrono::milliseconds(reply_delay_ms_);
  slow_proxy_ = std::make_unique<synctest::TcpProxy>(server_->port(), proxy);
  for (int i = 0; i < clients_; ++i) add_file(random().percent(50));

  ClientFile &creator = *context_.files[0];
  run_statement(creator, create_tables_sql());
  if (audit_at_creation_) {
    run_statement(creator, "SELECT zumero_define_audit_table('main')");
    audit_defined_ = true;
  }
  initial_rows(context_, creator, *creator.connection);
  sync_until_settled(creator, "first", false);
  // Most clients join now; the others on their first turn.
  for (int i = 1; i < clients_; ++i)
    if (random().percent(70)) sync_until_settled(*context_.files[static_cast<std::size_t>(i)], "join", false);
}

void Scenario::run_statement(ClientFile &file, const std::string &sql) {
  try {
    file.connection->exec(sql);
    log(file.name(), sql);
  } catch (const SqlError &error) {
    log(file.name(), "ERROR (" + std::string(error.what()) + "): " + sql);
    fail("statement", file.name() + ": " + error.what() + " in: " + sql);
  }
}

SessionOutcome Scenario::session(Client &connection, const std::string &url,
                                 const std::function<void()> &between_parts) {
  SessionOutcome outcome;
  for (int call = 0; call < 1000; ++call) {
    try {
      outcome.stats = connection.sync(url, kDbfile);
    } catch (const SqlError &error) {
      outcome.error = error.what();
      return outcome;
    }
    ++outcome.calls;
    if (outcome.stats.quarantine != 0) outcome.quarantines.push_back(outcome.stats.quarantine);
    if (outcome.stats.field_count != 8) {
      outcome.error = "zumero_sync returned '" + outcome.stats.text + "'";
      return outcome;
    }
    if (outcome.stats.partial == 0) {
      outcome.ok = true;
      return outcome;
    }
    if (between_parts) between_parts();
  }
  outcome.error = "zumero_sync still partial after 1000 calls";
  return outcome;
}

// Records what a finished session means for the file's changes. A refusal is handled
// as an app would: quarantine the changes (the caller syncs again).
Settled Scenario::settle(ClientFile &file, Client &connection, std::int64_t started, const SessionOutcome &outcome,
                         const std::string &how) {
  std::string who = file.name() + (&connection == file.connection.get() ? "" : "'");
  std::string calls = outcome.calls > 1 ? " (" + std::to_string(outcome.calls) + " calls)" : "";
  if (!outcome.ok) {
    log(who, how + " sync: " + outcome.error + calls);
    if (is_refusal(outcome.error)) return Settled::refused;
    fail("sync", who + " " + how + " sync: " + outcome.error);
    return Settled::failed;
  }
  log(who, how + " sync: " + outcome.stats.text + calls);
  context_.ledger.sync_completed(file.index, started);
  for (std::int64_t qid : outcome.quarantines) {
    log(who, "sync quarantined local changes as qid " + std::to_string(qid));
    Client &c = *file.connection;
    context_.ledger.quarantined_since(
        file.index, started, qid, [&](const std::string &token) { return package_holds(c, qid, token); },
        [&](const std::string &table, const std::string &tag) {
          return c.integer("SELECT count(*) FROM " + quote_identifier(table) + " WHERE tag = " + sql_quote(tag)) > 0;
        });
  }
  return Settled::ok;
}

void Scenario::quarantine(ClientFile &file) {
  try {
    std::int64_t qid = file.connection->integer("SELECT zumero_quarantine_since_last_sync('main')");
    log(file.name(), "SELECT zumero_quarantine_since_last_sync('main') -> " + std::to_string(qid));
    if (qid > 0) context_.ledger.quarantined_all(file.index, qid);
  } catch (const SqlError &error) {
    log(file.name(), "quarantine ERROR: " + std::string(error.what()));
    fail("quarantine", file.name() + ": " + error.what());
  }
}

// Syncs directly until partial is 0; after a refusal, quarantines and tries again.
void Scenario::sync_until_settled(ClientFile &file, const std::string &how, bool writes_between_parts) {
  std::function<void()> between;
  if (writes_between_parts)
    between = [&] {
      if (random().percent(50)) random_transaction(context_, file, *file.connection);
    };
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::int64_t started = context_.ledger.sync_starting(file.index);
    SessionOutcome outcome = session(*file.connection, server_->url(), between);
    Settled settled = settle(file, *file.connection, started, outcome, how);
    if (settled != Settled::refused) break;
    quarantine(file);
  }
  reopen_if_schema_changed(file);
}

// A sync through the slow proxy; once its first request is on the wire, a second
// connection of the same file commits writes.
void Scenario::slow_sync_with_concurrent_writes(ClientFile &file) {
  auto second = open_connection(file);
  std::int64_t started = context_.ledger.sync_starting(file.index);
  std::size_t before = slow_proxy_->forwarded_count();
  SessionOutcome outcome;
  std::atomic<bool> done{false};
  std::thread syncing([&] {
    outcome = session(*file.connection, slow_proxy_->url(), nullptr);
    done = true;
  });
  while (!done && slow_proxy_->forwarded_count() <= before) std::this_thread::sleep_for(1ms);
  if (!done) {
    int writes = random().between(1, 3);
    for (int i = 0; i < writes; ++i) random_transaction(context_, file, *second);
  }
  syncing.join();
  second.reset();
  if (settle(file, *file.connection, started, outcome, "slow") == Settled::refused) {
    quarantine(file);
    sync_until_settled(file, "retry", false);
  }
  reopen_if_schema_changed(file);
}

// Two connections of one file sync at the same time (one of them maybe slowly).
void Scenario::two_connections_sync_at_once(ClientFile &file) {
  auto second = open_connection(file);
  std::string second_url = random().percent(50) ? slow_proxy_->url() : server_->url();
  std::int64_t started = context_.ledger.sync_starting(file.index);
  SessionOutcome first_outcome, second_outcome;
  std::thread first([&] { first_outcome = session(*file.connection, server_->url(), nullptr); });
  std::thread other([&] { second_outcome = session(*second, second_url, nullptr); });
  first.join();
  other.join();
  log(file.name(), "two connections synced at once");
  // Successes first: what they pushed is on the server before a refusal quarantines the rest.
  bool refused = false;
  for (bool want_ok : {true, false}) {
    if (first_outcome.ok == want_ok)
      refused |= settle(file, *file.connection, started, first_outcome, "concurrent") == Settled::refused;
    if (second_outcome.ok == want_ok)
      refused |= settle(file, *second, started, second_outcome, "concurrent") == Settled::refused;
  }
  second.reset();
  if (refused) {
    quarantine(file);
    sync_until_settled(file, "retry", false);
  }
  reopen_if_schema_changed(file);
}

// A byte copy of an idle file becomes one more client (the next file index).
void Scenario::copy_file(ClientFile &source) {
  bool foreign_keys = random().percent(50);
  std::filesystem::copy_file(source.path, dir_->path() / ("c" + std::to_string(context_.files.size()) + ".db"));
  ClientFile &copy = add_file(foreign_keys);
  context_.ledger.copied(source.index, copy.index);
  log(source.name(), "file copied to " + copy.name());
}

void Scenario::try_restore(ClientFile &file) {
  auto qids = file.connection->rows("SELECT qid FROM \"t$q\" ORDER BY qid");
  if (qids.empty()) return;
  std::int64_t qid = std::stoll(random().pick(qids)[0]);
  std::string sql = "SELECT zumero_restore_quarantine('main', " + std::to_string(qid) + ")";
  try {
    file.connection->exec(sql);
    context_.ledger.restored(file.index, qid);
    log(file.name(), sql);
  } catch (const SqlError &error) {
    std::string message = error.what();
    log(file.name(), "refused (" + message + "): " + sql);
    if (!is_constraint_error(error) && message.find("constraint") == std::string::npos)
      fail("restore", file.name() + ": " + message + " in: " + sql);
  }
}

void Scenario::round_events(int round) {
  if (round == alter_round_) {
    ClientFile &file = *context_.files[static_cast<std::size_t>(alter_client_)];
    if (joined(file)) {
      const AddedColumn &added = context_.added_column;
      run_statement(file, "SELECT zumero_alter_table_add_column('main', " + sql_quote(added.table) + ", " +
                              sql_quote(added.definition) + ")");
      reopen(file);
      log(file.name(), "reopen after adding a column");
    }
  }
  auto due = rules_by_round_.find(round);
  if (due != rules_by_round_.end())
    rules_waiting_.insert(rules_waiting_.end(), due->second.begin(), due->second.end());
  ClientFile &rules_file = *context_.files[static_cast<std::size_t>(rules_client_)];
  if (!rules_waiting_.empty() && joined(rules_file)) {
    if (!audit_defined_) {
      run_statement(rules_file, "SELECT zumero_define_audit_table('main')");
      audit_defined_ = true;
    }
    for (const std::string &rule : rules_waiting_) run_statement(rules_file, rule);
    rules_waiting_.clear();
  }
  if (round == copy_round_) {
    ClientFile &source = *context_.files[static_cast<std::size_t>(copy_source_)];
    if (joined(source)) copy_file(source);
  }
}

void Scenario::client_turn(ClientFile &file) {
  if (!joined(file)) {
    sync_until_settled(file, "join", false);
    return;
  }
  int writes = random().between(0, 4);
  for (int i = 0; i < writes; ++i) random_transaction(context_, file, *file.connection);
  if (random().percent(8)) try_restore(file);
  int style = random().below(100);
  if (style < 15) return;  // no sync this round
  if (style < 60) return sync_until_settled(file, "plain", pull_chunk_bytes_ && random().percent(60));
  if (style < 78) return slow_sync_with_concurrent_writes(file);
  return two_connections_sync_at_once(file);
}

void Scenario::play_round(int round) {
  log("round", std::to_string(round));
  round_events(round);
  std::vector<std::size_t> order(context_.files.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(random().below(i))]);
  for (std::size_t i : order) client_turn(*context_.files[i]);
}

// Twice over all clients, so every client pushed everything and then pulled everything.
void Scenario::finish() {
  log("final", "syncs");
  for (int pass = 0; pass < 2; ++pass)
    for (auto &file : context_.files) sync_until_settled(*file, "final", false);
  for (auto &file : context_.files) reopen(*file);
}

// No file above 50 MB, and the server's peak memory stays sane.
void Scenario::check_resources() {
  constexpr std::uintmax_t kMaxFile = 50u << 20;
  auto check_file = [&](const std::filesystem::path &path) {
    std::error_code error;
    std::uintmax_t size = std::filesystem::file_size(path, error);
    if (!error && size > kMaxFile) fail("file_size", path.string() + " is " + std::to_string(size) + " bytes");
  };
  for (int node = 0; node < server_->node_count(); ++node)
    for (const auto &entry : std::filesystem::recursive_directory_iterator(server_->node_data_dir(node)))
      if (entry.is_regular_file()) check_file(entry.path());
  for (const auto &file : context_.files) check_file(file->path);
  for (int node = 0; node < server_->node_count(); ++node) {
    std::ifstream status("/proc/" + std::to_string(server_->node_pid(node)) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmHWM:", 0) != 0) continue;
      long kilobytes = std::atol(line.c_str() + 6);
      if (kilobytes > 1024 * 1024) fail("server_memory", "peak resident size " + std::to_string(kilobytes) + " kB");
      log("server", "node " + std::to_string(node) + " peak resident size " + std::to_string(kilobytes) + " kB");
    }
  }
}

ScenarioReport Scenario::run() {
  auto begin = std::chrono::steady_clock::now();
  ScenarioReport report;
  report.seed = seed_;
  choose_parameters();
  std::string rules;
  for (const auto &entry : rules_by_round_) rules += " " + std::to_string(entry.first) + ":" + std::to_string(entry.second.size());
  report.parameters = "clients=" + std::to_string(clients_) + " rounds=" + std::to_string(rounds_) +
                      " pull_chunk_bytes=" + (pull_chunk_bytes_ ? std::to_string(pull_chunk_bytes_) : "default") +
                      " reply_delay_ms=" + std::to_string(reply_delay_ms_) +
                      " audit=" + (audit_at_creation_ ? "at creation" : "with the rules") +
                      " rules_client=c" + std::to_string(rules_client_) + " rules_by_round=" + rules +
                      " added_column=" + context_.added_column.table + "." + context_.added_column.name + " by c" +
                      std::to_string(alter_client_) + " in round " + std::to_string(alter_round_) +
                      (copy_round_ >= 0 ? " copy=c" + std::to_string(copy_source_) + " in round " + std::to_string(copy_round_)
                                        : " copy=none");
  log("seed " + std::to_string(seed_), report.parameters);
  try {
    start();
    for (int round = 1; round <= rounds_; ++round) play_round(round);
    finish();
    ClientFile observer_file;
    observer_file.index = -1;
    observer_file.path = dir_->path() / "observer.db";
    auto observer = open_connection(observer_file);
    SessionOutcome outcome = session(*observer, server_->url(), nullptr);
    log("observer", "sync: " + (outcome.ok ? outcome.stats.text : outcome.error));
    if (!outcome.ok) fail("observer_sync", outcome.error);
    else check_convergence(context_, *observer);
    check_resources();
  } catch (const std::exception &error) {
    fail("exception", error.what());
  }
  slow_proxy_.reset();
  server_.reset();
  report.failures = context_.failures.all();
  report.log = context_.log.lines();
  context_.files.clear();  // close the connections before the directory goes
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return report;
}

}  // namespace

ScenarioReport run_scenario(std::uint64_t seed, bool stream_log) { return Scenario(seed, stream_log).run(); }

}  // namespace zumero::convergence
