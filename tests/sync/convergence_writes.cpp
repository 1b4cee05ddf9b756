// Random local write transactions of the convergence suite. Every insert and update
// writes a fresh token into the row's `tag`; what each transaction did is recorded in
// the ledger once COMMIT returned.
#include <sqlite3.h>

#include <functional>
#include <sstream>

#include "convergence_internal.h"

namespace zumero::convergence {

using synctest::SqlError;
using synctest::sql_quote;

const std::vector<std::string> &user_tables() {
  static const std::vector<std::string> tables = {"Notes", "alpha", "inbox", "outbox", "Parent", "child"};
  return tables;
}

// Mixed-case names; inbox and outbox defined alike; child refers to Parent in another
// case; INTEGER PRIMARY KEY tables; a UNIQUE column; a CHECK over two columns.
std::string create_tables_sql() {
  return "CREATE VIRTUAL TABLE Notes USING zumero (id INTEGER PRIMARY KEY, title TEXT, body TEXT, tag TEXT);\n"
         "CREATE VIRTUAL TABLE alpha USING zumero (code TEXT UNIQUE, a INTEGER NOT NULL DEFAULT 0, "
         "b INTEGER NOT NULL DEFAULT 0, tag TEXT, CHECK (a + b <= 100));\n"
         "CREATE VIRTUAL TABLE inbox USING zumero (msg TEXT, tag TEXT);\n"
         "CREATE VIRTUAL TABLE outbox USING zumero (msg TEXT, tag TEXT);\n"
         "CREATE VIRTUAL TABLE Parent USING zumero (id INTEGER PRIMARY KEY, name TEXT, tag TEXT);\n"
         "CREATE VIRTUAL TABLE child USING zumero (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES PARENT (id), "
         "note TEXT, tag TEXT);\n";
}

bool is_constraint_error(const SqlError &error) { return (error.code() & 0xff) == SQLITE_CONSTRAINT; }

namespace {

struct PickedRow {
  std::int64_t rowid = 0;
  std::string tag;
};

// One local write transaction being built; statements run as they are added.
class Transaction {
public:
  Transaction(Context &context, ClientFile &file, Client &connection)
      : context_(context), file_(file), connection_(connection) {}

  Random &random() { return context_.random; }
  Client &db() { return connection_; }
  std::string token() { return context_.ledger.next_token(file_.index); }

  void exec(const std::string &sql) {
    statements_.push_back(sql);
    connection_.exec(sql);
  }
  void wrote(const std::string &table, const std::string &token) {
    effects_.entries.push_back({Effects::written, table, token});
  }
  void replaced(const std::string &table, const std::string &tag) {
    effects_.entries.push_back({Effects::replaced, table, tag});
  }
  void removed(const std::string &table, const std::string &tag) {
    effects_.entries.push_back({Effects::removed, table, tag});
  }

  // A random live row of `table` (optionally restricted by `where`).
  std::optional<PickedRow> pick(const std::string &table, const std::string &where = "") {
    std::string filter = where.empty() ? "" : " WHERE " + where;
    std::int64_t count = connection_.integer("SELECT count(*) FROM " + quote_identifier(table) + filter);
    if (count == 0) return std::nullopt;
    auto rows = connection_.rows("SELECT rowid, tag FROM " + quote_identifier(table) + filter +
                                 " ORDER BY rowid LIMIT 1 OFFSET " + std::to_string(random().below(count)));
    if (rows.empty()) return std::nullopt;
    return PickedRow{std::stoll(rows[0][0]), rows[0][1]};
  }
  std::vector<std::string> tags_where(const std::string &table, const std::string &where) {
    std::vector<std::string> tags;
    for (const auto &row : connection_.rows("SELECT tag FROM " + quote_identifier(table) + " WHERE " + where))
      tags.push_back(row[0]);
    return tags;
  }

