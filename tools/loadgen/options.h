// loadgen's command line: what to write, where, how fast.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/workload.h"

namespace binlog::loadgen {

struct Options {
  std::string dir;
  std::vector<std::string> pumps;
  int64_t count = 100000;
  double rate = 0;
  int threads = 1;
  int batch = 64;
  uint64_t max_file_size = 512ull << 20;
  bool sync_log = true;
  std::string ack_log;
  std::string log_level = "info";
  workload::WorkloadOptions workload;
};

// Parses argv into *o. Returns an exit code when the program should stop now: 0 after --help or
// --version, 2 after bad arguments (with a usage line on stderr).
std::optional<int> ParseArgs(int argc, char** argv, Options* o);

}  // namespace binlog::loadgen
