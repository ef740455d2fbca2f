// Reading what a pump serves, for tests: PullBinlogs from the start up to a ts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"

namespace binlog::testing {

// Every binlog the pump at addr serves from ts 0 (COMMIT and FAKE, in order) up to and
// including the first with commit ts at or above until_ts; TimedOut when none comes within
// timeout_seconds (the pull follows the tail). Anything the pump held twice, or out of order,
// at or below until_ts is in what this returns.
Result<std::vector<pb::Binlog>> PullUntil(const std::string& addr, uint64_t until_ts,
                                          double timeout_seconds = 60);

// The commit ts of the COMMITs among binlogs, in their order.
std::vector<uint64_t> CommitTsOf(const std::vector<pb::Binlog>& binlogs);

}  // namespace binlog::testing
