// The GC over a directory of segments with a fake clock: by age, by size, the dry run, the
// newest segment and the ts floor, what stops it (an unsealed segment, a wal), two GCs at once.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "gc_test_util.h"
#include "segment/segment.h"

namespace binlog::gc {
namespace {

using testing::DailySegments;
using ::testing::HasSubstr;
using testing::kBaseMs;
using testing::kDayMs;
using testing::SegmentNames;

class GcTest : public ::testing::Test {
 protected:
  GcTest() : env_(Env::Posix()) {}
  void SetNow(int64_t ms) { env_.SetNowMicros(ms * 1000); }
  Options Retention(double seconds) {
    Options o;
    o.env = &env_;
    o.retention_seconds = seconds;
    return o;
  }
  std::string Dir() const { return dir_.Sub("journal"); }

  binlog::testing::TempDir dir_;
  FaultInjectionEnv env_;
};

// Every byte and every time stamp of the directory, for "nothing changed".
std::string Listing(const std::string& dir) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> entries;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    entries[e.path().filename()] =
        fmt::format("{} {} {}", fs::file_size(e.path()),
                    fs::last_write_time(e.path()).time_since_epoch().count(), bytes.str());
  }
  std::string out;
  for (const auto& [name, what] : entries) out += name + " " + what + "\n";
  return out;
}

TEST_F(GcTest, DeletesSegmentsOlderThanTheRetentionOldestFirst) {
  ASSERT_OK(DailySegments(&env_, Dir(), 10, 24, true));
  const auto before = SegmentNames(Dir());
  ASSERT_EQ(before.size(), 11u);
  SetNow(kBaseMs + 12 * kDayMs);  // 7 days back is day 5: days 0..4 end before it
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(7 * 86400)));
  ASSERT_EQ(r.deleted.size(), 5u);
  uint64_t bytes = 0;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.deleted[i].name, before[i]);
    EXPECT_EQ(TSPhysicalMs(r.deleted[i].last_ts), kBaseMs + i * kDayMs + 23 * testing::kHourMs);
    EXPECT_FALSE(r.deleted[i].past_guard);
    bytes += r.deleted[i].bytes;
  }
  EXPECT_EQ(r.bytes_freed, bytes);
  EXPECT_EQ(r.held_by, HeldBy::kRetention);
  EXPECT_THAT(r.held_why, HasSubstr(before[5]));
  EXPECT_THAT(r.held_why, HasSubstr("7d"));
  EXPECT_EQ(SegmentNames(Dir()), std::vector<std::string>(before.begin() + 5, before.end()));
  EXPECT_EQ(r.segments_kept, 6u);
  // Run again at once: nothing more is old enough.
  ASSERT_OK_AND_ASSIGN(Report again, CollectGarbage(Dir(), Retention(7 * 86400)));
  EXPECT_TRUE(again.deleted.empty());
}

TEST_F(GcTest, MaxSizeDeletesTheOldestUntilTheDirectoryFits) {
  ASSERT_OK(DailySegments(&env_, Dir(), 10, 24, true));
  uint64_t total = 0;
  for (const auto& name : SegmentNames(Dir())) {
    total += std::filesystem::file_size(Dir() + "/" + name);
  }
  SetNow(kBaseMs + 11 * kDayMs);
  Options o = Retention(30 * 86400);  // nothing is that old: size alone decides
  o.max_size = total / 2;
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), o));
  ASSERT_FALSE(r.deleted.empty());
  EXPECT_LE(r.bytes_kept, o.max_size);
  EXPECT_GT(r.bytes_kept + r.deleted.back().bytes, o.max_size);  // no more than needed
  EXPECT_EQ(r.bytes_kept + r.bytes_freed, total);
  EXPECT_EQ(r.held_by, HeldBy::kRetention);
  EXPECT_THAT(r.held_why, HasSubstr("fit in max-size"));
  // Age and size together: whichever deletes more.
  o.retention_seconds = 3 * 86400;  // days 0..7 are older
  ASSERT_OK_AND_ASSIGN(Report both, CollectGarbage(Dir(), o));
  EXPECT_EQ(r.deleted.size() + both.deleted.size(), 8u);
}

