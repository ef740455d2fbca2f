// A pump: receives binlogs from producers, makes them durable, serves them in commit-ts order.
//
//   producers --PREWRITE/COMMIT/ROLLBACK--> wal/ (arrival order, acknowledged once durable)
//                                            |  Sorter: match, watermark
//                                            v
//                          binlog/ (commit-ts order) --PullBinlogs--> drainers
//
// This class is the embeddable core (the same API serves the gRPC service and in-process
// callers). Node state, heartbeats to the registry, GC scheduling and status HTTP live around
// it (pump/server.h); this class only enforces what state allows.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/histogram.h"
#include "common/status.h"
#include "gc/gc.h"
#include "journal/journal.h"
#include "pump/sorter.h"
#include "pump/sources.h"

namespace binlog::pump {

struct PumpOptions {
  Env* env = Env::Posix();
  std::string data_dir;
  uint64_t max_file_size = 512ull << 20;  // segment rotation, wal/ and binlog/
  bool sync_log = true;                   // [storage] sync-log
  // Idle heartbeat: a FAKE binlog at the pump's clock when nothing was written for this long
  // (gen-binlog-interval). 0 disables it (producers then send their own FAKE heartbeats).
  double gen_binlog_interval_seconds = 3;
  // A prewrite unresolved for this long is rolled back by the pump, logged as an error.
  double max_txn_timeout_seconds = 600;
  // Below this many free bytes in data-dir, new transactions are refused (commits and
  // rollbacks of acknowledged prewrites, and heartbeats, still pass).
  uint64_t stop_write_at_available_space = 10ull << 30;
  // Largest serialized binlog accepted.
  size_t max_binlog_bytes = 32u << 20;
  // A binlog whose ts lies further ahead of this pump's clock is refused (0: no bound). One
  // accepted from a clock years ahead would put every later commit at or below it, refused.
  double max_clock_drift_seconds = 60;
};

// The fields of a binlog the pump checks and files it by; the rest travels as bytes.
struct BinlogHead {
  pb::BinlogType tp = pb::PREWRITE;
  int64_t start_ts = 0;
  int64_t commit_ts = 0;
  bool has_changes = false;  // row changes or a DDL
  bool ddl = false;
  // A one-shot COMMIT's SourcePosition, for the source table (pump/sources.h).
  std::optional<pb::SourcePosition> source;
  // The PartTag (segment/format.h) it came with: 0, a whole transaction; else one part of a
  // transaction in parts (docs/PUMP.md, "Transactions in parts"). Not in the binlog itself.
  uint32_t part = 0;
  static BinlogHead Of(const pb::Binlog& b, uint32_t part = 0);
};

// Parses a serialized binlog (a producer's payload) for its head, with the PartTag it came
// with. InvalidArgument for one over max_bytes or that is not a binlog.
Status ParseBinlogPayload(std::string_view payload, size_t max_bytes, BinlogHead* head,
                          uint32_t part = 0);

// What the pump holds from one upstream server (GetSourceState).
struct SourceState {
  uint64_t max_ts = 0;  // newest ts seen: a one-shot commit above it is not refused as behind
  std::optional<SourceEntry> held;  // newest one-shot COMMIT from that server_id
  // A one-shot COMMIT in parts from that server_id whose last part has not come: its commit ts
  // and how many of its parts are held (0 and 0: none).
  uint64_t open_commit_ts = 0;
  uint32_t open_parts = 0;
};

struct PumpStats {
  uint64_t max_commit_ts = 0;  // the watermark
  uint64_t emitted_ts = 0;     // newest ts durable in binlog/
  size_t pending_prewrites = 0;
  size_t committed_waiting = 0;
  uint64_t writes = 0;
  uint64_t write_bytes = 0;
  uint64_t rounds = 0;  // the writer's rounds that wrote to the wal (writes / rounds: their size)
  uint64_t refused = 0;
  uint64_t refused_future_ts = 0;     // of refused: a ts beyond the clock by max-clock-drift
  uint64_t wal_records_replayed = 0;  // by the recovery at open
  bool writable = true;
  // Why new transactions are refused (empty when writable): the state, the disk, a failed write.
  std::string not_writable_because;
  uint64_t available_bytes = 0;
  // Every write call (a WriteBinlog, a WriteBinlogs batch, a probe), from its arrival to its
  // answer: the pump's share of a producer's ack latency, refusals included.
  LatencyHistogram write_latency;
  LatencyHistogram wal_sync_latency;     // fdatasyncs of wal/ (each acknowledges a group)
  LatencyHistogram binlog_sync_latency;  // fdatasyncs of binlog/
};

class Pump {
 public:
  // Opens wal/ and binlog/ under data_dir, rebuilds the pending set from the wal (nothing
  // acknowledged is lost after kill -9) and starts the emitter thread.
  static Result<std::unique_ptr<Pump>> Open(const PumpOptions& options);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Validates, writes durably to the wal, and returns. Thread-safe; concurrent writers share
  // fdatasyncs. Nothing is stored when the result is an error. An empty binlog (all fields
  // zero) is a probe: answered OK, not stored.
  // `part` is its PartTag when it is one part of a transaction in parts.
  Status WriteBinlog(const pb::Binlog& binlog, uint32_t part = 0);
  // Several binlogs in one durable write: all are validated first; any invalid one refuses the
  // whole batch, naming its index. parts[i] is binlogs[i]'s PartTag (empty: all whole).
  Status WriteBinlogs(std::span<const pb::Binlog> binlogs, std::span<const uint32_t> parts = {});
  // Parses then writes: a payload that is not a Binlog is InvalidArgument.
  Status WritePayload(std::string_view payload, uint32_t part = 0);
  // The asynchronous form (the gRPC service's): payloads[i] is the serialized binlog heads[i]
  // describes (empty: a probe). `done` is called exactly once with what WriteBinlogs would have
  // returned, on the pump's completer thread (or in this call once the pump is closing); it
  // must not block: every write's answer waits behind it.
  using WriteDone = std::function<void(Status)>;
  void WriteAsync(std::vector<BinlogHead> heads, std::vector<std::string> payloads, WriteDone done);

