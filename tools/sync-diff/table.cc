// Listing, filtering and comparing the definitions of the tables on both servers.
#include "sync-diff/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "common/text.h"
#include "replay/sql.h"

namespace binlog::syncdiff {

namespace {

using Tables = std::map<std::pair<std::string, std::string>, uint64_t>;

// MariaDB lists SEQUENCE and SYSTEM VERSIONED apart; only plain tables are compared.
Result<Tables> ListTables(mysql::Connection* conn, const replay::Filter& filter) {
  ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM "
                                          "information_schema.TABLES WHERE TABLE_TYPE = "
                                          "'BASE TABLE'"));
  Tables out;
  for (const mysql::Row& r : rows) {
    if (!r[0] || !r[1] || !filter.Accepts(*r[0], *r[1])) continue;
    uint64_t estimate = 0;
    if (r[2]) std::from_chars(r[2]->data(), r[2]->data() + r[2]->size(), estimate);
    out[{*r[0], *r[1]}] = estimate;
  }
  return out;
}

replay::QueryFn QueryOn(mysql::Connection* conn) {
  return [conn](std::string_view sql) { return conn->Query(sql); };
}

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<replay::ColumnSchema> Stored(const replay::TableSchema& t) {
  std::vector<replay::ColumnSchema> out;
  for (const replay::ColumnSchema& c : t.columns) {
    if (!c.generated) out.push_back(c);
  }
  return out;
}

std::string ColumnText(const replay::ColumnSchema& c) {
  return fmt::format("`{}` {}", Printable(c.name), c.data_type);
}

// Empty when both sides have the same stored columns, in order, with the same types; else
// where they part.
std::string ColumnsDiffer(const std::vector<replay::ColumnSchema>& s,
                          const std::vector<replay::ColumnSchema>& t) {
  for (size_t i = 0; i < std::max(s.size(), t.size()); ++i) {
    if (i >= s.size()) return fmt::format("only the target has column {}", ColumnText(t[i]));
    if (i >= t.size()) return fmt::format("only the source has column {}", ColumnText(s[i]));
    if (!SameName(s[i].name, t[i].name) || s[i].data_type != t[i].data_type) {
      return fmt::format("column {}: {} in the source, {} in the target", i + 1, ColumnText(s[i]),
                         ColumnText(t[i]));
    }
  }
  return "";
}

// The key chunks are cut by, as indexes into `columns`; false when there is none.
bool PickKey(const replay::TableSchema& schema, const std::vector<replay::ColumnSchema>& columns,
             TablePlan* plan) {
  for (const replay::KeySchema& k : schema.unique_keys) {
    if (!k.not_null) continue;
    std::vector<int> key;
    for (int c : k.columns) {
      const replay::ColumnSchema& column = schema.columns[c];
      if (column.generated) break;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].name == column.name) key.push_back(static_cast<int>(i));
      }
    }
    if (key.size() != k.columns.size()) continue;
    plan->key = std::move(key);
    plan->integer_key =
        plan->key.size() == 1 && replay::IsIntegerType(columns[plan->key[0]].data_type);
    return true;
  }
  return false;
}

Status Plan(replay::SchemaCache* source, replay::SchemaCache* target, TablePlan* plan) {
  ASSIGN_OR_RETURN(auto s, source->Get(plan->db, plan->table));
  ASSIGN_OR_RETURN(auto t, target->Get(plan->db, plan->table));
  plan->columns = Stored(*s);
  const std::vector<replay::ColumnSchema> target_columns = Stored(*t);
  plan->detail = ColumnsDiffer(plan->columns, target_columns);
  if (!plan->detail.empty()) {
    plan->state = TablePlan::State::kColumnsDiffer;
    return Status::OK();
  }
  PickKey(*s, plan->columns, plan);
  // Chunk bounds are compared by each server's collation: both must order the key alike.
  for (int k : plan->key) {
    if (plan->columns[k].collation != target_columns[k].collation) {
      plan->state = TablePlan::State::kColumnsDiffer;
      plan->detail = fmt::format("key column `{}`: collation {} in the source, {} in the target",
                                 Printable(plan->columns[k].name), plan->columns[k].collation,
                                 target_columns[k].collation);
    }
  }
  return Status::OK();
}

bool IsBinaryType(std::string_view type) {
  static constexpr std::string_view kTypes[] = {
      "binary",   "varbinary",  "tinyblob",        "blob",         "mediumblob",
      "longblob", "bit",        "geometry",        "point",        "linestring",
      "polygon",  "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

}  // namespace

std::string TablePlan::Name() const {
  std::string out;
  replay::AppendIdentifier(db, &out);
  out += '.';
  replay::AppendIdentifier(table, &out);
  return out;
}

Result<std::vector<TablePlan>> PlanTables(mysql::Connection* source, mysql::Connection* target,
                                          const replay::Filter& filter) {
  Result<Tables> in_source = ListTables(source, filter);
  if (!in_source.ok()) return in_source.status().WithContext("list the source's tables");
  Result<Tables> in_target = ListTables(target, filter);
  if (!in_target.ok()) return in_target.status().WithContext("list the target's tables");
  Tables all = *in_source;
  all.insert(in_target->begin(), in_target->end());
  replay::SchemaCache source_schemas(QueryOn(source)), target_schemas(QueryOn(target));
  std::vector<TablePlan> out;
  for (const auto& [name, estimate] : all) {
    TablePlan plan;
    plan.db = name.first;
    plan.table = name.second;
    const bool in_s = in_source->count(name) > 0, in_t = in_target->count(name) > 0;
    if (!in_t) plan.state = TablePlan::State::kOnlySource;
    if (!in_s) plan.state = TablePlan::State::kOnlyTarget;
    if (in_s) plan.estimated_rows = in_source->at(name);
    if (in_s && in_t) {
      Status st = Plan(&source_schemas, &target_schemas, &plan);
      if (!st.ok()) return st.WithContext(fmt::format("read the definition of {}", plan.Name()));
    }
    out.push_back(std::move(plan));
  }
  return out;
}

pb::Value ValueOf(const std::optional<std::string>& text, const replay::ColumnSchema& column) {
  pb::Value v;
  if (!text) {
    v.set_is_null(true);
  } else if (IsBinaryType(column.data_type)) {
    v.set_bytes_value(*text);
  } else if (replay::IsIntegerType(column.data_type) || column.data_type == "decimal") {
    v.set_decimal_value(*text);
  } else if (column.data_type == "float" || column.data_type == "double") {
    double d = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), d);
    if (ec == std::errc() && end == text->data() + text->size()) {
      v.set_double_value(d);
    } else {
      v.set_string_value(*text);
    }
  } else {
    v.set_string_value(*text);
  }
  return v;
}

std::string Literal(const std::optional<std::string>& text, const replay::ColumnSchema& column) {
  std::string out;
  if (replay::AppendColumnLiteral(ValueOf(text, column), column, &out).ok()) return out;
  // Text that is not the number its type promises: the server converts a quoted string.
  out.clear();
  pb::Value v;
  v.set_string_value(text.value_or(""));
  (void)replay::AppendLiteral(v, &out);
  return out;
}

}  // namespace binlog::syncdiff
