// Journal behaviour: appends, rotation and naming, seek, locking, tailing.
#include "journal/journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "common/logging.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using testing::PayloadFor;
using testing::ReadAll;

JournalOptions SmallSegments(uint64_t max_file_size = 64 << 10) {
  JournalOptions o;
  o.max_file_size = max_file_size;
  o.segment.block_bytes = 4 << 10;
  o.segment.index_interval_bytes = 4 << 10;
  return o;
}

Status AppendRange(Journal* j, uint64_t first, uint64_t count, uint64_t step = 1) {
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t ts = first + i * step;
    std::string payload = PayloadFor(ts);
    RETURN_IF_ERROR(j->Append(Record{ts, payload}));
  }
  return Status::OK();
}

TEST(JournalTest, AppendedRecordsReadBackInOrder) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
  ASSERT_OK(AppendRange(j.get(), 1000, 500));
  EXPECT_EQ(j->last_ts(), 1499u);
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  ASSERT_EQ(back.ts.size(), 500u);
  EXPECT_EQ(back.bad_payloads, 0u);
  for (size_t i = 0; i < back.ts.size(); ++i) EXPECT_EQ(back.ts[i], 1000 + i);
}

TEST(JournalTest, BatchAppendWritesEveryRecord) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
  std::vector<std::string> payloads;
  std::vector<Record> batch;
  for (uint64_t ts = 1; ts <= 300; ++ts) payloads.push_back(PayloadFor(ts));
  for (uint64_t ts = 1; ts <= 300; ++ts) batch.push_back(Record{ts, payloads[ts - 1]});
  ASSERT_OK(j->Append(batch));
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 300u);
  EXPECT_EQ(back.bad_payloads, 0u);
}

TEST(JournalTest, RotatesAtMaxFileSizeAndNamesSegmentsByFirstTs) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(8 << 10)));
  ASSERT_OK(AppendRange(j.get(), 422310029132038145ull, 400, 3));
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_GT(segments.size(), 3u);
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  ASSERT_EQ(back.ts.size(), 400u);
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentName& s = segments[i];
    EXPECT_TRUE(ParseSegmentName(s.name).has_value()) << s.name;
    EXPECT_EQ(s.name.substr(0, 26), "binlog-" + std::to_string(s.ts) + "-") << s.name;
    // Every segment is named after the ts of its first record.
    ASSERT_OK_AND_ASSIGN(auto reader, segment::SegmentReader::Open(Env::Posix(), dir.Sub(s.name)));
    segment::SegmentIterator it(reader.get(), 0, UINT64_MAX);
    Record r;
    ASSERT_OK_AND_ASSIGN(auto state, it.Next(&r));
    ASSERT_EQ(state, segment::SegmentIterator::State::kRecord);
    EXPECT_EQ(r.ts, s.ts);
    // All but the newest are sealed, and none is far past the size limit.
    EXPECT_EQ(reader->sealed(), i + 1 < segments.size()) << s.name;
    ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(dir.Sub(s.name)));
    EXPECT_LT(size, (8u << 10) + (4u << 10)) << s.name;
  }
}

