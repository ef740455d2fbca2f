#include "testutil/pump_process.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/env.h"
#include "testutil/testutil.h"

namespace binlog::testing {

Result<std::unique_ptr<PumpProcess>> PumpProcess::Start(const std::string& dir,
                                                        const std::string& config,
                                                        const std::string& pd_urls) {
  std::unique_ptr<PumpProcess> p(new PumpProcess());
  p->dir_ = dir;
  p->config_ = config;
  p->pd_urls_ = pd_urls;
  ASSIGN_OR_RETURN(int grpc_port, FreeLoopbackPort());
  ASSIGN_OR_RETURN(int status_port, FreeLoopbackPort());
  p->addr_ = fmt::format("127.0.0.1:{}", grpc_port);
  p->status_addr_ = fmt::format("127.0.0.1:{}", status_port);
  RETURN_IF_ERROR(p->Launch());
  return p;
}

PumpProcess::~PumpProcess() { Kill9().IgnoreError(); }

Status PumpProcess::Launch() {
  std::string pump = ToolPath("pump");
  std::string config = dir_ + "/pump.toml";
  // Small test settings the flags do not cover.
  RETURN_IF_ERROR(WriteFileAtomic(Env::Posix(), config,
                                  "heartbeat-interval = 1\n" + config_ +
                                      "\n[storage]\nstop-write-at-available-space = \"0\"\n"));
  std::vector<std::string> args = {pump, "-config", config, "-addr", addr_};
  args.insert(args.end(),
              {"-status-addr", status_addr_, "-data-dir", dir_ + "/pump", "-L", "info"});
  if (pd_urls_.empty()) {
    args.insert(args.end(), {"-registry-dir", dir_ + "/registry"});
  } else {
    args.insert(args.end(), {"-pd-urls", pd_urls_});
  }
  pid_ = SpawnLogged(args, dir_ + "/pump.log", /*append=*/true);
  if (pid_ <= 0) return Status::IOError("fork failed");
  size_t colon = status_addr_.rfind(':');
  httplib::Client http(status_addr_.substr(0, colon), std::stoi(status_addr_.substr(colon + 1)));
  http.set_connection_timeout(std::chrono::milliseconds(200));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = http.Get("/status");
    if (res && res->status == 200 && res->body.find("\"state\":\"online\"") != std::string::npos) {
      return Status::OK();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::IOError("the pump exited while starting; see " + dir_ + "/pump.log");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::TimedOut("the pump did not come online; see " + dir_ + "/pump.log");
}

Result<std::string> PumpProcess::StatusJson() const {
  size_t colon = status_addr_.rfind(':');
  httplib::Client http(status_addr_.substr(0, colon), std::stoi(status_addr_.substr(colon + 1)));
  auto res = http.Get("/status");
  if (!res || res->status != 200) return Status::IOError("the pump's /status does not answer");
  return res->body;
}

Result<uint64_t> PumpProcess::PeakRssBytes() const {
  if (pid_ <= 0) return Status::InvalidArgument("the pump is not running");
  const std::string path = fmt::format("/proc/{}/status", pid_);
  // Read as a stream: /proc files have no size.
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "... kB"
  }
  return Status::IOError(path + " cannot be read or has no VmHWM");
}

Status PumpProcess::Kill9() {
  if (pid_ <= 0) return Status::OK();
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return Status::OK();
}

Status PumpProcess::Restart() {
  RETURN_IF_ERROR(Kill9());
  return Launch();
}

}  // namespace binlog::testing
