#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>

#include "segment/segment.h"

namespace binlog::segment {

namespace {

// A block's part flags describe its records: none for whole transactions, else exactly one
// record, a part, continuing as the flags say.
bool PartFlagsMatch(const BlockHeader& h, const std::vector<Record>& records) {
  if ((h.flags & kBlockHoldsPart) == 0) {
    return std::none_of(records.begin(), records.end(),
                        [](const Record& r) { return IsPart(r.part); });
  }
  return records.size() == 1 && IsPart(records[0].part) &&
         IsLastPart(records[0].part) != h.continues();
}

}  // namespace

struct SegmentReader::ZstdDContext {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~ZstdDContext() { ZSTD_freeDCtx(dctx); }
};

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(Env* env, const std::string& path) {
  std::unique_ptr<SegmentReader> r(new SegmentReader());
  r->env_ = env;
  r->path_ = path;
  ASSIGN_OR_RETURN(r->file_, env->NewRandomAccessFile(path));
  char buf[kTrailerSize];
  ASSIGN_OR_RETURN(std::string_view head, r->file_->Read(0, kHeaderSize, buf));
  auto header = DecodeSegmentHeader(head);
  if (!header.ok()) return header.status().WithContext(path);
  r->header_ = *header;
  r->dctx_ = std::make_shared<ZstdDContext>();

  ASSIGN_OR_RETURN(uint64_t size, r->file_->Size());
  if (size < kHeaderSize + kTrailerSize) return r;
  ASSIGN_OR_RETURN(std::string_view tail, r->file_->Read(size - kTrailerSize, kTrailerSize, buf));
  std::string trailer_bytes(tail);
  bool magic_damaged = false;
  if (Trailer t; !LooksLikeTrailer(trailer_bytes, &t)) {
    // A footer whose magic alone is damaged still checks out with the magic put back. The
    // segment was sealed then, and reading it as one a crash left open would pass the damage
    // off as a torn tail.
    if (trailer_bytes.size() != kTrailerSize) return r;
    PutFixed32(trailer_bytes.data(), kTrailerMagic);
    magic_damaged = true;
  }
  RETURN_IF_ERROR(r->ReadFooter(trailer_bytes, size, magic_damaged));
  return r;
}

Status SegmentReader::ReadFooter(std::string_view trailer_bytes, uint64_t size,
                                 bool magic_damaged) {
  Trailer t;
  (void)LooksLikeTrailer(trailer_bytes, &t);  // the magic is there (or put back)
  uint64_t index_bytes = uint64_t{t.index_count} * kIndexEntrySize;
  // Compared without adding the untrusted fields, which could wrap around to the file size.
  const bool fits = index_bytes <= size - kTrailerSize - kHeaderSize &&
                    t.index_offset == size - kTrailerSize - index_bytes;
  if (!fits) {
    if (magic_damaged) return Status::OK();  // not a footer: an unsealed segment's last bytes
    footer_status_ = Status::Corruption(
        fmt::format("{}: footer at offset {} has an index that does not fit the file", path_,
                    size - kTrailerSize));
    return Status::OK();
  }
  index_.resize(index_bytes);
  ASSIGN_OR_RETURN(std::string_view idx, file_->Read(t.index_offset, index_bytes, index_.data()));
  if (idx.size() != index_bytes) {
    if (magic_damaged) return Status::OK();  // shrank meanwhile: no footer to speak of
    return Status::IOError(path_ + ": short read of the footer");
  }
  if (idx.data() != index_.data()) index_.assign(idx);
  auto trailer = DecodeTrailer(trailer_bytes, index_);
  if (magic_damaged) {
    index_.clear();
    if (trailer.ok()) {
      footer_status_ = Status::Corruption(
          fmt::format("{}: footer at offset {}: the trailer magic is damaged, the rest of the "
                      "footer checks out",
                      path_, t.index_offset));
    }
    return Status::OK();
  }
  if (!trailer.ok()) {
    footer_status_ =
        trailer.status().WithContext(fmt::format("{}: footer at offset {}", path_, t.index_offset));
    index_.clear();
    return Status::OK();
  }
  trailer_ = *trailer;
  return Status::OK();
}

Result<uint64_t> SegmentReader::DataLimit() const {
  if (trailer_) return trailer_->index_offset;
  return file_->Size();
}

Result<ProbeResult> SegmentReader::Probe(uint64_t offset, uint64_t limit, BlockRef* out,
                                         std::string* why) const {
  if (offset >= limit) return ProbeResult::kEnd;
  char buf[kBlockHeaderSize];
  size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockHeaderSize, limit - offset));
  ASSIGN_OR_RETURN(std::string_view bytes, file_->Read(offset, want, buf));
  if (bytes.size() < kBlockHeaderSize) {
    if (why) *why = fmt::format("{} bytes, shorter than a block header", bytes.size());
    return ProbeResult::kIncomplete;
  }
  if (std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; })) {
    if (why) *why = "zero bytes where a block header should be";
    return ProbeResult::kUnwritten;
  }
  BlockHeaderState state = DecodeBlockHeader(bytes, &out->header);
  if (state != BlockHeaderState::kOk) {
    if (why) *why = BlockHeaderStateName(state);
    return ProbeResult::kBad;
  }
  out->offset = offset;
  // Whole only with its padding: the next block then starts on an 8-byte boundary inside the
  // file, and a scan's valid_end never lies past the end of the file.
  if (offset + PaddedBlockSize(out->header.stored_len) > limit) {
    if (why) *why = fmt::format("block of {} bytes runs past the end", out->header.stored_len);
    return ProbeResult::kIncomplete;
  }
  return ProbeResult::kBlock;
}

