#include "segdump/walk.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "common/env.h"
#include "journal/journal.h"
#include "segdump/parts.h"
#include "segdump/printer.h"
#include "segment/segment.h"

namespace binlog::segdump {

namespace fs = std::filesystem;
using segment::BlockRef;
using segment::ProbeResult;
using segment::Record;
using segment::SegmentReader;

namespace {

// A message that may start with the path a finding already names.
std::string WithoutPath(std::string_view message, const std::string& path) {
  std::string prefix = path + ": ";
  if (message.starts_with(prefix)) message.remove_prefix(prefix.size());
  return std::string(message);
}

class Walker {
 public:
  Walker(const SegmentPlace& place, const WalkBounds& bounds, Reporter* reporter,
         const RecordFn& on_record)
      : place_(place), bounds_(bounds), reporter_(reporter), on_record_(on_record) {}

  SegmentSummary Run();

 private:
  bool Open();
  bool HeaderNeverWritten();
  Status Walk();
  void ReadRecords(const BlockRef& block, const std::vector<Record>& records);
  void Unreadable(uint64_t offset, const std::string& why, uint64_t end);
  Status Tail(uint64_t offset, const std::string& why);
  Result<bool> FooterRemains(uint64_t offset);
  void CheckEnd();
  void Report(Level level, std::optional<uint64_t> offset, const std::string& what) {
    reporter_->Report(level, place_.path, offset, what);
  }

