// segdump over damaged segments and journal directories: every mode reads the same records,
// names each unreadable region (file, offset, bytes) and goes on; exit codes follow one rule
// (docs/SEGDUMP.md): damage is 1, a torn tail only where a crash can leave one is 0.
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <thread>

#include "segdump/walk.h"
#include "segdump_testutil.h"

namespace binlog::segdump {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing;  // NOLINT: segdump's test helpers

// The three modes over the same paths, and what each says is readable.
struct AllModes {
  RunResult dump;
  RunResult verify;
  RunResult stats;
  size_t dumped = 0;    // record lines the dump printed
  size_t verified = 0;  // records --verify counted
  size_t counted = 0;   // records --stats counted

  explicit AllModes(const std::vector<std::string>& paths) {
    dump = RunMode(RunDump, For(paths));
    verify = RunMode(RunVerify, For(paths));
    Options o = For(paths);
    o.format = Format::kJson;
    stats = RunMode(RunStats, o);
    dumped = dump.OutLines();
    std::smatch m;
    if (std::regex_search(verify.out, m, std::regex(R"(segments, (\d+) records in)"))) {
      verified = std::stoul(m[1]);
    }
    counted = nlohmann::json::parse(stats.out)["records"].get<size_t>();
  }

  // Every mode agrees on the exit code and on the records that are readable.
  void ExpectAgree(int code, size_t records) const {
    EXPECT_EQ(dump.code, code) << dump.err;
    EXPECT_EQ(verify.code, code) << verify.out;
    EXPECT_EQ(stats.code, code) << stats.err;
    EXPECT_EQ(dumped, records) << dump.err;
    EXPECT_EQ(verified, records) << verify.out;
    EXPECT_EQ(counted, records) << stats.err;
  }

  // The finding is in the dump's and --stats' stderr and in --verify's report.
  void ExpectFinding(const std::string& text) const {
    EXPECT_THAT(dump.err, HasSubstr(text));
    EXPECT_THAT(verify.out, HasSubstr(text));
    EXPECT_THAT(stats.err, HasSubstr(text));
  }
};

TEST(SegdumpDamageTest, BadFirstBlockIsSkippedAndTheRestIsReadInEveryMode) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WrittenSegment w = WriteSegment(path, 60, /*sealed=*/true);
  ASSERT_GE(w.block_offsets.size(), 4u);
  FlipByte(path, w.block_offsets[0] + segment::kBlockHeaderSize + 5);  // its payload

  AllModes all({path});
  all.ExpectAgree(1, 60 - w.block_records[0]);
  all.ExpectFinding(fmt::format("ERROR   {}: offset 32: {} unreadable bytes skipped", path,
                                w.block_offsets[1] - 32));
  all.ExpectFinding(fmt::format("reading on at offset {}", w.block_offsets[1]));
  // The records after the damage are all there, in order.
  EXPECT_THAT(all.dump.out, HasSubstr(fmt::format("\n{} 1970", 60)));
  EXPECT_EQ(all.dump.out.substr(0, all.dump.out.find(' ')), std::to_string(1 + w.block_records[0]));
}

TEST(SegdumpDamageTest, DamageInADirectoryDoesNotHideTheRestOfItsSegment) {
  binlog::testing::TempDir tmp;
  std::vector<WrittenSegment> w;
  for (uint64_t first : {1, 101, 201}) {
    w.push_back(WriteSegment(tmp.Sub(SegmentName(first)), 100, first != 201, first));
  }
  std::string middle = tmp.Sub(SegmentName(101));
  FlipByte(middle, w[1].block_offsets[2] + 1);  // the block magic of its third block

  AllModes all({tmp.path()});
  all.ExpectAgree(1, 300 - w[1].block_records[2]);
  all.ExpectFinding(fmt::format("ERROR   {}: offset {}: ", middle, w[1].block_offsets[2]));
  // --from/--to over the damage: what is readable in the range, and the damage named.
  Options o = For({tmp.path()});
  o.from = 150;
  o.to = 260;
  RunResult ranged = RunMode(RunDump, o);
  EXPECT_EQ(ranged.code, 1);
  size_t lost = 0;
  uint64_t ts = 101;
  for (size_t b = 0; b < w[1].block_records.size(); ts += w[1].block_records[b++]) {
    if (b == 2) {
      for (uint64_t t = ts; t < ts + w[1].block_records[b]; ++t) lost += t >= 150 && t <= 260;
    }
  }
  EXPECT_EQ(ranged.OutLines(), 111 - lost);
  EXPECT_THAT(ranged.err, HasSubstr(middle));
}

