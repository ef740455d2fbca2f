// The pump daemon's configuration: pump.toml with TiDB-Binlog's keys and defaults, overridden by
// Go-style command-line flags (-config, -data-dir, -addr, -L ...), as TiDB-Binlog's pump does.
//
// Every error names where the bad value came from (the file and key, or the flag) and what was
// expected. Unknown keys are not errors (configs written for TiDB-Binlog carry keys we do not
// use, such as [storage.kv]); they are collected for a warning each once logging is set up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "pump/pump.h"
#include "server/server.h"

namespace binlog::pump {

using server::HostPort;
using server::IsUnspecifiedHost;
using server::JoinHostPort;
using server::SplitHostPort;

inline constexpr int kDefaultStatusPort = 8251;

struct PumpConfig {
  std::string config_file;  // empty when no -config was given
  // Where gRPC listens. A host of "" or 0.0.0.0 listens on every interface.
  std::string addr = "127.0.0.1:8250";
  // What producers, drainers and the registry record are told; defaults to addr and may not be
  // 0.0.0.0 (nobody can connect to that).
  std::string advertise_addr;
  // Where the HTTP status service listens (ours: TiDB-Binlog serves it on addr, but gRPC C++
  // cannot share its port). Defaults to addr's host with port 8251 (port 0 when addr's is 0).
  std::string status_addr;
  std::string data_dir = "data.pump";
  double gc_seconds = 7 * 86400.0;  // 0: never delete
  // Ours: a drainer whose registry heartbeat is older than this does not hold GC back.
  double gc_guard_lease_seconds = 24 * 3600.0;
  double heartbeat_interval_seconds = 2;
  double gen_binlog_interval_seconds = 3;
  std::string log_file;  // empty: stderr
  std::string log_level = "info";
  // As configured (empty: not configured). ResolveNodeID turns it into the effective one.
  std::string node_id;
  std::string pd_urls = "http://127.0.0.1:2379";
  std::string registry_dir;  // ours: the embedded registry, instead of pd-urls = "file://..."
  bool sync_log = true;      // [storage] sync-log
  uint64_t stop_write_at_available_space = 10ull << 30;  // [storage]
  uint64_t max_file_size = 512ull << 20;                 // segment rotation, wal/ and binlog/
  double max_txn_timeout_seconds = 600;
  uint64_t max_message_size = 32ull << 20;  // largest binlog a producer may send
  double max_clock_drift_seconds = 60;      // ours: how far ahead of the clock a ts may be
  // Keys in the file that nothing reads, dotted ("storage.kv-chan-cap").
  std::vector<std::string> unknown_keys;

  PumpOptions ToPumpOptions(Env* env) const;
};

// The command line, before the file is read. Absent flags are nullopt.
struct PumpFlags {
  bool help = false;
  bool version = false;
  bool drop_future_heartbeats = false;
  std::optional<std::string> config, data_dir, addr, advertise_addr, status_addr, node_id, pd_urls,
      registry_dir, gc, log_level, log_file;
};

// Parses Go-style flags ("-data-dir x", "-data-dir=x", "--data-dir x"). An unknown flag, a
// missing value or a stray argument is InvalidArgument (the daemon exits 2 with usage).
Result<PumpFlags> ParsePumpFlags(int argc, const char* const* argv);
// The option list printed by --help.
std::string PumpUsage();

// Reads flags.config (when given) and applies the flags over it; validates everything,
// including that the registry named by pd-urls / registry-dir can be used.
Result<PumpConfig> LoadPumpConfig(const PumpFlags& flags);
// ParsePumpFlags then LoadPumpConfig (-help and -V are ignored here; see ParsePumpFlags).
Result<PumpConfig> PumpConfigFromArgs(int argc, const char* const* argv);

// The node id config would run as: the one data_dir/.node keeps across restarts when the file
// exists (a configured node-id that differs is an error naming both), else the configured one,
// else advertise-addr (its port must be the bound one by then).
Result<std::string> EffectiveNodeID(Env* env, const PumpConfig& config);
// Writes config.node_id to data_dir/.node unless the file exists.
Status KeepNodeID(Env* env, const PumpConfig& config);
// EffectiveNodeID into config->node_id, then KeepNodeID.
Status ResolveNodeID(Env* env, PumpConfig* config);

// Logs the effective configuration on one line and a warning for each unknown key.
void LogPumpConfig(const PumpConfig& config);

}  // namespace binlog::pump
