// The drainer's visible checkpoint, as TiDB-Binlog shows it: {"consistent":..., "commitTS":...,
// "ts-map":{}}. Every transaction at or below commitTS is applied; consistent is true only after a
// clean stop (nothing applied above it). For a mysql sink it is a row of
// tidb_binlog.checkpoint(clusterID, checkPoint) in the downstream, written in the same
// transaction as the replay engine's own record of what is applied (which is what makes apply
// exactly once); for the file and print sinks it is data-dir/savepoint, replaced atomically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "mysql/mysql.h"
#include "replay/replay.h"

namespace binlog::drainer {

struct Checkpoint {
  bool consistent = false;
  uint64_t commit_ts = 0;
};

std::string EncodeCheckpoint(const Checkpoint& c);
// Corruption naming `where` when the text is not a checkpoint.
Result<Checkpoint> DecodeCheckpoint(std::string_view json, const std::string& where);

// data-dir/savepoint: nullopt when there is none.
Result<std::optional<Checkpoint>> ReadSavepoint(Env* env, const std::string& path);
Status WriteSavepoint(Env* env, const std::string& path, const Checkpoint& c);

// The downstream table: created when missing, read (nullopt when no row), and the statement that
// sets this cluster's row.
extern const char kCreateCheckpointTable[];
Result<std::optional<Checkpoint>> ReadCheckpointTable(mysql::Connection* conn, uint64_t cluster_id);
std::string UpsertCheckpointSql(uint64_t cluster_id, const Checkpoint& c);

// Wraps a sink so that each new low ts (everything at or below it applied) is written to the
// savepoint file after the sink has it, and an earlier savepoint counts as applied at start.
std::unique_ptr<replay::Sink> WithSavepoint(std::unique_ptr<replay::Sink> sink, Env* env,
                                            std::string path);

}  // namespace binlog::drainer
