// Statements of one group joined into one (sql.h).
#include <algorithm>
#include <iterator>

#include "replay/sql.h"

namespace binlog::replay {

namespace {

// A CASE evaluates its WHENs in turn for each row: past this many rows a second statement is
// cheaper than a longer one.
constexpr size_t kMaxKeyedRows = 64;

bool MergeKeyed(Statement* into, const Statement& next, size_t max_bytes) {
  KeyedUpdates& u = into->updates;
  const KeyedUpdates& v = next.updates;
  if (u.identity != v.identity || u.keys.size() + v.keys.size() > kMaxKeyedRows ||
      into->sql.size() + next.sql.size() > max_bytes) {
    return false;
  }
  // A row twice (one transaction updating it again) would take its first CASE value only.
  for (const std::string& k : v.keys) {
    if (std::find(u.keys.begin(), u.keys.end(), k) != u.keys.end()) return false;
  }
  u.keys.insert(u.keys.end(), v.keys.begin(), v.keys.end());
  u.values.insert(u.values.end(), v.values.begin(), v.values.end());
  into->rows += next.rows;
  RenderKeyedUpdates(u, &into->sql);
  return true;
}

}  // namespace

bool IsIntegerType(std::string_view type) {
  return type == "tinyint" || type == "smallint" || type == "mediumint" || type == "int" ||
         type == "bigint";
}

bool CaseKeepsType(std::string_view type) {
  static constexpr std::string_view kTypes[] = {
      "tinyint", "smallint",  "mediumint", "int",        "bigint",   "decimal",
      "char",    "varchar",   "tinytext",  "text",       "mediumtext", "longtext",
      "binary",  "varbinary", "tinyblob",  "blob",       "mediumblob", "longblob",
      "date",    "datetime",  "timestamp", "time"};
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

void RenderKeyedUpdates(const KeyedUpdates& u, std::string* sql) {
  const size_t rows = u.keys.size();
  const size_t columns = u.columns.size();
  sql->assign("UPDATE ");
  sql->append(u.table);
  sql->append(" SET ");
  for (size_t c = 0; c < columns; ++c) {
    if (c > 0) sql->append(", ");
    sql->append(u.columns[c]);
    sql->append(" = ");
    if (rows == 1) {
      sql->append(u.values[c]);
      continue;
    }
    sql->append("CASE ");
    sql->append(u.key);
    for (size_t r = 0; r < rows; ++r) {
      sql->append(" WHEN ");
      sql->append(u.keys[r]);
      sql->append(" THEN ");
      sql->append(u.values[r * columns + c]);
    }
    sql->append(" END");
  }
  sql->append(" WHERE ");
  sql->append(u.key);
  if (rows == 1) {
    sql->append(" = ");
    sql->append(u.keys[0]);
    return;
  }
  sql->append(" IN (");
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) sql->append(", ");
    sql->append(u.keys[r]);
  }
  sql->push_back(')');
}

std::string_view MergeIdentity(const Statement& s) {
  switch (s.kind) {
    case Statement::Kind::kInsert:
    case Statement::Kind::kDeleteIn:
      return std::string_view(s.sql).substr(0, s.head);
    case Statement::Kind::kUpdateByKey:
      return s.updates.identity;
    case Statement::Kind::kOther:
      break;
  }
  return {};
}

bool MergeStatements(Statement* into, const Statement& next, size_t max_bytes) {
  if (into->kind == Statement::Kind::kOther || into->kind != next.kind) return false;
  if (into->kind == Statement::Kind::kUpdateByKey) return MergeKeyed(into, next, max_bytes);
  if (into->head != next.head || into->sql.size() + next.sql.size() > max_bytes ||
      into->sql.compare(0, into->head, next.sql, 0, next.head) != 0) {
    return false;
  }
  if (into->kind == Statement::Kind::kDeleteIn) into->sql.pop_back();  // its ')'
  into->sql.append(", ");
  into->sql.append(next.sql, next.head);
  into->rows += next.rows;
  return true;
}

}  // namespace binlog::replay