  // A reader of committed binlogs (serialized pb::Binlog, tp COMMIT or FAKE) with
  // commit_ts > from_ts, in commit-ts order; with follow it waits for more.
  Result<std::unique_ptr<journal::JournalReader>> PullBinlogs(uint64_t from_ts, bool follow);

  // Refuses (false) or accepts (true) new transactions: a pump that is not online refuses
  // PREWRITEs and one-shot COMMITs, but still resolves the prewrites it acknowledged.
  void SetAcceptWrites(bool accept, std::string reason);
  // Writes a FAKE heartbeat at the pump's clock now (a final heartbeat before going offline).
  Status Heartbeat();
  // Deletes sealed binlog/ segments whose newest record is older than `older_than_seconds`
  // (by the TSO's physical time; 0: none), never the newest, through the one GC (gc/gc.h). With
  // `guard`, what a drainer that is not offline and whose heartbeat is within
  // guard_lease_seconds has not read is kept, unless free space is below
  // stop_write_at_available_space. Returns how many were deleted.
  Result<size_t> GarbageCollect(double older_than_seconds, registry::Registry* guard = nullptr,
                                double guard_lease_seconds = gc::kDefaultGuardLeaseSeconds);
  // Re-checks free space (also done every second by the background thread).
  void CheckDiskSpace();

  uint64_t MaxCommitTS() const;
  // The newest one-shot COMMIT acknowledged from `server_id` (SourcePosition.server_id) and the
  // newest ts seen. Survives restarts (pump_sources.cc). Thread-safe.
  SourceState GetSourceState(uint32_t server_id) const;
  PumpStats Stats() const;
  const std::string& data_dir() const { return options_.data_dir; }
  size_t max_binlog_bytes() const { return options_.max_binlog_bytes; }

  // Stops the background threads and closes the journals (the pump can be reopened).
  Status Close();