Status SegmentReader::ReadBlock(const BlockRef& block, std::vector<Record>* records) {
  const BlockHeader& h = block.header;
  records->clear();  // a failed block leaves no records behind, not even the previous block's
  stored_.resize(h.stored_len);
  auto where = [&](std::string_view what) {
    return Status::Corruption(fmt::format("{}: block at offset {}: {}", path_, block.offset, what));
  };
  ASSIGN_OR_RETURN(std::string_view payload,
                   file_->Read(block.offset + kBlockHeaderSize, h.stored_len, stored_.data()));
  if (payload.size() != h.stored_len) return where("payload is cut short");
  if (Checksum64(payload) != h.payload_check) return where("payload checksum mismatch");
  std::string_view raw = payload;
  if (h.codec == Compression::kZstd) {
    raw_.resize(h.raw_len);
    size_t n =
        ZSTD_decompressDCtx(dctx_->dctx, raw_.data(), raw_.size(), payload.data(), payload.size());
    if (ZSTD_isError(n) || n != h.raw_len) {
      return where(fmt::format(
          "zstd: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "decompressed size differs"));
    }
    raw = raw_;
  } else if (h.raw_len != h.stored_len) {
    return where("raw and stored lengths differ in an uncompressed block");
  } else if (payload.data() != stored_.data()) {
    stored_.assign(payload);
    raw = stored_;
  }
  const char* p = raw.data();
  const char* limit = raw.data() + raw.size();
  const bool tagged = header_.version >= 2;  // version 1 frames no part tag
  while (p < limit) {
    uint64_t ts = 0;
    uint64_t part = 0;
    uint64_t len = 0;
    if (!GetVarint64(&p, limit, &ts) || (tagged && !GetVarint64(&p, limit, &part)) ||
        part > UINT32_MAX || !GetVarint64(&p, limit, &len) ||
        len > static_cast<uint64_t>(limit - p)) {
      size_t n = records->size();
      records->clear();
      return where(fmt::format("record {} is badly framed", n));
    }
    records->push_back(Record{ts, std::string_view(p, len), static_cast<PartTag>(part)});
    p += len;
  }
  if (!records->empty() && !PartFlagsMatch(h, *records)) {
    records->clear();
    return where("its part flags do not match its record's part tag");
  }
  if (records->size() != h.record_count) {
    size_t n = records->size();
    records->clear();
    return where(fmt::format("holds {} records, header says {}", n, h.record_count));
  }
  return Status::OK();
}

uint64_t SegmentReader::SeekHint(uint64_t target) const {
  if (!trailer_ || header_.kind != SegmentKind::kOrdered || index_.empty()) return kHeaderSize;
  // The last entry whose block starts strictly before target: an earlier block may end at it.
  size_t lo = 0;
  size_t hi = index_.size() / kIndexEntrySize;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (GetFixed64(index_.data() + mid * kIndexEntrySize) < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return kHeaderSize;
  return GetFixed64(index_.data() + (lo - 1) * kIndexEntrySize + 8);
}

Result<std::optional<uint64_t>> SegmentReader::NextGoodBlock(uint64_t offset,
                                                             uint64_t limit) const {
  // Reads in large chunks and probes only aligned offsets that start with the block magic, so a
  // long damaged tail costs one pass, not a read per offset.
  constexpr size_t kChunk = 1 << 20;
  // Sized by what is left, not kChunk: a reader polling a block still being written calls this
  // for every poll, and a megabyte zeroed each time was most of its cost.
  std::string chunk;
  std::vector<Record> scratch;
  auto* self = const_cast<SegmentReader*>(this);
  uint64_t at = (offset + kBlockAlign) & ~(kBlockAlign - 1);
  while (at + kBlockHeaderSize <= limit) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, limit - at));
    if (chunk.size() < want) chunk.resize(want);
    ASSIGN_OR_RETURN(std::string_view bytes, file_->Read(at, want, chunk.data()));
    if (bytes.size() < kBlockHeaderSize) break;
    for (size_t i = 0; i + 4 <= bytes.size(); i += kBlockAlign) {
      if (GetFixed32(bytes.data() + i) != kBlockMagic) continue;
      BlockRef ref;
      ASSIGN_OR_RETURN(ProbeResult probe, Probe(at + i, limit, &ref, nullptr));
      if (probe == ProbeResult::kBlock && self->ReadBlock(ref, &scratch).ok()) {
        return std::optional<uint64_t>(at + i);
      }
    }
    at += bytes.size() & ~(kBlockAlign - 1);
  }
  return std::optional<uint64_t>();
}

