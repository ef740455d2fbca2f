// The pump's ordering logic, without I/O: matches COMMIT/ROLLBACK to PREWRITE, computes the
// watermark, and releases committed transactions in commit-ts order once no smaller commit can
// still arrive. The Pump feeds it after each wal write and after recovery. Not thread-safe.
//
// Watermark (MaxCommitTS): the smaller of (oldest unresolved prewrite's start_ts - 1) and the
// newest ts seen. A commit always has commit_ts > start_ts, and a producer allocates a commit
// ts only after its prewrite was acknowledged, so no commit at or below the watermark can
// still arrive.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog::pump {

struct ReadyTxn {
  uint64_t commit_ts = 0;
  uint64_t start_ts = 0;
  // The serialized PREWRITE (or one-shot COMMIT) as received; the pump re-serializes it as a
  // COMMIT with commit_ts for binlog/.
  std::string prewrite;
  bool heartbeat = false;  // a FAKE: nothing to apply, only a ts
};

// The binlog/ record of a committed transaction: `prewrite` (a serialized Binlog) with tp
// COMMIT and commit_ts set, without parsing and re-serializing it: fields 1-3 (tp, start_ts,
// commit_ts), which serialization writes first, are rewritten and the rest is copied. For what
// SerializeAsString wrote (all the pump stores) the bytes are exactly those of parse, set,
// serialize. False (and *out untouched) when `prewrite` has fields 1-3 anywhere else or is not
// well-formed at its top level; the caller then takes the slow way.
bool CommittedRecord(std::string_view prewrite, uint64_t commit_ts, std::string* out);

class Sorter {
 public:
  // Each check leaves the sorter unchanged when it fails, so the pump can refuse a binlog
  // before writing it to the wal.
  Status CheckPrewrite(uint64_t start_ts) const;
  Status CheckCommit(uint64_t start_ts, uint64_t commit_ts) const;
  Status CheckRollback(uint64_t start_ts) const;
  Status CheckCommitted(uint64_t commit_ts) const;

  // REQUIRES: the matching Check passed. wal_segment is the wal segment (sequence) holding it.
  void AddPrewrite(uint64_t start_ts, std::string prewrite, uint64_t wal_segment,
                   int64_t arrived_micros);
  void AddCommit(uint64_t start_ts, uint64_t commit_ts, uint64_t wal_segment);
  void AddRollback(uint64_t start_ts);
  // A transaction that was committed before it reached the pump (a replica of MariaDB).
  void AddCommitted(uint64_t commit_ts, std::string txn, uint64_t wal_segment);
  // A heartbeat: ts is a promise that no commit at or below it will arrive (once no older
  // prewrite is pending). Recorded in binlog/ so drainers advance.
  void AddHeartbeat(uint64_t ts);

  // A one-shot commit validated and on its way to the wal: until Unhold, the watermark stays
  // below it, so nothing at or above it is released before it joins (it would then be at or
  // below what was emitted, and dropped as a replay).
  void HoldBelow(uint64_t commit_ts) { holds_.insert(commit_ts); }
  void Unhold(uint64_t commit_ts) { holds_.erase(holds_.find(commit_ts)); }
  bool is_held(uint64_t commit_ts) const { return holds_.count(commit_ts) > 0; }

  uint64_t Watermark() const;
  // Committed transactions and heartbeats with ts <= watermark, in ts order: all of them, or
  // the first ones up to about max_bytes of prewrites (at least one).
  std::vector<ReadyTxn> TakeReady(size_t max_bytes = SIZE_MAX);
  // Corrects when a pending prewrite arrived (recovery learns it after adding it).
  void SetArrived(uint64_t start_ts, int64_t arrived_micros);
  // Start ts of prewrites that arrived before `before_micros` and are still unresolved.
  std::vector<uint64_t> Expired(int64_t before_micros) const;

  // Marks ts as already written to binlog/ (recovery): nothing at or below it is released.
  void SetEmitted(uint64_t ts);
  uint64_t emitted() const { return emitted_; }
  // The oldest wal segment still holding a prewrite or commit not yet in binlog/; UINT64_MAX
  // when none is.
  uint64_t OldestWalSegmentNeeded() const;

  size_t pending() const { return pending_.size(); }
  bool is_pending(uint64_t start_ts) const { return pending_.count(start_ts) > 0; }
  size_t committed() const { return committed_.size(); }
  uint64_t max_seen() const { return max_seen_; }

 private:
  struct Pending {
    std::string prewrite;
    uint64_t wal_segment;
    int64_t arrived_micros;
  };
  struct Committed {
    uint64_t start_ts;
    std::string prewrite;
    uint64_t prewrite_segment;  // wal segments to release once written to binlog/
    uint64_t commit_segment;
    bool heartbeat;
  };
  void See(uint64_t ts);
  void Hold(uint64_t wal_segment);
  void Release(uint64_t wal_segment);

  std::map<uint64_t, Pending> pending_;      // by start_ts: begin() is the oldest
  std::map<uint64_t, Committed> committed_;  // by commit_ts, waiting for the watermark
  static constexpr uint64_t kNoSegment = UINT64_MAX;
  std::map<uint64_t, int> wal_refs_;  // wal segment -> unresolved entries in it
  std::multiset<uint64_t> holds_;     // one-shot commits being written
  uint64_t max_seen_ = 0;
  uint64_t emitted_ = 0;
};

}  // namespace binlog::pump