  // The column added mid-history, when this connection sees it on `table`.
  const AddedColumn *added_column(const std::string &table) {
    const AddedColumn &added = context_.added_column;
    if (added.table != table) return nullptr;
    std::int64_t visible = connection_.integer("SELECT count(*) FROM pragma_table_info(" + sql_quote(table) +
                                               ") WHERE name = " + sql_quote(added.name));
    return visible ? &added : nullptr;
  }
  // A value for the added column.
  std::string added_value(const AddedColumn &added) {
    if (added.definition.find("INTEGER") != std::string::npos) return std::to_string(random().between(0, 9));
    return sql_quote("x" + std::to_string(random().below(1000)));
  }

  // BEGIN IMMEDIATE, `body`, COMMIT; then the ledger and the log learn what it did.
  void run(const std::function<void(Transaction &)> &body);
  void one_operation();

private:

  Context &context_;
  ClientFile &file_;
  Client &connection_;
  Effects effects_;
  std::vector<std::string> statements_;
};

std::string join(const std::vector<std::string> &parts, const std::string &separator) {
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) joined += (i ? separator : "") + parts[i];
  return joined;
}

// An INTEGER PRIMARY KEY for an insert: omitted (auto), 0, negative, or a random 64-bit
// value. The random value is drawn from the seed rather than SQL's random(), so a seed
// replays the same keys.
std::optional<std::string> integer_key(Random &random) {
  int kind = random.below(100);
  if (kind < 40) return std::nullopt;
  if (kind < 55) return "0";
  if (kind < 75) return std::to_string(-random.between(1, 30));
  auto value = static_cast<std::int64_t>(random.next() >> 1);
  if (random.percent(50)) value = -value;
  return std::to_string(value);
}

std::string insert_sql(const std::string &table, std::vector<std::pair<std::string, std::string>> values) {
  std::vector<std::string> columns;
  std::vector<std::string> literals;
  for (auto &value : values) {
    columns.push_back(value.first);
    literals.push_back(value.second);
  }
  return "INSERT INTO " + table + " (" + join(columns, ", ") + ") VALUES (" + join(literals, ", ") + ")";
}

const char *const kFiveLines = "line 1\nline 2\nline 3\nline 4\nline 5\n";

// --- Notes: INTEGER PRIMARY KEY, a multi-line body edited line by line -------------------

void notes_insert(Transaction &tx, const char *verb = "INSERT") {
  std::string token = tx.token();
  std::vector<std::pair<std::string, std::string>> values;
  std::optional<std::string> key = integer_key(tx.random());
  if (std::string(verb) != "INSERT") {
    // REPLACE aims at an existing id most of the time.
    if (auto victim = tx.pick("Notes"); victim && tx.random().percent(70)) key = std::to_string(victim->rowid);
    if (key)
      for (const std::string &tag : tx.tags_where("Notes", "id = " + *key)) tx.removed("Notes", tag);
  }
  if (key) values.emplace_back("id", *key);
  values.emplace_back("title", sql_quote("title " + std::to_string(tx.random().below(100))));
  values.emplace_back("body", sql_quote(kFiveLines));
  values.emplace_back("tag", sql_quote(token));
  if (const AddedColumn *added = tx.added_column("Notes")) values.emplace_back(added->name, tx.added_value(*added));
  std::string sql = insert_sql("Notes", values);
  tx.exec(std::string(verb) + sql.substr(6));
  tx.wrote("Notes", token);
}

void notes_replace(Transaction &tx) { notes_insert(tx, "INSERT OR REPLACE"); }

void notes_update(Transaction &tx) {
  auto row = tx.pick("Notes");
  if (!row) return notes_insert(tx);
  std::string token = tx.token();
  std::string set = "tag = " + sql_quote(token);
  int what = tx.random().below(3);
  if (what == 0) {
    set += ", title = " + sql_quote("title by " + token);
  } else {
    // Edit one line of the body: edits of different lines merge (attempt_text_merge).
    std::string body = tx.db().text("SELECT body FROM Notes WHERE rowid = " + std::to_string(row->rowid));
    std::vector<std::string> lines;
    std::stringstream in(body == "<null>" ? kFiveLines : body);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.empty()) lines.push_back("");
    lines[static_cast<std::size_t>(tx.random().below(lines.size()))] += " edited by " + token;
    set += ", body = " + sql_quote(join(lines, "\n") + "\n");
  }
  if (const AddedColumn *added = tx.added_column("Notes"); added && tx.random().percent(50))
    set += ", " + added->name + " = " + tx.added_value(*added);
  tx.exec("UPDATE Notes SET " + set + " WHERE rowid = " + std::to_string(row->rowid));
  tx.replaced("Notes", row->tag);
  tx.wrote("Notes", token);
}

