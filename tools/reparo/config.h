// reparo's configuration: TiDB-Binlog Reparo's reparo.toml keys and defaults (the seeds' file
// loads unchanged), overridden by Go-style flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"
#include "replay/filter.h"

namespace binlog::reparo {

struct ReparoConfig {
  std::string config_file;
  std::string data_dir;  // required: a directory of segments
  std::string log_file;
  std::string log_level = "info";
  std::string log_rotate = "none";  // day | hour | none
  // The window, inclusive at both ends: a datetime covers its whole millisecond.
  uint64_t start_ts = 0;
  uint64_t stop_ts = UINT64_MAX;
  std::string time_zone;  // ours: for start/stop-datetime; empty: the local zone
  std::string dest_type = "print";
  int txn_batch = 20;
  int worker_count = 16;
  bool safe_mode = false;
  // A transaction in parts committed every txn_batch changes (resumable inside it), instead of
  // in one downstream transaction.
  bool split_big_txn = false;
  int max_retry = 10;  // ours
  replay::FilterRules filter;
  mysql::ConnectOptions dest;   // [dest-db]
  std::string task = "reparo";  // ours: whose progress this run keeps in the destination
  // Flags only.
  bool resume = false;
  bool flashback = false;
  bool skip_corrupt = false;
  std::vector<std::string> unknown_keys;
};

// What the command line asks before any config is read.
struct Command {
  bool help = false;
  bool version = false;
};

// Parses flags and the config file into *config. InvalidArgument for anything wrong with
// either (the tool exits 2), naming the flag, or the file and key.
Result<Command> LoadConfig(int argc, const char* const* argv, ReparoConfig* config);
std::string Usage();

}  // namespace binlog::reparo
