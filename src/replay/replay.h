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
#include <iosfwd>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/histogram.h"
#include "common/status.h"
#include "mysql/mysql.h"
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

// A key a transaction touches, for scheduling: transactions that share a key run in commit
// order; a shared use conflicts only with an exclusive one (every change to a table holds the
// table's key shared, a change that can only be located by the whole table holds it exclusive).
struct ConflictKey {
  std::string key;
  bool exclusive = true;
  bool operator==(const ConflictKey&) const = default;
};

// One connection to the destination (or one output), used by one engine worker at a time.
class SinkWorker {
 public:
  virtual ~SinkWorker() = default;
  // Applies the row changes of `txns` (COMMIT binlogs, ascending commit ts, no DDL) as one
  // downstream transaction, with the record that each is applied. Transient failures
  // (connection lost, deadlock) are IOError and may be retried with the same group: when only
  // the answer was lost and the group committed, the retry finds its record and applies nothing.
  virtual Status Apply(std::span<const pb::Binlog* const> txns) = 0;
  // Runs the DDL of `binlog` alone (in its current database), with the record that it is
  // applied. When the binlog also has row changes (CREATE TABLE ... SELECT), they come next in
  // Apply, which records the transaction applied; a restart between the two, or a retry after
  // a transient failure, runs the DDL again, and the sink takes the error "already done" for
  // success there.
  virtual Status ApplyDdl(const pb::Binlog& binlog) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Workers that may apply at once (the print sink: 1).
  virtual int MaxWorkers() const = 0;
  // The keys the row changes of `binlog` touch (nothing for a sink with one worker). Errors:
  // what the destination cannot take (a table it does not have), before anything is applied.
  virtual Status ConflictKeys(const pb::Binlog& binlog, std::vector<ConflictKey>* out) = 0;
  virtual Result<std::unique_ptr<SinkWorker>> NewWorker() = 0;
  // What an earlier run of this task applied (empty for a sink that keeps nothing).
  virtual Result<ResumeState> LoadResume() = 0;
  // Everything at or below ts is applied: the sink may forget what it kept above the old low.
  virtual Status AdvanceLow(uint64_t ts) = 0;
};

struct EngineOptions {
  int worker_count = 16;  // at most the sink's MaxWorkers
  int txn_batch = 20;     // row changes per downstream transaction (whole transactions)
  int max_retry = 10;     // transient failures of one group in a row before giving up
  double retry_base_seconds = 0.5;
  double retry_max_seconds = 10;
  size_t max_pending_bytes = 64 << 20;  // submitted, not yet applied: Submit waits beyond it
  double advance_interval_seconds = 1;  // how often the sink is told the new low ts
};

struct EngineStats {
  uint64_t transactions = 0;  // applied (row changes and DDL)
  uint64_t rows = 0;
  uint64_t ddl = 0;
  uint64_t filtered = 0;  // transactions with nothing left after the filter
  uint64_t already = 0;   // skipped: applied by an earlier run (ResumeState)
  uint64_t groups = 0;    // downstream transactions
  uint64_t retries = 0;
  uint64_t progress_ts = 0;                       // every transaction at or below it is applied
  uint64_t applied_through_ts = 0;  // ts of the last submitted binlog with all before it applied
  std::map<std::string, uint64_t> rows_by_table;  // "db.table"
  LatencyHistogram apply_latency;  // of each downstream transaction, retries included
};

// Applies binlogs to a sink, in parallel where their keys allow, each transaction once.
class Engine {
 public:
  // Loads the sink's ResumeState (what an earlier run applied is skipped) and starts the
  // workers. `sink` must outlive the engine.
  static Result<std::unique_ptr<Engine>> Start(Sink* sink, Filter filter,
                                               const EngineOptions& options);
  ~Engine();  // stops the workers; what is not applied is not (Finish applies it)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A COMMIT binlog (FAKE ones only move the progress), in commit-ts order. Blocks while too
  // much is pending or a DDL waits for the workers. Returns the engine's first error once it
  // stopped: nothing after that is applied.
  Status Submit(pb::Binlog binlog);
  // Waits until everything submitted is applied and the sink knows it; the first error.
  Status Finish();
  // Stops applying (retries end at once): a Finish waiting returns `why`. What was applied
  // stays recorded; the rest is for the next run. Thread-safe.
  void Abort(Status why);
  EngineStats Stats() const;
  const ResumeState& resumed() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct MysqlSinkOptions {
  mysql::ConnectOptions connect;
  // Whose progress this is: several tasks (a reparo run, a drainer) can share a destination.
  std::string task = "reparo";
  bool safe_mode = false;  // INSERT -> REPLACE, UPDATE -> DELETE + REPLACE
  // Keep the record of what is applied (exactly once across restarts); a flashback, which
  // applies a window backwards, keeps none.
  bool track_progress = true;
  int max_workers = 64;
  // Statements (each ending in ';') committed in the same transaction as the record that
  // everything at or below low_ts is applied: a drainer's visible checkpoint, a syncer's
  // upstream position. Called with the meta connection's lock held; empty adds nothing.
  std::function<std::string(uint64_t low_ts)> on_advance;
};

// A MariaDB/MySQL destination (docs/REPARO.md, "The destination"): each worker a connection
// (time_zone +00:00, sql_mode STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO, READ COMMITTED); the
// record of what is applied in tidb_binlog.replay_applied and tidb_binlog.replay_progress,
// created when missing. Connects once here, so a destination that cannot be reached is an error
// before anything is read.
Result<std::unique_ptr<Sink>> NewMysqlSink(const MysqlSinkOptions& options);

// Readable text, one block per row change (docs/REPARO.md, "print"):
//   schema: db; table: t; type: Insert
//   id(int): 1
//   name(varchar(20)): "a"
// An update prints `old => new` for each column; a DDL prints `DDL query: ...`.
std::unique_ptr<Sink> NewPrintSink(std::ostream* out);
// The text of one binlog's changes, as the print sink writes it.
std::string FormatBinlog(const pb::Binlog& binlog);
// One value as the print sink writes it (NULL, digits, "text" escaped, 0x and hex for bytes);
// sync-diff prints the rows that differ with it.
std::string FormatValue(const pb::Value& v);

}  // namespace binlog::replay
