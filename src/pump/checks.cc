// The pump's checks of a write before it is stored: what a producer may send, in what state,
// against the sorter and the rest of its round (docs/PUMP.md, "What a producer sends").
#include <fmt/format.h>

#include "common/tso.h"
#include "pump/group_check.h"
#include "pump/pump.h"
#include "segment/format.h"

namespace binlog::pump {

namespace {

const char* TypeName(pb::BinlogType t) {
  return pb::BinlogType_IsValid(t) ? pb::BinlogType_Name(t).c_str() : "UNKNOWN";
}

Status AlreadyResolved(uint64_t start_ts) {
  return Status::InvalidArgument(
      fmt::format("start_ts {} is already resolved by an earlier binlog of this write", start_ts));
}

}  // namespace

// REQUIRES: mu_ held. The checks of one request, against the sorter as the requests before it
// in the group will leave it: all of it is accepted or none.
Status Pump::CheckRequest(const WriteRequest& r, GroupCheck* check, bool* from_future) {
  check->Begin();
  // A pump that is closing or short of space takes no new transactions, but still takes the
  // commits and rollbacks of prewrites it already acknowledged (and heartbeats): refusing those
  // would leave transactions that committed upstream to the max-txn-timeout rollback.
  bool opens_new = false;
  for (size_t i = 0; i < r.heads.size(); ++i) {
    if (r.payloads[i].size() > options_.max_binlog_bytes) {
      return Status::InvalidArgument(
          fmt::format("binlog {} is {} bytes, larger than the {} bytes a pump accepts", i,
                      r.payloads[i].size(), options_.max_binlog_bytes));
    }
    if (!r.payloads[i].empty()) opens_new |= OpensTransaction(r.heads[i], *check);
  }
  if (!accept_writes_ && opens_new) {
    return Status::Aborted(fmt::format(
        "pump refuses new transactions: {}; write them to another pump", refuse_reason_));
  }
  if (low_space_ && opens_new) {
    return Status::NoSpace(fmt::format(
        "{} has {} bytes available, below stop-write-at-available-space ({} bytes); writes "
        "resume when space is freed",
        data_dir(), available_bytes_, options_.stop_write_at_available_space));
  }
  const int64_t now_ms = options_.env->NowMicros() / 1000;
  for (size_t i = 0; i < r.heads.size(); ++i) {
    if (r.payloads[i].empty()) continue;
    if (Status s = CheckClock(r.heads[i], i, now_ms); !s.ok()) {
      *from_future = true;
      return s;
    }
    RETURN_IF_ERROR(Validate(r.heads[i], i, check));
  }
  return Status::OK();
}

// When what binlog/ holds is itself ahead of the clock, every commit is refused until the clock
// gets there: the refusal says so, and where the way out is written.
std::string Pump::FutureHint() const {
  int64_t ahead_ms = TSPhysicalMs(sorter_.emitted()) - options_.env->NowMicros() / 1000;
  if (options_.max_clock_drift_seconds <= 0 ||
      ahead_ms <= static_cast<int64_t>(options_.max_clock_drift_seconds * 1000)) {
    return "";
  }
  return fmt::format(
      " (binlog/ already holds ts {}, {:.0f} s ahead of this pump's clock: see \"A ts from the "
      "future\" in docs/OPERATIONS.md)",
      sorter_.emitted(), static_cast<double>(ahead_ms) / 1000);
}

// A ts the pump accepts is one it will later refuse every commit at or below: from a clock far
// ahead (a bad FAKE heartbeat, a producer without NTP) it would stop the pump until its own
// clock got there, across restarts. A rollback names a prewrite already accepted.
Status Pump::CheckClock(const BinlogHead& b, size_t index, int64_t now_ms) const {
  if (options_.max_clock_drift_seconds <= 0 || b.tp == pb::ROLLBACK) return Status::OK();
  int64_t ts = b.tp == pb::PREWRITE ? b.start_ts : b.commit_ts;
  int64_t ahead_ms = TSPhysicalMs(static_cast<uint64_t>(ts)) - now_ms;
  if (ts <= 0 || ahead_ms <= static_cast<int64_t>(options_.max_clock_drift_seconds * 1000)) {
    return Status::OK();
  }
  return Status::InvalidArgument(fmt::format(
      "binlog {} ({}, {} {}) is {:.3f} s ahead of this pump's clock, more than max-clock-drift "
      "({} s): the producer's clock (or the ts it was given) is wrong; check NTP on both hosts",
      index, TypeName(b.tp), b.tp == pb::PREWRITE ? "start_ts" : "commit_ts", ts,
      static_cast<double>(ahead_ms) / 1000, options_.max_clock_drift_seconds));
}

// REQUIRES: mu_ held.
bool Pump::OpensTransaction(const BinlogHead& b, const GroupCheck& check) const {
  // A next part belongs to a transaction already acknowledged in part, as a commit does.
  if (segment::PartIndex(b.part) > 0) return false;
  switch (b.tp) {
    case pb::PREWRITE:
      return true;
    case pb::COMMIT:
      return !IsPending(static_cast<uint64_t>(b.start_ts), check);
    default:
      return false;
  }
}

// REQUIRES: mu_ held. A prewrite is pending when the sorter holds it and no earlier binlog of the
// group resolved it. (One accepted in this group is not: its commit cannot come before its ack.)
bool Pump::IsPending(uint64_t start_ts, const GroupCheck& check) const {
  return sorter_.is_pending(start_ts) && !check.Resolved(start_ts);
}

// REQUIRES: mu_ held. Records in `check` what the binlog will do once applied.
Status Pump::Validate(const BinlogHead& b, size_t index, GroupCheck* check) const {
  auto fail = [&](const Status& s) {
    std::string msg =
        fmt::format("binlog {} ({}, start_ts {}, commit_ts {}): {}{}", index, TypeName(b.tp),
                    b.start_ts, b.commit_ts, s.message(), FutureHint());
    // OutOfRange (a one-shot commit ts behind): the producer may send it again with a newer ts.
    return s.IsOutOfRange() ? Status::OutOfRange(msg) : Status::InvalidArgument(msg);
  };
  if (b.start_ts < 0 || b.commit_ts < 0) return fail(Status::InvalidArgument("negative ts"));
  auto start = static_cast<uint64_t>(b.start_ts);
  auto commit = static_cast<uint64_t>(b.commit_ts);
  Status s;
  if (segment::IsPart(b.part)) {
    s = ValidatePart(b, check);
    // A next part was checked as a transaction when its first part came.
    if (!s.ok() || segment::PartIndex(b.part) > 0) return s.ok() ? s : fail(s);
  }
  switch (b.tp) {
    case pb::PREWRITE:
      if (commit != 0) return fail(Status::InvalidArgument("a prewrite carries no commit_ts"));
      if (!check->AddPrewrite(start)) {
        return fail(Status::InvalidArgument(
            "duplicate prewrite: the same start_ts is being written right now"));
      }
      s = sorter_.CheckPrewrite(start);
      break;
    case pb::COMMIT:
      if (IsPending(start, *check)) {
        s = CheckPartsComplete(start, *check);
        if (s.ok()) s = sorter_.CheckCommit(start, commit);
        check->Resolve(start);
      } else if (!b.has_changes && check->Resolved(start)) {
        s = AlreadyResolved(start);
      } else if (b.has_changes) {
        s = CheckOneShot(commit);  // one-shot: committed before it reached the pump
      } else {
        s = sorter_.CheckCommit(start, commit);  // says: commit without prewrite
      }
      if (s.ok() && !check->TakeCommitTs(commit)) {
        std::string msg =
            fmt::format("commit_ts {} is taken by another commit of this write", commit);
        // Another producer's one-shot commit in the same group: a newer ts is accepted.
        s = b.has_changes && !IsPending(start, *check) ? Status::OutOfRange(msg)
                                                       : Status::InvalidArgument(msg);
      }
      break;
    case pb::ROLLBACK:
      s = check->Resolved(start) ? AlreadyResolved(start) : sorter_.CheckRollback(start);
      check->Resolve(start);
      break;
    case pb::FAKE:
      if (commit == 0 || b.has_changes) {
        return fail(Status::InvalidArgument("a heartbeat has a commit_ts and no changes"));
      }
      break;
    default:
      return fail(Status::InvalidArgument("unknown binlog type"));
  }
  return s.ok() ? s : fail(s);
}

}  // namespace binlog::pump