TEST(SegdumpDamageTest, ZerosBeforeAGoodBlockInAnUnsealedSegmentAreDamage) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WrittenSegment w = WriteSegment(path, 60, /*sealed=*/false);
  std::string bytes = ReadBytes(path);
  std::fill(bytes.begin() + w.block_offsets[1], bytes.begin() + w.block_offsets[2], '\0');
  WriteBytes(path, bytes);

  AllModes all({path});
  all.ExpectAgree(1, 60 - w.block_records[1]);
  all.ExpectFinding(fmt::format("ERROR   {}: offset {}: {} unreadable bytes skipped", path,
                                w.block_offsets[1], w.block_offsets[2] - w.block_offsets[1]));
}

TEST(SegdumpDamageTest, FlippedTrailerMagicOfASealedSegmentIsDamageInEveryMode) {
  binlog::testing::TempDir tmp;
  std::string alone = tmp.Sub("copy.seg");
  WrittenSegment w = WriteSegment(alone, 30, /*sealed=*/true);
  FlipByte(alone, w.size - segment::kTrailerSize);
  AllModes all({alone});
  all.ExpectAgree(1, 30);
  all.ExpectFinding(fmt::format("ERROR   {}: offset {}: damaged footer", alone, w.blocks_end));
  all.ExpectFinding("trailer magic is damaged");
  EXPECT_THAT(all.verify.out, Not(HasSubstr("WARNING")));

  // The same as the newest segment of a directory.
  std::string dir = tmp.Sub("journal");
  ASSERT_OK(Env::Posix()->CreateDirs(dir));
  WriteSegment(JoinPath(dir, SegmentName(1)), 30, true, 1);
  std::string newest = JoinPath(dir, SegmentName(31));
  w = WriteSegment(newest, 30, true, 31);
  FlipByte(newest, w.size - segment::kTrailerSize + 1);
  AllModes in_dir({dir});
  in_dir.ExpectAgree(1, 60);
  in_dir.ExpectFinding(fmt::format("ERROR   {}: offset {}: damaged footer", newest, w.blocks_end));
}

TEST(SegdumpDamageTest, DamagedFooterChecksumFailsEveryMode) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WrittenSegment w = WriteSegment(path, 30, /*sealed=*/true);
  FlipByte(path, w.size - 1);
  AllModes all({path});
  all.ExpectAgree(1, 30);
  all.ExpectFinding(fmt::format("ERROR   {}: offset {}: damaged footer", path, w.blocks_end));
}

TEST(SegdumpDamageTest, CutFooterOfASealedSegmentIsDamageNotATornTail) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WrittenSegment w = WriteSegment(path, 30, /*sealed=*/true);
  Truncate(path, w.size - 20);
  AllModes all({path});
  all.ExpectAgree(1, 30);
  all.ExpectFinding(
      fmt::format("ERROR   {}: offset {}: the {} bytes from here to the end are "
                  "what is left of a footer",
                  path, w.blocks_end, w.size - 20 - w.blocks_end));

  // An empty sealed segment is a header and a trailer: what is left of it starts with FTR1.
  std::string empty = tmp.Sub("empty");
  WriteSegment(empty, 0, /*sealed=*/true);
  Truncate(empty, segment::kHeaderSize + 10);
  AllModes none({empty});
  none.ExpectAgree(1, 0);
  none.ExpectFinding("what is left of a footer");
}

TEST(SegdumpDamageTest, TornTailOfTheNewestUnsealedSegmentIsAWarning) {
  binlog::testing::TempDir tmp;
  WriteSegment(tmp.Sub(SegmentName(1)), 40, /*sealed=*/true, 1);
  std::string newest = tmp.Sub(SegmentName(41));
  WrittenSegment w = WriteSegment(newest, 40, /*sealed=*/false, 41);
  const size_t torn = w.block_records.back();
  std::string whole = ReadBytes(newest);
  Truncate(newest, w.size - 10);
  AllModes all({tmp.path()});
  all.ExpectAgree(0, 80 - torn);
  all.ExpectFinding(fmt::format("WARNING {}: offset {}: torn tail of {} bytes", newest,
                                w.block_offsets.back(), w.size - 10 - w.block_offsets.back()));
  // Named on its own it is the newest too.
  AllModes alone({newest});
  alone.ExpectAgree(0, 40 - torn);

  // Zeros written ahead of the data are a note, and not stored bytes.
  WriteBytes(newest, whole);
  Truncate(newest, w.size + 4096);
  AllModes ahead({tmp.path()});
  ahead.ExpectAgree(0, 80);
  ahead.ExpectFinding(fmt::format("NOTE    {}: offset {}: 4096 zero bytes", newest, w.size));
  auto stats = nlohmann::json::parse(ahead.stats.out);
  EXPECT_EQ(stats["stored_bytes"].get<uint64_t>(),
            std::filesystem::file_size(tmp.Sub(SegmentName(1))) + w.size);
}

