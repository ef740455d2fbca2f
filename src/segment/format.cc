#include "segment/format.h"

#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t for streaming the footer checksum
#include <xxhash.h>

#include <cstring>

namespace binlog::segment {

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

uint64_t Checksum64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }
uint32_t Checksum32(std::string_view data) { return static_cast<uint32_t>(Checksum64(data)); }

void PutFixed16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
void PutFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void PutFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint16_t GetFixed16(const char* p) {
  auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  auto* u = reinterpret_cast<const unsigned char*>(p);
  for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  auto* u = reinterpret_cast<const unsigned char*>(p);
  for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}

void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint64(const char** p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *p < limit; shift += 7) {
    auto byte = static_cast<unsigned char>(**p);
    ++*p;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// Header: magic[8] version:u16 compression:u8 kind:u8 reserved:u32 created_micros:i64
//         reserved:u32 check:u32 (low 32 bits of XXH3-64 over bytes 0..27)
std::string EncodeSegmentHeader(const SegmentHeader& h) {
  std::string out(kHeaderSize, '\0');
  std::memcpy(out.data(), kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed16(&out[8], h.version);
  out[10] = static_cast<char>(h.compression);
  out[11] = static_cast<char>(h.kind);
  PutFixed64(&out[16], static_cast<uint64_t>(h.created_micros));
  PutFixed32(&out[28], Checksum32(std::string_view(out.data(), 28)));
  return out;
}

Result<SegmentHeader> DecodeSegmentHeader(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) {
    return Status::Corruption(
        fmt::format("segment header is {} bytes, expected {}", bytes.size(), kHeaderSize));
  }
  if (std::memcmp(bytes.data(), kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return Status::InvalidArgument("not a segment file (wrong magic at offset 0)");
  }
  // Only the magic and the version have the same place in every version: a later version may
  // lay out (and check) the rest of its header differently, so the version is read first.
  SegmentHeader h;
  h.version = GetFixed16(bytes.data() + 8);
  if (h.version < kOldestFormatVersion || h.version > kFormatVersion) {
    return Status::Unsupported(fmt::format(
        "segment format version {} is not supported (this build reads versions {} to {})",
        h.version, kOldestFormatVersion, kFormatVersion));
  }
  uint32_t want = GetFixed32(bytes.data() + 28);
  if (Checksum32(bytes.substr(0, 28)) != want) {
    return Status::Corruption("segment header checksum mismatch at offset 0");
  }
  auto compression = static_cast<uint8_t>(bytes[10]);
  auto kind = static_cast<uint8_t>(bytes[11]);
  if (compression > 1 || kind > 1) {
    return Status::Corruption(
        fmt::format("segment header has unknown compression {} or kind {}", compression, kind));
  }
  h.compression = static_cast<Compression>(compression);
  h.kind = static_cast<SegmentKind>(kind);
  h.created_micros = static_cast<int64_t>(GetFixed64(bytes.data() + 16));
  return h;
}

// Block header: magic:u32 stored_len:u32 raw_len:u32 record_count:u32 first_ts:u64 last_ts:u64
//               codec:u8 flags:u8 (version 2; zero in version 1) reserved[2] header_check:u32
//               payload_check:u64
void EncodeBlockHeader(const BlockHeader& h, char* out) {
  std::memset(out, 0, kBlockHeaderSize);
  PutFixed32(out, kBlockMagic);
  PutFixed32(out + 4, h.stored_len);
  PutFixed32(out + 8, h.raw_len);
  PutFixed32(out + 12, h.record_count);
  PutFixed64(out + 16, h.first_ts);
  PutFixed64(out + 24, h.last_ts);
  out[32] = static_cast<char>(h.codec);
  out[33] = static_cast<char>(h.flags);
  PutFixed32(out + 36, Checksum32(std::string_view(out, 36)));
  PutFixed64(out + 40, h.payload_check);
}

BlockHeaderState DecodeBlockHeader(std::string_view bytes, BlockHeader* out) {
  const char* p = bytes.data();
  uint32_t magic = GetFixed32(p);
  if (magic != kBlockMagic) {
    bool zero = true;
    for (size_t i = 0; i < kBlockHeaderSize && zero; ++i) zero = p[i] == 0;
    return zero ? BlockHeaderState::kZero : BlockHeaderState::kBadMagic;
  }
  if (Checksum32(std::string_view(p, 36)) != GetFixed32(p + 36)) {
    return BlockHeaderState::kBadCheck;
  }
  out->stored_len = GetFixed32(p + 4);
  out->raw_len = GetFixed32(p + 8);
  out->record_count = GetFixed32(p + 12);
  out->first_ts = GetFixed64(p + 16);
  out->last_ts = GetFixed64(p + 24);
  auto codec = static_cast<uint8_t>(p[32]);
  out->flags = static_cast<uint8_t>(p[33]);
  out->payload_check = GetFixed64(p + 40);
  const bool part_flags_ok =
      (out->flags & ~kKnownBlockFlags) == 0 &&
      (out->flags == 0 || ((out->flags & kBlockHoldsPart) != 0 && out->record_count == 1));
  if (out->stored_len > kMaxBlockBytes || out->raw_len > kMaxBlockBytes || codec > 1 ||
      out->first_ts > out->last_ts || !part_flags_ok) {
    return BlockHeaderState::kBadLength;
  }
  out->codec = static_cast<Compression>(codec);
  return BlockHeaderState::kOk;
}

const char* BlockHeaderStateName(BlockHeaderState s) {
  switch (s) {
    case BlockHeaderState::kOk:
      return "ok";
    case BlockHeaderState::kZero:
      return "zero-filled block header";
    case BlockHeaderState::kBadMagic:
      return "bad block magic";
    case BlockHeaderState::kBadCheck:
      return "block header checksum mismatch";
    case BlockHeaderState::kBadLength:
      return "block header fields out of range";
  }
  return "unknown";
}

// Trailer: magic:u32 index_count:u32 index_offset:u64 block_count:u64 record_count:u64
//          first_ts:u64 last_ts:u64 raw_bytes:u64 check:u64 (XXH3-64 of index + bytes 0..55)
std::string EncodeTrailer(const Trailer& t, std::string_view index_bytes) {
  std::string out(kTrailerSize, '\0');
  char* p = out.data();
  PutFixed32(p, kTrailerMagic);
  PutFixed32(p + 4, t.index_count);
  PutFixed64(p + 8, t.index_offset);
  PutFixed64(p + 16, t.block_count);
  PutFixed64(p + 24, t.record_count);
  PutFixed64(p + 32, t.first_ts);
  PutFixed64(p + 40, t.last_ts);
  PutFixed64(p + 48, t.raw_bytes);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, index_bytes.data(), index_bytes.size());
  XXH3_64bits_update(&state, p, 56);
  PutFixed64(p + 56, XXH3_64bits_digest(&state));
  return out;
}

bool LooksLikeTrailer(std::string_view bytes, Trailer* out) {
  if (bytes.size() != kTrailerSize || GetFixed32(bytes.data()) != kTrailerMagic) return false;
  const char* p = bytes.data();
  out->index_count = GetFixed32(p + 4);
  out->index_offset = GetFixed64(p + 8);
  out->block_count = GetFixed64(p + 16);
  out->record_count = GetFixed64(p + 24);
  out->first_ts = GetFixed64(p + 32);
  out->last_ts = GetFixed64(p + 40);
  out->raw_bytes = GetFixed64(p + 48);
  return true;
}

Result<Trailer> DecodeTrailer(std::string_view bytes, std::string_view index_bytes) {
  Trailer t;
  if (!LooksLikeTrailer(bytes, &t)) return Status::NotFound("no segment trailer");
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, index_bytes.data(), index_bytes.size());
  XXH3_64bits_update(&state, bytes.data(), 56);
  if (XXH3_64bits_digest(&state) != GetFixed64(bytes.data() + 56)) {
    return Status::Corruption("footer checksum mismatch");
  }
  return t;
}

}  // namespace binlog::segment
