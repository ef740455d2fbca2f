// Helpers for the segdump tests: segments with known blocks, byte surgery, and runs of the three
// modes that capture their output and exit code.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/env.h"
#include "journal/journal.h"
#include "segdump/segdump.h"
#include "segment/segment.h"
#include "testutil/testutil.h"

namespace binlog::segdump::testing {

// A COMMIT of one row into db.<table>.
inline std::string Commit(const std::string& table, int64_t id) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(1);
  auto* t = b.add_tables();
  t->set_schema_name("db");
  t->set_table_name(table);
  t->add_columns()->set_name("id");
  auto* m = t->add_mutations();
  m->set_type(pb::INSERT);
  m->mutable_row()->add_columns()->set_int64_value(id);
  m->mutable_row()->add_columns()->set_is_null(true);  // a value the columns do not name
  return b.SerializeAsString();
}

struct WrittenSegment {
  std::vector<uint64_t> block_offsets;  // where each block starts
  std::vector<size_t> block_records;    // records in each block
  uint64_t blocks_end = 0;              // where the footer starts, when sealed
  uint64_t size = 0;
};

// Writes n records at ts first_ts, first_ts + 1, ... (payloads from Commit, or the given ones) in
// blocks of about block_bytes raw bytes, sealed or not.
inline WrittenSegment WriteSegment(const std::string& path, size_t n, bool sealed,
                                   uint64_t first_ts = 1, size_t block_bytes = 600,
                                   std::vector<std::string> payloads = {}) {
  segment::SegmentOptions so;
  so.block_bytes = block_bytes;
  so.index_interval_bytes = 1024;
  for (size_t i = payloads.size(); i < n; ++i) {
    payloads.push_back(Commit("t" + std::to_string(i % 3), static_cast<int64_t>(i)));
  }
  std::vector<segment::Record> records;
  for (size_t i = 0; i < n; ++i) records.push_back({first_ts + i, payloads[i]});
  segment::BlockEncoder encoder(so);
  std::vector<segment::EncodedBlock> blocks;
  EXPECT_OK(encoder.Encode(records, &blocks));
  auto writer = segment::SegmentWriter::Create(Env::Posix(), path, so, 1700000000000000);
  EXPECT_TRUE(writer.ok()) << writer.status().ToString();
  WrittenSegment w;
  uint64_t offset = segment::kHeaderSize;
  for (const auto& b : blocks) {
    w.block_offsets.push_back(offset);
    w.block_records.push_back(b.header.record_count);
    offset += b.bytes.size();
  }
  w.blocks_end = offset;
  EXPECT_OK((*writer)->Append(blocks));
  EXPECT_OK(sealed ? (*writer)->Seal() : (*writer)->Close());
  w.size = std::filesystem::file_size(path);
  return w;
}

inline std::string SegmentName(uint64_t first_ts) {
  return journal::MakeSegmentName(first_ts, 1700000000000000);
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

inline void FlipByte(const std::string& path, uint64_t offset) {
  std::string bytes = ReadBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0xFF);
  WriteBytes(path, bytes);
}

inline void Truncate(const std::string& path, uint64_t size) {
  std::filesystem::resize_file(path, size);
}

// What one run printed and returned.
struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
  size_t OutLines() const { return static_cast<size_t>(std::count(out.begin(), out.end(), '\n')); }
};

using ModeFn = int (*)(const Options&, std::ostream&, std::ostream&);
inline constexpr ModeFn kAllModes[] = {RunDump, RunVerify, RunStats};

inline RunResult RunMode(ModeFn mode, Options o) {
  if (o.tz.empty()) o.tz = "UTC";
  std::ostringstream out;
  std::ostringstream err;
  RunResult r;
  r.code = mode(o, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

inline Options For(std::vector<std::string> paths) {
  Options o;
  o.paths = std::move(paths);
  o.tz = "UTC";
  return o;
}

}  // namespace binlog::segdump::testing