// One append far larger than a segment (a pump catching up after a stall) still rotates: no
// segment holds more than max_file_size plus one block, in either kind of journal, and a
// Write's ticket names the segment its records start in.
TEST(JournalTest, OneHugeAppendIsSpreadOverSegmentsOfTheMaxSize) {
  for (auto kind : {segment::SegmentKind::kOrdered, segment::SegmentKind::kArrival}) {
    SCOPED_TRACE(kind == segment::SegmentKind::kOrdered ? "ordered" : "arrival");
    binlog::testing::TempDir dir;
    JournalOptions o = SmallSegments(16 << 10);
    o.segment.kind = kind;
    o.segment.compression = segment::Compression::kNone;
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
    ASSERT_OK(AppendRange(j.get(), 1, 3));
    std::vector<std::string> payloads;
    std::vector<Record> batch;
    for (uint64_t ts = 10; ts < 410; ++ts) payloads.push_back(PayloadFor(ts));
    for (uint64_t ts = 10; ts < 410; ++ts) batch.push_back(Record{ts, payloads[ts - 10]});
    Journal::WriteTicket ticket;
    ASSERT_OK(j->Write(batch, &ticket));
    ASSERT_OK(j->WaitDurable(ticket));
    ASSERT_OK(j->Close());
    ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
    ASSERT_GT(segments.size(), 10u);  // ~300 KiB in 16 KiB segments
    EXPECT_EQ(ticket.segment_ts, segments.front().ts);
    for (const SegmentName& s : segments) {
      ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(dir.Sub(s.name)));
      EXPECT_LT(size, (16u << 10) + (4u << 10) + 64) << s.name;
    }
    auto back =
        ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX, kind == segment::SegmentKind::kArrival);
    ASSERT_OK(back.status);
    EXPECT_EQ(back.ts.size(), 403u);
    EXPECT_EQ(back.bad_payloads, 0u);
  }
}

TEST(JournalTest, SegmentNamePadsTsToSixteenDigits) {
  std::string name = MakeSegmentName(42, 0);
  EXPECT_EQ(name.substr(0, 24), "binlog-0000000000000042-");
  EXPECT_EQ(name.size(), 24u + 14u);
  auto parsed = ParseSegmentName(name);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->ts, 42u);
  EXPECT_FALSE(ParseSegmentName("binlog-12-2021").has_value());
  EXPECT_FALSE(ParseSegmentName("binlog-x-20210118125724").has_value());
  EXPECT_FALSE(ParseSegmentName("notes.txt").has_value());
}

TEST(JournalTest, ReopenContinuesTheActiveSegment) {
  binlog::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(1 << 20)));
    ASSERT_OK(AppendRange(j.get(), 1, 50));
  }
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(1 << 20)));
  EXPECT_EQ(j->last_ts(), 50u);
  EXPECT_TRUE(j->Append(Record{50, "dup"}).IsInvalidArgument());
  ASSERT_OK(AppendRange(j.get(), 51, 50));
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  EXPECT_EQ(segments.size(), 1u);
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 100u);
}

TEST(JournalTest, OutOfOrderTsIsRefusedAndNothingOfTheCallIsWritten) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
  ASSERT_OK(AppendRange(j.get(), 100, 1));
  std::string p = PayloadFor(200);
  std::string q = PayloadFor(150);
  std::vector<Record> bad{{200, p}, {150, q}};
  EXPECT_TRUE(j->Append(bad).IsInvalidArgument());
  EXPECT_TRUE(j->Append(Record{99, "x"}).IsInvalidArgument());
  ASSERT_OK(AppendRange(j.get(), 101, 1));
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path());
  EXPECT_EQ(back.ts, (std::vector<uint64_t>{100, 101}));
}

TEST(JournalTest, SecondWriterIsRefusedWhileTheFirstHoldsTheLock) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
  auto second = Journal::Open(dir.path(), SmallSegments());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_NE(second.status().message().find(dir.path()), std::string::npos);
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto third, Journal::Open(dir.path(), SmallSegments()));
}

TEST(JournalTest, SeekEqualsLinearScanOnRandomData) {
  binlog::testing::TempDir dir;
  std::mt19937_64 rng(7);
  std::vector<uint64_t> all;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(16 << 10)));
    uint64_t ts = 1000;
    for (int i = 0; i < 3000; ++i) {
      ts += 1 + rng() % 50;
      all.push_back(ts);
    }
    size_t i = 0;
    while (i < all.size()) {
      size_t n = std::min<size_t>(1 + rng() % 20, all.size() - i);
      std::vector<std::string> payloads;
      std::vector<Record> batch;
      for (size_t k = 0; k < n; ++k) payloads.push_back(PayloadFor(all[i + k]));
      for (size_t k = 0; k < n; ++k) batch.push_back(Record{all[i + k], payloads[k]});
      ASSERT_OK(j->Append(batch));
      i += n;
    }
  }
  for (int trial = 0; trial < 200; ++trial) {
    uint64_t start = all.front() - 10 + rng() % (all.back() - all.front() + 20);
    uint64_t stop = start + rng() % 3000;
    std::vector<uint64_t> want;
    for (uint64_t ts : all) {
      if (ts >= start && ts <= stop) want.push_back(ts);
    }
    auto got = ReadAll(Env::Posix(), dir.path(), start, stop);
    ASSERT_OK(got.status);
    ASSERT_EQ(got.ts, want) << "start=" << start << " stop=" << stop;
    EXPECT_EQ(got.bad_payloads, 0u);
  }
}

