// Conflict keys: which transactions must keep their order on the destination.
#include "replay/conflict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace binlog::replay {

namespace {

using pb::Value;

// A key value as the destination compares it: case-insensitive strings folded; false when that
// cannot be done exactly here (non-ASCII text under a case-insensitive collation).
bool NormalizedKeyValue(const Value& v, const ColumnSchema& column, std::string* out) {
  std::string text;
  switch (v.value_case()) {
    case Value::kInt64Value:
      text = fmt::format("i{}", v.int64_value());
      break;
    case Value::kUint64Value:
      text = fmt::format("u{}", v.uint64_value());
      break;
    case Value::kDoubleValue:
      text = fmt::format("d{}", v.double_value());
      break;
    case Value::kDecimalValue:
      text = "n" + v.decimal_value();
      break;
    case Value::kStringValue:
    case Value::kBytesValue: {
      const std::string& s =
          v.value_case() == Value::kStringValue ? v.string_value() : v.bytes_value();
      if (!column.case_insensitive()) {
        text = "s" + s;
        break;
      }
      text.assign(1, 's');  // not = "s": GCC 12 warns falsely (-Wrestrict, PR 105329)
      for (char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
        text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
      while (text.size() > 1 && text.back() == ' ') text.pop_back();
      break;
    }
    default:
      return false;
  }
  out->append(std::to_string(text.size()));
  out->push_back(':');
  out->append(text);
  return true;
}

}  // namespace

void ConflictKeys(const pb::TableChanges& changes, const TableSchema& table,
                  std::vector<ConflictKey>* out) {
  const std::string name = TableKey(table.db, table.table);
  for (const std::string& linked : table.linked_tables) out->push_back({"f:" + linked, true});
  if (!table.linked_tables.empty()) out->push_back({"f:" + name, true});
  // destination column -> record column; a record column the destination lacks fails the
  // statements anyway, and takes the whole table here.
  std::vector<int> to_record(table.columns.size(), -1);
  bool mapped = true;
  for (int i = 0; i < changes.columns_size(); ++i) {
    int d = table.ColumnIndex(changes.columns(i).name());
    if (d < 0) {
      mapped = false;
    } else {
      to_record[d] = i;
    }
  }
  if (!mapped || table.unique_keys.empty()) {
    out->push_back({"t:" + name, true});
    return;
  }
  bool whole_table = false;
  auto add_row = [&](const pb::Row& row) {
    // A row with NULL in every unique key has no key of its own: it is found by all its columns
    // (LIMIT 1), so it must keep its order with every other change to the table.
    bool located = false;
    for (size_t k = 0; k < table.unique_keys.size(); ++k) {
      const KeySchema& key = table.unique_keys[k];
      std::string text = fmt::format("k:{}/{}/", name, k);
      bool exact = true;
      for (int d : key.columns) {
        int r = to_record[d];
        // A NULL in a unique key matches nothing: only the row's other keys locate it.
        if (r < 0 || r >= row.columns_size() || row.columns(r).value_case() == Value::VALUE_NOT_SET) {
          exact = false;
          break;
        }
        if (row.columns(r).value_case() == Value::kIsNull) {
          text.clear();
          break;
        }
        if (!NormalizedKeyValue(row.columns(r), table.columns[d], &text)) {
          exact = false;
          break;
        }
      }
      if (!exact) {
        whole_table = true;
      } else if (!text.empty()) {
        out->push_back({std::move(text), true});
        located = true;
      }
    }
    if (!located) whole_table = true;
  };
  for (const pb::TableMutation& m : changes.mutations()) {
    add_row(m.row());
    if (m.type() == pb::UPDATE) add_row(m.before());
  }
  out->push_back({"t:" + name, whole_table});
}

std::vector<int> KeyHolders::Conflicts(const std::vector<ConflictKey>& keys) const {
  std::vector<int> out;
  for (const ConflictKey& k : keys) {
    auto it = holders_.find(k.key);
    if (it == holders_.end()) continue;
    for (const KeyUse& u : it->second) {
      if ((u.exclusive > 0 || (k.exclusive && u.shared > 0)) &&
          std::find(out.begin(), out.end(), u.worker) == out.end()) {
        out.push_back(u.worker);
      }
    }
  }
  return out;
}

void KeyHolders::Hold(const std::vector<ConflictKey>& keys, int worker) {
  for (const ConflictKey& k : keys) {
    std::vector<KeyUse>& uses = holders_[k.key];
    auto u = std::find_if(uses.begin(), uses.end(),
                          [&](const KeyUse& x) { return x.worker == worker; });
    if (u == uses.end()) u = uses.insert(uses.end(), KeyUse{worker});
    ++(k.exclusive ? u->exclusive : u->shared);
  }
}

void KeyHolders::Release(const std::vector<ConflictKey>& keys, int worker) {
  for (const ConflictKey& k : keys) {
    auto it = holders_.find(k.key);
    if (it == holders_.end()) continue;
    std::vector<KeyUse>& uses = it->second;
    for (size_t i = 0; i < uses.size(); ++i) {
      if (uses[i].worker != worker) continue;
      --(k.exclusive ? uses[i].exclusive : uses[i].shared);
      if (uses[i].shared == 0 && uses[i].exclusive == 0) uses.erase(uses.begin() + i);
      break;
    }
    if (uses.empty()) holders_.erase(it);
  }
}

}  // namespace binlog::replay
