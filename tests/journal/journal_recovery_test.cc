// Journal::Open over what crashes and bad disks leave behind: torn tails cut at every byte,
// flipped bits (refused, or salvaged on request), garbage and zeros after the last block, a
// footer torn by a crash during Seal, a header that never reached the disk, foreign files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/fault_env.h"
#include "common/logging.h"
#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using testing::PayloadFor;
using testing::ReadAll;
namespace fs = std::filesystem;

constexpr uint64_t kPerBlock = 3;

JournalOptions Options() {
  JournalOptions o;
  o.segment.index_interval_bytes = 256;  // several index entries per segment
  return o;
}

// One Append per block: records block*3+1 .. block*3+3.
Status AppendBlocks(Journal* j, uint64_t first_block, uint64_t blocks) {
  for (uint64_t b = first_block; b < first_block + blocks; ++b) {
    std::vector<std::string> payloads;
    std::vector<Record> batch;
    for (uint64_t ts = b * kPerBlock + 1; ts <= (b + 1) * kPerBlock; ++ts) {
      payloads.push_back(PayloadFor(ts));
    }
    for (uint64_t k = 0; k < kPerBlock; ++k) batch.push_back({b * kPerBlock + 1 + k, payloads[k]});
    RETURN_IF_ERROR(j->Append(batch));
  }
  return Status::OK();
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t ts = first; ts <= last; ++ts) out.push_back(ts);
  return out;
}

// Writes a journal of `blocks` blocks in one active segment; returns the segment's path.
std::string MakeJournal(const std::string& dir, uint64_t blocks) {
  auto j = Journal::Open(dir, Options());
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  if (!j.ok()) return "";
  EXPECT_OK(AppendBlocks(j->get(), 0, blocks));
  EXPECT_OK((*j)->Close());
  auto segments = ListSegments(Env::Posix(), dir);
  EXPECT_TRUE(segments.ok() && segments->size() == 1u);
  return JoinPath(dir, segments->back().name);
}

std::vector<uint64_t> BlockOffsets(const std::string& path) {
  segment::ScanOptions so;
  so.keep_block_offsets = true;
  auto scan = segment::ScanSegment(Env::Posix(), path, so);
  EXPECT_TRUE(scan.ok()) << scan.status().ToString();
  std::vector<uint64_t> out = scan->good_block_offsets;
  out.push_back(scan->valid_end);  // so block i spans [out[i], out[i+1])
  return out;
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

std::string Slurp(const std::string& path) {
  auto text = ReadFileToString(Env::Posix(), path);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : "";
}

// Opens dir, appends ts `next`, closes, and checks the journal then holds `want` plus it.
void ExpectAppendAndReadBack(const std::string& dir, const JournalOptions& o,
                             std::vector<uint64_t> want, uint64_t next) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir, o));
    ASSERT_OK(j->Append(Record{next, PayloadFor(next)}));
    ASSERT_OK(j->Close());
  }
  want.push_back(next);
  auto back = ReadAll(Env::Posix(), dir);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.bad_payloads, 0u);
  EXPECT_EQ(back.ts, want);
}

// The lines of a test go to a file, so it can check what was logged; stderr again afterwards.
class LogCapture {
 public:
  explicit LogCapture(const std::string& path, const std::string& level = "info") : path_(path) {
    LogOptions o;
    o.file = path;
    o.rotate = "none";
    o.level = level;
    EXPECT_OK(InitLogging(o));
  }
  ~LogCapture() { EXPECT_OK(InitLogging(LogOptions())); }
  std::string Text() const { return Slurp(path_); }

 private:
  std::string path_;
};

TEST(JournalRecoveryTest, TruncationAtEveryByteOfTheLastBlocksKeepsTheWholeBlocksBeforeIt) {
  binlog::testing::TempDir dir;
  LogCapture quiet(dir.Sub("log"), "error");  // one torn-tail warning per cut
  const std::string path = MakeJournal(dir.Sub("src"), 10);
  const std::string name = BaseName(path);
  const std::string bytes = Slurp(path);
  const std::vector<uint64_t> blocks = BlockOffsets(path);
  ASSERT_EQ(blocks.size(), 11u);
  ASSERT_EQ(blocks.back(), bytes.size());
  JournalOptions o = Options();
  o.sync = false;  // hundreds of opens: Open's own cut is still synced
  for (uint64_t cut = blocks[7]; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string d = dir.Sub("cut");
    fs::remove_all(d);
    fs::create_directories(d);
    WriteFile(JoinPath(d, name), std::string_view(bytes).substr(0, cut));
    uint64_t whole = 0;
    while (blocks[whole + 1] <= cut) ++whole;
    {
      ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(d, o));
      EXPECT_EQ(j->last_ts(), whole * kPerBlock);
      ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(JoinPath(d, name)));
      EXPECT_EQ(size, blocks[whole]);
    }
    ExpectAppendAndReadBack(d, o, Range(1, whole * kPerBlock), 1000);
    if (HasFatalFailure()) return;
  }
}

