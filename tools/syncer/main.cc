// syncer: archives a MariaDB (or MySQL) server's ROW binlog, transaction by transaction, into a
// local journal (or a pump), starting where syncer.meta (or a full backup, -meta-from) says.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT, or stop-on-ddl with the position saved),
// 1 on a bad config or a failure, 2 on bad flags.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/text.h"
#include "rpc/grpc_runtime.h"
#include "syncer/config.h"
#include "syncer/syncer.h"

namespace binlog::syncer {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArgs = 2;
// Messages can quote names, statements and files: printable, and not pages long.
constexpr size_t kMaxMessage = 4096;
constexpr const char* kVersion = "syncer (binlog) " BINLOG_GIT_VERSION;

int Run(int argc, char** argv) {
  // Signals are taken by sigwait on a thread of their own; blocked before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);  // Run ended by itself: wakes the signal thread
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Result<SyncerFlags> flags = ParseSyncerFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "syncer: " << Printable(flags.status().message(), kMaxMessage)
              << "\nusage: syncer [-config syncer.toml] [-meta-from FILE]  (syncer --help for "
                 "all)\n";
    return kExitBadArgs;
  }
  if (flags->help) {
    std::cout << SyncerUsage() << "\n";
    return 0;
  }
  if (flags->version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  if (!flags->config) {
    // On defaults alone it would read root@127.0.0.1:3306 and archive into ./data.syncer.
    std::cerr << "syncer: no -config given: the syncer needs a config that names the upstream "
                 "([from]) and where to archive ([to]); see conf/syncer.toml\n"
                 "usage: syncer -config syncer.toml [-meta-from FILE]  (syncer --help for all)\n";
    return kExitBadArgs;
  }
  Result<SyncerConfig> config = LoadSyncerConfig(*flags);
  if (!config.ok()) {
    std::cerr << "syncer: " << Printable(config.status().message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  LogOptions log;
  log.level = config->log_level;
  log.file = config->log_file;
  log.rotate = config->log_rotate;
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "syncer: " << Printable(s.message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  LOG_INFO("Welcome to syncer", KV("version", kVersion), KV("pid", getpid()));
  LogSyncerConfig(*config);

  Result<std::unique_ptr<Syncer>> syncer = Syncer::Open(*config);
  if (!syncer.ok()) {
    LOG_ERROR("syncer cannot start", KV("error", syncer.status()));
    std::cerr << "syncer: " << Printable(syncer.status().message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  Syncer* s = syncer->get();
  std::thread signal_thread([s, &signals] {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) sig = SIGTERM;
    if (sig == SIGUSR2) return;  // Run ended by itself
    LOG_INFO("signal received: stopping", KV("signal", strsignal(sig)));
    s->Stop();
  });
  Status run = s->Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  syncer->reset();
  if (!run.ok()) {
    LOG_ERROR("syncer stopped with an error", KV("error", run));
    std::cerr << "syncer: " << Printable(run.message(), kMaxMessage) << "\n";
    return kExitFailure;
  }
  LOG_INFO("syncer exited");
  return 0;
}

}  // namespace
}  // namespace binlog::syncer

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::syncer::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "syncer: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 1;
  }
}
