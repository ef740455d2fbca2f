#include "reparo/window.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "common/logging.h"
#include "journal/journal.h"

namespace binlog::reparo {

namespace {

Status ParseRecord(const segment::Record& r, const std::string& where, pb::Binlog* out) {
  if (!out->ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
    return Status::Corruption(
        fmt::format("{}: the record with ts {} is not a binlog", where, r.ts));
  }
  return Status::OK();
}

class Forward : public WindowReader {
 public:
  Forward(std::string dir, uint64_t stop) : dir_(std::move(dir)), stop_(stop) {}

  Result<bool> Next(pb::Binlog* out, segment::PartTag* part) override {
    journal::Record r;
    while (!done_) {
      ASSIGN_OR_RETURN(bool more, reader_->Next(&r));
      if (!more || r.ts > stop_) break;
      if (segment::IsPart(r.part)) {
        if (r.ts != checked_ts_) {
          ASSIGN_OR_RETURN(std::optional<uint32_t> cut_after, Incomplete(r.ts));
          if (cut_after) {
            cut_ = CutTransaction{r.ts, *cut_after, reader_->current_segment()};
            break;
          }
          checked_ts_ = r.ts;
        }
        if (r.ts == skip_ts_ && segment::PartIndex(r.part) < skip_below_) continue;
      }
      RETURN_IF_ERROR(ParseRecord(r, reader_->current_segment(), out));
      *part = r.part;
      return true;
    }
    done_ = true;
    return false;
  }
  std::optional<CutTransaction> cut() const override { return cut_; }
  void SkipParts(uint64_t commit_ts, uint32_t part) override {
    skip_ts_ = commit_ts;
    skip_below_ = part;
  }
  uint64_t damaged_regions() const override { return regions_; }
  uint64_t damaged_bytes() const override { return bytes_; }

  std::unique_ptr<journal::JournalReader> reader_;
  journal::ReadOptions options_;
  uint64_t regions_ = 0;
  uint64_t bytes_ = 0;

 private:
  // Runs a second reader through the transaction at ts: nullopt when its last part is there,
  // else how many parts of it the archive has (it ends inside it). Corruption when its parts
  // break off with more data after them, or are damaged (-skip-corrupt cannot make a
  // transaction whole).
  Result<std::optional<uint32_t>> Incomplete(uint64_t ts) {
    journal::ReadOptions ro;
    ro.start_ts = ts;
    ASSIGN_OR_RETURN(auto probe, journal::JournalReader::Open(Env::Posix(), dir_, ro));
    journal::Record r;
    for (uint32_t parts = 0;; ++parts) {
      ASSIGN_OR_RETURN(bool more, probe->Next(&r));
      if (!more) return std::optional<uint32_t>(parts);
      if (r.ts != ts || !segment::IsPart(r.part) || segment::PartIndex(r.part) != parts) {
        return Status::Corruption(fmt::format(
            "{}: the transaction at commit ts {} breaks off after {} of its parts (a record "
            "with ts {} and part tag {} follows)",
            probe->current_segment(), ts, parts, r.ts, r.part));
      }
      if (segment::IsLastPart(r.part)) return std::optional<uint32_t>();
    }
  }

  std::string dir_;
  uint64_t stop_;
  bool done_ = false;
  uint64_t checked_ts_ = 0;  // the transaction in parts known to be whole
  uint64_t skip_ts_ = 0;
  uint32_t skip_below_ = 0;
  std::optional<CutTransaction> cut_;
};

// Newest segment first; in each, the window's blocks newest first, each block's records newest
// first.
class Backward : public WindowReader {
 public:
  Backward(std::string dir, std::vector<journal::SegmentName> segments, uint64_t start,
           uint64_t stop)
      : dir_(std::move(dir)), segments_(std::move(segments)), start_(start), stop_(stop) {}

