// One segment file: encode blocks, write and seal, read, seek, verify, recover a torn tail.
//
// A segment holds records: a commit ts and opaque payload bytes (a serialized binlog.pb.Binlog;
// this layer never parses them). Writers encode records into self-contained blocks outside any
// lock (BlockEncoder), then append whole blocks. A sealed segment ends with a footer (a sparse
// ts -> offset index and totals) and is never written again. See docs/FORMAT.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "segment/format.h"

namespace binlog::segment {

struct Record {
  uint64_t ts = 0;
  std::string_view payload;
  PartTag part = kWholeTransaction;  // a part of a transaction split over several records
};

struct SegmentOptions {
  Compression compression = Compression::kZstd;
  // Level 3 is slower and no smaller on binlog data (measured). Negative levels keep Huffman
  // coding of literals (see BlockEncoder).
  int zstd_level = 1;
  SegmentKind kind = SegmentKind::kOrdered;
  size_t block_bytes = 64 << 10;             // raw bytes per block before a batch is split
  uint64_t index_interval_bytes = 64 << 10;  // one index entry per this many file bytes
};

// A block ready to append: header, payload and padding in `bytes`.
struct EncodedBlock {
  std::string bytes;
  BlockHeader header;
  PartTag part = kWholeTransaction;  // the tag of its record, when it holds a part
};

// Encodes records into blocks. Owns a compression context; not thread-safe (one per thread).
class BlockEncoder {
 public:
  explicit BlockEncoder(const SegmentOptions& options);
  ~BlockEncoder();
  BlockEncoder(const BlockEncoder&) = delete;
  BlockEncoder& operator=(const BlockEncoder&) = delete;

  // Appends one or more blocks for records to out, splitting at options.block_bytes; a part of
  // a transaction gets a block of its own. InvalidArgument when a single record is larger than
  // a block may be.
  Status Encode(std::span<const Record> records, std::vector<EncodedBlock>* out);

 private:
  Status EncodeOne(std::span<const Record> records, size_t raw_size, EncodedBlock* out);
  struct ZstdContext;
  SegmentOptions options_;
  std::unique_ptr<ZstdContext> zstd_;
  std::string raw_;
};

// Tracks what a footer needs while blocks are appended (or found by a recovery scan), so the
// writer and recovery build the same index from the same blocks.
class FooterBuilder {
 public:
  explicit FooterBuilder(uint64_t index_interval_bytes) : interval_(index_interval_bytes) {}
  void AddBlock(uint64_t offset, const BlockHeader& h);
  // Index entries followed by the trailer; `index_offset` is where they will be written.
  std::string Finish(uint64_t index_offset) const;
  const Trailer& totals() const { return totals_; }

 private:
  uint64_t interval_;
  uint64_t last_indexed_offset_ = 0;
  std::string index_;
  Trailer totals_;
};

// What a scan of a segment's block area found. Offsets are byte offsets in the file.
struct Damage {
  uint64_t offset = 0;  // where the bad bytes start
  uint64_t length = 0;  // bad bytes up to the next good block
  std::string reason;
};

struct ScanResult {
  SegmentHeader header;
  std::optional<Trailer> trailer;    // set when sealed with a good footer
  Status footer_status;              // a damaged footer (the segment is then read as unsealed)
  uint64_t valid_end = kHeaderSize;  // just past the last good block
  uint64_t file_size = 0;
  // A bad or incomplete region at the end with no good block after it: the writer died there.
  std::optional<uint64_t> torn_tail_at;
  // The torn tail is zero bytes only: space the journal wrote ahead of its data (or a crash
  // took the data written over it), nothing half-written.
  bool tail_unwritten = false;
  std::vector<Damage> damages;  // bad regions with good blocks after them: corruption
  // The good blocks end inside a transaction (its last part never came): an unsealed segment
  // whose writer died while it wrote a big transaction. Recovery cuts from `offset`.
  struct OpenTransaction {
    uint64_t offset = 0;  // the block of its first part
    uint64_t ts = 0;
    uint64_t parts = 0;
    FooterBuilder footer_before{SegmentOptions().index_interval_bytes};  // the blocks before it
  };
  std::optional<OpenTransaction> open_transaction;
  FooterBuilder footer{SegmentOptions().index_interval_bytes};  // rebuilt from the good blocks
  std::vector<uint64_t> good_block_offsets;                     // filled only for salvage
};

struct ScanOptions {
  bool verify_payloads = true;      // check every payload checksum (else headers only)
  bool keep_block_offsets = false;  // fill good_block_offsets
  uint64_t index_interval_bytes = SegmentOptions().index_interval_bytes;
};

// Whether bytes [from, to) of the file are all zero (space written ahead of the data).
Result<bool> AllZero(Env* env, const std::string& path, uint64_t from, uint64_t to);

// Scans every block of a segment, past damage to the end. Errors only for I/O or a bad header.
Result<ScanResult> ScanSegment(Env* env, const std::string& path, const ScanOptions& options);

// Writes one segment. Not thread-safe.
class SegmentWriter {
 public:
  // Creates the file with its header and syncs it (the directory sync is the caller's).
  static Result<std::unique_ptr<SegmentWriter>> Create(Env* env, const std::string& path,
                                                       const SegmentOptions& options,
                                                       int64_t created_micros);
  // Continues an unsealed segment that a scan found clean up to scan.valid_end; cuts and syncs
  // anything after it. REQUIRES: scan.damages is empty and the segment is not sealed.
  static Result<std::unique_ptr<SegmentWriter>> Reopen(Env* env, const std::string& path,
                                                       const SegmentOptions& options,
                                                       const ScanResult& scan);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends whole blocks with one write. Does not sync. After a failure every call fails.
  Status Append(std::span<const EncodedBlock* const> blocks);
  Status Append(const std::vector<EncodedBlock>& blocks);
  Status Sync();
  // Writes the footer, syncs and closes. Nothing may be appended afterwards.
  Status Seal();
  // Syncs and closes without a footer (the segment stays active for the next open).
  Status Close();

