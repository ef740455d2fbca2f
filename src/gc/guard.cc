// The drainer guard: what online drainers have not read is kept, but only for drainers whose
// heartbeat is fresh. TiDB-Binlog had such a guard and removed it (PR #646/#663): a drainer that
// died without being marked offline blocked GC until the disks filled. The lease bounds that.
#include <fmt/format.h>

#include "common/logging.h"
#include "common/tso.h"
#include "gc/gc_internal.h"

namespace binlog::gc::internal {

std::string TsTime(uint64_t ts) {
  auto text = FormatTSDatetime(ts);
  return text.ok() ? *text : std::to_string(ts);
}

std::string GuardFix(const std::string& node_id) {
  return fmt::format(
      "binlogctl -cmd offline-drainer -node-id {0} (or, when it cannot answer, binlogctl -cmd "
      "update-drainer -node-id {0} -state offline), or run binlog-gc with -force",
      node_id);
}

Result<std::optional<GuardHold>> ReadGuard(const Options& options, int64_t now_ms) {
  if (options.registry == nullptr) return std::optional<GuardHold>();
  auto drainers = options.registry->List(registry::NodeKind::kDrainer);
  if (!drainers.ok()) {
    return drainers.status().WithContext(fmt::format(
        "the drainer guard cannot read the registry ({})", options.registry->Describe()));
  }
  const int64_t lease_ms = static_cast<int64_t>(options.guard_lease_seconds * 1000);
  std::optional<GuardHold> holder;
  for (const registry::NodeStatus& d : *drainers) {
    if (d.state == registry::NodeState::kOffline) continue;
    const uint64_t update_ts = d.update_ts > 0 ? static_cast<uint64_t>(d.update_ts) : 0;
    if (now_ms - TSPhysicalMs(update_ts) > lease_ms) {
      LOG_WARN(
          "a drainer that is not offline has not sent a heartbeat within gc-guard-lease: it does "
          "not hold GC back",
          KV("node-id", d.node_id), KV("state", registry::NodeStateName(d.state)),
          KV("checkpoint", d.max_commit_ts), KV("update-time", TsTime(update_ts)),
          KV("gc-guard-lease", FormatDuration(options.guard_lease_seconds)),
          KV("fix", GuardFix(d.node_id)));
      continue;
    }
    const int64_t checkpoint = std::max<int64_t>(d.max_commit_ts, 0);
    if (!holder || checkpoint < holder->checkpoint) {
      holder = GuardHold{d.node_id, checkpoint, d.update_ts};
    }
  }
  return holder;
}

}  // namespace binlog::gc::internal
