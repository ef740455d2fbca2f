// The drainer's configuration: TiDB-Binlog's drainer.toml keys and defaults (a file written for
// it loads as it is, tiup's dotted `syncer.to.host = ...` form too), overridden by Go-style
// flags. Errors name the file and key, or the flag, and what was expected; keys nothing reads
// are collected for a warning each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"
#include "replay/filter.h"

namespace binlog::drainer {

enum class SinkType { kMysql, kFile, kPrint };
// How each pump is read: from its binlog/ on this machine when the registry record says where it
// is and the directory is readable (auto), always so (local), or always over gRPC.
enum class PumpAccess { kAuto, kLocal, kGrpc };

struct DrainerConfig {
  DrainerConfig() { filter.ignore_schemas = {"INFORMATION_SCHEMA", "PERFORMANCE_SCHEMA", "mysql"}; }

  std::string config_file;
  std::string addr = "127.0.0.1:8249";  // the HTTP status service (/status, /metrics, PUT /state)
  // Both default to the bound addr (its port when addr's is 0) once the drainer started.
  std::string advertise_addr;
  std::string node_id;
  std::string data_dir = "data.drainer";
  std::string pd_urls = "http://127.0.0.1:2379";
  std::string registry_dir;
  double detect_interval_seconds = 10;  // how often the registry is read for pumps
  double heartbeat_interval_seconds = 2;
  int64_t initial_commit_ts = -1;  // -1: now; counts only without a checkpoint
  uint64_t cluster_id = 1;         // the checkpoint table's key
  PumpAccess pump_access = PumpAccess::kAuto;
  std::string log_file, log_level = "info", log_rotate = "day";

  // [syncer]
  SinkType sink = SinkType::kMysql;
  int txn_batch = 20;
  int worker_count = 16;
  bool safe_mode = false;
  // A transaction in parts (docs/FORMAT.md) committed every txn_batch changes, not atomically.
  bool split_big_txn = false;
  int max_retry = 100;  // transient failures of one group in a row (the downstream down)
  replay::FilterRules filter;
  // [syncer.to]
  mysql::ConnectOptions to;
  std::string to_dir;            // file sink; default data_dir
  double retention_seconds = 0;  // file sink: segments older than this removed; 0 keeps all
  // [syncer.relay]
  std::string relay_dir;  // empty: no relay log
  uint64_t relay_max_file_size = 10485760;
  double keep_relay_seconds = 0;  // applied relay segments kept this long; 0 removes at once

  std::vector<std::string> unknown_keys;
};

struct DrainerCommand {
  bool help = false;
  bool version = false;
  // -encrypt: print the encrypted_password form of the password read from stdin, with the key
  // of BINLOG_SECRET_KEY or secret_key_file.
  bool encrypt = false;
  std::string secret_key_file;
};

// Flags, then the -config file under them. InvalidArgument names the flag or the file and key;
// *bad_flags (when given) says whether the command line itself was wrong (exit 2, not 1).
Result<DrainerCommand> LoadDrainerConfig(int argc, const char* const* argv, DrainerConfig* config,
                                         bool* bad_flags = nullptr);
// Parses drainer.toml text over *config's values (tests, the embedded default).
Status ParseDrainerToml(std::string_view text, const std::string& origin, DrainerConfig* config);
std::string DrainerUsage();

}  // namespace binlog::drainer