SegmentIterator::SegmentIterator(SegmentReader* reader, uint64_t start_ts, uint64_t stop_ts)
    : reader_(reader), start_ts_(start_ts), stop_ts_(stop_ts), offset_(kHeaderSize) {}

SegmentIterator::SegmentIterator(SegmentReader* reader, uint64_t start_ts, uint64_t stop_ts,
                                 uint64_t resume_offset)
    : reader_(reader),
      start_ts_(start_ts),
      stop_ts_(stop_ts),
      offset_(resume_offset),
      positioned_(true) {}

Result<SegmentIterator::State> SegmentIterator::LoadNextBlock() {
  if (!positioned_) {
    offset_ = reader_->SeekHint(start_ts_);
    positioned_ = true;
  }
  bool ordered = reader_->header().kind == SegmentKind::kOrdered;
  ASSIGN_OR_RETURN(uint64_t limit, reader_->DataLimit());
  while (true) {
    BlockRef ref;
    std::string why;
    ASSIGN_OR_RETURN(ProbeResult probe, reader_->Probe(offset_, limit, &ref, &why));
    if (probe == ProbeResult::kEnd) return State::kEnd;
    // The writer's zeros past its data: the end for now, without scanning them for good blocks
    // at every look (recovery and verification still do).
    if (probe == ProbeResult::kUnwritten && !reader_->sealed()) return State::kIncomplete;
    if (probe != ProbeResult::kBlock) {
      ASSIGN_OR_RETURN(auto more, reader_->NextGoodBlock(offset_, limit));
      if (more || reader_->sealed()) {
        if (on_damage_) {
          on_damage_(Damage{offset_, (more ? *more : limit) - offset_, why});
          if (!more) return State::kEnd;
          offset_ = *more;
          continue;
        }
        return Status::Corruption(
            fmt::format("{}: block at offset {}: {}", reader_->path(), offset_, why));
      }
      return State::kIncomplete;
    }
    if (ordered && ref.header.first_ts > stop_ts_) return State::kPastStop;
    if (ordered && ref.header.last_ts < start_ts_) {
      offset_ = ref.next_offset();
      continue;
    }
    Status s = reader_->ReadBlock(ref, &records_);
    if (!s.ok()) {
      // A payload that fails its check at the very end of an active segment may still be
      // being written; only good blocks after it prove damage.
      ASSIGN_OR_RETURN(auto more, reader_->NextGoodBlock(offset_, limit));
      if (more || reader_->sealed()) {
        if (!on_damage_) return s;
        on_damage_(Damage{offset_, (more ? *more : limit) - offset_, s.message()});
        if (!more) return State::kEnd;
        offset_ = *more;
        continue;
      }
      return State::kIncomplete;
    }
    offset_ = ref.next_offset();
    next_ = 0;
    return State::kRecord;
  }
}

Result<SegmentIterator::State> SegmentIterator::Next(Record* out) {
  while (true) {
    while (next_ < records_.size()) {
      const Record& r = records_[next_++];
      if (r.ts < start_ts_) continue;
      if (r.ts > stop_ts_) {
        if (reader_->header().kind == SegmentKind::kOrdered) return State::kPastStop;
        continue;
      }
      *out = r;
      return State::kRecord;
    }
    records_.clear();
    next_ = 0;
    ASSIGN_OR_RETURN(State s, LoadNextBlock());
    if (s != State::kRecord) return s;
  }
}

}  // namespace binlog::segment
