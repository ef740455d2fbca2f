// The keys a transaction's changes touch, for the engine's dependency graph. Internal to
// src/replay.
#pragma once

#include <vector>

#include "binlog.pb.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

// The keys a change touches, for conflict detection: the table's, shared; one per unique key of
// the table for the row before and after, exclusive, values normalized by the column's
// collation (a case-insensitive key ignores case and trailing spaces). A table without a usable
// key, a row with NULL in every unique key, or a value that cannot be normalized exactly here,
// takes the table's key exclusive.
// Tables linked by foreign keys take each other's link keys exclusive: their changes keep their
// order.
void ConflictKeys(const pb::TableChanges& changes, const TableSchema& table,
                  std::vector<ConflictKey>* out);

}  // namespace binlog::replay
