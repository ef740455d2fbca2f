// CollectGarbage: the lock, the guard, the plan, the deletes, and what is logged about them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/logging.h"
#include "gc/gc_internal.h"
#include "journal/journal.h"

namespace binlog::gc {

using internal::TsTime;

namespace {

// Whether the guard gives way, and the available bytes (0 when unknown or not asked).
struct Space {
  bool low = false;
  uint64_t available = 0;
};

Space CheckSpace(const std::string& dir, const Options& options) {
  Space space;
  if (options.stop_write_at_available_space == 0) return space;
  auto free = options.env->GetFreeSpace(dir);
  if (!free.ok()) {
    LOG_WARN("gc cannot read the available space", KV("dir", dir), KV("error", free.status()));
    return space;
  }
  space.available = *free;
  space.low = *free < options.stop_write_at_available_space;
  return space;
}

// Whether dir holds anything named like a segment (else there is nothing to lock for).
Result<bool> CheckDir(const std::string& dir, Env* env) {
  if (!env->FileExists(dir)) return Status::NotFound(fmt::format("{} does not exist", dir));
  auto children = env->GetChildren(dir);
  if (!children.ok()) {
    return Status::InvalidArgument(
        fmt::format("{} cannot be listed as a directory: {}", dir, children.status().message()));
  }
  return std::any_of(children->begin(), children->end(), [](const std::string& name) {
    return journal::ParseSegmentName(name).has_value();
  });
}

void LogPastGuard(const std::string& dir, const Options& options, const Report& r) {
  if (!r.guard) return;
  const char* verb = r.dry_run ? "would delete" : "deleted";
  for (const Segment& s : r.deleted) {
    if (!s.past_guard) continue;
    if (r.low_space) {
      LOG_ERROR(fmt::format("gc {} a segment a drainer has not read (low disk space)", verb),
                KV("file", JoinPath(dir, s.name)), KV("bytes", s.bytes), KV("last-ts", s.last_ts),
                KV("drainer", r.guard->node_id), KV("checkpoint", r.guard->checkpoint),
                KV("available", r.available_bytes),
                KV("stop-write-at-available-space", options.stop_write_at_available_space));
    } else {
      LOG_WARN(fmt::format("gc {} a segment a drainer has not read (-force)", verb),
               KV("file", JoinPath(dir, s.name)), KV("bytes", s.bytes), KV("last-ts", s.last_ts),
               KV("drainer", r.guard->node_id), KV("checkpoint", r.guard->checkpoint));
    }
  }
}

Status DeletePlanned(const std::string& dir, Env* env, const std::vector<Segment>& planned,
                     Report* r) {
  for (const Segment& s : planned) {
    Status st = env->DeleteFile(JoinPath(dir, s.name));
    if (st.IsNotFound()) continue;  // another GC was first
    if (!st.ok()) {
      if (!r->deleted.empty()) RETURN_IF_ERROR(env->SyncDir(dir));
      return st.WithContext(fmt::format("gc of {} stopped after deleting {} segments ({})", dir,
                                        r->deleted.size(), FormatBytes(r->bytes_freed)));
    }
    LOG_INFO("gc deleted a segment", KV("file", JoinPath(dir, s.name)), KV("bytes", s.bytes),
             KV("last-ts", s.last_ts), KV("last-time", TsTime(s.last_ts)));
    r->deleted.push_back(s);
    r->bytes_freed += s.bytes;
  }
  if (!r->deleted.empty()) RETURN_IF_ERROR(env->SyncDir(dir));
  return Status::OK();
}

}  // namespace

const char* HeldByName(HeldBy held) {
  switch (held) {
    case HeldBy::kNoSegments:
      return "no-segments";
    case HeldBy::kNewest:
      return "newest";
    case HeldBy::kRetention:
      return "retention";
    case HeldBy::kUnsealed:
      return "unsealed";
    case HeldBy::kGuard:
      return "drainer-guard";
    case HeldBy::kOtherGc:
      return "another-gc";
  }
  return "?";
}

Result<Report> CollectGarbage(const std::string& dir, const Options& options) {
  Env* env = options.env;
  ASSIGN_OR_RETURN(bool any, CheckDir(dir, env));
  Report r;
  r.dry_run = options.dry_run;
  if (!any) {
    r.held_why = fmt::format("{} holds no segment (files named binlog-<ts>-<datetime>)", dir);
    return r;
  }
  RETURN_IF_ERROR(internal::CheckKind(dir, env));
  std::unique_ptr<FileLock> lock;
  if (!options.dry_run) {
    auto locked = env->LockFile(JoinPath(dir, journal::kGcLockName));
    if (!locked.ok() && locked.status().IsBusy()) {
      r.held_by = HeldBy::kOtherGc;
      r.held_why = fmt::format("another GC is running on {}: {}", dir, locked.status().message());
      LOG_INFO("gc skipped: another gc is running", KV("dir", dir),
               KV("lock", locked.status().message()));
      return r;
    }
    if (!locked.ok()) return locked.status();
    lock = std::move(*locked);
  }
  internal::PlanInput in;
  in.now_ms = env->NowMicros() / 1000;
  Space space = CheckSpace(dir, options);
  r.low_space = space.low;
  r.available_bytes = space.available;
  auto guard = internal::ReadGuard(options, in.now_ms);
  if (!guard.ok() && !options.force && !space.low) return guard.status();
  if (!guard.ok()) {
    LOG_ERROR("gc goes on without the drainer guard", KV("dir", dir), KV("error", guard.status()),
              KV("why", options.force ? "-force" : "available space is low"));
  } else {
    in.guard = *guard;
  }
  in.past_guard = options.force || space.low;
  ASSIGN_OR_RETURN(internal::Plan plan, internal::MakePlan(dir, options, in));
  r.held_by = plan.listed == 0 ? HeldBy::kNoSegments : plan.held_by;
  r.held_why = plan.held_why;
  const bool crosses_guard = std::any_of(plan.deleted.begin(), plan.deleted.end(),
                                         [](const Segment& s) { return s.past_guard; });
  if (r.held_by == HeldBy::kGuard || crosses_guard) r.guard = in.guard;
  if (crosses_guard && space.low) {
    LOG_ERROR(
        "available space is below stop-write-at-available-space: gc deletes past the "
        "drainer guard",
        KV("dir", dir), KV("available", space.available),
        KV("stop-write-at-available-space", options.stop_write_at_available_space),
        KV("drainer", in.guard->node_id), KV("checkpoint", in.guard->checkpoint));
  }
  if (options.dry_run) {
    r.deleted = plan.deleted;
    for (const Segment& s : r.deleted) r.bytes_freed += s.bytes;
  } else {
    RETURN_IF_ERROR(DeletePlanned(dir, env, plan.deleted, &r));
  }
  LogPastGuard(dir, options, r);
  r.segments_kept = plan.listed - plan.deleted.size();
  r.bytes_kept = plan.total_bytes - r.bytes_freed;
  if (r.held_by == HeldBy::kGuard) {
    LOG_WARN("gc held back by a drainer's checkpoint", KV("dir", dir),
             KV("drainer", r.guard->node_id), KV("checkpoint", r.guard->checkpoint),
             KV("checkpoint-time", TsTime(static_cast<uint64_t>(r.guard->checkpoint))),
             KV("update-time", TsTime(static_cast<uint64_t>(r.guard->update_ts))),
             KV("why", r.held_why));
  }
  LOG_INFO(options.dry_run ? "gc dry run" : "gc finished", KV("dir", dir),
           KV("segments-deleted", r.deleted.size()), KV("bytes-freed", r.bytes_freed),
           KV("segments-kept", r.segments_kept), KV("held-back-by", HeldByName(r.held_by)));
  return r;
}

std::string FormatDuration(double seconds) {
  if (seconds <= 0) return "0s";
  auto total = static_cast<uint64_t>(std::llround(seconds));
  if (total == 0) return fmt::format("{}ms", std::llround(seconds * 1000));
  std::string out;
  const std::pair<uint64_t, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& unit : units) {
    if (total >= unit.first) {
      out += fmt::format("{}{}", total / unit.first, unit.second);
      total %= unit.first;
    }
  }
  return out;
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int i = -1;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", v, units[i]);
}

}  // namespace binlog::gc