  const SegmentPlace& place_;
  const WalkBounds& bounds_;
  Reporter* reporter_;
  const RecordFn& on_record_;
  SegmentSummary summary_;
  std::unique_ptr<SegmentReader> reader_;
  uint64_t file_size_ = 0;
  uint64_t framed_records_ = 0;
  bool damaged_ = false;
  bool tail_ = false;
  bool reached_end_ = false;
  pb::Binlog binlog_;
  PartTracker parts_;  // ordered segments read in full only: a seek may land inside one
};

SegmentSummary Walker::Run() {
  if (!Open()) return summary_;
  if (Status s = Walk(); !s.ok()) {
    Report(Level::kError, std::nullopt,
           "cannot read on: " + WithoutPath(s.ToString(), place_.path));
    return summary_;
  }
  CheckEnd();
  return summary_;
}

bool Walker::Open() {
  std::error_code ec;
  fs::file_status st = fs::status(place_.path, ec);
  if (ec == std::errc::no_such_file_or_directory && !place_.newest) {
    // Listed, then gone: a GC beside segdump (binlog-gc, the pump's hourly GC) deletes the
    // oldest sealed segments, and nothing else removes one that has a newer neighbour.
    Report(Level::kWarning, std::nullopt,
           "deleted after the directory was listed (a GC ran beside segdump): not read");
    return false;
  }
  if (ec) {
    Report(Level::kError, std::nullopt, ec.message());
    return false;
  }
  if (st.type() != fs::file_type::regular) {
    std::string kind = NotAFileOrDirectory(st.type()).value_or("a directory");
    Report(Level::kError, std::nullopt,
           kind +
               ", not a regular file: not read (segdump reads segment files and journal "
               "directories)");
    return false;
  }
  auto size = Env::Posix()->GetFileSize(place_.path);
  if (!size.ok()) {
    Report(Level::kError, std::nullopt, WithoutPath(size.status().message(), place_.path));
    return false;
  }
  file_size_ = summary_.stored_bytes = *size;
  if (HeaderNeverWritten()) {
    Report(Level::kWarning, std::nullopt,
           fmt::format("{} bytes, its header was never written (a crash right after creating it; "
                       "the writer removes it when it next opens)",
                       file_size_));
    return false;
  }
  auto reader = SegmentReader::Open(Env::Posix(), place_.path);
  if (!reader.ok()) {
    Report(Level::kError, 0, WithoutPath(reader.status().message(), place_.path));
    return false;
  }
  reader_ = std::move(*reader);
  summary_.opened = true;
  summary_.header = reader_->header();
  summary_.sealed = reader_->sealed();
  return true;
}

// What the writer removes when it opens the journal again (journal/recovery.cc): the newest
// segment with a prefix of its header, or zeros where the file system never wrote it.
bool Walker::HeaderNeverWritten() {
  if (!place_.newest || file_size_ > segment::kHeaderSize ||
      !journal::ParseSegmentName(BaseName(place_.path))) {
    return false;
  }
  auto head = ReadFileToString(Env::Posix(), place_.path);
  if (!head.ok()) return false;
  if (std::all_of(head->begin(), head->end(), [](char c) { return c == '\0'; })) return true;
  size_t n = std::min(head->size(), sizeof(segment::kSegmentMagic));
  return head->size() < segment::kHeaderSize &&
         std::memcmp(head->data(), segment::kSegmentMagic, n) == 0;
}

// The blocks in file order, as segment::ScanSegment walks them: a bad region with a good block
// after it is skipped up to that block; bad bytes with none after them end the data.
Status Walker::Walk() {
  ASSIGN_OR_RETURN(uint64_t limit, reader_->DataLimit());
  const bool ordered = reader_->header().kind == segment::SegmentKind::kOrdered;
  uint64_t offset =
      ordered && bounds_.from > 0 ? reader_->SeekHint(bounds_.from) : segment::kHeaderSize;
  std::vector<Record> records;
  while (!summary_.stopped && !summary_.past_stop) {
    BlockRef block;
    std::string why;
    ASSIGN_OR_RETURN(ProbeResult probe, reader_->Probe(offset, limit, &block, &why));
    if (probe == ProbeResult::kEnd) {
      reached_end_ = true;
      return Status::OK();
    }
    if (probe == ProbeResult::kBlock) {
      if (ordered && block.header.first_ts > bounds_.to) {
        summary_.past_stop = true;
        return Status::OK();
      }
      // Skipped on its header alone: its payload is not read, so not checked either.
      if (ordered && block.header.last_ts < bounds_.from) {
        offset = block.next_offset();
        continue;
      }
      Status s = reader_->ReadBlock(block, &records);
      if (s.ok()) {
        ReadRecords(block, records);
        offset = block.next_offset();
        continue;
      }
      why = WithoutPath(s.message(), fmt::format("{}: block at offset {}", place_.path, offset));
    }
    ASSIGN_OR_RETURN(std::optional<uint64_t> next, reader_->NextGoodBlock(offset, limit));
    if (!next && !reader_->sealed()) return Tail(offset, why);
    Unreadable(offset, why, next.value_or(limit));
    if (!next) {
      reached_end_ = true;
      return Status::OK();
    }
    offset = *next;
  }
  return Status::OK();
}

void Walker::ReadRecords(const BlockRef& block, const std::vector<Record>& records) {
  const bool ordered = reader_->header().kind == segment::SegmentKind::kOrdered;
  ++summary_.blocks;
  summary_.raw_bytes += block.header.raw_len;
  framed_records_ += records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (ordered && bounds_.full()) {
      if (auto problem = parts_.Next(r.ts, r.part, block.offset)) {
        Report(Level::kError, block.offset, *problem);
      }
    }
    if (r.ts < bounds_.from) continue;
    if (r.ts > bounds_.to) {
      if (!ordered) continue;
      summary_.past_stop = true;
      return;
    }
    if (!binlog_.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      Report(Level::kError, block.offset,
             fmt::format("record {} of the block (ts {}, {} bytes) does not parse as "
                         "binlog.pb.Binlog; not printed",
                         i, r.ts, r.payload.size()));
      continue;
    }
    ++summary_.records;
    summary_.first_ts = std::min(summary_.first_ts.value_or(UINT64_MAX), r.ts);
    summary_.last_ts = std::max(summary_.last_ts.value_or(0), r.ts);
    if (on_record_ &&
        !on_record_(r.ts, binlog_, RecordLocation{place_.path, block.offset, r.part})) {
      summary_.stopped = true;
      return;
    }
  }
}

// Bad bytes from offset up to the good block at `end` (or, sealed, up to the footer).
void Walker::Unreadable(uint64_t offset, const std::string& why, uint64_t end) {
  damaged_ = true;
  Report(Level::kError, offset,
         fmt::format("{} unreadable bytes skipped ({}), {}", end - offset, why,
                     reader_->sealed() && end == reader_->trailer()->index_offset
                         ? "up to the footer"
                         : fmt::format("reading on at offset {}", end)));
}

// Bytes at the end that are not blocks, with no good block after them. Only the newest segment
// of a directory, one without a footer, is still being written: there they are what a crash
// leaves (or zeros written ahead of the data). Anywhere else they are damage.
Status Walker::Tail(uint64_t offset, const std::string& why) {
  tail_ = true;
  reached_end_ = true;
  const uint64_t bytes = file_size_ - offset;
  ASSIGN_OR_RETURN(bool zeros, segment::AllZero(Env::Posix(), place_.path, offset, file_size_));
  if (zeros) summary_.stored_bytes = offset;
  ASSIGN_OR_RETURN(bool cut_footer, zeros ? false : FooterRemains(offset));
  if (!reader_->footer_status().ok()) {
    Report(Level::kError, offset,
           fmt::format("damaged footer ({}); the {} bytes from here to the end are not blocks: "
                       "damage, not a torn tail, as the segment was sealed",
                       WithoutPath(reader_->footer_status().message(), place_.path), bytes));
  } else if (cut_footer) {
    Report(Level::kError, offset,
           fmt::format("the {} bytes from here to the end are what is left of a footer: the "
                       "segment was sealed and has lost its end, damage rather than a torn tail",
                       bytes));
  } else if (!place_.newest) {
    Report(Level::kError, offset,
           fmt::format("{} of {} bytes ({}) in a segment that is not the newest: the writer seals "
                       "a segment before it starts the next, so this is damage",
                       zeros ? "zeros" : "torn tail", bytes, why));
  } else if (zeros) {
    // The pump preallocates wal/ and binlog/: a live active segment always ends so.
    Report(Level::kNote, offset,
           fmt::format("{} zero bytes written ahead of the data (a live segment's preallocated "
                       "space, or what a crash leaves; the writer cuts them when it closes or next "
                       "opens)",
                       bytes));
  } else {
    Report(Level::kWarning, offset,
           fmt::format("torn tail of {} bytes ({}): what a crash leaves behind; the writer cuts "
                       "it when it next opens",
                       bytes, why));
  }
  return Status::OK();
}

// Whether the bytes at offset start as this segment's footer would: with its first index entry
// (the first block's first_ts and offset 32), or, with no blocks, the trailer's magic. A sealed
// segment cut short keeps them; what a crash leaves in the middle of an append starts as a block.
Result<bool> Walker::FooterRemains(uint64_t offset) {
  std::string want(16, '\0');
  if (offset == segment::kHeaderSize) {
    want.resize(4);
    segment::PutFixed32(want.data(), segment::kTrailerMagic);
  } else {
    BlockRef first;
    ASSIGN_OR_RETURN(ProbeResult probe,
                     reader_->Probe(segment::kHeaderSize, offset, &first, nullptr));
    if (probe != ProbeResult::kBlock) return false;
    segment::PutFixed64(want.data(), first.header.first_ts);
    segment::PutFixed64(want.data() + 8, segment::kHeaderSize);
  }
  ASSIGN_OR_RETURN(auto file, Env::Posix()->NewRandomAccessFile(place_.path));
  std::string buf(want.size(), '\0');
  ASSIGN_OR_RETURN(std::string_view got, file->Read(offset, want.size(), buf.data()));
  // Four bytes at least: what an accident would match is then out of reach.
  return got.size() >= 4 && want.starts_with(got);
}

// What only a walk to the end can tell: a footer that disagrees with the blocks, a footer that
// is missing or damaged though the blocks end cleanly.
void Walker::CheckEnd() {
  summary_.transactions_in_parts = parts_.transactions();
  if (auto open = parts_.Open(); open && reached_end_) {
    if (place_.newest && !reader_->sealed()) {
      Report(Level::kWarning, std::nullopt,
             fmt::format("ends inside {}: being written, or cut by the writer when it next opens "
                         "(a crash came before its last part)",
                         *open));
    } else {
      Report(Level::kError, std::nullopt,
             fmt::format("ends inside {}, in a segment that is {}: its last part is lost", *open,
                         reader_->sealed() ? "sealed" : "not the newest"));
    }
  }
  if (!reached_end_ || tail_) return;
  if (!reader_->footer_status().ok()) {
    Report(Level::kError, std::nullopt,
           WithoutPath(reader_->footer_status().message(), place_.path));
  } else if (!reader_->sealed() && !place_.newest) {
    Report(Level::kError, file_size_,
           "no footer, though newer segments exist: the writer seals a segment before it starts "
           "the next, so its footer is lost (the blocks before it read)");
  } else if (reader_->sealed() && bounds_.full() && !damaged_) {
    const segment::Trailer& t = *reader_->trailer();
    if (t.record_count != framed_records_ || t.block_count != summary_.blocks) {
      Report(Level::kError, t.index_offset,
             fmt::format("the footer counts {} records in {} blocks, the blocks hold {} in {}",
                         t.record_count, t.block_count, framed_records_, summary_.blocks));
    }
  }
}

}  // namespace

SegmentSummary WalkSegment(const SegmentPlace& place, const WalkBounds& bounds, Reporter* reporter,
                           const RecordFn& on_record) {
  return Walker(place, bounds, reporter, on_record).Run();
}

}  // namespace binlog::segdump