struct BitFlip {
  const char* what;
  size_t offset_in_block;
};

class JournalBitFlipTest : public ::testing::TestWithParam<BitFlip> {};

TEST_P(JournalBitFlipTest, IsRefusedNamingFileAndOffsetUnlessSalvaged) {
  binlog::testing::TempDir dir;
  const std::string path = MakeJournal(dir.path(), 6);
  const std::vector<uint64_t> blocks = BlockOffsets(path);
  std::string bytes = Slurp(path);
  const uint64_t bad = blocks[2];
  bytes[bad + GetParam().offset_in_block] ^= 0x04;
  WriteFile(path, bytes);

  auto refused = Journal::Open(dir.path(), Options());
  ASSERT_FALSE(refused.ok());
  const Status& s = refused.status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("at offset " + std::to_string(bad) + " ("), std::string::npos)
      << s.ToString();
  EXPECT_EQ(Slurp(path), bytes) << "a refused open changed the file";
  EXPECT_FALSE(Env::Posix()->FileExists(path + ".broken"));

  JournalOptions o = Options();
  o.salvage = true;
  std::vector<uint64_t> want = Range(1, 6);
  for (uint64_t ts : Range(10, 18)) want.push_back(ts);
  ExpectAppendAndReadBack(dir.path(), o, want, 1000);
  EXPECT_EQ(Slurp(path + ".broken"), bytes) << "the evidence is not the damaged file";
}

INSTANTIATE_TEST_SUITE_P(Blocks, JournalBitFlipTest,
                         ::testing::Values(BitFlip{"Payload", segment::kBlockHeaderSize + 5},
                                           BitFlip{"LengthField", 4}),
                         [](const auto& info) { return std::string(info.param.what); });

TEST(JournalRecoveryTest, GarbageAfterTheLastBlockIsCut) {
  std::mt19937 rng(42);
  for (size_t len : {1, 7, 47, 48, 100, 4096, 70000}) {
    SCOPED_TRACE("garbage of " + std::to_string(len) + " bytes");
    binlog::testing::TempDir dir;
    const std::string path = MakeJournal(dir.path(), 5);
    std::string bytes = Slurp(path);
    const size_t end = bytes.size();
    for (size_t i = 0; i < len; ++i) bytes.push_back(static_cast<char>(rng()));
    WriteFile(path, bytes);
    {
      ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
      ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(path));
      EXPECT_EQ(size, end);
    }
    ExpectAppendAndReadBack(dir.path(), Options(), Range(1, 15), 1000);
  }
}

TEST(JournalRecoveryTest, ZeroFilledTailIsCut) {
  binlog::testing::TempDir dir;
  const std::string path = MakeJournal(dir.path(), 5);
  std::string bytes = Slurp(path);
  const size_t end = bytes.size();
  bytes.append(4096, '\0');  // preallocated extents after a crash read as zeros
  WriteFile(path, bytes);
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
    ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(path));
    EXPECT_EQ(size, end);
  }
  ExpectAppendAndReadBack(dir.path(), Options(), Range(1, 15), 1000);
}

TEST(JournalRecoveryTest, FooterTornByACrashDuringSealIsRewritten) {
  binlog::testing::TempDir dir;
  const std::string src = dir.Sub("src");
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(src, Options()));
    ASSERT_OK(AppendBlocks(j.get(), 0, 8));
    ASSERT_OK(j->Rotate());
    ASSERT_OK(AppendBlocks(j.get(), 8, 2));
    ASSERT_OK(j->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), src));
  ASSERT_EQ(segments.size(), 2u);
  const std::string name = segments[0].name;
  const std::string sealed = Slurp(JoinPath(src, name));
  ASSERT_OK_AND_ASSIGN(auto reader,
                       segment::SegmentReader::Open(Env::Posix(), JoinPath(src, name)));
  ASSERT_TRUE(reader->sealed());
  const uint64_t footer_at = reader->trailer()->index_offset;
  const uint64_t footer_len = sealed.size() - footer_at;
  ASSERT_GT(reader->trailer()->index_count, 1u);
  for (uint64_t keep : {uint64_t{0}, uint64_t{1}, uint64_t{15}, uint64_t{16},
                        footer_len - segment::kTrailerSize, footer_len - 1}) {
    SCOPED_TRACE("footer cut after " + std::to_string(keep) + " bytes");
    const std::string d = dir.Sub("cut");
    fs::remove_all(d);
    fs::copy(src, d, fs::copy_options::recursive);
    WriteFile(JoinPath(d, name), std::string_view(sealed).substr(0, footer_at + keep));
    { ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(d, Options())); }
    // Sealed again from the same blocks with the same index: byte for byte what Seal wrote.
    EXPECT_EQ(Slurp(JoinPath(d, name)), sealed);
    ExpectAppendAndReadBack(d, Options(), Range(1, 30), 1000);
  }
}