  uint64_t size() const { return size_; }
  const Trailer& totals() const { return footer_.totals(); }
  const std::string& path() const;

 private:
  SegmentWriter(std::unique_ptr<WritableFile> file, const SegmentOptions& options, uint64_t size);
  std::unique_ptr<WritableFile> file_;
  FooterBuilder footer_;
  uint64_t size_;
  Status sticky_;
  bool closed_ = false;
  std::string buffer_;
};

// A record decoded from a block; the payload points into the reader's block buffer and is valid
// until the next block is read.
struct BlockRef {
  uint64_t offset = 0;
  BlockHeader header;
  uint64_t next_offset() const { return offset + PaddedBlockSize(header.stored_len); }
};

enum class ProbeResult {
  kBlock,       // a block with a good header that lies wholly (padding too) before the limit
  kEnd,         // offset == limit: no more data
  kIncomplete,  // a block or header that runs past the limit (a torn or in-progress write)
  kBad,         // bytes that are not a good block header
  kUnwritten,   // a header of zero bytes: space written ahead of the data (journal preallocation)
};

// Reads one segment. Thread-compatible: one iterator at a time per reader.
class SegmentReader {
 public:
  // Reads the header and, when sealed, the footer. A damaged footer is not an error here: the
  // segment is read as unsealed and footer_status() says what was wrong (also when only the
  // trailer's magic is damaged: with the magic put back, the footer checks out).
  static Result<std::unique_ptr<SegmentReader>> Open(Env* env, const std::string& path);

  const std::string& path() const { return path_; }
  const SegmentHeader& header() const { return header_; }
  const std::optional<Trailer>& trailer() const { return trailer_; }
  const Status& footer_status() const { return footer_status_; }
  bool sealed() const { return trailer_.has_value(); }

  // Where blocks end: the footer when sealed, else the file's size right now.
  Result<uint64_t> DataLimit() const;
  // Looks at the block header at offset without reading its payload.
  Result<ProbeResult> Probe(uint64_t offset, uint64_t limit, BlockRef* out, std::string* why) const;
  // Reads, checks and decompresses a block's payload and splits it into records.
  // Corruption names the file, the block offset and what is wrong; *records is then empty.
  Status ReadBlock(const BlockRef& block, std::vector<Record>* records);
  // The offset of the first block that can hold a record with ts >= target, from the footer's
  // index (the first block when unsealed or for arrival-order segments).
  uint64_t SeekHint(uint64_t target) const;

  // The first good block (header and payload check) after offset and before limit, if any: a
  // bad region followed by good data is damage, one with nothing good after it a torn tail.
  Result<std::optional<uint64_t>> NextGoodBlock(uint64_t offset, uint64_t limit) const;

 private:
  SegmentReader() = default;
  // Reads the index and checks the footer whose trailer is trailer_bytes (its magic put back
  // when magic_damaged). Errors only for I/O; a bad footer goes to footer_status_.
  Status ReadFooter(std::string_view trailer_bytes, uint64_t size, bool magic_damaged);
  Env* env_ = nullptr;
  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  SegmentHeader header_;
  std::optional<Trailer> trailer_;
  Status footer_status_;
  std::string index_;  // raw index entries when sealed
  std::string stored_;
  std::string raw_;
  struct ZstdDContext;
  std::shared_ptr<ZstdDContext> dctx_;
};

// Iterates the records of one segment with start_ts <= ts <= stop_ts.
class SegmentIterator {
 public:
  SegmentIterator(SegmentReader* reader, uint64_t start_ts, uint64_t stop_ts);
  // Continues at a block offset that an earlier iterator over the same file reached.
  SegmentIterator(SegmentReader* reader, uint64_t start_ts, uint64_t stop_ts,
                  uint64_t resume_offset);

  enum class State { kRecord, kEnd, kIncomplete, kPastStop };
  // kRecord with *out set; kEnd when the data ends cleanly at the limit; kIncomplete when it
  // stops at a partial or bad block with no good block after it (torn tail, or a write still in
  // progress); kPastStop after a record beyond stop_ts. Corruption when a bad block has good
  // blocks after it. Calling again after kEnd/kIncomplete re-reads the file's size and goes on.
  Result<State> Next(Record* out);
  // Offset of the next block to read (where a kIncomplete stopped).
  uint64_t offset() const { return offset_; }
  // Instead of a Corruption error, damage is reported here and reading goes on at the next good
  // block (or ends, when none follows in a sealed segment).
  void SkipDamage(std::function<void(const Damage&)> on_damage) {
    on_damage_ = std::move(on_damage);
  }

 private:
  Result<State> LoadNextBlock();
  SegmentReader* reader_;
  uint64_t start_ts_;
  uint64_t stop_ts_;
  uint64_t offset_;
  bool positioned_ = false;
  std::vector<Record> records_;
  size_t next_ = 0;
  std::function<void(const Damage&)> on_damage_;
};

// Keeps the damaged file as <path>.broken (.broken.1, ... when that exists), then rewrites path
// with only its good blocks (an unsealed segment stays unsealed). Returns the scan of the rewritten
// file.
Result<ScanResult> SalvageSegment(Env* env, const std::string& path, const ScanResult& scan);

}  // namespace binlog::segment