TEST_F(GcTest, ADryRunChangesNothing) {
  ASSERT_OK(DailySegments(&env_, Dir(), 6, 24, true));
  SetNow(kBaseMs + 30 * kDayMs);
  const std::string before = Listing(Dir());
  Options o = Retention(86400);
  o.dry_run = true;
  ASSERT_OK_AND_ASSIGN(Report dry, CollectGarbage(Dir(), o));
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(dry.deleted.size(), 6u);
  EXPECT_EQ(Listing(Dir()), before);  // not even GC.LOCK was created
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/" + journal::kGcLockName));
  // What it said is what a real run does.
  ASSERT_OK_AND_ASSIGN(Report real, CollectGarbage(Dir(), Retention(86400)));
  ASSERT_EQ(real.deleted.size(), dry.deleted.size());
  for (size_t i = 0; i < real.deleted.size(); ++i) {
    EXPECT_EQ(real.deleted[i].name, dry.deleted[i].name);
    EXPECT_EQ(real.deleted[i].bytes, dry.deleted[i].bytes);
  }
  EXPECT_EQ(real.bytes_freed, dry.bytes_freed);
}

TEST_F(GcTest, NeverTheNewestSegmentEvenWhenSealedAndExpired) {
  ASSERT_OK(DailySegments(&env_, Dir(), 4, 24, false));
  const auto before = SegmentNames(Dir());
  SetNow(kBaseMs + 365 * kDayMs);
  Options o = Retention(1);
  o.max_size = 1;  // even a size bound every segment breaks
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), o));
  EXPECT_EQ(r.deleted.size(), 3u);
  EXPECT_EQ(SegmentNames(Dir()), std::vector<std::string>{before.back()});
  EXPECT_EQ(r.held_by, HeldBy::kNewest);
  EXPECT_THAT(r.held_why, HasSubstr(before.back() + " is the newest segment"));
}

TEST_F(GcTest, NeverTheActiveSegmentOfAJournalThatIsOpen) {
  ASSERT_OK(DailySegments(&env_, Dir(), 3, 24, false));
  ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(Dir(), testing::SmallJournal(&env_)));
  ASSERT_OK(testing::AppendEvery(j.get(), kBaseMs + 3 * kDayMs, 5, 1000, false));
  const auto before = SegmentNames(Dir());
  ASSERT_EQ(before.size(), 4u);
  SetNow(kBaseMs + 365 * kDayMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(1)));
  EXPECT_EQ(r.deleted.size(), 3u);
  EXPECT_EQ(SegmentNames(Dir()), std::vector<std::string>{before.back()});
  // The writer goes on in its segment.
  ASSERT_OK(testing::AppendEvery(j.get(), kBaseMs + 4 * kDayMs, 5, 1000, false));
  ASSERT_OK(j->Close());
  EXPECT_EQ(SegmentNames(Dir()), std::vector<std::string>{before.back()});
}

// A crash between creating a segment and its first record leaves a newest segment that the next
// open removes; the segment before it then carries the ts floor, so it stays too.
TEST_F(GcTest, KeepsTheSegmentBeforeANewestOneWithoutARecord) {
  ASSERT_OK(DailySegments(&env_, Dir(), 4, 24, false));
  const auto sealed = SegmentNames(Dir());
  const uint64_t floor_ts = testing::TsAt(kBaseMs + 3 * kDayMs + 23 * testing::kHourMs);
  const std::string empty = journal::MakeSegmentName(floor_ts + 1000, env_.NowMicros());
  {
    ASSERT_OK_AND_ASSIGN(auto w, segment::SegmentWriter::Create(&env_, Dir() + "/" + empty,
                                                                segment::SegmentOptions(), 0));
    ASSERT_OK(w->Close());
  }
  SetNow(kBaseMs + 365 * kDayMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(1)));
  EXPECT_EQ(r.deleted.size(), 3u);
  EXPECT_EQ(SegmentNames(Dir()), (std::vector<std::string>{sealed.back(), empty}));
  EXPECT_THAT(r.held_why, HasSubstr("newest segment holding a record"));
  ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(Dir(), testing::SmallJournal(&env_)));
  EXPECT_EQ(j->last_ts(), floor_ts);  // the floor survived
  EXPECT_TRUE(j->Append(journal::Record{floor_ts, "x"}).IsInvalidArgument());
  ASSERT_OK(j->Close());
}

