// The records of a time window of a directory of segments, parsed: forward (from the segment
// names and footer indexes, so the time to the first record does not grow with what lies before
// the window) or backward (newest first, one block in memory at a time, for a flashback).
//
// A transaction in parts comes part by part with its tags, never half: before its first part is
// handed over, the reader makes sure its last part is there (a second reader runs through it).
// An archive that ends inside a transaction (copied while it was written) ends before it, and
// says so (cut()). The window's ends never cut one: its parts share their ts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "binlog.pb.h"
#include "common/status.h"
#include "segment/format.h"

namespace binlog::reparo {

struct ArchiveRange {
  size_t segments = 0;
  uint64_t first_ts = 0;  // the first segment's name
  uint64_t last_ts = 0;   // the newest record
};
// InvalidArgument when dir is missing, not a directory, or holds no segment.
Result<ArchiveRange> DescribeArchive(const std::string& dir);

// A transaction the archive ends inside: what is there of it is not handed over.
struct CutTransaction {
  uint64_t commit_ts = 0;
  uint32_t parts = 0;   // the parts the archive has of it
  std::string segment;  // where they are
};

class WindowReader {
 public:
  virtual ~WindowReader() = default;
  // The next record in the window and its PartTag (0: a whole transaction; a flashback's parts
  // come numbered in the order it hands them over); false at its end. Corruption names the
  // file and offset, and a transaction whose parts break off with more data after them.
  virtual Result<bool> Next(pb::Binlog* out, segment::PartTag* part) = 0;
  // Set once reading ended before a transaction the archive ends inside.
  virtual std::optional<CutTransaction> cut() const { return std::nullopt; }
  // Parts of the transaction at commit_ts below `part` are passed over unparsed (an earlier run
  // applied them).
  virtual void SkipParts(uint64_t commit_ts, uint32_t part) {
    (void)commit_ts;
    (void)part;
  }
  // With skip_corrupt: damaged regions and bytes skipped so far.
  virtual uint64_t damaged_regions() const { return 0; }
  virtual uint64_t damaged_bytes() const { return 0; }
};

Result<std::unique_ptr<WindowReader>> ReadForward(const std::string& dir, uint64_t start_ts,
                                                  uint64_t stop_ts, bool skip_corrupt);
Result<std::unique_ptr<WindowReader>> ReadBackward(const std::string& dir, uint64_t start_ts,
                                                   uint64_t stop_ts);

}  // namespace binlog::reparo
