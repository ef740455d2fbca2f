// The replay engine: committed binlogs, in commit-ts order, applied to a sink (a MariaDB/MySQL
// server, or readable text). Reparo feeds it from a directory of segments; the drainer will feed
// it from its merge. Reading segments is the caller's.
//
//   caller ──Submit(binlog)──▶ filter ─▶ scheduler ──▶ worker 1 ─┐
//            (commit-ts order)            (key graph)  worker 2 ─┼─▶ sink (one downstream
//                                                      ...       ┘   transaction per group)
//
// Each upstream transaction is applied whole, in one downstream transaction, together with the
// record that it is applied, so a restart after a crash skips exactly what committed (the sink's
// ResumeState). Transactions that touch no common key run on different workers at once; a DDL
// is a barrier.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>

#include "binlog.pb.h"
#include "common/status.h"
#include "replay/filter.h"

namespace binlog::replay {

// What a sink already holds from an earlier run of the same task: every transaction with a
// commit ts at or below low_ts, and those in `applied` above it.
struct ResumeState {
  uint64_t low_ts = 0;
  std::set<uint64_t> applied;
  bool Contains(uint64_t commit_ts) const {
    return commit_ts <= low_ts || applied.count(commit_ts) > 0;
  }
};

// One connection to the destination (or one output), used by one engine worker at a time.
class SinkWorker {
 public:
  virtual ~SinkWorker() = default;
  // Applies the row changes of `txns` (COMMIT binlogs, ascending commit ts, no DDL) as one
  // downstream transaction, with the record that each is applied. Transient failures
  // (connection lost, deadlock) are IOError: nothing of the group is applied, it may be retried.
  virtual Status Apply(std::span<const pb::Binlog* const> txns) = 0;
  // Runs a DDL alone (with its current database), with the record that it is applied.
  virtual Status ApplyDdl(const pb::Binlog& ddl) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Workers that may apply at once (the print sink: 1).
  virtual int MaxWorkers() const = 0;
  virtual Result<std::unique_ptr<SinkWorker>> NewWorker() = 0;
  // What an earlier run of this task applied (empty for a sink that keeps nothing).
  virtual Result<ResumeState> LoadResume() = 0;
  // Everything at or below ts is applied: the sink may forget what it kept above the old low.
  virtual Status AdvanceLow(uint64_t ts) = 0;
};

// Readable text, one block per row change (docs/REPARO.md, "print"):
//   schema: db; table: t; type: Insert
//   id(int): 1
//   name(varchar(20)): "a"
// An update prints `old => new` for each column; a DDL prints `DDL query: ...`.
std::unique_ptr<Sink> NewPrintSink(std::ostream* out);
// The text of one binlog's changes, as the print sink writes it.
std::string FormatBinlog(const pb::Binlog& binlog);

}  // namespace binlog::replay
