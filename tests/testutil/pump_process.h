// tools/pump as a child process on fixed loopback ports, for tests that kill -9 it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace binlog::testing {

// The daemon with its data under dir/pump, its registry under dir/registry (or at pd_urls, an
// etcd) and its log in dir/pump.log; SIGKILLed on destruction.
class PumpProcess {
 public:
  // Starts it and waits until its /status says online. `config` is added to its pump.toml.
  static Result<std::unique_ptr<PumpProcess>> Start(const std::string& dir,
                                                    const std::string& config = "",
                                                    const std::string& pd_urls = "");
  ~PumpProcess();
  PumpProcess(const PumpProcess&) = delete;
  PumpProcess& operator=(const PumpProcess&) = delete;

  Status Kill9();
  // Starts it again on the same port and data dir; waits until it is online.
  Status Restart();
  const std::string& addr() const { return addr_; }
  // Its node id: the addr.
  const std::string& node_id() const { return addr_; }
  // GET /status, the body.
  Result<std::string> StatusJson() const;
  // The daemon's peak resident set so far (VmHWM in /proc/<pid>/status), in bytes.
  Result<uint64_t> PeakRssBytes() const;

 private:
  PumpProcess() = default;
  Status Launch();

  std::string dir_, addr_, status_addr_, config_, pd_urls_;
  pid_t pid_ = -1;
};

}  // namespace binlog::testing
