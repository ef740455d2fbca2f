// The record dump: every readable record of the given files and directories, in order.
#include <filesystem>
#include <ostream>

#include "common/env.h"
#include "journal/journal.h"
#include "segdump/printer.h"
#include "segdump/segdump.h"
#include "segdump/walk.h"
#include "segment/segment.h"

namespace binlog::segdump {
namespace {

class Dumper {
 public:
  Dumper(const Options& options, std::ostream* out, std::ostream* err)
      : options_(options),
        bounds_{options.from, options.to},
        printer_(options.format, options.verbose, options.tz, out),
        reporter_(err, out) {}

  void DumpPath(const std::string& path);
  bool LimitReached() const { return options_.limit != 0 && printed_ >= options_.limit; }
  const Reporter& reporter() const { return reporter_; }

 private:
  bool OrderedJournal(const Target& target);
  size_t FirstSegment(const Target& target);
  bool Print(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where) {
    printer_.Print(ts, binlog, where);
    ++printed_;
    return !LimitReached();
  }

  const Options& options_;
  const WalkBounds bounds_;
  RecordPrinter printer_;
  Reporter reporter_;
  uint64_t printed_ = 0;
};

void Dumper::DumpPath(const std::string& path) {
  auto target = ResolveTarget(path);
  if (!target.ok()) {
    return reporter_.Report(Level::kError, path, std::nullopt, target.status().message());
  }
  if (target->is_dir && target->segments.empty()) {
    return reporter_.Report(Level::kNote, path, std::nullopt, "no segments in this directory");
  }
  RecordFn print = [this](uint64_t ts, const pb::Binlog& b, const RecordLocation& where) {
    return Print(ts, b, where);
  };
  const bool by_name = target->is_dir && !bounds_.full() && OrderedJournal(*target);
  for (size_t i = by_name ? FirstSegment(*target) : 0;
       i < target->segments.size() && !LimitReached(); ++i) {
    const SegmentPlace& place = target->segments[i];
    // In an ordered journal a segment's name is the ts of its first record.
    if (by_name && journal::ParseSegmentName(BaseName(place.path))->ts > bounds_.to) break;
    SegmentSummary s = WalkSegment(place, bounds_, &reporter_, print);
    if (s.past_stop && by_name) break;
  }
}

// Whether the directory's segments hold records in ts order (a pump's binlog/, not its wal/,
// whose names are sequence numbers), from the first segment whose header reads.
bool Dumper::OrderedJournal(const Target& target) {
  for (const SegmentPlace& place : target.segments) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(place.path, ec)) continue;  // a FIFO would block
    auto reader = segment::SegmentReader::Open(Env::Posix(), place.path);
    if (reader.ok()) return (*reader)->header().kind == segment::SegmentKind::kOrdered;
  }
  return false;
}

// The last segment whose first ts is below --from: every earlier one ends before it.
size_t Dumper::FirstSegment(const Target& target) {
  size_t first = 0;
  for (size_t i = 0; i < target.segments.size(); ++i) {
    if (journal::ParseSegmentName(BaseName(target.segments[i].path))->ts >= bounds_.from) break;
    first = i;
  }
  return first;
}

}  // namespace

int RunDump(const Options& options, std::ostream& out, std::ostream& err) {
  Dumper dumper(options, &out, &err);
  for (const std::string& path : options.paths) {
    if (dumper.LimitReached()) break;
    dumper.DumpPath(path);
  }
  out.flush();
  return dumper.reporter().errors() == 0 ? 0 : 1;
}

}  // namespace binlog::segdump
