// Journal recovery at open, and removal of whole segments (GC, a pump's resolved wal).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "common/logging.h"
#include "journal/journal.h"

namespace binlog::journal {

namespace {

// A crash between creating a segment and syncing its header leaves a prefix of the header, or
// zeros where the file system allocated but never wrote; anything else is not ours to remove.
bool HeaderNeverWritten(std::string_view head) {
  if (std::all_of(head.begin(), head.end(), [](char c) { return c == '\0'; })) return true;
  size_t n = std::min(head.size(), sizeof(segment::kSegmentMagic));
  return head.size() < segment::kHeaderSize &&
         std::memcmp(head.data(), segment::kSegmentMagic, n) == 0;
}

}  // namespace

Status Journal::Recover() {
  ASSIGN_OR_RETURN(std::vector<SegmentName> segments, ListSegments(options_.env, dir_));
  for (size_t i = 0; i < segments.size(); ++i) {
    RETURN_IF_ERROR(RecoverSegment(segments[i], i + 1 == segments.size()));
  }
  if (!segments.empty()) next_sequence_ = segments.back().ts + 1;
  enqueued_ = AppendOrder{last_durable_ts_, false, 0};
  return Status::OK();
}

Status Journal::RecoverSegment(const SegmentName& seg, bool is_last) {
  Env* env = options_.env;
  std::string path = JoinPath(dir_, seg.name);
  // A GC in another process (binlog-gc, docs/GC.md) deletes sealed segments that are not the
  // newest without the writer's lock: one listed a moment ago may be gone. Nothing of it is
  // needed here, its records are expired and the ts floor lives in the newest segments.
  auto vanished = [&](const Status& s) { return s.IsNotFound() && !is_last; };
  Result<uint64_t> size_or = env->GetFileSize(path);
  if (!size_or.ok() && vanished(size_or.status())) {
    LOG_INFO("a segment was removed by GC during recovery", KV("file", path));
    return Status::OK();
  }
  ASSIGN_OR_RETURN(uint64_t size, std::move(size_or));
  if (is_last && size <= segment::kHeaderSize) {
    ASSIGN_OR_RETURN(std::string head, ReadFileToString(env, path));
    if (HeaderNeverWritten(head)) {
      // Created, but the header never reached the disk: the crash came before any append.
      LOG_WARN("removing a segment whose header was never written", KV("file", path),
               KV("size", size));
      return RemoveSegment(path);
    }
  }
  auto reader_or = segment::SegmentReader::Open(env, path);
  if (!reader_or.ok() && vanished(reader_or.status())) {
    LOG_INFO("a segment was removed by GC during recovery", KV("file", path));
    return Status::OK();
  }
  ASSIGN_OR_RETURN(auto reader, std::move(reader_or));
  if (reader->header().kind != options_.segment.kind) {
    return Status::InvalidArgument(fmt::format(
        "{}: segment kind does not match this journal (ordered vs arrival order)", path));
  }
  if (reader->sealed()) {
    last_durable_ts_ = std::max(last_durable_ts_, reader->trailer()->last_ts);
    return Status::OK();
  }
  segment::ScanOptions scan_options;
  scan_options.index_interval_bytes = options_.segment.index_interval_bytes;
  ASSIGN_OR_RETURN(segment::ScanResult scan, segment::ScanSegment(env, path, scan_options));
  if (!scan.damages.empty()) {
    const segment::Damage& d = scan.damages.front();
    if (!options_.salvage) {
      return Status::Corruption(fmt::format(
          "{}: {} at offset {} ({} bytes), with good blocks after it; refusing to open a "
          "damaged journal. Inspect it with `segdump --verify {}`; opening with salvage keeps "
          "the file as {}.broken and goes on with its good blocks",
          path, d.reason, d.offset, d.length, path, path));
    }
    LOG_WARN("salvaging a damaged segment", KV("file", path), KV("offset", d.offset),
             KV("reason", d.reason), KV("damaged-regions", scan.damages.size()),
             KV("kept-as", path + ".broken"));
    ASSIGN_OR_RETURN(scan, segment::SalvageSegment(env, path, scan));
  }
  if (scan.torn_tail_at && scan.tail_unwritten) {
    LOG_INFO("cutting the zeros written ahead of the data", KV("file", path),
             KV("offset", *scan.torn_tail_at), KV("bytes", scan.file_size - *scan.torn_tail_at));
  } else if (scan.torn_tail_at) {
    LOG_WARN("cutting a torn tail left by a crash", KV("file", path),
             KV("offset", *scan.torn_tail_at), KV("bytes", scan.file_size - *scan.torn_tail_at));
  }
  if (scan.open_transaction) {
    // Its last part was never written: the transaction never arrived, as far as anyone may
    // rely on. Its writer sends it again, whole (docs/FORMAT.md, "Transactions in parts").
    const segment::ScanResult::OpenTransaction& open = *scan.open_transaction;
    LOG_WARN("cutting a transaction a crash left without its last part", KV("file", path),
             KV("ts", open.ts), KV("offset", open.offset), KV("parts", open.parts),
             KV("bytes", scan.valid_end - open.offset));
    scan.valid_end = open.offset;
    scan.footer = open.footer_before;
    scan.open_transaction.reset();
  }
  if (is_last && scan.footer.totals().block_count == 0) {
    // Its name is the first ts of an append that never became durable, which may be above the
    // ts that come next: filled with those, it would sort after the segment that follows it.
    LOG_WARN("removing a segment a crash left without a record", KV("file", path));
    return RemoveSegment(path);
  }
  ASSIGN_OR_RETURN(auto writer, segment::SegmentWriter::Reopen(env, path, options_.segment, scan));
  if (scan.footer.totals().block_count > 0) {
    last_durable_ts_ = std::max(last_durable_ts_, scan.footer.totals().last_ts);
  }
  if (!is_last) {
    LOG_WARN("sealing a segment a crash left unsealed", KV("file", path));
    return writer->Seal();
  }
  if (scan.header.version != segment::kFormatVersion) {
    // Blocks of this build's version cannot go into it; the next append starts a new segment.
    LOG_INFO("sealing a segment of an earlier format version", KV("file", path),
             KV("version", scan.header.version));
    return writer->Seal();
  }
  active_ = std::move(writer);
  active_name_ts_ = seg.ts;
  active_name_ = seg.name;
  return Status::OK();
}

Status Journal::RemoveSegment(const std::string& path) {
  RETURN_IF_ERROR(options_.env->DeleteFile(path));
  return options_.env->SyncDir(dir_);
}

Result<size_t> Journal::RemoveSealedSegments(
    const std::function<bool(const SegmentName&, const segment::Trailer&)>& pred) {
  Env* env = options_.env;
  ASSIGN_OR_RETURN(std::vector<SegmentName> segments, ListSegments(env, dir_, false));
  size_t removed = 0;
  for (const SegmentName& seg : segments) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (seg.name == active_name_) break;  // it and everything newer are still being written
    }
    std::string path = JoinPath(dir_, seg.name);
    auto reader = segment::SegmentReader::Open(env, path);
    if (!reader.ok() && reader.status().IsNotFound()) continue;  // another GC was first
    if (!reader.ok()) {
      // Being created right now, or damaged: either way not something to delete unread.
      LOG_WARN("segment removal stops at a segment it cannot read", KV("file", path),
               KV("error", reader.status()));
      break;
    }
    if (!(*reader)->sealed()) break;
    if (!pred(seg, *(*reader)->trailer())) continue;
    Status deleted = env->DeleteFile(path);
    if (deleted.IsNotFound()) continue;  // another GC was first (docs/GC.md)
    RETURN_IF_ERROR(deleted);
    ++removed;
  }
  if (removed > 0) RETURN_IF_ERROR(env->SyncDir(dir_));
  return removed;
}

Result<uint64_t> Journal::DiskUsage() const {
  ASSIGN_OR_RETURN(std::vector<SegmentName> segments, ListSegments(options_.env, dir_, false));
  uint64_t total = 0;
  for (const SegmentName& seg : segments) {
    auto size = options_.env->GetFileSize(JoinPath(dir_, seg.name));
    if (size.ok()) total += *size;  // removed by GC since the listing
  }
  return total;
}

}  // namespace binlog::journal