 private:
  explicit Pump(const PumpOptions& options);
  struct WriteRequest {
    std::vector<BinlogHead> heads;
    std::vector<std::string> payloads;
    WriteDone done;
    Status status;
    std::chrono::steady_clock::time_point received;
    // The wal blocks of a large request, compressed by its caller (see kCallerEncodeBytes).
    std::vector<segment::EncodedBlock> wal_blocks;
    size_t wal_records = 0;  // what wal_blocks hold
    uint64_t wal_bytes = 0;
    bool blocking = false;  // an in-process caller waits for it (WriteBinlogs, WritePayload)
  };
  struct GroupCheck;
  struct Round;
  Status Recover();
  void WriterLoop();
  void Submit(std::vector<BinlogHead> heads, std::vector<std::string> payloads, WriteDone done,
              bool blocking);
  void EncodeForWal(WriteRequest& r);
  void WriteRound(Round& round, std::unique_lock<std::mutex>& lock);
  Status WriteRoundToWal(Round& round);
  // The round's second half (completion.cc): durability, apply, answers.
  void PassOn(std::unique_ptr<Round> round);
  bool FinishAlone(std::unique_ptr<Round>& round);
  void DurableLoop();
  Status WaitDurable(Round& round);
  void FinishRound(Round& round, const Status& synced);
  void HandOff(std::vector<std::unique_ptr<WriteRequest>> group);
  // Calls each request's done, after recording its latency.
  void Answer(std::vector<std::unique_ptr<WriteRequest>>& group);
  void CompleterLoop();
  Status CheckRequest(const WriteRequest& r, GroupCheck* check, bool* from_future);
  Status CheckClock(const BinlogHead& b, size_t index, int64_t now_ms) const;
  std::string FutureHint() const;
  std::vector<uint64_t> HoldOneShots(const std::vector<WriteRequest*>& accepted);
  Status Validate(const BinlogHead& b, size_t index, GroupCheck* check) const;
  bool IsPending(uint64_t start_ts, const GroupCheck& check) const;
  bool OpensTransaction(const BinlogHead& b, const GroupCheck& check) const;
  // Transactions in parts (parts.cc). REQUIRES: mu_ held.
  Status ValidatePart(const BinlogHead& b, GroupCheck* check) const;
  Status CheckPartsComplete(uint64_t start_ts, const GroupCheck& check) const;
  std::optional<PartProgress> Progress(const BinlogHead& b, const GroupCheck& check) const;
  // Applies one part, live or replayed (Replay passes over one out of sequence). The payload
  // itself stays in the wal, between wal_segment and last_segment.
  void ApplyPart(const BinlogHead& b, uint64_t bytes, uint64_t wal_segment, uint64_t last_segment,
                 int64_t now, bool replayed);
  // Recovery: one wal record's effect on the sorter and the source table.
  void Replay(const BinlogHead& b, std::string_view payload, uint64_t wal_segment, int64_t arrived);
  void Apply(const BinlogHead& b, std::string payload, uint64_t wal_segment, uint64_t last_segment,
             int64_t now);
  void EmitterLoop();
  // REQUIRES: mu_ held. Asks the emitter for a pass; true when the caller must notify cv_ (it
  // is not already asked).
  bool WakeEmitter() {
    bool was = emit_wanted_;
    if (!was) emit_wanted_since_ = std::chrono::steady_clock::now();
    emit_wanted_ = true;
    return !was;
  }
  Status EmitReady();
  Status AppendToBinlog(std::vector<ReadyTxn>& ready);
  // Reads a transaction's parts back from wal/ one at a time and appends each to binlog/.
  Status EmitParts(const ReadyTxn& t);
  void SetEmitError(const Status& s, uint64_t first_ts);
  void ResolveExpired();
  void DropResolvedWal();
  // Per-source state (pump_sources.cc). REQUIRES (CheckOneShot): mu_ held.
  Status CheckOneShot(uint64_t commit_ts) const;
  Status LoadSources();
  // Saves the source table when it changed; before wal segments are dropped, since the wal
  // replay no longer covers what they held.
  Status SaveSources();

  PumpOptions options_;
  std::unique_ptr<journal::Journal> wal_;
  std::unique_ptr<journal::Journal> binlog_;

