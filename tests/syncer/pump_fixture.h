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

namespace binlog::syncer::testing {

// A PumpServer on 127.0.0.1 with a free port, its data and registry under dir. `env` is the
// pump's clock and file system (a FaultInjectionEnv moves its clock).
Result<std::unique_ptr<pump::PumpServer>> StartPump(const std::string& dir,
                                                    Env* env = Env::Posix(),
                                                    double gen_binlog_interval_seconds = 3);

// Every binlog the pump at addr serves (COMMIT and FAKE, in order) until one with commit ts
// at or above until_ts; an error at the timeout. Anything the pump held twice, or out of
// order, at or below until_ts is in what this returns.
Result<std::vector<pb::Binlog>> PullUntil(const std::string& addr, uint64_t until_ts,
                                          double timeout_seconds = 60);

// tools/pump as a child process on a fixed port; SIGKILLed on destruction.
class PumpProcess {
 public:
  static Result<std::unique_ptr<PumpProcess>> Start(const std::string& dir);
  ~PumpProcess();
  PumpProcess(const PumpProcess&) = delete;
  PumpProcess& operator=(const PumpProcess&) = delete;

  Status Kill9();
  // Starts it again on the same port and data dir; waits until it is online.
  Status Restart();
  const std::string& addr() const { return addr_; }

 private:
  PumpProcess() = default;
  Status Launch();

  std::string dir_, addr_, status_addr_;
  pid_t pid_ = -1;
};

// A pid for args[0] with args, stdout and stderr appended to log.
pid_t SpawnTool(const std::vector<std::string>& args, const std::string& log);

}  // namespace binlog::syncer::testing
