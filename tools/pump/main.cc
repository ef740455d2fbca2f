// pump: the daemon. Receives binlogs from producers over gRPC, keeps them durable in commit-ts
// order and serves them to drainers; its state lives in the registry.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT leave the node paused; a pause or close
// request over HTTP ends the process once done), 1 on a bad config or a failure, 2 on bad flags.
#include <unistd.h>

#include <cstring>
#include <exception>
#include <iostream>

#include "common/logging.h"
#include "pump/config.h"
#include "pump/server.h"
#include "rpc/grpc_runtime.h"
#include "server/daemon.h"

namespace binlog::pump {
namespace {

using server::Fail;
using server::kExitBadFlags;
using server::kExitClean;
using server::kExitFailure;

constexpr const char* kVersion = "pump (binlog) " BINLOG_GIT_VERSION;

// -drop-future-heartbeats: a repair of a stopped pump, said on the terminal.
int DropFutureHeartbeatsAndExit(const PumpConfig& config) {
  if (Status s = InitLogging(LogOptions{config.log_level, "", "none"}); !s.ok()) {
    return Fail("pump", s.message(), kExitFailure);
  }
  Result<journal::DropReport> report = DropFutureHeartbeats(config, Env::Posix());
  if (!report.ok()) {
    return Fail("pump", "-drop-future-heartbeats: " + report.status().message(), kExitFailure);
  }
  if (report->records == 0) {
    std::cout << "binlog/ holds nothing beyond this host's clock plus max-clock-drift: nothing to "
                 "drop\n";
    return kExitClean;
  }
  std::cout << "dropped " << report->records << " heartbeat(s) beyond this host's clock; the "
            << "segments as they were are kept as:\n";
  for (const std::string& path : report->kept_as) std::cout << "  " << path << "\n";
  return kExitClean;
}

int Run(int argc, char** argv) {
  server::StopSignals signals;  // before any thread starts
  Result<PumpFlags> flags = ParsePumpFlags(argc, argv);
  if (!flags.ok()) {
    return Fail("pump", flags.status().message(), kExitBadFlags,
                "usage: pump [-config pump.toml] [flags]  (pump --help for all)");
  }
  if (flags->help) {
    std::cout << PumpUsage() << "\n";
    return kExitClean;
  }
  if (flags->version) {
    std::cout << kVersion << "\n";
    return kExitClean;
  }
  Result<PumpConfig> config = LoadPumpConfig(*flags);
  if (!config.ok()) return Fail("pump", config.status().message(), kExitFailure);
  if (flags->drop_future_heartbeats) return DropFutureHeartbeatsAndExit(*config);
  LogOptions log;
  log.level = config->log_level;
  log.file = config->log_file;
  if (Status s = InitLogging(log); !s.ok()) return Fail("pump", s.message(), kExitFailure);
  LOG_INFO("Welcome to pump", KV("version", kVersion), KV("pid", getpid()));
  LogPumpConfig(*config);

  PumpServerOptions options;
  options.on_stop = [&signals] { signals.Notify(); };
  Result<std::unique_ptr<PumpServer>> server = PumpServer::Start(*config, options);
  if (!server.ok()) {
    LOG_ERROR("pump cannot start", KV("error", server.status()));
    return Fail("pump", server.status().message(), kExitFailure);
  }
  if (int sig = signals.Wait(); sig != 0) {
    LOG_INFO("signal received: pausing the pump (no drain)", KV("signal", strsignal(sig)));
  }
  Status s = (*server)->Shutdown();
  server->reset();
  if (!s.ok()) {
    LOG_ERROR("pump stopped with an error", KV("error", s));
    return kExitFailure;
  }
  LOG_INFO("pump exited");
  return kExitClean;
}

}  // namespace
}  // namespace binlog::pump

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::pump::Run(argc, argv);
  } catch (const std::exception& e) {
    return binlog::server::Fail("pump", std::string("unexpected error: ") + e.what(),
                                binlog::server::kExitFailure);
  }
}
