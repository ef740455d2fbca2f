// Repairs of a stopped pump's data, run instead of the daemon.
#include <fmt/format.h>

#include "common/tso.h"
#include "pump/server.h"

namespace binlog::pump {

Result<journal::DropReport> DropFutureHeartbeats(const PumpConfig& config, Env* env) {
  const int64_t limit_ms =
      env->NowMicros() / 1000 + static_cast<int64_t>(config.max_clock_drift_seconds * 1000);
  const uint64_t limit = ComposeTS(limit_ms, kLogicalMask);
  return journal::DropRecordsAfter(
      env, JoinPath(config.data_dir, "binlog"), limit, [](const journal::Record& r) {
        pb::Binlog b;
        if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
          return Status::Corruption("not a binlog");
        }
        if (b.tp() == pb::FAKE) return Status::OK();
        return Status::Aborted(fmt::format(
            "it is a {} with changes, not a heartbeat: dropping it would lose a transaction. "
            "Nothing was changed; see docs/OPERATIONS.md, \"A ts from the future\"",
            pb::BinlogType_Name(b.tp())));
      });
}

}  // namespace binlog::pump
