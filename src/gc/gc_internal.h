// The GC's parts: the drainer guard (guard.cc) and the plan (plan.cc); collect.cc runs them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gc/gc.h"

namespace binlog::gc::internal {

// The drainers that hold GC back: not offline, heartbeat younger than the lease. Returns the one
// with the smallest checkpoint (nullopt: none guards). Drainers left out for a stale heartbeat
// are logged at WARN, named, with how to take them out of the registry.
Result<std::optional<GuardHold>> ReadGuard(const Options& options, int64_t now_ms);

// What to delete, decided once before anything is.
struct PlanInput {
  int64_t now_ms = 0;
  std::optional<GuardHold> guard;
  bool past_guard = false;  // -force or low space: the guard is reported, not obeyed
};

struct Plan {
  std::vector<Segment> deleted;
  size_t listed = 0;
  uint64_t total_bytes = 0;
  HeldBy held_by = HeldBy::kNoSegments;
  std::string held_why;
};

// InvalidArgument for an arrival-order journal (a wal), before anything is locked or created.
Status CheckKind(const std::string& dir, Env* env);

Result<Plan> MakePlan(const std::string& dir, const Options& options, const PlanInput& input);

// "2024-01-02 03:04:05.000000" or, when it cannot be formatted, the number.
std::string TsTime(uint64_t ts);
// What fixes a drainer that holds GC back and is gone.
std::string GuardFix(const std::string& node_id);

}  // namespace binlog::gc::internal
