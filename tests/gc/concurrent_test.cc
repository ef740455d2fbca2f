// The GC while the directory is written and read: a journal appending in one thread, a following
// JournalReader in another, GC runs in a third, on a fake clock that the writer moves. No
// record within the retention is ever lost, and a reader that holds a deleted segment open
// reads it to its end.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gc_test_util.h"

namespace binlog::gc {
namespace {

using testing::kBaseMs;
using testing::PayloadFor;
using testing::TsAt;

TEST(GcConcurrentTest, AppendsAndAFollowingReaderLoseNothingWithinTheRetention) {
  binlog::testing::TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  FaultInjectionEnv env(Env::Posix());
  env.SetNowMicros(kBaseMs * 1000);
  constexpr int kRecords = 6000;
  constexpr int kRetentionMs = 1000;  // one record per fake millisecond
  constexpr int kMaxLag = 300;        // the reader stays well within the retention
  ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(dir, testing::SmallJournal(&env)));

  std::atomic<int> written{0}, read{0};
  std::atomic<bool> done{false};
  Status write_status, read_status, gc_status;
  std::vector<uint64_t> seen;
  size_t bad_payloads = 0;
  std::thread reader([&] {
    journal::ReadOptions ro;
    ro.follow = true;
    auto r = journal::JournalReader::Open(&env, dir, ro);
    if (!r.ok()) {
      read_status = r.status();
      return;
    }
    journal::Record rec;
    while (seen.size() < kRecords) {
      auto more = (*r)->Next(&rec, std::chrono::milliseconds(200));
      if (!more.ok()) {
        read_status = more.status();
        return;
      }
      if (!*more) {
        if (done && read == written) return;  // the writer stopped early: nothing more comes
        continue;
      }
      seen.push_back(rec.ts);
      bad_payloads += rec.payload != PayloadFor(rec.ts);
      ++read;
    }
  });
  size_t gc_runs = 0, gc_deleted = 0;
  std::thread gc([&] {
    Options o;
    o.env = &env;
    o.retention_seconds = kRetentionMs / 1000.0;
    while (!done) {
      auto r = CollectGarbage(dir, o);
      if (!r.ok()) {
        gc_status = r.status();
        return;
      }
      ++gc_runs;
      gc_deleted += r->deleted.size();
    }
  });
  for (int i = 0; i < kRecords && write_status.ok(); ++i) {
    while (i - read > kMaxLag && read_status.ok()) std::this_thread::yield();
    const int64_t ms = kBaseMs + i;
    env.SetNowMicros(ms * 1000);
    const std::string payload = PayloadFor(TsAt(ms));
    write_status = j->Append(journal::Record{TsAt(ms), payload});
    if (write_status.ok()) ++written;
  }
  done = true;
  gc.join();
  reader.join();
  ASSERT_OK(write_status);
  ASSERT_OK(read_status);
  ASSERT_OK(gc_status);
  ASSERT_OK(j->Close());

  EXPECT_GT(gc_runs, 0u);
  EXPECT_GT(gc_deleted, 10u);  // the GC did delete under the writer and the reader
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(seen[i], TsAt(kBaseMs + i)) << i;
  EXPECT_EQ(bad_payloads, 0u);

  // What is left on disk: an unbroken run to the last record, from at or before the cutoff.
  auto left = journal::JournalReader::Open(&env, dir, journal::ReadOptions());
  ASSERT_OK(left.status());
  journal::Record rec;
  std::vector<uint64_t> rest;
  while (true) {
    auto more = (*left)->Next(&rec);
    ASSERT_OK(more.status());
    if (!*more) break;
    rest.push_back(rec.ts);
  }
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), TsAt(kBaseMs + kRecords - 1));
  EXPECT_LE(TSPhysicalMs(rest.front()), kBaseMs + kRecords - 1 - kRetentionMs);
  for (size_t i = 1; i < rest.size(); ++i) ASSERT_EQ(rest[i], rest[i - 1] + (1ull << 18));
}

TEST(GcConcurrentTest, AReaderHoldingADeletedSegmentReadsItToItsEnd) {
  binlog::testing::TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  FaultInjectionEnv env(Env::Posix());
  ASSERT_OK(testing::DailySegments(&env, dir, 6, 24, true));
  auto r = journal::JournalReader::Open(&env, dir, journal::ReadOptions());
  ASSERT_OK(r.status());
  journal::Record rec;
  std::vector<uint64_t> seen;
  for (int i = 0; i < 3; ++i) {  // into the oldest segment
    ASSERT_OK_AND_ASSIGN(bool more, (*r)->Next(&rec));
    ASSERT_TRUE(more);
    seen.push_back(rec.ts);
  }
  // Days 0..3 go, day 0's segment while the reader has it open.
  env.SetNowMicros((kBaseMs + 6 * testing::kDayMs) * 1000);
  Options o;
  o.env = &env;
  o.retention_seconds = 2 * 86400;
  ASSERT_OK_AND_ASSIGN(Report report, CollectGarbage(dir, o));
  ASSERT_EQ(report.deleted.size(), 4u);
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool more, (*r)->Next(&rec));
    if (!more) break;
    seen.push_back(rec.ts);
  }
  // Day 0 whole, then days 4..6: days 1..3 were deleted before the reader got to them.
  std::vector<uint64_t> want;
  for (int h = 0; h < 24; ++h) want.push_back(TsAt(kBaseMs + h * testing::kHourMs));
  for (int d = 4; d <= 6; ++d) {
    for (int h = 0; h < 24; ++h) {
      want.push_back(TsAt(kBaseMs + d * testing::kDayMs + h * testing::kHourMs));
    }
  }
  EXPECT_EQ(seen, want);
}

}  // namespace
}  // namespace binlog::gc
