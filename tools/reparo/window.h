// The records of a time window of a directory of segments, parsed: forward (from the segment
// names and footer indexes, so the time to the first record does not grow with what lies before
// the window) or backward (newest first, one block in memory at a time, for a flashback).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "binlog.pb.h"
#include "common/status.h"

namespace binlog::reparo {

struct ArchiveRange {
  size_t segments = 0;
  uint64_t first_ts = 0;  // the first segment's name
  uint64_t last_ts = 0;   // the newest record
};
// InvalidArgument when dir is missing, not a directory, or holds no segment.
Result<ArchiveRange> DescribeArchive(const std::string& dir);

class WindowReader {
 public:
  virtual ~WindowReader() = default;
  // The next record in the window; false at its end. Corruption names the file and offset.
  virtual Result<bool> Next(pb::Binlog* out) = 0;
  // With skip_corrupt: damaged regions and bytes skipped so far.
  virtual uint64_t damaged_regions() const { return 0; }
  virtual uint64_t damaged_bytes() const { return 0; }
};

Result<std::unique_ptr<WindowReader>> ReadForward(const std::string& dir, uint64_t start_ts,
                                                  uint64_t stop_ts, bool skip_corrupt);
Result<std::unique_ptr<WindowReader>> ReadBackward(const std::string& dir, uint64_t start_ts,
                                                   uint64_t stop_ts);

}  // namespace binlog::reparo
