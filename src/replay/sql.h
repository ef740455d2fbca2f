// SQL for row changes, planned against the destination's own table (schema.h). Internal to
// src/replay, except the literals and identifiers, which tools/sync-diff writes its fix SQL with.
//
// Every value is a literal that reaches the server exactly: integers and DECIMAL as their text,
// doubles in their shortest exact form, strings quoted with every special byte escaped, bytes as
// _binary'...' (taken as they are, whatever the column's charset) except a BIT value, which
// goes as its unsigned integer (BIT never compares equal to a string), SQL NULL as NULL. The
// session this SQL runs in must have sql_mode without NO_BACKSLASH_ESCAPES (the mysql sink sets
// it). Identifiers are quoted with backquotes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

void AppendIdentifier(std::string_view name, std::string* out);
// `db`.`table`
void AppendTable(const TableSchema& table, std::string* out);
// InvalidArgument for a value with no field set (a column absent from the row image) or a
// DECIMAL that is not a number.
Status AppendLiteral(const pb::Value& v, std::string* out);
// As AppendLiteral, in the form `column` compares equal to (BIT takes an integer).
Status AppendColumnLiteral(const pb::Value& v, const ColumnSchema& column, std::string* out);

struct SqlOptions {
  bool safe_mode = false;                // INSERT -> REPLACE, UPDATE -> DELETE + REPLACE
  size_t max_statement_bytes = 1 << 20;  // multi-row statements are cut there
};

// Updates by one integer key column that set the same columns with values of the same kinds:
// any number of them is one UPDATE ... SET c = CASE k WHEN ... END ... WHERE k IN (...), whose
// CASE gives each column the type its direct assignment would.
struct KeyedUpdates {
  std::string table;                 // quoted db.table
  std::string key;                   // the quoted key column
  std::vector<std::string> columns;  // the quoted columns set
  std::string identity;              // equal for updates that may be one statement
  std::vector<std::string> keys;     // a literal per row
  std::vector<std::string> values;   // columns.size() literals per row
};

struct Statement {
  enum class Kind : uint8_t { kInsert, kDeleteIn, kUpdateByKey, kOther };
  std::string sql;
  Kind kind = Kind::kOther;
  // kInsert, kDeleteIn: sql's bytes before the first row ("INSERT INTO t (a, b) VALUES ",
  // "DELETE FROM t WHERE k IN ("); statements with the same head can be one.
  size_t head = 0;
  // The rows an UPDATE or DELETE must match, checked after it runs (a row that is not there
  // means the destination is not what the binlog was written against); 0: not checked (INSERT,
  // which fails by itself on a duplicate, and safe mode, which expects rows to be or not be).
  uint64_t rows = 0;
  KeyedUpdates updates;  // kUpdateByKey: what sql is made of
};

// The statements that apply `changes` (one table's row changes of one transaction, in order)
// to `table`: consecutive INSERTs as one multi-row INSERT, consecutive DELETEs by key as one
// DELETE ... IN, an UPDATE by the row key's old value (also when it changes the key), rows of
// a table without a usable key matched on every column with LIMIT 1.
Status BuildStatements(const pb::TableChanges& changes, const TableSchema& table,
                       const SqlOptions& options, std::vector<Statement>* out);

// Makes `next` part of `into` when both are multi-row statements with the same identity, they
// touch different rows, and the result stays within max_bytes; false (nothing changed)
// otherwise.
bool MergeStatements(Statement* into, const Statement& next, size_t max_bytes);

// Equal for statements MergeStatements may join; empty for one that joins none.
std::string_view MergeIdentity(const Statement& s);

// The SQL of `u`: one row's UPDATE ... WHERE k = v, or the CASE form for more.
void RenderKeyedUpdates(const KeyedUpdates& u, std::string* sql);
// Whether a KeyedUpdates key may be of this column type (information_schema's DATA_TYPE).
bool IsIntegerType(std::string_view type);
// Whether a column of this type may be set by a KeyedUpdates CASE: integers, DECIMAL (exact in
// the CASE's DECIMAL), strings and bytes (the literals' charset, converted on assignment as a
// literal is), dates and times (strings). Not FLOAT and DOUBLE (a literal may be DECIMAL or
// DOUBLE), BIT, ENUM, SET, JSON or spatial types.
bool CaseKeepsType(std::string_view type);

}  // namespace binlog::replay