TEST(SegdumpDamageTest, TornTailOfAnOlderSegmentIsDamageInEveryMode) {
  binlog::testing::TempDir tmp;
  std::string older = tmp.Sub(SegmentName(1));
  WrittenSegment w = WriteSegment(older, 40, /*sealed=*/true, 1);
  WriteSegment(tmp.Sub(SegmentName(41)), 40, /*sealed=*/false, 41);
  Truncate(older, w.blocks_end - 10);  // the footer and the end of the last block: no trace left
  const size_t torn = w.block_records.back();
  AllModes all({tmp.path()});
  all.ExpectAgree(1, 80 - torn);
  all.ExpectFinding(
      fmt::format("ERROR   {}: offset {}: torn tail of", older, w.block_offsets.back()));
  all.ExpectFinding("not the newest");
  // Named on its own, it still has a newer segment beside it.
  AllModes alone({older});
  alone.ExpectAgree(1, 40 - torn);
}

TEST(SegdumpDamageTest, MissingFooterBeforeANewerSegmentIsDamage) {
  binlog::testing::TempDir tmp;
  std::string older = tmp.Sub(SegmentName(1));
  WrittenSegment w = WriteSegment(older, 40, /*sealed=*/true, 1);
  WriteSegment(tmp.Sub(SegmentName(41)), 40, /*sealed=*/false, 41);
  Truncate(older, w.blocks_end);  // cut exactly at the footer: every block is whole
  AllModes all({tmp.path()});
  all.ExpectAgree(1, 80);
  all.ExpectFinding(fmt::format("ERROR   {}: offset {}: no footer, though newer segments exist",
                                older, w.blocks_end));
}

TEST(SegdumpDamageTest, NewestSegmentWithoutAHeaderYetIsAWarningInEveryMode) {
  binlog::testing::TempDir tmp;
  WriteSegment(tmp.Sub(SegmentName(1)), 40, /*sealed=*/true, 1);
  std::string newest = tmp.Sub(SegmentName(41));
  WriteBytes(newest, std::string(segment::kSegmentMagic, 5));
  AllModes all({tmp.path()});
  all.ExpectAgree(0, 40);
  all.ExpectFinding(fmt::format("WARNING {}: 5 bytes, its header was never written", newest));
  // Anything else that short is damage.
  WriteBytes(newest, "hello");
  AllModes garbage({tmp.path()});
  garbage.ExpectAgree(1, 40);
}

TEST(SegdumpDamageTest, UnparseablePayloadIsNamedInEveryMode) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WriteSegment(path, 3, true, 1, 600, {Commit("t1", 1), "\xff\xff\xff", Commit("t3", 3)});
  AllModes all({path});
  all.ExpectAgree(1, 2);
  all.ExpectFinding(
      fmt::format("ERROR   {}: offset 32: record 1 of the block (ts 2, 3 bytes) "
                  "does not parse as binlog.pb.Binlog",
                  path));
}

// Whatever byte is damaged, the three modes agree on the exit code and the readable records.
TEST(SegdumpDamageTest, ModesAgreeWhateverByteIsFlipped) {
  binlog::testing::TempDir tmp;
  std::vector<std::string> paths;
  for (uint64_t first : {1, 101, 201}) {
    paths.push_back(tmp.Sub(SegmentName(first)));
    WriteSegment(paths.back(), 100, first != 201, first);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i) {
    const std::string& victim = paths[rng() % paths.size()];
    std::string before = ReadBytes(victim);
    uint64_t offset = segment::kHeaderSize + rng() % (before.size() - segment::kHeaderSize);
    FlipByte(victim, offset);
    AllModes all({tmp.path()});
    SCOPED_TRACE(fmt::format("{} byte {}", victim, offset));
    EXPECT_EQ(all.dump.code, all.verify.code);
    EXPECT_EQ(all.stats.code, all.verify.code);
    EXPECT_EQ(all.dumped, all.verified);
    EXPECT_EQ(all.counted, all.verified);
    if (all.verify.code == 1) {
      EXPECT_THAT(all.verify.out, HasSubstr("ERROR   " + victim));
    } else if (all.verified < 300) {
      // Only a torn tail of the newest segment, which is unsealed, loses records quietly.
      EXPECT_EQ(victim, paths.back());
      EXPECT_THAT(all.verify.out, HasSubstr("WARNING " + victim));
    }
    WriteBytes(victim, before);
  }
}

// Runs a mode in a thread of its own, so that a read that blocks (a FIFO without a writer)
// fails the test instead of hanging it.
RunResult RunBounded(ModeFn mode, Options o, const std::string& fifo) {
  auto result = std::make_shared<std::promise<RunResult>>();
  std::future<RunResult> done = result->get_future();
  std::thread([mode, o, result] { result->set_value(RunMode(mode, o)); }).detach();
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (done.wait_for(std::chrono::seconds(attempt == 0 ? 10 : 1)) == std::future_status::ready) {
      if (attempt > 0) ADD_FAILURE() << "segdump blocked on the FIFO " << fifo;
      return done.get();
    }
    // A writer that opens and closes lets a reader stuck opening the FIFO go on (to EOF).
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  ADD_FAILURE() << "segdump still blocked on the FIFO " << fifo;
  return RunResult{};
}

