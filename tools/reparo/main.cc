// reparo: point-in-time recovery from a directory of segments (a pump's binlog/, a syncer's
// journal) into a MariaDB/MySQL server, or printed.
//
// Exit codes: 0 applied; 1 a failure on the way (the destination unreachable past max-retry,
// damaged input), or nothing in the window; 2 bad flags, a bad config or directory, or a change
// the destination refuses for good (a duplicate key without safe-mode).
#include <signal.h>

#include <exception>
#include <iostream>

#include "common/logging.h"
#include "common/text.h"
#include "reparo/config.h"
#include "reparo/run.h"

namespace binlog::reparo {
namespace {

constexpr const char* kVersion = "reparo (binlog) " BINLOG_GIT_VERSION;

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  ReparoConfig config;
  Result<Command> cmd = LoadConfig(argc, argv, &config);
  if (!cmd.ok()) {
    std::cerr
        << "reparo: " << Printable(cmd.status().message(), 4096)
        << "\nusage: reparo -config reparo.toml [-resume] [-flashback]  (reparo -h for all)\n";
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
  log.rotate = config.log_rotate;
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "reparo: " << Printable(s.message(), 4096) << "\n";
    return 2;
  }
  LOG_INFO("Welcome to reparo", KV("version", kVersion));
  for (const std::string& key : config.unknown_keys) {
    LOG_WARN("unknown config key ignored", KV("key", key), KV("file", config.config_file));
  }
  RunResult r = Run(config);
  if (r.outcome == Outcome::kApplied) return 0;
  LOG_ERROR("reparo stopped", KV("error", r.status));
  std::cerr << "reparo: " << Printable(r.status.message(), 4096) << "\n";
  return r.outcome == Outcome::kBadInput ? 2 : 1;
}

}  // namespace
}  // namespace binlog::reparo

int main(int argc, char** argv) {
  try {
    return binlog::reparo::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "reparo: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 1;
  }
}