TEST_F(GcTest, StopsAtAnUnsealedSegmentThatIsNotTheNewest) {
  ASSERT_OK(env_.CreateDirs(Dir()));
  segment::SegmentOptions so;
  segment::BlockEncoder encoder(so);
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    const uint64_t ts = testing::TsAt(kBaseMs + i * kDayMs);
    names.push_back(journal::MakeSegmentName(ts, 0));
    ASSERT_OK_AND_ASSIGN(auto w,
                         segment::SegmentWriter::Create(&env_, Dir() + "/" + names.back(), so, 0));
    std::vector<segment::EncodedBlock> blocks;
    const std::string payload = testing::PayloadFor(ts);
    ASSERT_OK(encoder.Encode(std::vector<segment::Record>{{ts, payload}}, &blocks));
    ASSERT_OK(w->Append(blocks));
    ASSERT_OK(i == 1 ? w->Close() : w->Seal());  // the middle one as a crash leaves it
  }
  SetNow(kBaseMs + 365 * kDayMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(1)));
  ASSERT_EQ(r.deleted.size(), 1u);
  EXPECT_EQ(r.deleted[0].name, names[0]);
  EXPECT_EQ(r.held_by, HeldBy::kUnsealed);
  EXPECT_THAT(r.held_why, HasSubstr(names[1] + " is not sealed"));
}

TEST_F(GcTest, RefusesAWal) {
  journal::JournalOptions o = testing::SmallJournal(&env_);
  o.segment.kind = segment::SegmentKind::kArrival;
  ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(Dir(), o));
  ASSERT_OK(testing::AppendEvery(j.get(), kBaseMs, 3, 1000, true));
  ASSERT_OK(testing::AppendEvery(j.get(), kBaseMs + kDayMs, 3, 1000, false));
  ASSERT_OK(j->Close());
  SetNow(kBaseMs + 365 * kDayMs);
  Result<Report> r = CollectGarbage(Dir(), Retention(1));
  ASSERT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("arrival-order journal (a pump's wal/)"));
  EXPECT_EQ(SegmentNames(Dir()).size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/" + journal::kGcLockName));
}

TEST_F(GcTest, AMissingOrEmptyDirectorySaysSo) {
  Result<Report> missing = CollectGarbage(Dir(), Retention(1));
  ASSERT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  EXPECT_THAT(missing.status().message(), HasSubstr(Dir() + " does not exist"));
  ASSERT_OK(env_.CreateDirs(Dir()));
  ASSERT_OK_AND_ASSIGN(Report empty, CollectGarbage(Dir(), Retention(1)));
  EXPECT_EQ(empty.held_by, HeldBy::kNoSegments);
  EXPECT_THAT(empty.held_why, HasSubstr("holds no segment"));
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/" + journal::kGcLockName));  // nothing to lock
  std::ofstream(Dir() + "/a-file") << "x";
  Result<Report> file = CollectGarbage(Dir() + "/a-file", Retention(1));
  EXPECT_TRUE(file.status().IsInvalidArgument()) << file.status().ToString();
}

TEST_F(GcTest, AGcFindsAnotherRunningAndLeavesItTheWork) {
  ASSERT_OK(DailySegments(&env_, Dir(), 4, 24, true));
  SetNow(kBaseMs + 365 * kDayMs);
  {
    ASSERT_OK_AND_ASSIGN(auto held, env_.LockFile(Dir() + "/" + journal::kGcLockName));
    ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(1)));
    EXPECT_EQ(r.held_by, HeldBy::kOtherGc);
    EXPECT_TRUE(r.deleted.empty());
    EXPECT_THAT(r.held_why, HasSubstr("another GC is running"));
    EXPECT_EQ(SegmentNames(Dir()).size(), 5u);
  }
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Retention(1)));
  EXPECT_EQ(r.deleted.size(), 4u);
}

// The pump's hourly GC and a cron one, started together over and over: each segment is deleted
// once, by one of them, and neither fails.
TEST_F(GcTest, TwoGcsAtOnceNeitherFailsNorDeletesTwice) {
  SetNow(kBaseMs + 365 * kDayMs);
  for (int round = 0; round < 20; ++round) {
    const std::string dir = dir_.Sub("r" + std::to_string(round));
    ASSERT_OK(DailySegments(&env_, dir, 8, 4, true));
    Result<Report> a = Status::Aborted("not run"), b = Status::Aborted("not run");
    std::thread ta([&] { a = CollectGarbage(dir, Retention(1)); });
    std::thread tb([&] { b = CollectGarbage(dir, Retention(1)); });
    ta.join();
    tb.join();
    ASSERT_OK(a.status());
    ASSERT_OK(b.status());
    EXPECT_EQ(a->deleted.size() + b->deleted.size(), 8u) << "round " << round;
    EXPECT_EQ(SegmentNames(dir).size(), 1u);
  }
}

}  // namespace
}  // namespace binlog::gc
