// drainer: merges every pump's binlogs in commit-ts order and applies them downstream
// (docs/DRAINER.md).
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT leave the node paused; a pause or close
// request over HTTP ends the process once done), 1 on a bad config or a failure, 2 on bad flags.
#include <unistd.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "common/logging.h"
#include "drainer/config.h"
#include "drainer/drainer.h"
#include "mysql/mysql.h"
#include "rpc/grpc_runtime.h"
#include "server/daemon.h"

namespace binlog::drainer {
namespace {

using server::Fail;
using server::kExitBadFlags;
using server::kExitClean;
using server::kExitFailure;

constexpr const char* kVersion = "drainer (binlog) " BINLOG_GIT_VERSION;

// drainer -encrypt: what an operator puts in encrypted_password.
int Encrypt(const std::string& key_file) {
  Result<std::string> key = mysql::LoadSecretKey(Env::Posix(), key_file);
  if (!key.ok()) return Fail("drainer", key.status().message(), kExitFailure);
  std::string password;
  std::getline(std::cin, password);
  Result<std::string> sealed = mysql::EncryptPassword(password, *key);
  if (!sealed.ok()) return Fail("drainer", sealed.status().message(), kExitFailure);
  std::cout << *sealed << "\n";
  return kExitClean;
}

int Run(int argc, char** argv) {
  server::StopSignals signals;  // before any thread starts
  DrainerConfig config;
  bool bad_flags = false;
  Result<DrainerCommand> cmd = LoadDrainerConfig(argc, argv, &config, &bad_flags);
  if (!cmd.ok()) {
    return bad_flags ? Fail("drainer", cmd.status().message(), kExitBadFlags,
                            "usage: drainer -config drainer.toml [flags]  (drainer --help for all)")
                     : Fail("drainer", cmd.status().message(), kExitFailure);
  }
  if (cmd->help) {
    std::cout << DrainerUsage() << "\n";
    return kExitClean;
  }
  if (cmd->version) {
    std::cout << kVersion << "\n";
    return kExitClean;
  }
  if (cmd->encrypt) return Encrypt(cmd->secret_key_file);
  LogOptions log;
  log.level = config.log_level;
  log.file = config.log_file;
  log.rotate = config.log_rotate;
  if (Status s = InitLogging(log); !s.ok()) return Fail("drainer", s.message(), kExitFailure);
  LOG_INFO("Welcome to drainer", KV("version", kVersion), KV("pid", getpid()),
           KV("config", config.config_file));
  for (const std::string& key : config.unknown_keys) {
    LOG_WARN("config key not used by this drainer", KV("key", key), KV("file", config.config_file));
  }
  DrainerOptions options;
  options.on_stop = [&signals] { signals.Notify(); };
  Result<std::unique_ptr<Drainer>> drainer = Drainer::Start(config, options);
  if (!drainer.ok()) {
    LOG_ERROR("drainer cannot start", KV("error", drainer.status()));
    return Fail("drainer", drainer.status().message(), kExitFailure);
  }
  if (int sig = signals.Wait(); sig != 0) {
    LOG_INFO("signal received: stopping (paused, expected back)", KV("signal", strsignal(sig)));
  }
  Status s = (*drainer)->Shutdown();
  drainer->reset();
  if (!s.ok()) {
    LOG_ERROR("drainer stopped with an error", KV("error", s));
    return Fail("drainer", s.message(), kExitFailure);
  }
  LOG_INFO("drainer exited");
  return kExitClean;
}

}  // namespace
}  // namespace binlog::drainer

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    return binlog::drainer::Run(argc, argv);
  } catch (const std::exception& e) {
    return binlog::server::Fail("drainer", std::string("unexpected error: ") + e.what(),
                                binlog::server::kExitFailure);
  }
}
