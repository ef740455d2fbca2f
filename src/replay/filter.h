// Which schemas and tables a replay applies: TiDB-Binlog's replicate-do-db, replicate-do-table,
// replicate-ignore-db, replicate-ignore-table and ignore-schemas, with its rules. A value that
// starts with '~' is a regular expression (RE2, which is Go's syntax), else an exact name; names
// compare case-insensitively. The do-lists select (nothing selects everything), the ignore-lists
// then remove. A DDL is filtered by the schema and table it names.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "binlog.pb.h"
#include "common/config.h"
#include "common/status.h"

namespace binlog::replay {

struct TableRule {
  std::string db;
  std::string table;
};

struct FilterRules {
  std::vector<std::string> do_dbs;
  std::vector<TableRule> do_tables;
  std::vector<std::string> ignore_dbs;
  std::vector<TableRule> ignore_tables;
  // Schemas never applied, TiDB-Binlog's "ignore-schemas" (a comma-separated list there).
  std::vector<std::string> ignore_schemas;
};

// What a DDL statement names, as far as filtering needs: its schema (the statement's own
// qualifier, else the current database it ran in) and its table (empty for a database-level
// statement: CREATE/ALTER/DROP DATABASE). A RENAME TABLE (or ALTER TABLE ... RENAME) names each
// table it moves; the first pair is here, all of them in `renames`. A statement that changes
// several tables (DROP TABLE a, b; a RENAME; ALTER TABLE ... EXCHANGE PARTITION ... WITH TABLE)
// lists every one in `tables`, in the statement's order; schema and table are the first.
struct DdlTarget {
  std::string schema;
  std::string table;
  bool database_level = false;
  std::vector<std::pair<TableRule, TableRule>> renames;  // from, to
  std::vector<TableRule> tables;  // every table created, changed or removed; empty for a database
};

// Parses the statement shapes filtering needs: CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE,
// CREATE/ALTER/DROP DATABASE (and SCHEMA), CREATE/DROP INDEX ... ON. Quoted identifiers
// (`a``b`), comments and MariaDB's executable comments are understood. InvalidArgument for any
// other statement, naming it: the caller decides what an unknown DDL means.
Result<DdlTarget> ParseDdlTarget(std::string_view query, std::string_view current_schema);

class Filter {
 public:
  // Compiles the rules; a bad regular expression is InvalidArgument naming it and RE2's reason.
  static Result<Filter> Make(const FilterRules& rules);
  Filter(Filter&&) noexcept;
  Filter& operator=(Filter&&) noexcept;
  ~Filter();

  // Whether changes to db.table are applied.
  bool Accepts(std::string_view db, std::string_view table) const;
  // Whether a DDL is applied: a table-level one when Accepts every table it names (schema and
  // table, `tables`, both sides of `renames`), a database-level one when the schema is selected
  // by the db rules (or any do-table rule names it) and no db rule ignores it.
  bool AcceptsDdl(const DdlTarget& target) const;
  // True when no rule is set: everything is accepted.
  bool empty() const;
  // Drops what the binlog changes that is not applied (its DDL, its tables); false when nothing
  // is left to apply.
  bool Keep(pb::Binlog* b) const;

 private:
  struct Impl;
  explicit Filter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads replicate-do-db, replicate-ignore-db, [[replicate-do-table]], [[replicate-ignore-table]]
// (also spelled [[ignore-table]], the drainer's name) and ignore-schemas (one comma list; when
// present it replaces rules->ignore_schemas, the caller's default) under `prefix` ("" for the
// top level, "syncer" for the drainer). Errors name the file and key.
Status ReadFilterRules(ConfigFile* file, std::string_view prefix, FilterRules* rules);

}  // namespace binlog::replay
