// drainer: merges every pump's binlogs in commit-ts order and applies them downstream
// (docs/DRAINER.md).
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
#include "drainer/config.h"
#include "drainer/drainer.h"
#include "rpc/grpc_runtime.h"

namespace binlog::drainer {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArgs = 2;
constexpr size_t kMaxMessage = 4096;
constexpr const char* kVersion = "drainer (binlog) " BINLOG_GIT_VERSION;

int Fail(const Status& s) {
  std::cerr << "drainer: " << Printable(s.message(), kMaxMessage) << "\n";
  return kExitFailure;
}

int Run(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  DrainerConfig config;
  Result<DrainerCommand> cmd = LoadDrainerConfig(argc, argv, &config);
  if (!cmd.ok()) {
    const bool flags = cmd.status().message().find("config") == std::string::npos;
    std::cerr << "drainer: " << Printable(cmd.status().message(), kMaxMessage) << "\n";
    if (flags) std::cerr << "usage: drainer -config drainer.toml [flags]  (drainer --help for all)\n";
    return flags ? kExitBadArgs : kExitFailure;
  }
  if (cmd->help) {
    std::cout << DrainerUsage() << "\n";
    return 0;
  }
  if (cmd->version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  LogOptions log;
  log.level = config.log_level;
  log.file = config.log_file;
  log.rotate = config.log_rotate;
  if (Status s = InitLogging(log); !s.ok()) return Fail(s);
  LOG_INFO("Welcome to drainer", KV("version", kVersion), KV("pid", getpid()),
           KV("config", config.config_file));
  for (const std::string& key : config.unknown_keys) {
    LOG_WARN("config key not used by this drainer", KV("key", key), KV("file", config.config_file));
  }
  DrainerOptions options;
  options.on_stop = [] { kill(getpid(), SIGUSR1); };
  Result<std::unique_ptr<Drainer>> drainer = Drainer::Start(config, options);
  if (!drainer.ok()) {
    LOG_ERROR("drainer cannot start", KV("error", drainer.status()));
    return Fail(drainer.status());
  }
  int sig = 0;
  if (sigwait(&signals, &sig) != 0) sig = SIGTERM;
  if (sig != SIGUSR1) LOG_INFO("signal received: stopping (paused)", KV("signal", strsignal(sig)));
  Status s = (*drainer)->Shutdown();
  drainer->reset();
  if (!s.ok()) {
    LOG_ERROR("drainer stopped with an error", KV("error", s));
    return Fail(s);
  }
  LOG_INFO("drainer exited");
  return 0;
}

}  // namespace
}  // namespace binlog::drainer

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::drainer::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "drainer: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 1;
  }
}
