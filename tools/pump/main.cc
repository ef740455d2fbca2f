// pump: the daemon. Receives binlogs from producers over gRPC, keeps them durable in commit-ts
// order and serves them to drainers; its state lives in the registry.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT leave the node paused; a pause or close
// request over HTTP ends the process once done), 1 on a bad config or a failure, 2 on bad flags.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <iostream>

#include "common/logging.h"
#include "common/text.h"
#include "pump/config.h"
#include "pump/server.h"
#include "rpc/grpc_runtime.h"

namespace binlog::pump {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArgs = 2;
// Messages can quote names, statements and files: printable, and not pages long.
constexpr size_t kMaxMessage = 4096;
constexpr const char* kVersion = "pump (binlog) " BINLOG_GIT_VERSION;

// -drop-future-heartbeats: a repair of a stopped pump, said on the terminal.
int DropFutureHeartbeatsAndExit(const PumpConfig& config) {
  if (Status s = InitLogging(LogOptions{config.log_level, "", "none"}); !s.ok()) {
    std::cerr << "pump: " << Printable(s.message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  Result<journal::DropReport> report = DropFutureHeartbeats(config, Env::Posix());
  if (!report.ok()) {
    std::cerr << "pump: -drop-future-heartbeats: "
              << Printable(report.status().message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  if (report->records == 0) {
    std::cout << "binlog/ holds nothing beyond this host's clock plus max-clock-drift: nothing to "
                 "drop\n";
    return 0;
  }
  std::cout << "dropped " << report->records << " heartbeat(s) beyond this host's clock; the "
            << "segments as they were are kept as:\n";
  for (const std::string& path : report->kept_as) std::cout << "  " << path << "\n";
  return 0;
}

int Run(int argc, char** argv) {
  // Signals are taken by sigwait in this thread; blocked before any thread starts, so every
  // thread inherits the mask and none is interrupted by them. SIGUSR1 is the server telling
  // this thread that it stopped by itself.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is an error return, not a crash

  Result<PumpFlags> flags = ParsePumpFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "pump: " << Printable(flags.status().message(), kMaxMessage)
              << "\nusage: pump [-config pump.toml] [flags]  (pump --help for all)\n";
    return kExitBadArgs;
  }
  if (flags->help) {
    std::cout << PumpUsage() << "\n";
    return 0;
  }
  if (flags->version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  Result<PumpConfig> config = LoadPumpConfig(*flags);
  if (!config.ok()) {
    std::cerr << "pump: " << Printable(config.status().message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  if (flags->drop_future_heartbeats) return DropFutureHeartbeatsAndExit(*config);
  LogOptions log;
  log.level = config->log_level;
  log.file = config->log_file;
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "pump: " << Printable(s.message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  LOG_INFO("Welcome to pump", KV("version", kVersion), KV("pid", getpid()));
  LogPumpConfig(*config);

  PumpServerOptions options;
  options.on_stop = [] { kill(getpid(), SIGUSR1); };
  Result<std::unique_ptr<PumpServer>> server = PumpServer::Start(*config, options);
  if (!server.ok()) {
    LOG_ERROR("pump cannot start", KV("error", server.status()));
    std::cerr << "pump: " << Printable(server.status().message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  int sig = 0;
  if (sigwait(&signals, &sig) != 0) sig = SIGTERM;
  if (sig != SIGUSR1) {
    LOG_INFO("signal received: pausing the pump (no drain)", KV("signal", strsignal(sig)));
  }
  Status s = (*server)->Shutdown();
  server->reset();
  if (!s.ok()) {
    LOG_ERROR("pump stopped with an error", KV("error", s));
    return kExitFailure;
  }
  LOG_INFO("pump exited");
  return 0;
}

}  // namespace
}  // namespace binlog::pump

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::pump::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pump: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 1;
  }
}
