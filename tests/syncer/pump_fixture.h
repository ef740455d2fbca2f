// Real pumps for the syncer's pump-sink tests: in-process (PumpServer on loopback) or the
// tools/pump daemon in its own process (for kill -9), and reading back what a pump serves
// through PullBinlogs.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"
#include "pump/server.h"
#include "testutil/pump_process.h"
#include "testutil/pump_pull.h"

namespace binlog::syncer::testing {

// A PumpServer on 127.0.0.1 with a free port, its data and registry under dir. `env` is the
// pump's clock and file system (a FaultInjectionEnv moves its clock).
Result<std::unique_ptr<pump::PumpServer>> StartPump(const std::string& dir, Env* env = Env::Posix(),
                                                    double gen_binlog_interval_seconds = 3);

using binlog::testing::PullUntil;    // testutil/pump_pull.h
using binlog::testing::PumpProcess;  // tools/pump in its own process (testutil)

// A pid for args[0] with args, stdout and stderr appended to log.
pid_t SpawnTool(const std::vector<std::string>& args, const std::string& log);

}  // namespace binlog::syncer::testing
