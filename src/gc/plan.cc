// The GC's plan: which segments of a directory go, and what holds the rest back.
#include <fmt/format.h>

#include "common/tso.h"
#include "gc/gc_internal.h"
#include "journal/journal.h"
#include "segment/segment.h"

namespace binlog::gc::internal {

namespace {

using journal::SegmentName;
using segment::SegmentReader;

struct Listed {
  std::string name;
  std::string path;
  uint64_t bytes = 0;
};

Status RefuseArrivalOrder(const std::string& dir, const SegmentReader& reader) {
  if (reader.header().kind != segment::SegmentKind::kArrival) return Status::OK();
  return Status::InvalidArgument(fmt::format(
      "{} is an arrival-order journal (a pump's wal/): its segments are dropped by the pump as "
      "their transactions resolve, never by age; run GC on the pump's binlog/",
      dir));
}

// Whether the segment holds a whole record that a reopen of the journal keeps. The writer may be
// creating it or writing its first block right now: anything short of a good first block is
// "not yet", and the GC then keeps the segment before it as well.
Result<bool> HoldsRecord(const std::string& dir, Env* env, const std::string& path) {
  auto reader = SegmentReader::Open(env, path);
  if (!reader.ok()) return false;
  RETURN_IF_ERROR(RefuseArrivalOrder(dir, **reader));
  if ((*reader)->sealed()) return (*reader)->trailer()->record_count > 0;
  auto limit = (*reader)->DataLimit();
  if (!limit.ok()) return false;
  segment::BlockRef block;
  std::string why;
  auto probe = (*reader)->Probe(segment::kHeaderSize, *limit, &block, &why);
  if (!probe.ok() || *probe != segment::ProbeResult::kBlock) return false;
  std::vector<segment::Record> records;
  return (*reader)->ReadBlock(block, &records).ok() && !records.empty();
}

Result<std::vector<Listed>> List(const std::string& dir, Env* env) {
  ASSIGN_OR_RETURN(std::vector<SegmentName> names, journal::ListSegments(env, dir, false));
  std::vector<Listed> out;
  out.reserve(names.size());
  for (SegmentName& n : names) {
    std::string path = JoinPath(dir, n.name);
    auto size = env->GetFileSize(path);
    if (!size.ok() && size.status().IsNotFound()) continue;  // another GC was first
    if (!size.ok()) return size.status();
    out.push_back(Listed{std::move(n.name), std::move(path), *size});
  }
  return out;
}

// Index of the newest segment holding a record: it and everything after it stay (all of them
// when none does). Also refuses a wal, however few segments it has.
Result<size_t> FloorIndex(const std::string& dir, Env* env, const std::vector<Listed>& segs) {
  for (size_t i = segs.size(); i-- > 0;) {
    ASSIGN_OR_RETURN(bool holds, HoldsRecord(dir, env, segs[i].path));
    if (holds) return i;
  }
  return 0;
}

std::string GuardWhy(const GuardHold& g, const Segment& seg) {
  return fmt::format(
      "drainer {} has not read {}: its checkpoint {} ({}, heartbeat at {}) is below the "
      "segment's newest record {} ({}). If that drainer is gone: {}",
      g.node_id, seg.name, g.checkpoint, TsTime(static_cast<uint64_t>(g.checkpoint)),
      TsTime(static_cast<uint64_t>(g.update_ts)), seg.last_ts, TsTime(seg.last_ts),
      GuardFix(g.node_id));
}

}  // namespace

Status CheckKind(const std::string& dir, Env* env) {
  ASSIGN_OR_RETURN(std::vector<SegmentName> names, journal::ListSegments(env, dir, false));
  if (names.empty()) return Status::OK();
  auto reader = SegmentReader::Open(env, JoinPath(dir, names.back().name));
  return reader.ok() ? RefuseArrivalOrder(dir, **reader) : Status::OK();
}

Result<Plan> MakePlan(const std::string& dir, const Options& options, const PlanInput& input) {
  Env* env = options.env;
  Plan plan;
  ASSIGN_OR_RETURN(std::vector<Listed> segs, List(dir, env));
  plan.listed = segs.size();
  for (const Listed& s : segs) plan.total_bytes += s.bytes;
  if (segs.empty()) {
    plan.held_why = fmt::format("{} holds no segment (files named binlog-<ts>-<datetime>)", dir);
    return plan;
  }
  ASSIGN_OR_RETURN(size_t floor, FloorIndex(dir, env, segs));
  const int64_t cutoff_ms = input.now_ms - static_cast<int64_t>(options.retention_seconds * 1000);
  uint64_t remaining = plan.total_bytes;
  plan.held_by = HeldBy::kNewest;
  plan.held_why =
      fmt::format("{} {} carries the directory's ts floor and is never deleted", segs[floor].name,
                  floor + 1 == segs.size() ? "is the newest segment: it"
                                           : "is the newest segment holding a record: it");
  for (size_t i = 0; i < floor; ++i) {
    auto reader = SegmentReader::Open(env, segs[i].path);
    if (!reader.ok() && reader.status().IsNotFound()) {  // another GC was first
      remaining -= segs[i].bytes;
      continue;
    }
    if (!reader.ok()) {
      plan.held_by = HeldBy::kUnsealed;
      plan.held_why = fmt::format("{} cannot be read ({}); a segment is never deleted unread",
                                  segs[i].name, reader.status().ToString());
      break;
    }
    RETURN_IF_ERROR(RefuseArrivalOrder(dir, **reader));
    if (!(*reader)->sealed()) {
      plan.held_by = HeldBy::kUnsealed;
      plan.held_why =
          (*reader)->footer_status().ok()
              ? fmt::format("{} is not sealed (a crash left it; the writer's next start seals it)",
                            segs[i].name)
              : fmt::format("{} has a damaged footer ({}); check it with segdump --verify",
                            segs[i].name, (*reader)->footer_status().ToString());
      break;
    }
    Segment seg{segs[i].name, segs[i].bytes, (*reader)->trailer()->last_ts, false};
    const bool expired = options.retention_seconds > 0 && TSPhysicalMs(seg.last_ts) < cutoff_ms;
    const bool oversize = options.max_size > 0 && remaining > options.max_size;
    if (!expired && !oversize) {
      plan.held_by = HeldBy::kRetention;
      plan.held_why = fmt::format(
          "{}'s newest record {} ({}) is within the retention of {}{}", seg.name, seg.last_ts,
          TsTime(seg.last_ts),
          options.retention_seconds > 0 ? FormatDuration(options.retention_seconds) : "(none)",
          options.max_size > 0 ? fmt::format(" and the segments' {} fit in max-size {}",
                                             FormatBytes(remaining), FormatBytes(options.max_size))
                               : "");
      break;
    }
    if (input.guard && static_cast<int64_t>(seg.last_ts) > input.guard->checkpoint) {
      if (!input.past_guard) {
        plan.held_by = HeldBy::kGuard;
        plan.held_why = GuardWhy(*input.guard, seg);
        break;
      }
      seg.past_guard = true;
    }
    remaining -= seg.bytes;
    plan.deleted.push_back(std::move(seg));
  }
  return plan;
}

}  // namespace binlog::gc::internal
