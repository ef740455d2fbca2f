// segdump: offline inspection of segment files and journal directories.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace binlog::segdump {

enum class Format { kText, kJson };

struct Options {
  std::vector<std::string> paths;
  bool verbose = false;
  Format format = Format::kText;
  uint64_t from = 0;  // inclusive
  uint64_t to = UINT64_MAX;
  std::string tz;      // empty: the local zone
  uint64_t limit = 0;  // records to print; 0 = all
};

// One PATH argument: a directory's segments in order, or a single file of any name.
struct Target {
  std::string path;
  bool is_dir = false;
  std::vector<std::string> segments;  // paths of the segment files
};
Result<Target> ResolveTarget(Env* env, const std::string& path);

// Each returns the process exit code: 0, or 1 when anything was damaged or unreadable.
int RunDump(const Options& options, std::ostream& out);
int RunVerify(const Options& options, std::ostream& out);
int RunStats(const Options& options, std::ostream& out);

}  // namespace binlog::segdump
