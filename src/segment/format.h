// Byte layouts of a segment file (docs/FORMAT.md draws every byte). All integers little-endian.
//
//   segment := header block* [footer]
//   header  := 32 bytes: magic, version, compression, kind, created time, header check
//   block   := 48-byte block header, payload (stored_len bytes), zero padding to 8 bytes
//   footer  := index entries (16 bytes each), 64-byte trailer ending the file
//
// Blocks start on 8-byte boundaries so a resync after damage only probes aligned offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace binlog::segment {

inline constexpr char kSegmentMagic[8] = {'\x89', 'B', 'I', 'N', 'L', 'O', 'G', '\n'};
// The version writers write. Readers read every version from kOldestFormatVersion on: version 1
// frames a record as ts, len, payload; version 2 adds the record's part tag and block flags.
inline constexpr uint16_t kFormatVersion = 2;
inline constexpr uint16_t kOldestFormatVersion = 1;
inline constexpr size_t kHeaderSize = 32;
inline constexpr uint32_t kBlockMagic = 0x314B4C42;    // "BLK1" on disk
inline constexpr uint32_t kTrailerMagic = 0x31525446;  // "FTR1" on disk
inline constexpr size_t kBlockHeaderSize = 48;
inline constexpr size_t kIndexEntrySize = 16;
inline constexpr size_t kTrailerSize = 64;
inline constexpr size_t kBlockAlign = 8;
// A block larger than this is refused by the writer and treated as damage by the reader.
inline constexpr uint32_t kMaxBlockBytes = 64u << 20;

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };
// kOrdered: records in strictly increasing ts (pump binlog/, relay logs, file sink).
// kArrival: records in arrival order (a pump's wal/); ts bounds are min/max, not first/last.
enum class SegmentKind : uint8_t { kOrdered = 0, kArrival = 1 };

const char* CompressionName(Compression c);

// A record's place in its transaction (format version 2; every version 1 record is whole). A
// transaction too large for one record is several consecutive records with the same ts, its
// parts: tags MakePartTag(0, false), MakePartTag(1, false), ..., MakePartTag(n - 1, true).
using PartTag = uint32_t;
inline constexpr PartTag kWholeTransaction = 0;
inline constexpr PartTag MakePartTag(uint32_t index, bool last) {
  return ((index + 1) << 1) | (last ? 1u : 0u);
}
inline constexpr bool IsPart(PartTag tag) { return tag != kWholeTransaction; }
inline constexpr uint32_t PartIndex(PartTag tag) { return IsPart(tag) ? (tag >> 1) - 1 : 0; }
// True for a whole transaction and for the last part: the transaction ends with this record.
inline constexpr bool IsLastPart(PartTag tag) { return !IsPart(tag) || (tag & 1) != 0; }
// The largest part index a tag holds (the tag is a u32, written as a varint).
inline constexpr uint32_t kMaxPartIndex = (UINT32_MAX >> 1) - 1;

// Block flags (byte 33 of a version 2 block header; zero in version 1). A part is always alone
// in its block, so recovery and verification see a transaction's shape from headers alone.
inline constexpr uint8_t kBlockHoldsPart = 1;      // the block's one record is a part
inline constexpr uint8_t kBlockPartContinues = 2;  // ... and not the last one
inline constexpr uint8_t kKnownBlockFlags = kBlockHoldsPart | kBlockPartContinues;

struct SegmentHeader {
  uint16_t version = kFormatVersion;
  Compression compression = Compression::kZstd;
  SegmentKind kind = SegmentKind::kOrdered;
  int64_t created_micros = 0;
};

struct BlockHeader {
  uint32_t stored_len = 0;  // payload bytes on disk
  uint32_t raw_len = 0;     // payload bytes after decompression
  uint32_t record_count = 0;
  uint64_t first_ts = 0;  // kArrival segments: the smallest ts in the block
  uint64_t last_ts = 0;   // kArrival segments: the largest ts in the block
  Compression codec = Compression::kZstd;
  uint8_t flags = 0;           // kBlockHoldsPart, kBlockPartContinues
  uint64_t payload_check = 0;  // XXH3-64 of the stored payload
  // The block ends inside a transaction: more of its parts follow.
  bool continues() const { return (flags & kBlockPartContinues) != 0; }
};

struct Trailer {
  uint32_t index_count = 0;
  uint64_t index_offset = 0;  // where the footer starts: the end of the block area
  uint64_t block_count = 0;
  uint64_t record_count = 0;
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;
  uint64_t raw_bytes = 0;  // sum of blocks' raw_len
};

inline size_t PaddedBlockSize(uint32_t stored_len) {
  size_t n = kBlockHeaderSize + stored_len;
  return (n + kBlockAlign - 1) & ~(kBlockAlign - 1);
}

std::string EncodeSegmentHeader(const SegmentHeader& h);
// Corruption when the check fails; Unsupported for an unknown version; InvalidArgument
// ("not a segment file") for a wrong magic.
Result<SegmentHeader> DecodeSegmentHeader(std::string_view bytes);

// Writes the 48 header bytes for a payload into out (which must hold kBlockHeaderSize).
void EncodeBlockHeader(const BlockHeader& h, char* out);
enum class BlockHeaderState { kOk, kZero, kBadMagic, kBadCheck, kBadLength };
// Decodes and checks the header's own checksum and sanity (length bounds, codec).
BlockHeaderState DecodeBlockHeader(std::string_view bytes, BlockHeader* out);
const char* BlockHeaderStateName(BlockHeaderState s);

std::string EncodeTrailer(const Trailer& t, std::string_view index_bytes);
// Returns NotFound when the bytes are not a trailer (no magic): the segment is not sealed.
// Corruption when the magic is there but the check over index and trailer fails.
Result<Trailer> DecodeTrailer(std::string_view trailer_bytes, std::string_view index_bytes);
// The trailer's magic check alone, to learn how many index bytes to read.
bool LooksLikeTrailer(std::string_view trailer_bytes, Trailer* out);

uint64_t Checksum64(std::string_view data);
uint32_t Checksum32(std::string_view data);

// Little-endian fixed-width and varint helpers shared by the segment code.
void PutFixed16(char* p, uint16_t v);
void PutFixed32(char* p, uint32_t v);
void PutFixed64(char* p, uint64_t v);
uint16_t GetFixed16(const char* p);
uint32_t GetFixed32(const char* p);
uint64_t GetFixed64(const char* p);
void PutVarint64(std::string* out, uint64_t v);
// Advances *p; returns false when the varint runs past limit or is longer than 10 bytes.
bool GetVarint64(const char** p, const char* limit, uint64_t* v);

}  // namespace binlog::segment
