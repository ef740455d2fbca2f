// What a replay into MariaDB/MySQL records of its progress, in the destination (internal to
// replay; the layout is in docs/REPARO.md): tidb_binlog.replay_progress keeps, per task, the low
// ts below which everything is applied, the DDL under way, and how far a transaction in parts is
// applied in split mode (part_ts, part_index, part_row); tidb_binlog.replay_applied keeps one
// row per downstream transaction above the low ts (its top commit ts and the others as offsets
// below it). These build the statements and read them back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "binlog.pb.h"
#include "common/status.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

// Creates both tables when missing.
extern const char kCreateProgressTables[];

// Creates both tables when missing, and adds the part_* columns to a replay_progress made
// before them (older builds keep reading and writing it: they name their columns). Corruption
// when the table has some of them only.
Status EnsureProgressTables(mysql::Connection* conn);

// Records, in the transaction of a step, that the transaction in parts is applied up to `at`.
std::string InsideSql(std::string_view task, const PartPosition& at);
// Forgets the position inside the transaction at commit_ts, in the commit that applies its end.
std::string ClearInsideSql(std::string_view task, uint64_t commit_ts);
// A locking read of the task's position inside a transaction in parts: part_ts, part_index,
// part_row (no row: none). Waits for a transaction still writing it.
std::string ReadInsideSql(std::string_view task);
// A locking read of the record that the transaction at commit_ts is applied (a row: it is).
std::string ReadAppliedSql(std::string_view task, uint64_t commit_ts);
// Parses ReadInsideSql's answer.
Result<PartPosition> ParseInside(const std::vector<mysql::Row>& rows);

// Inserts the record that `txns` are applied; runs inside their downstream transaction, so it
// commits with them. A second insert of the same record is a duplicate key.
std::string AppliedRecordSql(std::string_view task, std::span<const pb::Binlog* const> txns);

// Marks the DDL at `ts` as under way (it runs outside any transaction).
std::string DdlUnderWaySql(std::string_view task, uint64_t ts);

// Raises the low ts and drops the records at or below it, in one transaction; `extra` (complete
// statements, each ending in ';', or empty) commits in the same one.
std::string AdvanceLowSql(std::string_view task, uint64_t low_ts, std::string_view extra = {});

struct Progress {
  ResumeState resume;
  uint64_t ddl_ts = 0;  // the DDL last marked under way (0: none)
};

// Reads the task's progress through `query`; Corruption when the tables hold what no replay
// writes (they were edited).
Result<Progress> ReadProgress(std::string_view task, const QueryFn& query);

}  // namespace binlog::replay
