// The k-way merge of the pumps' streams by commit ts. Each pump's reader thread pushes its
// binlogs (in its commit-ts order) into its own bounded queue; Pop hands out a binlog only when
// its ts is at or below every waited-on pump's watermark (the newest ts it sent, heartbeats
// included), so nothing smaller can still come from any of them: the output is in global
// commit-ts order with no gaps.
//
// A pump is waited on until it is dropped (offline and read to its end). The same commit ts from
// two pumps (a producer that retried on another pump) is handed out once; a binlog at or below
// what was already handed out (a pump that joined late, a pump whose clock was wrong) is
// counted as disorder, logged with both ts, and not applied: applying it out of order could undo
// a later change.
//
// A transaction written in parts (docs/FORMAT.md) leaves the merge as its parts, in order, from
// the one pump, with nothing between them: once its first part is handed out, Pop waits for the
// next part from that pump (each part is at most one queue's worth, so memory stays bounded).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "segment/format.h"

namespace binlog::drainer {

// A binlog as the merge hands it on: a whole transaction, or one part of one.
struct MergedBinlog {
  pb::Binlog binlog;
  segment::PartTag part = segment::kWholeTransaction;
};

struct PumpFeedStatus {
  std::string node_id;
  uint64_t watermark = 0;  // every binlog at or below it was pushed
  size_t queued = 0;
  uint64_t queued_bytes = 0;
  bool draining = false;  // offline: dropped once read to its end
};

struct MergeStatus {
  uint64_t emitted_ts = 0;  // the newest ts handed out
  uint64_t binlogs = 0;     // COMMIT binlogs handed out
  uint64_t duplicates = 0;  // the same commit ts from a second pump
  uint64_t disorder = 0;    // below what was handed out already, not applied
  // The pump whose watermark holds the merge back ("" when none; "registry" when the horizon).
  std::string waiting_on;
  int64_t waiting_since_micros = 0;
  std::vector<PumpFeedStatus> pumps;
};

class Merger {
 public:
  // Output starts above from_ts. Each pump may queue up to max_queue_bytes (at least one binlog
  // whatever its size), so memory stays bounded however far one pump runs ahead. Nothing above
  // `horizon` is handed out until SetHorizon raises it (UINT64_MAX: no horizon).
  Merger(uint64_t from_ts, size_t max_queue_bytes, uint64_t horizon = UINT64_MAX);

  // Every pump that can send a binlog at or below ts is known (AddPump was called for it): a
  // pump that joins later commits above the time it registered, after the registry was read.
  // Without it, a new pump's first binlogs would come after newer ones were applied.
  void SetHorizon(uint64_t ts);

  void AddPump(const std::string& node_id);
  // The pump went offline: once its queue is empty and Finished is called, it is no longer waited
  // on. Unknown ids are ignored.
  void Drain(const std::string& node_id);
  // Its reader reached the end of what it will ever send (offline and read to the end).
  void Finished(const std::string& node_id);
  bool Has(const std::string& node_id) const;

  // From the pump's reader thread, in its commit-ts order. A FAKE only raises the watermark.
  // Blocks while the pump's queue is full; false once Stop was called.
  bool Push(const std::string& node_id, pb::Binlog binlog,
            segment::PartTag part = segment::kWholeTransaction);

  // Appends up to `max` binlogs that are ready, in commit-ts order, waiting up to `wait` for the
  // first. When nothing is queued but the watermarks moved past what was handed out, appends one
  // FAKE at the smallest watermark, so a checkpoint moves while the pumps are idle.
  void Pop(std::vector<MergedBinlog>* out, size_t max, std::chrono::milliseconds wait);

  void Stop();
  MergeStatus Status() const;

 private:
  struct Feed {
    std::deque<MergedBinlog> queue;
    std::deque<size_t> sizes;  // each queued binlog's ByteSizeLong, a walk of all its fields
    size_t bytes = 0;
    uint64_t watermark = 0;
    bool draining = false;
    bool finished = false;
  };
  uint64_t MinWatermarkLocked(std::string* holder) const;
  std::map<std::string, Feed>::iterator SmallestHeadLocked();
  // Hands out the head of `it` (or counts it as a duplicate or disorder); false when it must wait.
  void TakeHeadLocked(std::map<std::string, Feed>::iterator it, std::vector<MergedBinlog>* out);

  const size_t max_queue_bytes_;
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // Pop waits: something pushed
  std::condition_variable space_cv_;  // Push waits: room in a queue
  std::map<std::string, Feed> feeds_;
  uint64_t from_ts_;
  uint64_t emitted_ts_;
  uint64_t horizon_;
  uint64_t binlogs_ = 0, duplicates_ = 0, disorder_ = 0;
  // The pump whose transaction in parts is being handed out ("" when none), and its next part.
  std::string open_feed_;
  uint32_t open_next_part_ = 0;
  std::string waiting_on_;
  int64_t waiting_since_micros_ = 0;
  bool stopped_ = false;
};

}  // namespace binlog::drainer
