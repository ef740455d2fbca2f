// The statements of a group: the transactions one worker applies as one downstream
// transaction. Internal to src/replay.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "replay/schema.h"
#include "replay/sql.h"

namespace binlog::replay {

struct PlannedStatement {
  Statement statement;
  uint64_t commit_ts = 0;  // of the (first) transaction it applies
  std::string table;       // "db.table"
};

using TableLookup =
    std::function<Result<std::shared_ptr<const TableSchema>>(const pb::TableChanges&)>;

// Every transaction's statements, in order. With `merge`, multi-row statements with the same
// head become one: neighbours always, and any two when the group's transactions touch pairwise
// different rows (by every unique key of their tables), since then no order of them changes the
// end state; single-row transactions, the usual case, then cost a statement per kind and table
// instead of one each.
Status PlanGroup(std::span<const pb::Binlog* const> txns, const TableLookup& tables,
                 const SqlOptions& options, bool merge, std::vector<PlannedStatement>* out);

}  // namespace binlog::replay