  Result<bool> Next(pb::Binlog* out, segment::PartTag* part) override {
    while (true) {
      while (next_record_ > 0) {
        const segment::Record& r = records_[--next_record_];
        if (r.ts < start_ || r.ts > stop_) continue;
        if (segment::IsPart(r.part) && !Renumber(r, part)) continue;
        if (!segment::IsPart(r.part)) *part = segment::kWholeTransaction;
        RETURN_IF_ERROR(ParseRecord(r, reader_->path(), out));
        return true;
      }
      if (next_block_ > 0) {
        RETURN_IF_ERROR(reader_->ReadBlock(blocks_[--next_block_], &records_));
        next_record_ = records_.size();
        continue;
      }
      if (next_segment_ == 0) return false;
      ASSIGN_OR_RETURN(bool any, OpenSegment(--next_segment_));
      if (!any) return false;
    }
  }

  std::optional<CutTransaction> cut() const override { return cut_; }

  size_t next_segment_ = 0;

 private:
  // A transaction's parts come newest first: the first one seen is its last, else the archive
  // ends inside it and none of it is handed over (false). They are numbered in this order, the
  // first seen part 0, so that the engine sees a sequence (a flashback applies them so).
  bool Renumber(const segment::Record& r, segment::PartTag* part) {
    const uint32_t index = segment::PartIndex(r.part);
    if (r.ts != parts_ts_) {
      parts_ts_ = r.ts;
      parts_ = index + 1;
      cut_ts_ = 0;
      if (!segment::IsLastPart(r.part)) {
        cut_ = CutTransaction{r.ts, index + 1, reader_->path()};
        cut_ts_ = r.ts;
      }
    }
    if (r.ts == cut_ts_) return false;
    *part = segment::MakePartTag(parts_ - 1 - index, index == 0);
    return true;
  }

  // The window's blocks of segment i; false once the segment ends before the window.
  Result<bool> OpenSegment(size_t i) {
    ASSIGN_OR_RETURN(reader_,
                     segment::SegmentReader::Open(Env::Posix(), JoinPath(dir_, segments_[i].name)));
    blocks_.clear();
    records_.clear();
    next_record_ = 0;
    ASSIGN_OR_RETURN(uint64_t limit, reader_->DataLimit());
    bool before_window = false;
    for (uint64_t at = segment::kHeaderSize; at < limit;) {
      segment::BlockRef ref;
      std::string why;
      ASSIGN_OR_RETURN(segment::ProbeResult probe, reader_->Probe(at, limit, &ref, &why));
      if (probe != segment::ProbeResult::kBlock) {
        if (probe == segment::ProbeResult::kEnd) break;
        // The newest segment's torn tail or zeros: what a crash or a live writer leaves.
        ASSIGN_OR_RETURN(auto more, reader_->NextGoodBlock(at, limit));
        if (!more && !reader_->sealed() && i + 1 == segments_.size()) break;
        return Status::Corruption(
            fmt::format("{}: block at offset {}: {}", reader_->path(), at, why));
      }
      if (ref.header.last_ts >= start_ && ref.header.first_ts <= stop_) blocks_.push_back(ref);
      before_window |= ref.header.first_ts < start_;
      at = ref.next_offset();
    }
    next_block_ = blocks_.size();
    // Segments are in ts order: one that starts before the window is the last one to read.
    if (before_window || segments_[i].ts < start_) next_segment_ = 0;
    return true;
  }