TEST(JournalTest, NonSegmentFileIsIgnoredWithAWarning) {
  binlog::testing::TempDir dir;
  binlog::testing::TempDir logs;
  LogOptions log_options;
  log_options.file = logs.Sub("test.log");
  log_options.rotate = "none";
  ASSERT_OK(InitLogging(log_options));
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
    ASSERT_OK(AppendRange(j.get(), 1, 10));
  }
  std::ofstream(dir.Sub("notes.txt")) << "operator notes\n";
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments()));
  ASSERT_OK(AppendRange(j.get(), 11, 10));
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 20u);
  ASSERT_OK(InitLogging(LogOptions()));  // back to stderr, flushing the file
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(Env::Posix(), log_options.file));
  EXPECT_NE(text.find("[WARN]"), std::string::npos) << text;
  EXPECT_NE(text.find("notes.txt"), std::string::npos) << text;
}

TEST(JournalTest, ConcurrentWritersShareSyncs) {
  binlog::testing::TempDir dir;
  JournalOptions o = SmallSegments(1 << 20);
  o.segment.kind = segment::SegmentKind::kArrival;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t ts = 1 + t * 100000 + i;
        std::string p = PayloadFor(ts);
        EXPECT_OK(j->Append(Record{ts, p}));
      }
    });
  }
  for (auto& th : threads) th.join();
  JournalStats stats = j->stats();
  EXPECT_EQ(stats.records, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.appends, uint64_t{kThreads * kPerThread});
  EXPECT_LE(stats.groups, stats.appends);
  // A leader syncs after handing the lead on, so one fdatasync may cover several groups.
  EXPECT_GE(stats.syncs, 1u);
  EXPECT_LE(stats.syncs, stats.groups);
  EXPECT_EQ(stats.sync_latency.count(), stats.syncs);
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX, /*arrival=*/true);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(back.bad_payloads, 0u);
  std::sort(back.ts.begin(), back.ts.end());
  EXPECT_EQ(std::unique(back.ts.begin(), back.ts.end()), back.ts.end());
}

TEST(JournalTest, OneWaitDurableCoversEveryEarlierWrite) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(1 << 20)));
  std::vector<Journal::WriteTicket> tickets(3);
  for (uint64_t ts = 1; ts <= 3; ++ts) {
    std::string p = PayloadFor(ts);
    ASSERT_OK(
        j->Write(std::span<const Record>(std::vector<Record>{Record{ts, p}}), &tickets[ts - 1]));
  }
  EXPECT_EQ(j->stats().syncs, 0u);
  EXPECT_EQ(j->last_ts(), 0u) << "written is not durable";
  ASSERT_OK(j->WaitDurable(tickets[2]));
  EXPECT_EQ(j->stats().syncs, 1u);
  EXPECT_EQ(j->last_ts(), 3u);
  ASSERT_OK(j->WaitDurable(tickets[0]));
  ASSERT_OK(j->WaitDurable(tickets[1]));
  EXPECT_EQ(j->stats().syncs, 1u) << "the first sync covered the earlier writes";
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts, (std::vector<uint64_t>{1, 2, 3}));
}

