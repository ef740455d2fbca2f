// syncer: archives a MariaDB (or MySQL) server's ROW binlog, transaction by transaction, into a
// local journal (or a pump), starting where syncer.meta (or a full backup, -meta-from) says.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT, or stop-on-ddl with the position saved),
// 1 on a bad config or a failure, 2 on bad flags.
#include <unistd.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "rpc/grpc_runtime.h"
#include "server/daemon.h"
#include "syncer/config.h"
#include "syncer/syncer.h"

namespace binlog::syncer {
namespace {

using server::Fail;
using server::kExitBadFlags;
using server::kExitClean;
using server::kExitFailure;

constexpr const char* kVersion = "syncer (binlog) " BINLOG_GIT_VERSION;
constexpr const char* kUsageHint =
    "usage: syncer -config syncer.toml [-meta-from FILE]  (syncer --help for all)";

int Run(int argc, char** argv) {
  server::StopSignals signals;  // before any thread starts
  Result<SyncerFlags> flags = ParseSyncerFlags(argc, argv);
  if (!flags.ok()) return Fail("syncer", flags.status().message(), kExitBadFlags, kUsageHint);
  if (flags->help) {
    std::cout << SyncerUsage() << "\n";
    return kExitClean;
  }
  if (flags->version) {
    std::cout << kVersion << "\n";
    return kExitClean;
  }
  if (!flags->config) {
    // On defaults alone it would read root@127.0.0.1:3306 and archive into ./data.syncer.
    return Fail("syncer",
                "no -config given: the syncer needs a config that names the upstream ([from]) "
                "and where to archive ([to]); see conf/syncer.toml",
                kExitBadFlags, kUsageHint);
  }
  Result<SyncerConfig> config = LoadSyncerConfig(*flags);
  if (!config.ok()) return Fail("syncer", config.status().message(), kExitFailure);
  LogOptions log;
  log.level = config->log_level;
  log.file = config->log_file;
  log.rotate = config->log_rotate;
  if (Status s = InitLogging(log); !s.ok()) return Fail("syncer", s.message(), kExitFailure);
  LOG_INFO("Welcome to syncer", KV("version", kVersion), KV("pid", getpid()));
  LogSyncerConfig(*config);

  Result<std::unique_ptr<Syncer>> syncer = Syncer::Open(*config);
  if (!syncer.ok()) {
    LOG_ERROR("syncer cannot start", KV("error", syncer.status()));
    return Fail("syncer", syncer.status().message(), kExitFailure);
  }
  Syncer* s = syncer->get();
  // Run ends by itself (stop-on-ddl, a failure) or when a signal stops it.
  std::thread waiter([s, &signals] {
    if (int sig = signals.Wait(); sig != 0) {
      LOG_INFO("signal received: stopping", KV("signal", strsignal(sig)));
      s->Stop();
    }
  });
  Status run = s->Run();
  signals.Notify();
  waiter.join();
  syncer->reset();
  if (!run.ok()) {
    LOG_ERROR("syncer stopped with an error", KV("error", run));
    return Fail("syncer", run.message(), kExitFailure);
  }
  LOG_INFO("syncer exited");
  return kExitClean;
}

}  // namespace
}  // namespace binlog::syncer

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::syncer::Run(argc, argv);
  } catch (const std::exception& e) {
    return binlog::server::Fail("syncer", std::string("unexpected error: ") + e.what(),
                                binlog::server::kExitFailure);
  }
}
