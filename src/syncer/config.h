// The syncer's configuration: syncer.toml with TiDB-Binlog syncer's keys and defaults (the
// seeds' file loads unchanged), plus [from] (the upstream) and [to] (where records go),
// overridden by Go-style flags (-config, -meta-from, -L ...).
//
// Errors name the file and key (or the flag) and what was expected. Keys nothing reads are
// collected for a warning each, never silently dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"

namespace binlog::syncer {

struct SyncerConfig {
  std::string config_file;  // empty when no -config was given

  std::string log_level = "info";
  std::string log_file;  // empty: stderr
  std::string log_rotate = "day";
  uint32_t server_id = 101;  // the replica id registered with the upstream
  std::string meta = "./syncer.meta";
  // [to] type = "mysql": connections applying at once. A journal or a pump takes one ordered
  // stream, so the key is accepted there and unused.
  int worker_count = 16;
  // Most transactions written (and synced) together; with type = "mysql" also the row changes
  // per downstream transaction (the engine's txn-batch).
  int batch = 1000;
  bool safe_mode = false;             // type = "mysql": INSERT as REPLACE, UPDATE as DELETE + REPLACE
  std::string flavor = "mysql";       // mysql | mariadb; the server's own version decides
  std::string status_addr = ":8271";  // empty: no status service
  bool stop_on_ddl = false;
  int max_retry = 100;                    // reconnects in a row without progress before giving up
  double heartbeat_interval_seconds = 3;  // ours: MASTER_HEARTBEAT_PERIOD (FAKE binlogs)

  struct From {
    std::string host = "127.0.0.1";
    int port = 3306;
    std::string user = "root";
    std::string password;
  } from;

  struct To {
    // journal | pump | mysql; without a type, mysql when [to] has a host (TiDB-Binlog's
    // syncer.toml replicates as written), else journal.
    std::string type = "journal";
    std::string dir = "data.syncer";
    uint64_t max_file_size = 512ull << 20;
    std::vector<std::string> pump_addrs;  // type = "pump"
    mysql::ConnectOptions mysql;          // type = "mysql": host, port, user, password, ssl-*
  } to;

  std::string meta_from;  // -meta-from: a backup's position record
  std::vector<std::string> unknown_keys;
};

struct SyncerFlags {
  bool help = false;
  bool version = false;
  std::optional<std::string> config, meta_from, meta, status_addr, log_level, log_file;
};

// "-config x", "-config=x" and "--config x". An unknown flag, a missing value or a stray
// argument is InvalidArgument (the tool exits 2 with usage).
Result<SyncerFlags> ParseSyncerFlags(int argc, const char* const* argv);
std::string SyncerUsage();

// Reads flags.config (when given), applies the flags, validates.
Result<SyncerConfig> LoadSyncerConfig(const SyncerFlags& flags);
// The same over text (tests); `origin` names it in errors.
Result<SyncerConfig> ParseSyncerConfig(std::string_view text, const std::string& origin);

// Logs the effective configuration on one line and a warning for each unknown key.
void LogSyncerConfig(const SyncerConfig& config);

}  // namespace binlog::syncer
