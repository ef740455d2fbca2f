// The record dump: every record of the given files and directories, in order.
#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "common/logging.h"
#include "journal/journal.h"
#include "segdump/printer.h"
#include "segdump/segdump.h"
#include "segment/segment.h"

namespace binlog::segdump {

using segment::SegmentIterator;
using segment::SegmentReader;

Result<Target> ResolveTarget(Env* env, const std::string& path) {
  Target t;
  t.path = path;
  // Env has no stat: a directory is what lists, a file what exists and does not.
  auto children = env->GetChildren(path);
  if (children.ok()) {
    t.is_dir = true;
    ASSIGN_OR_RETURN(auto segments, journal::ListSegments(env, path));
    for (const auto& s : segments) t.segments.push_back(JoinPath(path, s.name));
    return t;
  }
  if (!env->FileExists(path)) return Status::NotFound(path + ": no such file or directory");
  t.segments.push_back(path);
  return t;
}

namespace {

// Finds the block a record came from. The readers do not say which block they are in, but in
// an ordered segment block ts ranges do not overlap, so the record's ts names its block; the
// search probes block headers only and mostly just the next one.
class BlockLocator {
 public:
  std::optional<uint64_t> Find(const std::string& path, uint64_t ts) {
    if (path != path_) {
      path_ = path;
      have_block_ = false;
      auto r = SegmentReader::Open(Env::Posix(), path);
      reader_ = r.ok() ? std::move(*r) : nullptr;
    }
    if (!reader_ || reader_->header().kind != segment::SegmentKind::kOrdered) return {};
    if (have_block_ && block_.header.first_ts <= ts && ts <= block_.header.last_ts) {
      return block_.offset;
    }
    uint64_t offset =
        have_block_ && ts > block_.header.last_ts ? block_.next_offset() : reader_->SeekHint(ts);
    auto limit = reader_->DataLimit();
    if (!limit.ok()) return {};
    have_block_ = false;
    while (true) {
      auto probe = reader_->Probe(offset, *limit, &block_, nullptr);
      if (!probe.ok() || *probe != segment::ProbeResult::kBlock) return {};
      if (block_.header.last_ts >= ts) break;
      offset = block_.next_offset();
    }
    if (block_.header.first_ts > ts) return {};
    have_block_ = true;
    return block_.offset;
  }

 private:
  std::string path_;
  std::unique_ptr<SegmentReader> reader_;
  segment::BlockRef block_;
  bool have_block_ = false;
};

class Dumper {
 public:
  Dumper(const Options& options, std::ostream* out)
      : options_(options), printer_(options.format, options.verbose, options.tz, out) {}

  void DumpPath(const std::string& path);
  bool LimitReached() const { return options_.limit != 0 && printed_ >= options_.limit; }
  bool failed() const { return failed_; }

 private:
  void DumpDir(const Target& target);
  void DumpFile(const std::string& path);
  void Handle(const segment::Record& record, const std::string& segment);
  void ReadError(const Status& s) {
    LOG_ERROR("cannot read the segment further", KV("error", s));
    failed_ = true;
  }

  const Options& options_;
  RecordPrinter printer_;
  BlockLocator locator_;
  pb::Binlog binlog_;
  uint64_t printed_ = 0;
  bool failed_ = false;
};

void Dumper::DumpPath(const std::string& path) {
  auto target = ResolveTarget(Env::Posix(), path);
  if (!target.ok()) return ReadError(target.status());
  if (target->is_dir) {
    DumpDir(*target);
  } else {
    DumpFile(path);
  }
}

void Dumper::DumpDir(const Target& target) {
  if (target.segments.empty()) {
    LOG_WARN("no segments in the directory", KV("dir", target.path));
    return;
  }
  journal::ReadOptions ro;
  ro.start_ts = options_.from;
  ro.stop_ts = options_.to;
  // A pump's wal/ holds records in arrival order; the reader must not seek by ts there.
  auto first = SegmentReader::Open(Env::Posix(), target.segments.front());
  if (!first.ok()) return ReadError(first.status());
  ro.arrival_order = (*first)->header().kind == segment::SegmentKind::kArrival;
  auto reader = journal::JournalReader::Open(Env::Posix(), target.path, ro);
  if (!reader.ok()) return ReadError(reader.status());
  segment::Record record;
  Result<bool> more = true;
  while (!LimitReached()) {
    more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    Handle(record, JoinPath(target.path, (*reader)->current_segment()));
  }
  if (more.ok()) return;
  ReadError(more.status());
  // The reader cannot go past damage; the segments after the damaged one are read one by one,
  // so one bad block does not hide the rest of the directory.
  std::string damaged = JoinPath(target.path, (*reader)->current_segment());
  auto it = std::find(target.segments.begin(), target.segments.end(), damaged);
  if (it == target.segments.end()) return;
  for (++it; it != target.segments.end() && !LimitReached(); ++it) DumpFile(*it);
}

void Dumper::DumpFile(const std::string& path) {
  auto reader = SegmentReader::Open(Env::Posix(), path);
  if (!reader.ok()) return ReadError(reader.status());
  if (!(*reader)->footer_status().ok()) {
    LOG_WARN("damaged footer; reading the segment as unsealed",
             KV("error", (*reader)->footer_status()));
  }
  SegmentIterator it(reader->get(), options_.from, options_.to);
  segment::Record record;
  while (!LimitReached()) {
    auto state = it.Next(&record);
    if (!state.ok()) return ReadError(state.status());
    switch (*state) {
      case SegmentIterator::State::kRecord:
        Handle(record, path);
        continue;
      case SegmentIterator::State::kIncomplete:
        LOG_WARN("the segment ends in a torn tail (what a crash leaves behind)", KV("file", path),
                 KV("offset", it.offset()));
        return;
      case SegmentIterator::State::kEnd:
      case SegmentIterator::State::kPastStop:
        return;
    }
  }
}

void Dumper::Handle(const segment::Record& record, const std::string& segment) {
  RecordLocation where{segment, locator_.Find(segment, record.ts)};
  if (!binlog_.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
    LOG_ERROR("record payload does not parse as binlog.pb.Binlog", KV("file", segment),
              KV("block-offset", where.block ? fmt::format("{}", *where.block) : "unknown"),
              KV("ts", record.ts), KV("bytes", record.payload.size()));
    failed_ = true;
    return;
  }
  printer_.Print(record.ts, binlog_, where);
  ++printed_;
}

}  // namespace

int RunDump(const Options& options, std::ostream& out) {
  Dumper dumper(options, &out);
  for (const std::string& path : options.paths) {
    if (dumper.LimitReached()) break;
    dumper.DumpPath(path);
  }
  out.flush();
  return dumper.failed() ? 1 : 0;
}

}  // namespace binlog::segdump
