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
//
// A big transaction arrives in parts (records with one commit ts and PartTags, segment/format.h)
// and is never held whole: each part is applied as it comes, alone on one worker (a barrier like
// a DDL), in one downstream transaction open from the first part to the last (atomic, the
// default), or with split_big_txn in commits of txn_batch changes, each recording where in the
// transaction it is (PartPosition), so a restart resumes inside it.
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

// How far a transaction in parts is applied (split_big_txn): every part below `part`, and the
// first `row` row changes of part `part` (counted in the part as it was written, before any
// filter).
struct PartPosition {
  uint64_t commit_ts = 0;  // 0: none
  uint32_t part = 0;
  uint64_t row = 0;
  bool operator==(const PartPosition&) const = default;
};

// What a sink already holds from an earlier run of the same task: every transaction with a
// commit ts at or below low_ts, and those in `applied` above it; and of a transaction in parts
// split_big_txn applied in part, what `inside` says.
struct ResumeState {
  uint64_t low_ts = 0;
  std::set<uint64_t> applied;
  PartPosition inside;
  bool Contains(uint64_t commit_ts) const {
    return commit_ts <= low_ts || applied.count(commit_ts) > 0;
  }
  // Whether part `index` of the transaction at commit_ts is applied whole: a caller reading the
  // parts may skip it unparsed (the engine skips it too).
  bool ContainsPart(uint64_t commit_ts, uint32_t index) const {
    return Contains(commit_ts) || (inside.commit_ts == commit_ts && index < inside.part);
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

  // How a step of a transaction in parts ends.
  enum class StepEnd : uint8_t {
    kOpen,      // atomic: the downstream transaction stays open for the next step
    kProgress,  // split: commits, with the record that the transaction is applied up to `reached`
    kApplied,   // the last step: commits, with the record that the transaction is applied
  };
  struct Step {
    uint32_t part = 0;  // the part the changes are of (for messages)
    StepEnd end = StepEnd::kOpen;
    PartPosition reached;  // kProgress: where the transaction is applied up to once committed
    // kApplied: PartPosition records of this transaction may exist (split mode, or a resume
    // inside it) and are cleared in the same commit.
    bool clears_inside = false;
  };
  // Applies `changes` (a COMMIT binlog: a slice of a transaction in parts, no DDL, possibly no
  // change at all) in the downstream transaction this worker keeps open from the first step of
  // the transaction to the one that commits it; the engine runs nothing else on the worker in
  // between. Transient failures are IOError and the engine retries the same step: only where
  // that cannot lose what earlier steps of an open transaction sent (the step opens the
  // transaction, or it was the commit and the record says whether it happened). A step whose
  // loss of the connection took earlier steps with it is Aborted. The default: Unsupported.
  virtual Status ApplyStep(const pb::Binlog& changes, const Step& step);
  // Rolls back the open transaction of the steps applied so far (the transaction was
  // abandoned: its parts stopped coming).
  virtual void RollbackSteps() {}
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
  // A transaction in parts committed every txn_batch changes (and at the end of each part),
  // each commit recording how far it is (ResumeState::inside), instead of in one downstream
  // transaction. Faster on a destination that struggles with huge transactions, not atomic: a
  // reader of the destination sees it half applied meanwhile.
  bool split_big_txn = false;
  int max_retry = 10;     // transient failures of one group in a row before giving up
  double retry_base_seconds = 0.5;
  double retry_max_seconds = 10;
  size_t max_pending_bytes = 64 << 20;  // submitted, not yet applied: Submit waits beyond it
  double advance_interval_seconds = 1;  // how often the sink is told the new low ts
};

struct EngineStats {
  uint64_t transactions = 0;  // applied (row changes and DDL; one in parts counts once)
  uint64_t in_parts = 0;      // of them, transactions that came in parts
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
  //
  // `part` is the record's PartTag (segment/format.h): 0 for a whole transaction; else the
  // transaction's parts come consecutively, each a COMMIT binlog with its commit ts and a slice
  // of its row changes, part 0 first (or, resuming, the first part ResumeState::ContainsPart
  // does not cover) to the last, nothing in between. A part out of order, another binlog
  // before the last part, or a part with a DDL stops the engine (InvalidArgument). The first
  // part waits until every worker is idle; each part waits until the one before it is applied,
  // so at most the part being applied and the one submitted are held; what follows the last
  // part waits for its commit.
  Status Submit(pb::Binlog binlog, uint32_t part = 0);
  // The transaction whose parts are under way will not be completed (its input was cut: a
  // writer that crashed, an archive copied while written): atomic, its downstream transaction
  // is rolled back and nothing of it stays; split, what committed stays, recorded, and the
  // same commit ts submitted again goes on from there. The engine then takes the next binlog
  // as if the transaction never came. OK when no transaction is under way.
  Status AbandonTransaction();
  // Waits until everything submitted is applied and the sink knows it; the first error. A
  // transaction whose last part did not come is abandoned (AbandonTransaction) and named in an
  // InvalidArgument error.
  Status Finish();
  // Stops applying (retries end at once): a Finish waiting returns `why`. What was applied
  // stays recorded; the rest is for the next run. Thread-safe.
  void Abort(Status why);
  EngineStats Stats() const;
  const ResumeState& resumed() const;

  struct Impl;  // internal to src/replay (engine_impl.h)

 private:
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