TEST(JournalRecoveryTest, NewestSegmentWithAPartialHeaderIsRemovedWithAWarning) {
  binlog::testing::TempDir dir;
  LogCapture logs(dir.Sub("log"));
  const std::string jdir = dir.Sub("j");
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(jdir, Options()));
    ASSERT_OK(AppendBlocks(j.get(), 0, 3));
    ASSERT_OK(j->Rotate());
  }
  segment::SegmentHeader h;
  const std::string partial = JoinPath(jdir, MakeSegmentName(100, 0));
  WriteFile(partial, segment::EncodeSegmentHeader(h).substr(0, 10));
  ExpectAppendAndReadBack(jdir, Options(), Range(1, 9), 1000);
  EXPECT_FALSE(Env::Posix()->FileExists(partial));
  const std::string text = logs.Text();
  EXPECT_NE(text.find("[WARN]"), std::string::npos) << text;
  EXPECT_NE(text.find(BaseName(partial)), std::string::npos) << text;
}

// The other shapes a crash leaves a segment in before its first block was synced.
TEST(JournalRecoveryTest, NewestSegmentWithoutABlockIsRemoved) {
  const std::string header = segment::EncodeSegmentHeader(segment::SegmentHeader());
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"empty file", ""},
      {"zeros where the header was", std::string(segment::kHeaderSize, '\0')},
      {"header only", header},
      {"header and a torn block", header + std::string(100, '\0')}};
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    binlog::testing::TempDir dir;
    {
      ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
      ASSERT_OK(AppendBlocks(j.get(), 0, 3));
      ASSERT_OK(j->Rotate());
    }
    const std::string leftover = dir.Sub(MakeSegmentName(100, 0));
    WriteFile(leftover, bytes);
    ExpectAppendAndReadBack(dir.path(), Options(), Range(1, 9), 1000);
    EXPECT_FALSE(Env::Posix()->FileExists(leftover));
  }
}

// Named like a segment, so it is not passed over as a stranger: the journal refuses to open
// and names it, wherever it sorts and however short it is, and leaves it where it is.
TEST(JournalRecoveryTest, SegmentNamedFileWithAWrongMagicIsAnError) {
  for (uint64_t name_ts : {uint64_t{5}, uint64_t{100}}) {
    for (size_t len : {size_t{10}, size_t{200}}) {
      SCOPED_TRACE("ts " + std::to_string(name_ts) + ", " + std::to_string(len) + " bytes");
      binlog::testing::TempDir dir;
      {
        ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
        ASSERT_OK(AppendBlocks(j.get(), 0, 3));
        ASSERT_OK(j->Rotate());
        ASSERT_OK(AppendBlocks(j.get(), 3, 3));  // segments 1 and 10: ts 5 sorts between
        ASSERT_OK(j->Close());
      }
      const std::string stranger = dir.Sub(MakeSegmentName(name_ts, 0));
      std::string junk = "# operator notes, not a segment\n";
      junk.resize(len, 'x');
      WriteFile(stranger, junk);
      auto j = Journal::Open(dir.path(), Options());
      ASSERT_FALSE(j.ok());
      EXPECT_NE(j.status().message().find(stranger), std::string::npos) << j.status().ToString();
      EXPECT_EQ(Slurp(stranger), junk);
    }
  }
}

// A crash after a new segment's header was synced but before its first block was: the segment
// is named after a ts that was never acknowledged, possibly above the ts that come next. Were
// it kept and filled, the next segment would sort before it.
TEST(JournalRecoveryTest, SegmentLeftEmptyByACrashDoesNotBreakTheOrder) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  JournalOptions o = Options();
  o.env = &env;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
    ASSERT_OK(AppendBlocks(j.get(), 0, 2));
    ASSERT_OK(j->Rotate());
    // Create syncs the header, then the directory; the block's sync is the third.
    env.FailNth(FaultInjectionEnv::Op::kSync, 3, EIO);
    EXPECT_FALSE(j->Append(Record{500, PayloadFor(500)}).ok());
    ASSERT_OK(env.Crash());
  }
  env.ClearFaults();
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
    EXPECT_EQ(j->last_ts(), 6u);
    ASSERT_OK(AppendBlocks(j.get(), 2, 2));
    ASSERT_OK(j->Rotate());
    ASSERT_OK(AppendBlocks(j.get(), 4, 2));
    ASSERT_OK(j->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(&env, dir.path()));
  for (const SegmentName& s : segments) {
    ASSERT_OK_AND_ASSIGN(auto r, segment::SegmentReader::Open(&env, dir.Sub(s.name)));
    segment::SegmentIterator it(r.get(), 0, UINT64_MAX);
    Record rec;
    ASSERT_OK_AND_ASSIGN(auto state, it.Next(&rec));
    ASSERT_EQ(state, segment::SegmentIterator::State::kRecord) << s.name << " is empty";
    EXPECT_EQ(rec.ts, s.ts) << s.name << " is not named after its first record";
  }
  auto back = ReadAll(&env, dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts, Range(1, 18));
}

}  // namespace
}  // namespace binlog::journal
