// segdump: offline inspection of segment files and journal directories.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

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

// Each returns the process exit code: 0, or 1 when anything was damaged or unreadable (a
// torn tail in the newest segment of a directory is a warning, zeros written ahead of the data
// a note: neither fails the run). Records go to out; --verify also prints its findings to out,
// the dump and --stats print theirs to err.
int RunDump(const Options& options, std::ostream& out, std::ostream& err);
int RunVerify(const Options& options, std::ostream& out, std::ostream& err);
int RunStats(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace binlog::segdump
