// Filter rules from a TOML file, as TiDB-Binlog's tools write them (reparo at the top level,
// the drainer under [syncer]).
#include <fmt/format.h>

#include "replay/filter.h"

namespace binlog::replay {

namespace {

std::string Key(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

Status ReadTables(ConfigFile* f, const std::string& key, std::vector<TableRule>* out) {
  ASSIGN_OR_RETURN(auto tables, f->GetTableArray(key, {"db-name", "tbl-name"}));
  for (size_t i = 0; i < tables.size(); ++i) {
    auto& t = tables[i];
    if (t["db-name"].empty() || t["tbl-name"].empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}: key \"{}[{}]\": expected db-name and tbl-name, both set", f->origin(), key, i));
    }
    out->push_back(TableRule{t["db-name"], t["tbl-name"]});
  }
  return Status::OK();
}

}  // namespace

Status ReadFilterRules(ConfigFile* f, std::string_view prefix, FilterRules* rules) {
  ASSIGN_OR_RETURN(rules->do_dbs, f->GetStringList(Key(prefix, "replicate-do-db")));
  ASSIGN_OR_RETURN(rules->ignore_dbs, f->GetStringList(Key(prefix, "replicate-ignore-db")));
  RETURN_IF_ERROR(ReadTables(f, Key(prefix, "replicate-do-table"), &rules->do_tables));
  RETURN_IF_ERROR(ReadTables(f, Key(prefix, "replicate-ignore-table"), &rules->ignore_tables));
  // The drainer's own name for the ignore list.
  RETURN_IF_ERROR(ReadTables(f, Key(prefix, "ignore-table"), &rules->ignore_tables));
  const std::string key = Key(prefix, "ignore-schemas");
  if (!f->Has(key)) return Status::OK();
  ASSIGN_OR_RETURN(std::string schemas, f->GetString(key, ""));
  rules->ignore_schemas.clear();
  for (size_t at = 0; at < schemas.size();) {
    size_t comma = schemas.find(',', at);
    std::string one = schemas.substr(at, comma == std::string::npos ? comma : comma - at);
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (!one.empty()) rules->ignore_schemas.push_back(one);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return Status::OK();
}

}  // namespace binlog::replay