void delete_row(Transaction &tx, const std::string &table) {
  auto row = tx.pick(table);
  if (!row) return;
  tx.exec("DELETE FROM " + table + " WHERE rowid = " + std::to_string(row->rowid));
  tx.removed(table, row->tag);
}

// --- alpha: UNIQUE code from a small pool, CHECK (a + b <= 100) ------------------------

std::string alpha_code(Random &random) {
  if (random.percent(20)) return "NULL";
  return sql_quote("k" + std::to_string(random.below(10)));
}

void alpha_insert(Transaction &tx, const char *verb = "INSERT") {
  std::string token = tx.token();
  std::string code = alpha_code(tx.random());
  if (std::string(verb) != "INSERT" && code != "NULL")
    for (const std::string &tag : tx.tags_where("alpha", "code = " + code)) tx.removed("alpha", tag);
  std::vector<std::pair<std::string, std::string>> values = {{"code", code},
                                                             {"a", std::to_string(tx.random().between(0, 50))},
                                                             {"b", std::to_string(tx.random().between(0, 50))},
                                                             {"tag", sql_quote(token)}};
  if (const AddedColumn *added = tx.added_column("alpha")) values.emplace_back(added->name, tx.added_value(*added));
  std::string sql = insert_sql("alpha", values);
  tx.exec(std::string(verb) + sql.substr(6));
  tx.wrote("alpha", token);
}

void alpha_replace(Transaction &tx) { alpha_insert(tx, "INSERT OR REPLACE"); }

void alpha_update(Transaction &tx) {
  auto row = tx.pick("alpha");
  if (!row) return alpha_insert(tx);
  std::string token = tx.token();
  std::string set = "tag = " + sql_quote(token);
  switch (tx.random().below(4)) {
    case 0: set += ", a = " + std::to_string(tx.random().between(0, 70)); break;
    case 1: set += ", b = " + std::to_string(tx.random().between(0, 70)); break;
    case 2: set += ", code = " + alpha_code(tx.random()); break;
    default: break;  // only the tag
  }
  if (const AddedColumn *added = tx.added_column("alpha"); added && tx.random().percent(50))
    set += ", " + added->name + " = " + tx.added_value(*added);
  tx.exec("UPDATE alpha SET " + set + " WHERE rowid = " + std::to_string(row->rowid));
  tx.replaced("alpha", row->tag);
  tx.wrote("alpha", token);
}

// --- inbox and outbox: identical definitions, hidden row identity -----------------------

void box_insert(Transaction &tx, const std::string &box) {
  std::string token = tx.token();
  std::vector<std::pair<std::string, std::string>> values = {
      {"msg", sql_quote("m" + std::to_string(tx.random().below(1000)))}, {"tag", sql_quote(token)}};
  if (const AddedColumn *added = tx.added_column(box)) values.emplace_back(added->name, tx.added_value(*added));
  tx.exec(insert_sql(box, values));
  tx.wrote(box, token);
}

void box_update(Transaction &tx, const std::string &box) {
  auto row = tx.pick(box);
  if (!row) return box_insert(tx, box);
  std::string token = tx.token();
  std::string set = "tag = " + sql_quote(token) + ", msg = msg || '+'";
  if (const AddedColumn *added = tx.added_column(box); added && tx.random().percent(50))
    set += ", " + added->name + " = " + tx.added_value(*added);
  tx.exec("UPDATE " + box + " SET " + set + " WHERE rowid = " + std::to_string(row->rowid));
  tx.replaced(box, row->tag);
  tx.wrote(box, token);
}

