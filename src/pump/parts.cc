// Transactions in parts on the way in: the checks of a part against what the pump holds and what
// the rounds in flight will add, and a part's effect once durable (docs/PUMP.md, "Transactions
// in parts"). The payload of a part is never kept: the wal has it, and the emitter reads it back
// from there (emitter_parts.cc).
#include <fmt/format.h>

#include "common/logging.h"
#include "pump/group_check.h"
#include "pump/pump.h"
#include "segment/format.h"

namespace binlog::pump {

namespace {

// The ts a transaction's parts are filed under in the wal: a prewrite's start_ts, a one-shot
// COMMIT's commit_ts (what writer.cc's WalTs gives each of its parts).
uint64_t PartsKey(const BinlogHead& b) {
  return static_cast<uint64_t>(b.tp == pb::PREWRITE ? b.start_ts : b.commit_ts);
}

std::string Describe(const BinlogHead& b) {
  return b.tp == pb::PREWRITE
             ? fmt::format("the prewrite in parts with start_ts {}", b.start_ts)
             : fmt::format("the one-shot commit in parts with commit_ts {}", b.commit_ts);
}

}  // namespace

// REQUIRES: mu_ held.
std::optional<PartProgress> Pump::Progress(const BinlogHead& b, const GroupCheck& check) const {
  const uint64_t key = PartsKey(b);
  if (uint32_t state = check.Part(key); state != GroupCheck::kNoPartState) {
    return PartProgress{state >> 1, (state & 1) != 0};
  }
  return b.tp == pb::PREWRITE ? sorter_.PrewriteParts(key) : sorter_.OpenParts(key);
}

// REQUIRES: mu_ held. The sequence of a part: a first part opens a transaction under a ts no
// transaction in parts used while its parts may still be in the wal (what the emitter reads
// back under that ts is then this one's), each next part is the one expected, and nothing comes
// after the last. A first part's other checks are a whole binlog's (Validate).
Status Pump::ValidatePart(const BinlogHead& b, GroupCheck* check) const {
  const bool one_shot = b.tp == pb::COMMIT && b.has_changes;
  if (b.tp != pb::PREWRITE && !one_shot) {
    return Status::InvalidArgument(
        "only a PREWRITE or a one-shot COMMIT with changes is sent in parts");
  }
  if (b.ddl) return Status::InvalidArgument("a DDL is never sent in parts");
  const auto start = static_cast<uint64_t>(b.start_ts);
  const uint64_t key = PartsKey(b);
  const uint32_t index = segment::PartIndex(b.part);
  if (one_shot && IsPending(start, *check)) {
    return Status::InvalidArgument(
        "a one-shot COMMIT in parts has the start_ts of a pending prewrite");
  }
  std::optional<PartProgress> progress = Progress(b, *check);
  if (index == 0) {
    if (progress || sorter_.PartsKeyInWal(key)) {
      std::string msg = progress
                            ? fmt::format("a first part again: {} has {} parts already",
                                          Describe(b), progress->received)
                            : fmt::format(
                                  "ts {} was used by another transaction in parts whose parts may "
                                  "still be in wal/; a transaction in parts needs a ts of its own",
                                  key);
      // A one-shot commit may be sent again with a newer ts, as any whose ts is taken.
      return one_shot ? Status::OutOfRange(msg) : Status::InvalidArgument(msg);
    }
  } else {
    bool open = b.tp == pb::PREWRITE
                    ? !check->Resolved(start) &&
                          (sorter_.is_pending(start) || check->prewrites.count(start) > 0)
                    : progress.has_value();
    if (!open || !progress) {
      return Status::InvalidArgument(fmt::format(
          "part {} of a transaction in parts the pump does not hold open (its first part was "
          "refused or never sent, or it was rolled back)",
          index));
    }
    if (progress->complete || progress->received != index) {
      return Status::InvalidArgument(fmt::format("part {} of {}: expected {}", index, Describe(b),
                                                 progress->complete
                                                     ? std::string("no more parts after its last")
                                                     : fmt::format("part {}", progress->received)));
    }
    if (auto held_start = sorter_.OpenStart(key); one_shot && held_start && *held_start != start) {
      return Status::InvalidArgument(fmt::format("part {} of {} has start_ts {}, its first {}",
                                                 index, Describe(b), start, *held_start));
    }
  }
  check->SetPart(key, GroupCheck::PartState(index + 1, segment::IsLastPart(b.part)));
  return Status::OK();
}

// REQUIRES: mu_ held. A prewrite in parts commits only once its last part is held.
Status Pump::CheckPartsComplete(uint64_t start_ts, const GroupCheck& check) const {
  BinlogHead prewrite;
  prewrite.start_ts = static_cast<int64_t>(start_ts);
  std::optional<PartProgress> progress = Progress(prewrite, check);
  if (!progress || progress->complete) return Status::OK();
  return Status::InvalidArgument(fmt::format(
      "commit of a prewrite in parts whose last part has not come (parts 0 to {} are held)",
      progress->received - 1));
}

// REQUIRES: mu_ held. A first part of a one-shot COMMIT from a source that left another open
// ends that one: a source's transactions come one after another, so the producer gave it up (it
// restarted, and sends it again from its first part).
void Pump::ApplyPart(const BinlogHead& b, uint64_t bytes, uint64_t wal_segment,
                     uint64_t last_segment, int64_t now, bool replayed) {
  const auto start = static_cast<uint64_t>(b.start_ts);
  const auto commit = static_cast<uint64_t>(b.commit_ts);
  if (b.tp == pb::PREWRITE) {
    sorter_.AddPrewritePart(start, b.part, bytes, wal_segment, last_segment, now);
    return;
  }
  std::optional<uint32_t> server;
  if (b.source) server = b.source->server_id();
  if (segment::PartIndex(b.part) == 0 && server) {
    if (std::optional<uint64_t> left = sorter_.OpenFrom(*server); left && *left != commit) {
      if (!replayed) {
        LOG_WARN(
            "a source started a transaction in parts while another of its own was open: "
            "that one is dropped (its producer sends it again)",
            KV("server-id", *server), KV("dropped-commit-ts", *left), KV("new-commit-ts", commit));
      }
      sorter_.AbandonOpen(*left);
    }
  }
  const bool was_open = sorter_.OpenParts(commit).has_value() || segment::PartIndex(b.part) == 0;
  sorter_.AddCommittedPart(commit, start, b.part, bytes, wal_segment, last_segment, now, server);
  // The source table names only whole transactions: a producer resumes after them.
  if (was_open && segment::IsLastPart(b.part) && b.source) sources_.Note(commit, *b.source);
}

// REQUIRES: mu_ held (or recovery, before the threads start). What a wal record did when it was
// written, applied again: records the live checks would have refused are never in the wal, but
// what they depended on may be gone (resolved, its segment dropped), so each is checked again
// here and passed over when it no longer fits.
void Pump::Replay(const BinlogHead& b, std::string_view payload, uint64_t seg, int64_t arrived) {
  const auto start = static_cast<uint64_t>(b.start_ts);
  const auto commit = static_cast<uint64_t>(b.commit_ts);
  // Also when already in binlog/: the source table answers for every one-shot commit held.
  const bool one_shot = b.tp == pb::COMMIT && b.has_changes;
  if (one_shot && b.source && (!segment::IsPart(b.part) || segment::IsLastPart(b.part)) &&
      commit <= sorter_.emitted()) {
    sources_.Note(commit, *b.source);
  }
  if (segment::IsPart(b.part)) {
    const uint64_t key = one_shot ? commit : start;
    sorter_.NotePartKey(key, seg);
    const uint32_t index = segment::PartIndex(b.part);
    std::optional<PartProgress> progress =
        one_shot ? sorter_.OpenParts(key) : sorter_.PrewriteParts(key);
    bool fits = index == 0 ? !progress && (one_shot ? commit > sorter_.emitted()
                                                    : !sorter_.is_pending(start))
                           : progress && !progress->complete && progress->received == index;
    if (fits && (one_shot || b.tp == pb::PREWRITE)) {
      ApplyPart(b, payload.size(), seg, seg, arrived, /*replayed=*/true);
    }
    return;
  }
  if (b.tp == pb::PREWRITE) {
    if (!sorter_.is_pending(start)) sorter_.AddPrewrite(start, std::string(payload), seg, arrived);
  } else if (b.tp == pb::COMMIT && sorter_.is_pending(start) && commit > start) {
    std::optional<PartProgress> parts = sorter_.PrewriteParts(start);
    if (!parts || parts->complete) sorter_.AddCommit(start, commit, seg);
  } else if (one_shot && commit > sorter_.emitted()) {
    if (b.source) sources_.Note(commit, *b.source);
    sorter_.AddCommitted(commit, std::string(payload), seg);
  } else if (b.tp == pb::ROLLBACK) {
    if (commit != 0 && sorter_.OpenStart(commit) == start) {
      sorter_.AbandonOpen(commit);  // the pump's own: an open one-shot timed out
    } else {
      sorter_.AddRollback(start);
    }
  }
}

}  // namespace binlog::pump