// The pump's use: one thread writes, another waits for durability, while segments rotate.
TEST(JournalTest, PipelinedWritesAndSyncsAcrossRotations) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(8 << 10)));
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint64_t, Journal::WriteTicket>> written;
  bool done = false;
  std::vector<uint64_t> durable;
  std::thread syncer([&] {
    std::unique_lock<std::mutex> l(mu);
    while (true) {
      cv.wait(l, [&] { return done || !written.empty(); });
      if (written.empty()) return;
      auto [ts, ticket] = written.front();
      written.pop_front();
      l.unlock();
      EXPECT_OK(j->WaitDurable(ticket));
      EXPECT_GE(j->last_ts(), ts);
      l.lock();
      durable.push_back(ts);
    }
  });
  for (uint64_t ts = 1; ts <= 400; ++ts) {
    std::string p = PayloadFor(ts);
    Journal::WriteTicket ticket;
    ASSERT_OK(j->Write(std::span<const Record>(std::vector<Record>{Record{ts, p}}), &ticket));
    std::lock_guard<std::mutex> g(mu);
    written.emplace_back(ts, ticket);
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> g(mu);
    done = true;
    cv.notify_one();
  }
  syncer.join();
  EXPECT_EQ(durable.size(), 400u);
  EXPECT_GT(j->stats().segments_created, 3u);
  EXPECT_LE(j->stats().syncs, 400u);
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 400u);
  EXPECT_TRUE(std::is_sorted(back.ts.begin(), back.ts.end()));
  EXPECT_EQ(back.bad_payloads, 0u);
}

TEST(JournalTest, ArrivalJournalNamesSegmentsBySequence) {
  binlog::testing::TempDir dir;
  JournalOptions o = SmallSegments(4 << 10);
  o.segment.kind = segment::SegmentKind::kArrival;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
    for (uint64_t ts : {900, 100, 500, 300, 700}) {
      for (int k = 0; k < 10; ++k) ASSERT_OK(j->Append(Record{ts + k, PayloadFor(ts + k)}));
    }
  }
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_GT(segments.size(), 1u);
  for (size_t i = 0; i < segments.size(); ++i) EXPECT_EQ(segments[i].ts, i + 1);
  auto back = ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX, true);
  ASSERT_OK(back.status);
  ASSERT_EQ(back.ts.size(), 50u);
  EXPECT_EQ(back.ts.front(), 900u);  // arrival order, not ts order
}

TEST(JournalTest, TailingReaderWakesOnNewData) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), SmallSegments(8 << 10)));
  ReadOptions ro;
  ro.follow = true;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), ro));
  Record r;
  ASSERT_OK_AND_ASSIGN(bool got, reader->Next(&r, std::chrono::milliseconds(50)));
  EXPECT_FALSE(got);  // nothing yet: the wait times out

  constexpr uint64_t kCount = 300;  // enough to rotate several times
  std::thread writer([&] {
    for (uint64_t ts = 1; ts <= kCount; ++ts) {
      EXPECT_OK(j->Append(Record{ts, PayloadFor(ts)}));
      if (ts % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::vector<uint64_t> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (seen.size() < kCount && std::chrono::steady_clock::now() < deadline) {
    ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r, std::chrono::seconds(5)));
    if (!more) continue;
    EXPECT_EQ(r.payload, PayloadFor(r.ts));
    seen.push_back(r.ts);
  }
  writer.join();
  ASSERT_EQ(seen.size(), kCount);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  EXPECT_GT(segments.size(), 2u);  // the reader followed rotations
}

TEST(JournalTest, WakeInterruptsAWaitingReader) {
  binlog::testing::TempDir dir;
  ReadOptions ro;
  ro.follow = true;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), ro));
  auto start = std::chrono::steady_clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    reader->Wake();
  });
  Record r;
  ASSERT_OK_AND_ASSIGN(bool got, reader->Next(&r, std::chrono::seconds(20)));
  waker.join();
  EXPECT_FALSE(got);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace binlog::journal