  mutable std::mutex mu_;
  // Serialises CheckDiskSpace callers (the emitter's periodic check, the daemon, tests) from the
  // free-space read to its effect, so an older reading can never overwrite a newer one.
  std::mutex disk_check_mu_;
  std::condition_variable cv_;                           // wakes the emitter
  std::condition_variable writer_cv_;                    // wakes the writer
  std::vector<std::unique_ptr<WriteRequest>> requests_;  // queued for the writer's next round
  // The writer thread's own: the second of the last clock mark written to the wal, and its
  // payload while it is encoded.
  int64_t last_mark_second_ = -1;
  std::string mark_payload_;
  // The writer thread's own (FinishAlone): no write came during the last round it finished.
  bool lone_producer_ = true;
  uint32_t rounds_since_alone_ = 0;
  Sorter sorter_;
  // What the rounds in flight (checked, not yet applied) will do: the next round is checked
  // against it and the sorter together.
  std::unique_ptr<GroupCheck> in_flight_;
  // The wal segment each round in flight may land in or after (no wal segment from there on is
  // dropped).
  std::multiset<uint64_t> in_flight_floors_;
  bool accept_writes_ = true;
  std::string refuse_reason_;
  bool low_space_ = false;
  uint64_t available_bytes_ = 0;
  bool stopping_ = false;
  // Callers compressing their request for the wal outside mu_: Close waits for them before it
  // closes the wal.
  int encoding_ = 0;
  std::condition_variable encoding_cv_;
  // A write, heartbeat or rollback since the emitter's last pass: a notify that comes while the
  // emitter is busy is not lost (it would otherwise sleep its whole idle period).
  bool emit_wanted_ = false;
  // The emitter gathers: it appends to binlog/ once kEmitBatchBytes were applied since its
  // last pass, or kEmitDelay after the first of them, whichever comes first. Each append is a
  // zstd frame, a write and an fdatasync; 64 gRPC producers, whose rounds hold ~16 binlogs,
  // had it appending ~500 times a second, a fifth of the pump's CPU. Measured in alternated
  // runs: 64 producers 36.6-42.8k binlogs/s against 33.3-38.0k; one in-process producer
  // writing 64 transactions a call (an append per call, as before) unchanged.
  static constexpr size_t kEmitBatchBytes = 64 << 10;
  static constexpr std::chrono::milliseconds kEmitDelay{5};
  // The most one append to binlog/ takes from the sorter (EmitReady).
  static constexpr size_t kEmitAppendBytes = 4 << 20;
  std::chrono::steady_clock::time_point emit_wanted_since_;
  size_t emit_bytes_ = 0;  // applied since the emitter's last pass
  Status emit_error_;
  Status wal_error_;  // the first failed wal write or sync: every later round fails with it
  uint64_t durable_emitted_ = 0;  // newest ts whose binlog/ append returned
  int64_t last_write_micros_ = 0;
  uint64_t last_wal_dropped_ = 0;
  SourceTable sources_;
  uint64_t sources_saved_version_ = 0;
  PumpStats counters_;
  std::thread emitter_;
  std::thread writer_;

  // Rounds written to the wal, for the durability threads, which wait for their fdatasyncs (two
  // may be under way at once) and apply them in order while the writer writes the next (own
  // lock: the writer passes them on without waiting for the sorter's).
  std::mutex round_mu_;
  std::condition_variable round_cv_;
  std::condition_variable finished_cv_;
  std::deque<std::unique_ptr<Round>> rounds_;
  uint64_t passed_rounds_ = 0;    // sequence of the last round passed on
  uint64_t finished_rounds_ = 0;  // every round up to it is applied (or failed) and handed off
  bool writer_exited_ = false;
  int durable_running_ = 0;
  std::vector<std::thread> durable_;

  // Finished rounds, for the completer thread (own lock: it never waits on mu_).
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::vector<std::unique_ptr<WriteRequest>>> done_;
  bool durable_exited_ = false;
  // Answers come from the completer, and from the writer when it finishes a round alone.
  mutable std::mutex answered_mu_;
  LatencyHistogram write_latency_;
  std::thread completer_;
};

}  // namespace binlog::pump
