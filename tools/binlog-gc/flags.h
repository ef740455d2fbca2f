// binlog-gc's command line.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "gc/gc.h"

namespace binlog::gctool {

struct Flags {
  bool help = false;
  bool version = false;
  std::string data_dir;
  double retention_seconds = 0;
  uint64_t max_size = 0;
  bool dry_run = false;
  bool force = false;
  std::string pd_urls, registry_dir;
  double guard_lease_seconds = gc::kDefaultGuardLeaseSeconds;
  uint64_t stop_write_at_available_space = 10ull << 30;  // the pump's default
  std::string log_level = "warn";  // the report is on stdout; -L info adds the log lines
  std::string log_file;
};

// Parses Go-style flags; a bad flag or value is InvalidArgument naming it (exit 2).
Result<Flags> ParseFlags(int argc, const char* const* argv);
std::string Usage();

}  // namespace binlog::gctool
