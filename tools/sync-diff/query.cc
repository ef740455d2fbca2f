// SQL text for checksums, rows and chunk bounds.
#include "sync-diff/query.h"

#include <fmt/format.h>

#include "replay/sql.h"

namespace binlog::syncdiff {

namespace {

std::string Id(const std::string& name) {
  std::string out;
  replay::AppendIdentifier(name, &out);
  return out;
}

std::string KeyColumns(const TablePlan& t) {
  std::string out;
  for (int k : t.key) out += (out.empty() ? "" : ", ") + Id(t.columns[k].name);
  return out;
}

std::string AllColumns(const TablePlan& t) {
  std::string out;
  for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + Id(c.name);
  return out;
}

// key > bound (`above`) or key <= bound, lexicographically: k1 op v1 OR (k1 = v1 AND (k2 op v2
// OR ...)), which the range optimizer turns into index ranges (MariaDB's does not for a row
// constructor).
std::string Compare(const TablePlan& t, const std::vector<std::string>& bound, bool above,
                    size_t from = 0) {
  const std::string name = Id(t.columns[t.key[from]].name);
  const bool last = from + 1 == t.key.size();
  const char* op = above ? ">" : (last ? "<=" : "<");
  std::string out = fmt::format("{} {} {}", name, op, bound[from]);
  if (last) return out;
  return fmt::format("({} OR ({} = {} AND {}))", out, name, bound[from],
                     Compare(t, bound, above, from + 1));
}

}  // namespace

std::string Where(const TablePlan& t, const KeyRange& r) {
  std::string out;
  if (r.lo) out = " WHERE " + Compare(t, *r.lo, true);
  if (r.hi) out += (out.empty() ? " WHERE " : " AND ") + Compare(t, *r.hi, false);
  return out;
}

std::string ChecksumSql(const TablePlan& t, const KeyRange& r) {
  std::string parts, nulls;
  for (const auto& c : t.columns) {
    // As bytes: CONCAT_WS refuses some mixes of charsets, and a collation is not the data.
    parts += "," + (c.collation.empty() ? Id(c.name) : "CAST(" + Id(c.name) + " AS BINARY)");
    if (c.nullable) nulls += (nulls.empty() ? "" : ",") + ("ISNULL(" + Id(c.name) + ")");
  }
  if (!nulls.empty()) parts += ",CONCAT(" + nulls + ")";
  return fmt::format("SELECT COUNT(*), SUM(CRC32(CONCAT_WS(','{}))) FROM {}{}", parts, t.Name(),
                     Where(t, r));
}

std::string RowsSql(const TablePlan& t, const KeyRange& r) {
  return fmt::format("SELECT {} FROM {}{} ORDER BY {}", AllColumns(t), t.Name(), Where(t, r),
                     t.key.empty() ? AllColumns(t) : KeyColumns(t));
}

std::string BoundarySql(const TablePlan& t, const KeyRange& r, uint64_t rows) {
  return fmt::format("SELECT {0} FROM {1}{2} ORDER BY {0} LIMIT 1 OFFSET {3}", KeyColumns(t),
                     t.Name(), Where(t, r), rows - 1);
}

std::string MinMaxSql(const TablePlan& t) {
  const std::string k = KeyColumns(t);
  return fmt::format("SELECT MIN({0}), MAX({0}) FROM {1}", k, t.Name());
}

std::vector<std::string> KeyLiterals(const TablePlan& t, const mysql::Row& row, bool key_only) {
  std::vector<std::string> out;
  for (size_t i = 0; i < t.key.size(); ++i) {
    const int column = t.key[i];
    out.push_back(Literal(row[key_only ? i : column], t.columns[column]));
  }
  return out;
}

}  // namespace binlog::syncdiff
