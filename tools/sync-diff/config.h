// sync-diff's configuration: Go-style flags, optionally over a TOML file with the same keys
// ([source-db] and [target-db] for the servers, the drainer's filter keys).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"
#include "replay/filter.h"

namespace binlog::syncdiff {

// The schemas never compared unless the configuration names its own ignore-schemas: the
// servers' own, and the replication progress the drainer and reparo keep downstream.
inline constexpr const char* kDefaultIgnoreSchemas =
    "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql,sys,tidb_binlog";

struct SyncDiffConfig {
  std::string config_file;
  mysql::ConnectOptions source;
  mysql::ConnectOptions target;
  replay::FilterRules filter;
  uint64_t chunk_size = 10000;  // source rows per checksum chunk
  int threads = 4;              // chunks checked at once, each with a connection to both servers
  // Each table is first checksummed whole by the servers (CHECKSUM TABLE), and chunked only
  // when the two differ.
  bool checksum_table = true;
  std::string fix_sql;           // empty: no fix SQL written
  double progress_seconds = 10;  // a progress log line this often when stderr is not a terminal
  std::string log_file;
  std::string log_level = "info";
  std::vector<std::string> unknown_keys;
};

struct Command {
  bool help = false;
  bool version = false;
};

// Parses flags and the config file into *config. InvalidArgument for anything wrong with
// either (the tool exits 2), naming the flag, or the file and key.
Result<Command> LoadConfig(int argc, const char* const* argv, SyncDiffConfig* config);
std::string Usage();

}  // namespace binlog::syncdiff
