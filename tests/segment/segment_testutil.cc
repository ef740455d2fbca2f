#include "segment/segment_testutil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <span>

namespace binlog::segment::testing {

std::vector<OwnedRecord> RandomRecords(std::mt19937_64& rng, size_t n, uint64_t first_ts,
                                       size_t max_payload, bool shuffled) {
  static constexpr std::string_view kWords[] = {"INSERT", "shop",  "orders", "id",    "42",
                                                "UPDATE", "price", "19.99",  "name",  "'bob'",
                                                "DELETE", "users", "NULL",   "items", "2024"};
  std::vector<OwnedRecord> out;
  out.reserve(n);
  uint64_t ts = first_ts;
  for (size_t i = 0; i < n; ++i) {
    OwnedRecord r;
    r.ts = ts;
    ts += 1 + rng() % 1000;
    size_t len = max_payload == 0 ? 0 : rng() % (max_payload + 1);
    while (r.payload.size() < len) {
      r.payload += kWords[rng() % std::size(kWords)];
      r.payload += ' ';
    }
    r.payload.resize(len);
    out.push_back(std::move(r));
  }
  if (shuffled) std::shuffle(out.begin(), out.end(), rng);
  return out;
}

std::vector<Record> Views(const std::vector<OwnedRecord>& records) {
  std::vector<Record> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(Record{r.ts, r.payload, r.part});
  return out;
}

Result<WrittenSegment> WriteSegment(Env* env, const std::string& path,
                                    const SegmentOptions& options,
                                    const std::vector<OwnedRecord>& records, size_t batch_size,
                                    bool seal, int64_t created_micros) {
  ASSIGN_OR_RETURN(auto writer, SegmentWriter::Create(env, path, options, created_micros));
  BlockEncoder encoder(options);
  std::vector<Record> views = Views(records);
  WrittenSegment out;
  for (size_t begin = 0; begin < views.size(); begin += batch_size) {
    size_t n = std::min(batch_size, views.size() - begin);
    std::vector<EncodedBlock> blocks;
    RETURN_IF_ERROR(encoder.Encode(std::span<const Record>(views).subspan(begin, n), &blocks));
    uint64_t offset = writer->size();
    size_t first = begin;
    for (const EncodedBlock& b : blocks) {
      out.blocks.push_back(WrittenBlock{offset, offset + b.bytes.size(), b.header, first});
      offset += b.bytes.size();
      first += b.header.record_count;
    }
    RETURN_IF_ERROR(writer->Append(blocks));
  }
  out.blocks_end = writer->size();
  out.totals = writer->totals();
  RETURN_IF_ERROR(seal ? writer->Seal() : writer->Close());
  out.size = writer->size();
  return out;
}

ReadOutcome ReadAll(Env* env, const std::string& path, uint64_t start_ts, uint64_t stop_ts) {
  ReadOutcome out;
  auto reader = SegmentReader::Open(env, path);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  SegmentIterator it(reader->get(), start_ts, stop_ts);
  while (true) {
    Record r;
    auto state = it.Next(&r);
    if (!state.ok()) {
      out.status = state.status();
      return out;
    }
    if (*state != SegmentIterator::State::kRecord) {
      out.end = *state;
      return out;
    }
    out.records.push_back(OwnedRecord{r.ts, std::string(r.payload), r.part});
  }
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << path;
}

void FlipBit(const std::string& path, uint64_t offset, int bit) {
  std::string bytes = ReadBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << bit));
  WriteBytes(path, bytes);
}

void AppendBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << path;
}

std::string NonZeroGarbage(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(1 + rng() % 255);
  return out;
}

std::vector<OwnedRecord> RecordsOfBlocks(const WrittenSegment& w,
                                         const std::vector<OwnedRecord>& records, size_t n) {
  size_t end = n < w.blocks.size() ? w.blocks[n].first_record : records.size();
  return std::vector<OwnedRecord>(records.begin(), records.begin() + static_cast<long>(end));
}

}  // namespace binlog::segment::testing
