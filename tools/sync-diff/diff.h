// The rows of one chunk on both servers, compared, and what is printed and written for each
// difference.
#pragma once

#include <string>
#include <vector>

#include "mysql/mysql.h"
#include "sync-diff/table.h"

namespace binlog::syncdiff {

struct RowDiff {
  enum class Kind { kMissing, kExtra, kChanged };
  Kind kind = Kind::kMissing;
  mysql::Row source;  // kMissing, kChanged
  mysql::Row target;  // kExtra, kChanged
};

// Rows (RowsSql's columns) matched by key: a key on one side only is a missing or an extra row,
// one on both with other values a changed row. Without a key, rows are matched whole: each copy
// of a row pairs with one copy on the other side. Missing and changed rows come in the source's
// order, then the extra rows in the target's.
std::vector<RowDiff> DiffRows(const TablePlan& t, const std::vector<mysql::Row>& source,
                              const std::vector<mysql::Row>& target);

// One line per difference:
//   `db`.`t` [id=3]: missing in the target: id=3, name="x"
//   `db`.`t` [id=5]: extra in the target: id=5, name=NULL
//   `db`.`t` [id=2]: changed: name "a" in the source, "b" in the target
// Values as reparo prints them; long ones cut, with their size.
void AppendDiffText(const TablePlan& t, const RowDiff& d, std::string* out);

// The statements that make the target row what the source's is: DELETE by the key (every
// column and LIMIT 1 without a key) for an extra row, REPLACE (INSERT without a key) for a
// missing or a changed one. Deletes go to `deletes`, the rest to `writes`.
void AppendFixSql(const TablePlan& t, const RowDiff& d, std::string* deletes, std::string* writes);

// What a fix SQL file starts with: the session its literals need.
std::string FixSqlHeader(const std::string& source, const std::string& target);

}  // namespace binlog::syncdiff
