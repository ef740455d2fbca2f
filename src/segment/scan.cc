// Whole-segment scans: verification, crash recovery of the active segment, salvage.
#include <fmt/format.h>

#include <algorithm>

#include "segment/segment.h"

namespace binlog::segment {

Result<bool> AllZero(Env* env, const std::string& path, uint64_t from, uint64_t to) {
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  std::string chunk(std::min<uint64_t>(to - from, 1 << 20), '\0');
  for (uint64_t at = from; at < to;) {
    const auto want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), to - at));
    ASSIGN_OR_RETURN(std::string_view got, file->Read(at, want, chunk.data()));
    if (got.empty()) break;
    if (!std::all_of(got.begin(), got.end(), [](char c) { return c == '\0'; })) return false;
    at += got.size();
  }
  return true;
}

namespace {

// Tracks the transaction a good block belongs to (before the block is added to the footer);
// returns what is wrong with the sequence of parts, empty when nothing. `records` are the
// block's, or empty when payloads are not read (then part indexes are not checked).
std::string FollowTransaction(uint64_t offset, const BlockHeader& h,
                              const std::vector<Record>& records, ScanResult* result) {
  auto& open = result->open_transaction;
  if ((h.flags & kBlockHoldsPart) == 0) {
    if (!open) return "";
    std::string why = fmt::format(
        "the transaction at ts {} (parts from offset {}) ends without "
        "its last part",
        open->ts, open->offset);
    open.reset();
    return why;
  }
  const bool ordered = result->header.kind == SegmentKind::kOrdered;
  const uint32_t index = records.empty() ? 0 : PartIndex(records[0].part);
  if (ordered && open && h.first_ts != open->ts) {
    std::string why =
        fmt::format("a part with ts {} inside the transaction at ts {}", h.first_ts, open->ts);
    open.reset();
    return why;
  }
  if (ordered && !open) {
    open = ScanResult::OpenTransaction{offset, h.first_ts, 0, result->footer};
  }
  std::string why;
  if (ordered && !records.empty() && index != open->parts) {
    why = fmt::format("part {} of the transaction at ts {} where part {} belongs", index, open->ts,
                      open->parts);
  }
  if (ordered) ++open->parts;
  if (!h.continues()) open.reset();
  return why;
}

}  // namespace

Result<ScanResult> ScanSegment(Env* env, const std::string& path, const ScanOptions& options) {
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(env, path));
  ScanResult result;
  result.header = reader->header();
  result.trailer = reader->trailer();
  result.footer_status = reader->footer_status();
  result.footer = FooterBuilder(options.index_interval_bytes);
  ASSIGN_OR_RETURN(result.file_size, env->GetFileSize(path));
  ASSIGN_OR_RETURN(uint64_t limit, reader->DataLimit());

  std::vector<Record> records;
  uint64_t offset = kHeaderSize;
  while (true) {
    BlockRef ref;
    std::string why;
    ASSIGN_OR_RETURN(ProbeResult probe, reader->Probe(offset, limit, &ref, &why));
    if (probe == ProbeResult::kEnd) break;
    if (probe == ProbeResult::kBlock) {
      Status s = options.verify_payloads ? reader->ReadBlock(ref, &records) : Status::OK();
      if (s.ok()) {
        if (std::string broken = FollowTransaction(offset, ref.header, records, &result);
            !broken.empty()) {
          result.damages.push_back(Damage{offset, 0, std::move(broken)});
        }
        result.footer.AddBlock(offset, ref.header);
        if (options.keep_block_offsets) result.good_block_offsets.push_back(offset);
        offset = ref.next_offset();
        result.valid_end = offset;
        continue;
      }
      why = s.message();
    }
    ASSIGN_OR_RETURN(std::optional<uint64_t> next, reader->NextGoodBlock(offset, limit));
    if (!next && !result.trailer) {
      result.torn_tail_at = offset;
      ASSIGN_OR_RETURN(result.tail_unwritten, AllZero(env, path, offset, limit));
      break;
    }
    uint64_t end = next.value_or(limit);
    result.damages.push_back(Damage{offset, end - offset, why});
    offset = end;
  }
  if (result.trailer && result.trailer->record_count != result.footer.totals().record_count &&
      result.damages.empty()) {
    result.damages.push_back(
        Damage{result.trailer->index_offset, 0,
               fmt::format("footer counts {} records, the blocks hold {}",
                           result.trailer->record_count, result.footer.totals().record_count)});
  }
  return result;
}

Result<ScanResult> SalvageSegment(Env* env, const std::string& path, const ScanResult& scan) {
  // An earlier salvage's evidence is never overwritten: the next free .broken name is used.
  std::string broken = path + ".broken";
  for (int n = 1; env->FileExists(broken); ++n) broken = fmt::format("{}.broken.{}", path, n);
  RETURN_IF_ERROR(env->CopyFile(path, broken));

  ScanOptions options;
  options.keep_block_offsets = true;
  ASSIGN_OR_RETURN(ScanResult full, ScanSegment(env, path, options));
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(env, path));
  std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(auto out, env->NewWritableFile(tmp));
  RETURN_IF_ERROR(out->Append(EncodeSegmentHeader(scan.header)));
  FooterBuilder footer(options.index_interval_bytes);
  uint64_t size = kHeaderSize;
  ASSIGN_OR_RETURN(uint64_t limit, reader->DataLimit());
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  std::string buf;
  for (uint64_t offset : full.good_block_offsets) {
    BlockRef ref;
    ASSIGN_OR_RETURN(ProbeResult probe, reader->Probe(offset, limit, &ref, nullptr));
    if (probe != ProbeResult::kBlock) return Status::IOError(path + ": changed during salvage");
    size_t n = PaddedBlockSize(ref.header.stored_len);
    buf.resize(n);
    ASSIGN_OR_RETURN(std::string_view block, file->Read(offset, n, buf.data()));
    if (block.size() < kBlockHeaderSize + ref.header.stored_len) {
      return Status::IOError(path + ": short read during salvage");
    }
    std::string copy(block);
    copy.resize(n, '\0');  // padding is zero by format; do not carry damaged padding along
    std::fill(copy.begin() + kBlockHeaderSize + ref.header.stored_len, copy.end(), '\0');
    RETURN_IF_ERROR(out->Append(copy));
    footer.AddBlock(size, ref.header);
    size += n;
  }
  if (scan.trailer) RETURN_IF_ERROR(out->Append(footer.Finish(size)));
  RETURN_IF_ERROR(out->Sync());
  RETURN_IF_ERROR(out->Close());
  RETURN_IF_ERROR(env->RenameFile(tmp, path));
  RETURN_IF_ERROR(env->SyncDir(DirName(path)));
  return ScanSegment(env, path, ScanOptions());
}

}  // namespace binlog::segment