// A message moves from inbox to outbox in one transaction.
void box_move(Transaction &tx) {
  auto row = tx.pick("inbox");
  if (!row) return box_insert(tx, "inbox");
  std::string msg = tx.db().text("SELECT msg FROM inbox WHERE rowid = " + std::to_string(row->rowid));
  tx.exec("DELETE FROM inbox WHERE rowid = " + std::to_string(row->rowid));
  tx.removed("inbox", row->tag);
  std::string token = tx.token();
  tx.exec(insert_sql("outbox", {{"msg", sql_quote(msg == "<null>" ? "moved" : msg)}, {"tag", sql_quote(token)}}));
  tx.wrote("outbox", token);
}

// --- Parent and child: a foreign key between INTEGER PRIMARY KEY tables ----------------

void parent_insert(Transaction &tx, const char *verb = "INSERT") {
  std::string token = tx.token();
  std::vector<std::pair<std::string, std::string>> values;
  std::optional<std::string> key = integer_key(tx.random());
  if (std::string(verb) != "INSERT") {
    if (auto victim = tx.pick("Parent"); victim && tx.random().percent(70)) key = std::to_string(victim->rowid);
    if (key)
      for (const std::string &tag : tx.tags_where("Parent", "id = " + *key)) tx.removed("Parent", tag);
  }
  if (key) values.emplace_back("id", *key);
  values.emplace_back("name", sql_quote("p" + std::to_string(tx.random().below(100))));
  values.emplace_back("tag", sql_quote(token));
  std::string sql = insert_sql("Parent", values);
  tx.exec(std::string(verb) + sql.substr(6));
  tx.wrote("Parent", token);
}

void parent_replace(Transaction &tx) { parent_insert(tx, "INSERT OR REPLACE"); }

void child_insert(Transaction &tx) {
  auto parent = tx.pick("Parent");
  if (!parent) return parent_insert(tx);
  std::string token = tx.token();
  std::vector<std::pair<std::string, std::string>> values;
  if (auto key = integer_key(tx.random()); key && tx.random().percent(50)) values.emplace_back("id", *key);
  values.emplace_back("parent_id", std::to_string(parent->rowid));
  values.emplace_back("note", sql_quote("n" + std::to_string(tx.random().below(100))));
  values.emplace_back("tag", sql_quote(token));
  tx.exec(insert_sql("child", values));
  tx.wrote("child", token);
}

void parent_update(Transaction &tx) {
  auto row = tx.pick("Parent");
  if (!row) return parent_insert(tx);
  std::string token = tx.token();
  tx.exec("UPDATE Parent SET name = " + sql_quote("renamed by " + token) + ", tag = " + sql_quote(token) +
          " WHERE rowid = " + std::to_string(row->rowid));
  tx.replaced("Parent", row->tag);
  tx.wrote("Parent", token);
}

void child_update(Transaction &tx) {
  auto row = tx.pick("child");
  if (!row) return child_insert(tx);
  std::string token = tx.token();
  std::string set = "tag = " + sql_quote(token);
  auto parent = tx.pick("Parent");
  if (parent && tx.random().percent(30)) set += ", parent_id = " + std::to_string(parent->rowid);
  else set += ", note = note || '+'";
  tx.exec("UPDATE child SET " + set + " WHERE rowid = " + std::to_string(row->rowid));
  tx.replaced("child", row->tag);
  tx.wrote("child", token);
}

// Deletes a parent; with its children first, or alone (refused locally when it has any).
void parent_delete(Transaction &tx) {
  auto row = tx.pick("Parent");
  if (!row) return;
  std::string id = std::to_string(row->rowid);
  if (tx.random().percent(60)) {
    for (const std::string &tag : tx.tags_where("child", "parent_id = " + id)) tx.removed("child", tag);
    tx.exec("DELETE FROM child WHERE parent_id = " + id);
  }
  tx.exec("DELETE FROM Parent WHERE id = " + id);
  tx.removed("Parent", row->tag);
}

