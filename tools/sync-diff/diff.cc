// Matching a chunk's rows by key (or whole), and the text and SQL of each difference.
#include "sync-diff/diff.h"

#include <fmt/format.h>

#include <cctype>
#include <unordered_map>

#include "common/text.h"
#include "replay/replay.h"
#include "replay/sql.h"

namespace binlog::syncdiff {

namespace {

// Longer values are cut when printed (the fix SQL always has them whole).
constexpr size_t kShownBytes = 256;

// Equal for values the server takes for the same key: a case-insensitive collation folds ASCII
// case and ignores trailing spaces (other foldings are not tried: such rows show as one missing
// and one extra, and the fix deletes before it writes, so it still converges).
void AppendKeyPart(const std::optional<std::string>& v, const replay::ColumnSchema& c,
                   std::string* out) {
  if (!v) {
    out->append("N;");
    return;
  }
  std::string_view s = *v;
  std::string folded;
  if (c.case_insensitive()) {
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    folded.assign(s);
    for (char& ch : folded) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    s = folded;
  }
  fmt::format_to(std::back_inserter(*out), "{}:", s.size());
  out->append(s);
}

std::string KeyOf(const TablePlan& t, const mysql::Row& row) {
  std::string out;
  if (t.key.empty()) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (!row[i]) {
        out.append("N;");
      } else {
        fmt::format_to(std::back_inserter(out), "{}:", row[i]->size());
        out.append(*row[i]);
      }
    }
    return out;
  }
  for (int k : t.key) AppendKeyPart(row[k], t.columns[k], &out);
  return out;
}

std::string Shown(const std::optional<std::string>& v, const replay::ColumnSchema& c) {
  if (!v || v->size() <= kShownBytes) return replay::FormatValue(ValueOf(v, c));
  size_t cut = kShownBytes;
  // Not inside a UTF-8 sequence.
  while (cut > 0 && (static_cast<uint8_t>((*v)[cut]) & 0xC0) == 0x80) --cut;
  std::optional<std::string> head = v->substr(0, cut);
  return fmt::format("{}... ({} bytes)", replay::FormatValue(ValueOf(head, c)), v->size());
}

std::string ColumnName(const replay::ColumnSchema& c) { return Printable(c.name, 256); }

std::string KeyText(const TablePlan& t, const mysql::Row& row) {
  std::string out;
  for (int k : t.key) {
    out += fmt::format("{}{}={}", out.empty() ? "" : ", ", ColumnName(t.columns[k]),
                       Shown(row[k], t.columns[k]));
  }
  return out;
}

std::string RowText(const TablePlan& t, const mysql::Row& row) {
  std::string out;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    out += fmt::format("{}{}={}", i == 0 ? "" : ", ", ColumnName(t.columns[i]),
                       Shown(row[i], t.columns[i]));
  }
  return out;
}

std::string ColumnList(const TablePlan& t) {
  std::string out;
  for (const auto& c : t.columns) {
    if (!out.empty()) out += ", ";
    replay::AppendIdentifier(c.name, &out);
  }
  return out;
}

}  // namespace

std::vector<RowDiff> DiffRows(const TablePlan& t, const std::vector<mysql::Row>& source,
                              const std::vector<mysql::Row>& target) {
  // Target rows by key; without a key several copies of one row share it.
  std::unordered_map<std::string, std::vector<size_t>> by_key;
  for (size_t i = target.size(); i-- > 0;) by_key[KeyOf(t, target[i])].push_back(i);
  std::vector<bool> matched(target.size(), false);
  std::vector<RowDiff> out;
  for (const mysql::Row& row : source) {
    auto it = by_key.find(KeyOf(t, row));
    if (it == by_key.end() || it->second.empty()) {
      out.push_back(RowDiff{RowDiff::Kind::kMissing, row, {}});
      continue;
    }
    const size_t i = it->second.back();
    it->second.pop_back();
    matched[i] = true;
    if (target[i] != row) out.push_back(RowDiff{RowDiff::Kind::kChanged, row, target[i]});
  }
  for (size_t i = 0; i < target.size(); ++i) {
    if (!matched[i]) out.push_back(RowDiff{RowDiff::Kind::kExtra, {}, target[i]});
  }
  return out;
}

void AppendDiffText(const TablePlan& t, const RowDiff& d, std::string* out) {
  const mysql::Row& row = d.kind == RowDiff::Kind::kExtra ? d.target : d.source;
  *out += t.Name();
  if (!t.key.empty()) *out += " [" + KeyText(t, row) + "]";
  switch (d.kind) {
    case RowDiff::Kind::kMissing:
      *out += ": missing in the target: " + RowText(t, row) + "\n";
      return;
    case RowDiff::Kind::kExtra:
      *out += ": extra in the target: " + RowText(t, row) + "\n";
      return;
    case RowDiff::Kind::kChanged:
      break;
  }
  *out += ": changed:";
  bool first = true;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (d.source[i] == d.target[i]) continue;
    *out += fmt::format("{} {} {} in the source, {} in the target", first ? "" : ";",
                        ColumnName(t.columns[i]), Shown(d.source[i], t.columns[i]),
                        Shown(d.target[i], t.columns[i]));
    first = false;
  }
  *out += "\n";
}

void AppendFixSql(const TablePlan& t, const RowDiff& d, std::string* deletes, std::string* writes) {
  if (d.kind == RowDiff::Kind::kExtra) {
    *deletes += "DELETE FROM " + t.Name() + " WHERE ";
    if (t.key.empty()) {
      // <=>: a NULL column matches NULL.
      for (size_t i = 0; i < t.columns.size(); ++i) {
        if (i > 0) *deletes += " AND ";
        replay::AppendIdentifier(t.columns[i].name, deletes);
        *deletes += " <=> " + Literal(d.target[i], t.columns[i]);
      }
      *deletes += " LIMIT 1;\n";
      return;
    }
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k > 0) *deletes += " AND ";
      const int c = t.key[k];
      replay::AppendIdentifier(t.columns[c].name, deletes);
      *deletes += " = " + Literal(d.target[c], t.columns[c]);
    }
    *deletes += ";\n";
    return;
  }
  // REPLACE also removes a target row that holds one of its unique values under another key.
  *writes += (t.key.empty() ? "INSERT INTO " : "REPLACE INTO ") + t.Name() + " (" + ColumnList(t) +
             ") VALUES (";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) *writes += ", ";
    *writes += Literal(d.source[i], t.columns[i]);
  }
  *writes += ");\n";
}

std::string FixSqlHeader(const std::string& source, const std::string& target) {
  return fmt::format(
      "-- sync-diff: the statements that make the target ({}) equal to the source ({})\n"
      "-- Values are read in utf8mb4, TIMESTAMP in UTC; strings use backslash escapes.\n"
      "SET NAMES utf8mb4;\n"
      "SET SESSION time_zone = '+00:00';\n"
      "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';\n"
      "SET SESSION foreign_key_checks = 0;\n",
      target, source);
}

}  // namespace binlog::syncdiff
