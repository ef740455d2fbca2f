// The pump's ordering logic, without I/O: matches COMMIT/ROLLBACK to PREWRITE, computes the
// watermark, and releases committed transactions in commit-ts order once no smaller commit can
// still arrive. The Pump feeds it after each wal write and after recovery. Not thread-safe.
//
// Watermark (MaxCommitTS): the smaller of (oldest unresolved prewrite's start_ts - 1) and the
// newest ts seen. A commit always has commit_ts > start_ts, and a producer allocates a commit
// ts only after its prewrite was acknowledged, so no commit at or below the watermark can
// still arrive.
//
// A transaction sent in parts (docs/PUMP.md, "Transactions in parts") is not held here: its
// parts stay in the wal, and the sorter keeps where they start and how many there are. Until its
// last part arrived it is unresolved: a prewrite in parts is pending from its first part on, a
// one-shot COMMIT in parts ("open") keeps the watermark below its commit ts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog::pump {

// Where a transaction in parts lies in the wal.
struct WalParts {
  uint64_t wal_ts = 0;  // the ts its parts are filed under: start_ts, or a one-shot's commit_ts
  uint64_t first_segment = 0;  // the wal segment (sequence) its first part is in, or an earlier one
  uint32_t count = 0;          // parts 0 .. count - 1; 0: not a transaction in parts
  uint64_t bytes = 0;          // their payload bytes
};

struct ReadyTxn {
  uint64_t commit_ts = 0;
  uint64_t start_ts = 0;
  // The serialized PREWRITE (or one-shot COMMIT) as received; the pump re-serializes it as a
  // COMMIT with commit_ts for binlog/. Empty for a transaction in parts.
  std::string prewrite;
  bool heartbeat = false;  // a FAKE: nothing to apply, only a ts
  WalParts parts;          // parts.count > 0: read its parts back from the wal
};

// How far a transaction in parts has arrived.
struct PartProgress {
  uint32_t received = 0;  // parts 0 .. received - 1 are held
  bool complete = false;  // the last of them was the last part
};

// A one-shot COMMIT in parts, or a prewrite (in parts or whole), unresolved past a deadline.
struct ExpiredTxn {
  uint64_t start_ts = 0;
  uint64_t commit_ts = 0;  // set for an open one-shot COMMIT in parts
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
  // Transactions in parts (sorter_parts.cc). The pump checks a part's sequence against
  // PrewriteParts/OpenParts and the rounds in flight; the sorter takes what it is given.
  // `tag` is the part's PartTag, `bytes` its payload size; wal_segment is where its write
  // began, `last_segment` the newest wal segment it may have reached.
  void AddPrewritePart(uint64_t start_ts, uint32_t tag, uint64_t bytes, uint64_t wal_segment,
                       uint64_t last_segment, int64_t arrived_micros);
  // A part of a one-shot COMMIT. Part 0 opens it (the caller abandons first what the same
  // source left open: AbandonOpen); the last part moves it to the committed ones.
  void AddCommittedPart(uint64_t commit_ts, uint64_t start_ts, uint32_t tag, uint64_t bytes,
                        uint64_t wal_segment, uint64_t last_segment, int64_t arrived_micros,
                        std::optional<uint32_t> server_id);
  // Drops an open one-shot COMMIT in parts (its producer will not finish it).
  void AbandonOpen(uint64_t commit_ts);
  std::optional<PartProgress> PrewriteParts(uint64_t start_ts) const;
  std::optional<PartProgress> OpenParts(uint64_t commit_ts) const;
  // The open one-shot COMMIT in parts at commit_ts: its start_ts.
  std::optional<uint64_t> OpenStart(uint64_t commit_ts) const;
  // The open one-shot COMMIT in parts from this source server, by commit ts.
  std::optional<uint64_t> OpenFrom(uint32_t server_id) const;
  // Whether parts filed under this wal ts may still be in the wal (a transaction in parts with
  // that ts, resolved or not): a new one under the same ts is refused, so that the parts read
  // back from the wal are never another transaction's.
  bool PartsKeyInWal(uint64_t wal_ts) const { return part_keys_.count(wal_ts) > 0; }
  // Parts filed under wal_ts were written up to wal segment `last_segment` (AddPrewritePart and
  // AddCommittedPart do it; recovery also for parts it passes over).
  void NotePartKey(uint64_t wal_ts, uint64_t last_segment);
  // The wal segments before `segment` are gone: forgets the keys of parts that were only there.
  void ForgetPartKeysBefore(uint64_t segment);
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
  // Corrects when a pending prewrite (or the open one-shot at that commit ts) arrived (recovery
  // learns it after adding it).
  void SetArrived(uint64_t ts, int64_t arrived_micros);
  // Start ts of prewrites that arrived before `before_micros` and are still unresolved (for one
  // in parts: whose newest part did).
  std::vector<uint64_t> Expired(int64_t before_micros) const;
  // Open one-shot COMMITs in parts whose newest part arrived before `before_micros`.
  std::vector<ExpiredTxn> ExpiredOpen(int64_t before_micros) const;

  // Marks ts as already written to binlog/ (recovery): nothing at or below it is released.
  void SetEmitted(uint64_t ts);
  uint64_t emitted() const { return emitted_; }
  // The oldest wal segment still holding a prewrite or commit not yet in binlog/; UINT64_MAX
  // when none is.
  uint64_t OldestWalSegmentNeeded() const;

  // Unresolved transactions: pending prewrites and open one-shot COMMITs in parts.
  size_t pending() const { return pending_.size() + open_.size(); }
  bool is_pending(uint64_t start_ts) const { return pending_.count(start_ts) > 0; }
  size_t committed() const { return committed_.size(); }
  uint64_t max_seen() const { return max_seen_; }

 private:
  struct Pending {
    std::string prewrite;
    uint64_t wal_segment;
    int64_t arrived_micros;
    WalParts parts;        // parts.count > 0: in parts, `prewrite` empty
    bool complete = true;  // whole, or its last part arrived
  };
  struct Committed {
    uint64_t start_ts;
    std::string prewrite;
    uint64_t prewrite_segment;  // wal segments to release once written to binlog/
    uint64_t commit_segment;
    bool heartbeat;
    WalParts parts;
  };
  struct Open {  // a one-shot COMMIT in parts, before its last part
    uint64_t start_ts;
    int64_t arrived_micros;
    WalParts parts;
    std::optional<uint32_t> server_id;
  };
  void See(uint64_t ts);
  void Hold(uint64_t wal_segment);
  void Release(uint64_t wal_segment);

  std::map<uint64_t, Pending> pending_;      // by start_ts: begin() is the oldest
  std::map<uint64_t, Committed> committed_;  // by commit_ts, waiting for the watermark
  std::map<uint64_t, Open> open_;            // by commit_ts: begin() is the lowest
  // wal ts of transactions in parts -> the newest wal segment that may hold one of their parts.
  std::map<uint64_t, uint64_t> part_keys_;
  static constexpr uint64_t kNoSegment = UINT64_MAX;
  std::map<uint64_t, int> wal_refs_;  // wal segment -> unresolved entries in it
  std::multiset<uint64_t> holds_;     // one-shot commits being written
  uint64_t max_seen_ = 0;
  uint64_t emitted_ = 0;
};

}  // namespace binlog::pump
