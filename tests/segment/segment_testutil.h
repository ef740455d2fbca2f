// Helpers shared by the segment tests: deterministic records, whole-segment writes and reads,
// and byte edits on files (LevelDB's log_test habit: damage the bytes, then read them back).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "segment/segment.h"

namespace binlog::segment::testing {

// A record that owns its payload (Record only points at one).
struct OwnedRecord {
  uint64_t ts = 0;
  std::string payload;
  PartTag part = kWholeTransaction;
  bool operator==(const OwnedRecord&) const = default;
};
inline void PrintTo(const OwnedRecord& r, std::ostream* os) {
  *os << "{ts " << r.ts << ", " << r.payload.size() << " bytes";
  if (IsPart(r.part))
    *os << ", part " << PartIndex(r.part) << (IsLastPart(r.part) ? " (last)" : "");
  *os << "}";
}

// n records with text-like payloads of 0..max_payload bytes (compressible, as binlog rows are).
// Ordered: ts strictly increasing from first_ts with random gaps. Shuffled: the same, then
// shuffled, as a pump's wal/ receives them.
std::vector<OwnedRecord> RandomRecords(std::mt19937_64& rng, size_t n, uint64_t first_ts,
                                       size_t max_payload, bool shuffled = false);

std::vector<Record> Views(const std::vector<OwnedRecord>& records);

// Where WriteSegment put things.
struct WrittenBlock {
  uint64_t offset = 0;
  uint64_t end = 0;  // offset + padded size: where the next block starts
  BlockHeader header;
  size_t first_record = 0;  // index into the input records
};
struct WrittenSegment {
  std::vector<WrittenBlock> blocks;
  uint64_t size = 0;        // file size after writing
  uint64_t blocks_end = 0;  // end of the block area (index_offset when sealed)
  Trailer totals;
};

// Creates path and appends records in batches of batch_size (one Encode + Append each), then
// seals or closes it.
Result<WrittenSegment> WriteSegment(Env* env, const std::string& path,
                                    const SegmentOptions& options,
                                    const std::vector<OwnedRecord>& records, size_t batch_size,
                                    bool seal, int64_t created_micros = 1700000000000000);

// Everything an iterator over [start_ts, stop_ts] yields, and how it stopped (or the error).
struct ReadOutcome {
  std::vector<OwnedRecord> records;
  Status status;  // not OK when Next failed
  SegmentIterator::State end = SegmentIterator::State::kEnd;
};
ReadOutcome ReadAll(Env* env, const std::string& path, uint64_t start_ts = 0,
                    uint64_t stop_ts = std::numeric_limits<uint64_t>::max());

// Whole-file byte access and edits.
std::string ReadBytes(const std::string& path);
void WriteBytes(const std::string& path, const std::string& bytes);
void FlipBit(const std::string& path, uint64_t offset, int bit);
void AppendBytes(const std::string& path, const std::string& bytes);

// Random bytes, none of them zero.
std::string NonZeroGarbage(std::mt19937_64& rng, size_t n);

// The records held by blocks [0, n).
std::vector<OwnedRecord> RecordsOfBlocks(const WrittenSegment& w,
                                         const std::vector<OwnedRecord>& records, size_t n);

}  // namespace binlog::segment::testing
