// sync-diff: compares the tables of two MariaDB/MySQL servers (docs/SYNC-DIFF.md).
//
// Exit codes: 0 the tables are equal; 1 they differ (rows, columns, or a table on one side
// only); 2 bad flags or config, a server unreachable, a query refused.
#include <signal.h>

#include <exception>
#include <iostream>

#include "common/logging.h"
#include "common/text.h"
#include "sync-diff/config.h"
#include "sync-diff/run.h"

namespace binlog::syncdiff {
namespace {

constexpr const char* kVersion = "sync-diff (binlog) " BINLOG_GIT_VERSION;

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  SyncDiffConfig config;
  Result<Command> cmd = LoadConfig(argc, argv, &config);
  if (!cmd.ok()) {
    std::cerr << "sync-diff: " << Printable(cmd.status().message(), 4096)
              << "\nusage: sync-diff -source-host H -source-port P -target-host H -target-port P "
                 "[flags]  (sync-diff -h for all)\n";
    return 2;
  }
  if (cmd->help) {
    std::cout << Usage() << "\n";
    return 0;
  }
  if (cmd->version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  LogOptions log;
  log.level = config.log_level;
  log.file = config.log_file;
  log.rotate = "none";
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "sync-diff: " << Printable(s.message(), 4096) << "\n";
    return 2;
  }
  LOG_INFO("Welcome to sync-diff", KV("version", kVersion));
  for (const std::string& key : config.unknown_keys) {
    LOG_WARN("unknown config key ignored", KV("key", key), KV("file", config.config_file));
  }
  Result<Summary> result = Run(config, &std::cout);
  std::cout.flush();
  if (!result.ok()) {
    LOG_ERROR("sync-diff stopped", KV("error", result.status()));
    std::cerr << "sync-diff: " << Printable(result.status().message(), 4096) << "\n";
  }
  return ExitCode(result);
}

}  // namespace
}  // namespace binlog::syncdiff

int main(int argc, char** argv) {
  try {
    return binlog::syncdiff::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sync-diff: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 2;
  }
}