  std::string dir_;
  std::vector<journal::SegmentName> segments_;
  uint64_t start_, stop_;
  std::unique_ptr<segment::SegmentReader> reader_;
  std::vector<segment::BlockRef> blocks_;
  size_t next_block_ = 0;
  std::vector<segment::Record> records_;
  size_t next_record_ = 0;
  uint64_t parts_ts_ = 0;  // the transaction whose parts are being read
  uint32_t parts_ = 0;     // how many it has
  uint64_t cut_ts_ = 0;    // the transaction the archive ends inside: passed over
  std::optional<CutTransaction> cut_;
};

Result<std::vector<journal::SegmentName>> Segments(const std::string& dir) {
  Env* env = Env::Posix();
  if (!env->FileExists(dir)) {
    return Status::InvalidArgument(fmt::format("data-dir {} does not exist", dir));
  }
  Result<std::vector<journal::SegmentName>> segments = journal::ListSegments(env, dir);
  if (!segments.ok()) {
    return Status::InvalidArgument(
        fmt::format("data-dir {} cannot be listed: {}", dir, segments.status().message()));
  }
  if (segments->empty()) {
    return Status::InvalidArgument(
        fmt::format("data-dir {} holds no segment (files named binlog-<ts>-<datetime>)", dir));
  }
  return segments;
}

}  // namespace

Result<ArchiveRange> DescribeArchive(const std::string& dir) {
  ASSIGN_OR_RETURN(auto segments, Segments(dir));
  ArchiveRange range;
  range.segments = segments.size();
  range.first_ts = segments.front().ts;
  range.last_ts = segments.back().ts;
  // The newest record: the last segment's footer, or its blocks when it is still open.
  auto reader = segment::SegmentReader::Open(Env::Posix(), JoinPath(dir, segments.back().name));
  if (!reader.ok()) return range;
  if ((*reader)->sealed()) {
    range.last_ts = (*reader)->trailer()->last_ts;
    return range;
  }
  auto limit = (*reader)->DataLimit();
  for (uint64_t at = segment::kHeaderSize; limit.ok() && at < *limit;) {
    segment::BlockRef ref;
    auto probe = (*reader)->Probe(at, *limit, &ref, nullptr);
    if (!probe.ok() || *probe != segment::ProbeResult::kBlock) break;
    range.last_ts = std::max(range.last_ts, ref.header.last_ts);
    at = ref.next_offset();
  }
  return range;
}

Result<std::unique_ptr<WindowReader>> ReadForward(const std::string& dir, uint64_t start_ts,
                                                  uint64_t stop_ts, bool skip_corrupt) {
  RETURN_IF_ERROR(Segments(dir).status());
  auto reader = std::make_unique<Forward>(dir, stop_ts);
  journal::ReadOptions& ro = reader->options_;
  ro.start_ts = start_ts;
  // One past the stop: the journal reader ends at the first record at its stop ts, and the
  // parts of a transaction at the stop share it. Records past the stop are dropped here.
  ro.stop_ts = stop_ts == UINT64_MAX ? stop_ts : stop_ts + 1;
  if (skip_corrupt) {
    Forward* raw = reader.get();
    ro.on_damage = [raw](const std::string& path, const segment::Damage& d) {
      ++raw->regions_;
      raw->bytes_ += d.length;
      LOG_ERROR("damaged input skipped (-skip-corrupt)", KV("file", path), KV("offset", d.offset),
                KV("bytes", d.length), KV("reason", d.reason));
    };
  }
  ASSIGN_OR_RETURN(reader->reader_, journal::JournalReader::Open(Env::Posix(), dir, ro));
  return std::unique_ptr<WindowReader>(std::move(reader));
}

Result<std::unique_ptr<WindowReader>> ReadBackward(const std::string& dir, uint64_t start_ts,
                                                   uint64_t stop_ts) {
  ASSIGN_OR_RETURN(auto segments, Segments(dir));
  // Segments whose first ts is above the stop hold nothing of the window.
  auto end = std::upper_bound(segments.begin(), segments.end(), stop_ts,
                              [](uint64_t ts, const journal::SegmentName& s) { return ts < s.ts; });
  size_t count = static_cast<size_t>(end - segments.begin());
  auto reader = std::make_unique<Backward>(dir, std::move(segments), start_ts, stop_ts);
  reader->next_segment_ = count;
  return std::unique_ptr<WindowReader>(std::move(reader));
}

}  // namespace binlog::reparo
