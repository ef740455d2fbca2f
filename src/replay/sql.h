// SQL for row changes, planned against the destination's own table (schema.h). Internal to
// src/replay.
//
// Every value is a literal that reaches the server exactly: integers and DECIMAL as their text,
// doubles in their shortest exact form, strings quoted with every special byte escaped, bytes as
// _binary'...' (taken as they are, whatever the column's charset) except a BIT value, which
// goes as its unsigned integer (BIT never compares equal to a string), SQL NULL as NULL. The
// session this SQL runs in must have sql_mode without NO_BACKSLASH_ESCAPES (the mysql sink sets
// it). Identifiers are quoted with backquotes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

void AppendIdentifier(std::string_view name, std::string* out);
// InvalidArgument for a value with no field set (a column absent from the row image) or a
// DECIMAL that is not a number.
Status AppendLiteral(const pb::Value& v, std::string* out);

struct SqlOptions {
  bool safe_mode = false;                // INSERT -> REPLACE, UPDATE -> DELETE + REPLACE
  size_t max_statement_bytes = 1 << 20;  // multi-row statements are cut there
};

// The statements that apply `changes` (one table's row changes of one transaction, in order)
// to `table`: consecutive INSERTs as one multi-row INSERT, consecutive DELETEs by key as one
// DELETE ... IN, an UPDATE by the row key (DELETE then INSERT when it changes a unique key),
// rows of a table without a usable key matched on every column with LIMIT 1.
Status BuildStatements(const pb::TableChanges& changes, const TableSchema& table,
                       const SqlOptions& options, std::vector<std::string>* out);

}  // namespace binlog::replay