TEST(SegdumpInputTest, FifoDeviceAndSocketAreRefusedUnread) {
  binlog::testing::TempDir tmp;
  std::string fifo = tmp.Sub("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (ModeFn mode : kAllModes) {
    RunResult r = RunBounded(mode, For({fifo}), fifo);
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.out + r.err, HasSubstr(fifo + ": a FIFO (named pipe), not a regular file"));
  }
  RunResult dev = RunMode(RunVerify, For({"/dev/null"}));
  EXPECT_EQ(dev.code, 1);
  EXPECT_THAT(dev.out, HasSubstr("/dev/null: a character device, not a regular file"));

  // A FIFO named like a segment inside a journal directory: the segments before it are read.
  WriteSegment(tmp.Sub(SegmentName(1)), 20, /*sealed=*/true, 1);
  std::string named = tmp.Sub(SegmentName(21));
  ASSERT_EQ(::mkfifo(named.c_str(), 0600), 0);
  for (ModeFn mode : kAllModes) {
    RunResult r = RunBounded(mode, For({tmp.path()}), named);
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.out + r.err, HasSubstr(named + ": a FIFO (named pipe), not a regular file"));
  }
  EXPECT_EQ(RunMode(RunDump, For({tmp.path()})).OutLines(), 20u);

  // First in its directory, with a ts range: the dump learns the journal's kind from another
  // segment, and the range skips the FIFO by its name.
  std::string dir = tmp.Sub("fifo-first");
  ASSERT_OK(Env::Posix()->CreateDirs(dir));
  std::string first = JoinPath(dir, SegmentName(0));
  ASSERT_EQ(::mkfifo(first.c_str(), 0600), 0);
  WriteSegment(JoinPath(dir, SegmentName(1)), 20, /*sealed=*/true, 1);
  Options ranged = For({dir});
  ranged.from = 5;
  RunResult r = RunBounded(RunDump, ranged, first);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.OutLines(), 16u);
}

TEST(SegdumpInputTest, MissingPathAndNotASegmentFailWithThePathNamed) {
  binlog::testing::TempDir tmp;
  std::string missing = tmp.Sub("missing");
  std::string text = tmp.Sub("notes.txt");
  WriteBytes(text, "hello, this is not a segment file at all\n");
  for (ModeFn mode : kAllModes) {
    RunResult r = RunMode(mode, For({missing, text}));
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(r.out + r.err, HasSubstr(missing + ": no such file or directory"));
    EXPECT_THAT(r.out + r.err, HasSubstr(text + ": offset 0: not a segment file"));
  }
}

TEST(SegdumpDumpTest, LimitAndRangeCrossSegments) {
  binlog::testing::TempDir tmp;
  for (uint64_t first : {1, 101, 201}) WriteSegment(tmp.Sub(SegmentName(first)), 100, true, first);
  Options o = For({tmp.path()});
  o.from = 95;
  o.limit = 10;
  RunResult r = RunMode(RunDump, o);
  EXPECT_EQ(r.code, 0);
  ASSERT_EQ(r.OutLines(), 10u);
  EXPECT_EQ(r.out.substr(0, 3), "95 ");
  o.limit = 0;
  o.to = 205;
  EXPECT_EQ(RunMode(RunDump, o).OutLines(), 111u);
}

}  // namespace
}  // namespace binlog::segdump

namespace binlog::segdump {
namespace {

// A GC beside segdump deletes the oldest segments after the directory was listed: a warning
// that says so, not damage; the newest segment gone is still an error (nothing deletes it).
TEST(SegdumpVanishTest, ASegmentDeletedAfterTheListingIsAWarningNotDamage) {
  binlog::testing::TempDir dir;
  std::ostringstream out;
  Reporter reporter(&out);
  WalkSegment(SegmentPlace{dir.Sub("binlog-0000000000000001-20261203000000"), /*newest=*/false},
              WalkBounds{}, &reporter, {});
  EXPECT_EQ(reporter.errors(), 0u) << out.str();
  EXPECT_EQ(reporter.warnings(), 1u);
  EXPECT_THAT(out.str(), ::testing::HasSubstr("deleted after the directory was listed"));

  WalkSegment(SegmentPlace{dir.Sub("binlog-0000000000000002-20261203000000"), /*newest=*/true},
              WalkBounds{}, &reporter, {});
  EXPECT_EQ(reporter.errors(), 1u) << out.str();
}

}  // namespace
}  // namespace binlog::segdump