struct WeightedOperation {
  int weight;
  std::function<void(Transaction &)> run;
};

const std::vector<WeightedOperation> &operations() {
  static const std::vector<WeightedOperation> all = {
      {8, [](Transaction &tx) { notes_insert(tx); }},
      {8, notes_update},
      {3, [](Transaction &tx) { delete_row(tx, "Notes"); }},
      {3, notes_replace},
      {6, [](Transaction &tx) { alpha_insert(tx); }},
      {7, alpha_update},
      {3, [](Transaction &tx) { delete_row(tx, "alpha"); }},
      {4, alpha_replace},
      {4, [](Transaction &tx) { box_insert(tx, "inbox"); }},
      {3, [](Transaction &tx) { box_insert(tx, "outbox"); }},
      {3, [](Transaction &tx) { box_update(tx, "inbox"); }},
      {2, [](Transaction &tx) { box_update(tx, "outbox"); }},
      {2, [](Transaction &tx) { delete_row(tx, "inbox"); }},
      {2, [](Transaction &tx) { delete_row(tx, "outbox"); }},
      {3, box_move},
      {4, [](Transaction &tx) { parent_insert(tx); }},
      {1, parent_replace},
      {5, child_insert},
      {3, parent_update},
      {4, child_update},
      {3, [](Transaction &tx) { delete_row(tx, "child"); }},
      {3, parent_delete},
  };
  return all;
}

void Transaction::one_operation() {
  int total = 0;
  for (const auto &operation : operations()) total += operation.weight;
  int choice = random().below(static_cast<std::size_t>(total));
  for (const auto &operation : operations()) {
    if (choice < operation.weight) return operation.run(*this);
    choice -= operation.weight;
  }
}

void Transaction::run(const std::function<void(Transaction &)> &body) {
  // A primed name marks the file's second connection.
  std::string who = file_.name() + (&connection_ == file_.connection.get() ? "" : "'");
  try {
    connection_.exec("BEGIN IMMEDIATE");
    body(*this);
    connection_.exec("COMMIT");
  } catch (const SqlError &error) {
    if (!sqlite3_get_autocommit(connection_.db())) {
      try {
        connection_.exec("ROLLBACK");
      } catch (const SqlError &) {
      }
    }
    std::string what = join(statements_, "; ");
    if (is_constraint_error(error)) {
      context_.log.add(who, "refused (" + std::string(error.what()) + "): " + what);
    } else {
      context_.log.add(who, "ERROR (" + std::string(error.what()) + "): " + what);
      context_.failures.add("local_write", who + ": " + error.what() + " in: " + what);
    }
    return;
  }
  if (effects_.empty()) return;
  context_.ledger.committed(file_.index, effects_);
  context_.log.add(who, join(statements_, "; "));
}

}  // namespace

void random_transaction(Context &context, ClientFile &file, Client &connection) {
  int statements = context.random.percent(25) ? context.random.between(2, 3) : 1;
  Transaction(context, file, connection).run([statements](Transaction &tx) {
    for (int i = 0; i < statements; ++i) tx.one_operation();
  });
}

void initial_rows(Context &context, ClientFile &file, Client &connection) {
  // One transaction per row, so a key clash refuses one row, not all of them.
  std::vector<std::function<void(Transaction &)>> rows;
  for (int i = 0; i < 3; ++i) rows.emplace_back([](Transaction &tx) { notes_insert(tx); });
  for (int i = 0; i < 3; ++i) rows.emplace_back([](Transaction &tx) { alpha_insert(tx); });
  for (const char *box : {"inbox", "outbox"})
    for (int i = 0; i < 2; ++i) rows.emplace_back([box](Transaction &tx) { box_insert(tx, box); });
  for (int i = 0; i < 2; ++i) rows.emplace_back([](Transaction &tx) { parent_insert(tx); });
  for (int i = 0; i < 3; ++i) rows.emplace_back(child_insert);
  for (const auto &row : rows) Transaction(context, file, connection).run(row);
}

}  // namespace zumero::convergence
