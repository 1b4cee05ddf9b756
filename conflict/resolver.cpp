#include "conflict/resolver.h"

#include <nlohmann/json.hpp>

namespace zumero::conflict {
namespace {

using sync::Value;

nlohmann::ordered_json value_json(const Value &value) {
  switch (value.type) {
    case Value::Integer: return value.integer;
    case Value::Real: return value.real;
    case Value::Text: return value.bytes;
    case Value::Blob: {
      static const char digits[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char c : value.bytes) {
        hex += digits[c >> 4];
        hex += digits[c & 15];
      }
      return "x'" + hex + "'";
    }
    default: return nullptr;
  }
}

bool changed(const Row &from, const Row &to, size_t column) {
  return column >= from.size() || column >= to.size() || !from[column].identical_to(to[column]);
}

}  // namespace

bool same_state(const std::optional<Row> &a, const std::optional<Row> &b) {
  if (!a || !b) return !a && !b;
  return sync::identical_rows(*a, *b);
}

std::string row_json(const std::vector<std::string> &columns, const std::optional<Row> &row) {
  if (!row) return "null";
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (size_t i = 0; i < columns.size() && i < row->size(); ++i) object[columns[i]] = value_json((*row)[i]);
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Row audit_row(const std::string &table, const std::vector<std::string> &columns, const RowVersions &versions,
              const std::optional<Row> &result) {
  return Row{Value::of_text(table), Value::of_text(row_json(columns, versions.ancestor)),
             Value::of_text(row_json(columns, versions.already)), Value::of_text(row_json(columns, versions.incoming)),
             Value::of_text(row_json(columns, result))};
}

Decision Resolver::decide(const std::string &table, const std::vector<std::string> &columns,
                          const RowVersions &versions) const {
  const auto &[ancestor, already, incoming] = versions;
  Decision decision;
  if (same_state(already, ancestor) || same_state(already, incoming)) {
    decision.result = incoming;  // only this side changed it, or both the same way
    return decision;
  }
  if (same_state(incoming, ancestor)) {
    decision.result = already;  // this side changed nothing
    return decision;
  }
  if (!ancestor) {
    // Both sides hold a row the ancestor did not have. Created on both sides under one
    // identity: the caller gives one of them another identity. Gone on this side only:
    // it created and deleted a row of its own, the other side's row stays.
    if (incoming && already) decision.kind = Decision::Kind::IdentityClash;
    decision.result = already;
    return decision;
  }
  if (!incoming) decision.situation = Situation::DelAfterMod;
  else if (!already) decision.situation = Situation::ModAfterDel;
  else decision.situation = Situation::ModAfterMod;
  decision.kind = Decision::Kind::Resolved;
  std::int64_t chosen = rules_.row_action(table, decision.situation);
  if (chosen == action::kReject) {
    decision.kind = Decision::Kind::Rejected;
  } else if (chosen == action::kAccept) {
    decision.result = incoming;
  } else if (chosen == action::kColumnMerge && decision.situation == Situation::ModAfterMod) {
    return merge_columns(table, columns, versions);
  } else {
    decision.result = already;  // ignore
  }
  return decision;
}

// Column by column against the ancestor: a column changed by one side only takes that
// side's value; one changed by both follows the column rule, optionally after a
// line-based text merge.
Decision Resolver::merge_columns(const std::string &table, const std::vector<std::string> &columns,
                                 const RowVersions &versions) const {
  const Row &ancestor = *versions.ancestor;
  const Row &already = *versions.already;
  const Row &incoming = *versions.incoming;
  Decision decision;
  decision.kind = Decision::Kind::Resolved;
  decision.situation = Situation::ModAfterMod;
  Row merged = already;
  for (size_t i = 0; i < merged.size() && i < incoming.size(); ++i) {
    if (!changed(ancestor, incoming, i)) continue;
    if (!changed(ancestor, already, i) || !changed(already, incoming, i)) {
      merged[i] = incoming[i];
      continue;
    }
    const std::string &column = i < columns.size() ? columns[i] : std::string();
    std::int64_t chosen = rules_.column_action(table, column);
    if ((chosen & action::kAttemptTextMerge) && i < ancestor.size() && ancestor[i].type == Value::Text &&
        already[i].type == Value::Text && incoming[i].type == Value::Text) {
      std::optional<std::string> text = merge_text(ancestor[i].bytes, already[i].bytes, incoming[i].bytes);
      if (text) {
        merged[i] = Value::of_text(*text);
        continue;
      }
    }
    chosen &= ~action::kAttemptTextMerge;
    if (chosen == action::kReject) {
      decision.kind = Decision::Kind::Rejected;
      decision.column = column;
      return decision;
    }
    if (chosen != action::kIgnore) merged[i] = incoming[i];  // accept, or the default
  }
  decision.result = std::move(merged);
  return decision;
}

}  // namespace zumero::conflict
