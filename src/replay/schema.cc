// Reading the destination's table definitions from information_schema.
#include "replay/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace binlog::replay {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A string literal for information_schema queries: names are the destination's identifiers.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string Text(const std::optional<std::string>& v) { return v ? *v : std::string(); }

}  // namespace

bool ColumnSchema::case_insensitive() const {
  return collation.size() > 3 && collation.compare(collation.size() - 3, 3, "_ci") == 0;
}

int TableSchema::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name.size() == name.size() &&
        std::equal(name.begin(), name.end(), columns[i].name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string TableKey(std::string_view db, std::string_view table) {
  return Lower(db) + "." + Lower(table);
}

Result<std::shared_ptr<const TableSchema>> SchemaCache::Get(const std::string& db,
                                                            const std::string& table) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = tables_.find({db, table});
  if (it != tables_.end()) return it->second;
  ASSIGN_OR_RETURN(auto loaded, Load(db, table));
  tables_[{db, table}] = loaded;
  return loaded;
}

void SchemaCache::Invalidate(const std::string& db, const std::string& table) {
  std::lock_guard<std::mutex> g(mu_);
  tables_.erase({db, table});
}

void SchemaCache::InvalidateAll() {
  std::lock_guard<std::mutex> g(mu_);
  tables_.clear();
}

Result<std::shared_ptr<const TableSchema>> SchemaCache::Load(const std::string& db,
                                                             const std::string& table) {
  auto t = std::make_shared<TableSchema>();
  t->db = db;
  t->table = table;
  const std::string where =
      fmt::format("TABLE_SCHEMA = {} AND TABLE_NAME = {}", Quote(db), Quote(table));
  ASSIGN_OR_RETURN(auto columns,
                   query_("SELECT COLUMN_NAME, IS_NULLABLE, COLLATION_NAME, DATA_TYPE, "
                          "IS_GENERATED, EXTRA FROM information_schema.COLUMNS WHERE " +
                          where + " ORDER BY ORDINAL_POSITION"));
  if (columns.empty()) {
    return Status::NotFound(fmt::format("the destination has no table `{}`.`{}`", db, table));
  }
  for (const auto& row : columns) {
    t->columns.push_back(ColumnSchema{Text(row[0]), Text(row[1]) == "YES", Text(row[2]),
                                      Lower(Text(row[3])), Text(row[4]) == "ALWAYS",
                                      Lower(Text(row[5])).find("on update") != std::string::npos});
  }
  ASSIGN_OR_RETURN(auto keys, query_("SELECT INDEX_NAME, COLUMN_NAME FROM "
                                     "information_schema.STATISTICS WHERE " +
                                     where +
                                     " AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, "
                                     "INDEX_NAME, SEQ_IN_INDEX"));
  std::vector<std::string> partial;  // keys on an expression: no use for finding a row
  for (const auto& row : keys) {
    std::string name = Text(row[0]);
    if (t->unique_keys.empty() || t->unique_keys.back().name != name) {
      t->unique_keys.push_back(KeySchema{name, {}, true});
    }
    int column = t->ColumnIndex(Text(row[1]));
    if (column < 0) {
      partial.push_back(name);
      continue;
    }
    t->unique_keys.back().columns.push_back(column);
    t->unique_keys.back().not_null &= !t->columns[column].nullable;
  }
  std::erase_if(t->unique_keys, [&](const KeySchema& k) {
    return std::find(partial.begin(), partial.end(), k.name) != partial.end();
  });
  for (size_t i = 0; i < t->unique_keys.size() && t->row_key < 0; ++i) {
    if (t->unique_keys[i].not_null) t->row_key = static_cast<int>(i);
  }
  ASSIGN_OR_RETURN(
      auto links,
      query_(fmt::format("SELECT REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME FROM "
                         "information_schema.KEY_COLUMN_USAGE WHERE {} AND "
                         "REFERENCED_TABLE_NAME IS NOT NULL UNION SELECT TABLE_SCHEMA, TABLE_NAME "
                         "FROM information_schema.KEY_COLUMN_USAGE WHERE "
                         "REFERENCED_TABLE_SCHEMA = {} AND REFERENCED_TABLE_NAME = {}",
                         where, Quote(db), Quote(table))));
  for (const auto& row : links) t->linked_tables.push_back(TableKey(Text(row[0]), Text(row[1])));
  std::sort(t->linked_tables.begin(), t->linked_tables.end());
  t->linked_tables.erase(std::unique(t->linked_tables.begin(), t->linked_tables.end()),
                         t->linked_tables.end());
  return std::shared_ptr<const TableSchema>(std::move(t));
}

}  // namespace binlog::replay
