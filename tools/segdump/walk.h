// The one walk over a segment's blocks that the dump, --verify and --stats share, and the rules
// that grade what it finds (docs/SEGDUMP.md), so the three modes agree on every readable record
// and on every problem and its exit code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "segment/format.h"

namespace binlog::segdump {

// kOk: --verify -v's line for a segment without problems; not counted.
enum class Level { kError, kWarning, kNote, kOk };

// Prints findings as "ERROR   <path>: offset <n>: <what>" lines (WARNING, NOTE, OK likewise)
// and counts them. Errors make the run exit 1; warnings and notes do not.
class Reporter {
 public:
  // flush_first: a stream to flush before each line (the dump's records), so a terminal shows
  // a problem after the records read before it.
  explicit Reporter(std::ostream* out, std::ostream* flush_first = nullptr)
      : out_(out), flush_first_(flush_first) {}
  void Report(Level level, const std::string& path, std::optional<uint64_t> offset,
              const std::string& what);
  uint64_t errors() const { return errors_; }
  uint64_t warnings() const { return warnings_; }
  uint64_t notes() const { return notes_; }

 private:
  std::ostream* out_;
  std::ostream* flush_first_;
  uint64_t errors_ = 0;
  uint64_t warnings_ = 0;
  uint64_t notes_ = 0;
};

// One segment to walk. newest: no newer segment lies beside it in its directory. Only there can
// a crash leave a torn tail; the writer seals a segment before it starts the next one.
struct SegmentPlace {
  std::string path;
  bool newest = true;
};

// One PATH argument: a directory's segments in order, or a single file of any name.
struct Target {
  std::string path;
  bool is_dir = false;
  std::vector<SegmentPlace> segments;
};
// What a path is when it is not a regular file or a directory ("a FIFO (named pipe)", "a
// socket", ...), or nullopt when it is one of those.
std::optional<std::string> NotAFileOrDirectory(std::filesystem::file_type type);
// NotFound for a missing path; InvalidArgument for anything that is neither a directory nor a
// regular file (a FIFO, a device, a socket), which would block or never end when read.
Result<Target> ResolveTarget(const std::string& path);

// Where a readable record is stored.
struct RecordLocation {
  std::string segment;                                 // path of the segment file
  uint64_t block_offset;                               // offset of its block
  segment::PartTag part = segment::kWholeTransaction;  // its place in a transaction in parts
};

// A record in range whose payload parsed. Returns false to stop the walk (--limit).
using RecordFn =
    std::function<bool(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where)>;

struct WalkBounds {
  uint64_t from = 0;  // inclusive
  uint64_t to = UINT64_MAX;
  bool full() const { return from == 0 && to == UINT64_MAX; }
};

// What a walk of one segment found.
struct SegmentSummary {
  bool opened = false;  // the header was read
  segment::SegmentHeader header;
  bool sealed = false;        // with a good footer
  uint64_t stored_bytes = 0;  // the file's size, less zeros written ahead of the data
  // The good blocks read and the records in them that parsed (in range). For an arrival-order
  // segment first_ts and last_ts are the smallest and largest ts.
  uint64_t blocks = 0;
  uint64_t records = 0;
  uint64_t raw_bytes = 0;
  std::optional<uint64_t> first_ts;
  std::optional<uint64_t> last_ts;
  uint64_t transactions_in_parts = 0;  // whole ones (with their last part) that started here
  bool past_stop = false;              // an ordered segment reached a ts past bounds.to
  bool stopped = false;                // the RecordFn asked to stop
};

// Reads one segment from its first block (or, for an ordered segment and bounds.from, from the
// block its index points to), reporting each unreadable region with its offset and length and
// going on at the next good block. Every record in range is parsed as binlog.pb.Binlog and
// given to on_record (may be empty).
SegmentSummary WalkSegment(const SegmentPlace& place, const WalkBounds& bounds, Reporter* reporter,
                           const RecordFn& on_record);

}  // namespace binlog::segdump
