// Transactions in parts through the pump's core: a prewrite in parts among small transactions,
// rollbacks, the checks of a part's sequence, the watermark and max-txn-timeout, one-shot
// commits in parts (a committed producer's), and a restart in the middle of one.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pump/parts_test_util.h"
#include "pump/pump.h"
#include "pump/pump_test_util.h"
#include "pump/server_test_util.h"
#include "segment/format.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using segment::MakePartTag;
using testing::BigPart;
using testing::Commit;
using testing::Prewrite;
using testing::ReadStoredLog;
using testing::Rollback;
using testing::StoredLog;
using testing::StoredTxn;
using testing::TsoClock;
using testing::WaitEmitted;

PumpOptions Options(const std::string& dir) {
  PumpOptions o;
  o.data_dir = dir;
  o.gen_binlog_interval_seconds = 0;
  o.stop_write_at_available_space = 0;
  return o;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  auto segments = journal::ListSegments(Env::Posix(), dir, false);
  if (!segments.ok()) return 0;
  for (const journal::SegmentName& s : *segments) {
    auto size = Env::Posix()->GetFileSize(JoinPath(dir, s.name));
    if (size.ok()) total += *size;
  }
  return total;
}

const StoredTxn* Find(const StoredLog& log, uint64_t ts) {
  for (const StoredTxn& t : log.txns) {
    if (t.ts == ts) return &t;
  }
  return nullptr;
}

// A one-shot COMMIT part from upstream server `server_id`, as the syncer sends them.
pb::Binlog OneShotPart(uint64_t ts, uint32_t server_id, int64_t first_id, int rows) {
  pb::Binlog b = BigPart(pb::COMMIT, ts, ts, first_id, rows, 100);
  b.mutable_source()->set_server_id(server_id);
  b.mutable_source()->set_file("mariadb-bin.000001");
  b.mutable_source()->set_pos(static_cast<uint64_t>(first_id + rows));
  return b;
}

struct SmallProducers {
  SmallProducers(TsoClock* c, Pump* p) : clock(c), pump(p) {}
  TsoClock* clock;
  Pump* pump;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<uint64_t> acked;
  std::vector<std::thread> threads;

  void Start(int n) {
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([this] {
        while (!stop) {
          uint64_t start = clock->Next();
          if (!pump->WriteBinlog(Prewrite(start)).ok()) return;
          uint64_t commit = clock->Next();
          if (!pump->WriteBinlog(Commit(start, commit)).ok()) return;
          std::lock_guard<std::mutex> g(mu);
          acked.insert(commit);
        }
      });
    }
  }
  void Stop() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

// 16 parts of ~4 MiB (~67 MiB) while four producers commit small transactions: the big one is
// pending from its first part (nothing committed after its start_ts is released), its parts stay
// in wal/ (rotated every 8 MiB meanwhile), and it comes out of binlog/ whole, in its commit-ts
// place among the small ones.
TEST(PumpPartsTest, BigPrewriteInPartsComesOutWholeInCommitOrder) {
  binlog::testing::TempDir dir;
  PumpOptions o = Options(dir.path());
  o.max_file_size = 8 << 20;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  TsoClock clock;
  SmallProducers small(&clock, pump.get());
  small.Start(4);
  constexpr int kParts = 16, kRows = 19500;
  const uint64_t start = clock.Next();
  uint64_t part_bytes = 0;
  // Commits released before the first part came may be above start; none after it is.
  uint64_t held_at = 0;
  for (int i = 0; i < kParts; ++i) {
    pb::Binlog part = BigPart(pb::PREWRITE, start, 0, int64_t{i} * kRows, kRows);
    part_bytes += part.ByteSizeLong();
    ASSERT_OK(pump->WriteBinlog(part, MakePartTag(static_cast<uint32_t>(i), i == kParts - 1)));
    if (i == 0) held_at = std::max(pump->MaxCommitTS(), start - 1);
    EXPECT_LE(pump->MaxCommitTS(), held_at) << "an unfinished prewrite in parts is unresolved";
  }
  EXPECT_GE(DirBytes(dir.Sub("wal")), part_bytes) << "the parts are kept in wal/";
  EXPECT_LE(pump->Stats().emitted_ts, held_at);
  const uint64_t commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  small.Stop();
  ASSERT_FALSE(small.acked.empty());
  ASSERT_TRUE(WaitEmitted(pump.get(), std::max(commit, *small.acked.rbegin())));

  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty()) << log.problems.front();
  const StoredTxn* big = Find(log, commit);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->parts, static_cast<uint32_t>(kParts));
  EXPECT_EQ(big->rows, int64_t{kParts} * kRows);
  EXPECT_EQ(big->first_id, 0);
  EXPECT_TRUE(big->ids_in_order);
  EXPECT_EQ(big->start_ts, start);
  size_t found = 0, between = 0;
  for (uint64_t ts : small.acked) {
    found += Find(log, ts) != nullptr;
    between += ts > held_at && ts < commit;
  }
  EXPECT_EQ(found, small.acked.size());
  EXPECT_EQ(log.txns.size(), small.acked.size() + 1);
  EXPECT_GT(between, 0u) << "small transactions held back while the big one was arriving";
  // Written to binlog/, the big one lets its wal segments go.
  EXPECT_TRUE(testing::WaitFor([&] { return DirBytes(dir.Sub("wal")) < part_bytes / 2; }));
  ASSERT_OK(pump->Close());
}

TEST(PumpPartsTest, ARollbackAfterPartsLeavesNothingInBinlog) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(Options(dir.path())));
  TsoClock clock;
  const uint64_t unfinished = clock.Next(), finished = clock.Next();
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, unfinished, 0, i * 100, 100),
                                MakePartTag(i, false)));
    ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, finished, 0, i * 100, 100),
                                MakePartTag(i, i == 2)));
  }
  ASSERT_OK(pump->WriteBinlog(Rollback(unfinished)));
  ASSERT_OK(pump->WriteBinlog(Rollback(finished)));
  EXPECT_TRUE(
      pump->WriteBinlog(BigPart(pb::PREWRITE, unfinished, 0, 300, 100), MakePartTag(3, true))
          .IsInvalidArgument());
  EXPECT_TRUE(pump->WriteBinlog(Commit(finished, clock.Next())).IsInvalidArgument());
  const uint64_t start = clock.Next(), commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
  ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
  ASSERT_TRUE(WaitEmitted(pump.get(), commit));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty());
  ASSERT_EQ(log.txns.size(), 1u);
  EXPECT_EQ(log.txns[0].ts, commit);
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
}

TEST(PumpPartsTest, APartsSequenceIsChecked) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(Options(dir.path())));
  TsoClock clock;
  const uint64_t s = clock.Next();
  auto part = [&](uint64_t start, int64_t id) { return BigPart(pb::PREWRITE, start, 0, id, 10); };
  // A next part without its first, then a first part and a part out of order.
  EXPECT_TRUE(pump->WriteBinlog(part(s, 10), MakePartTag(1, false)).IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(part(s, 0), MakePartTag(0, false)));
  EXPECT_TRUE(pump->WriteBinlog(part(s, 20), MakePartTag(2, false)).IsInvalidArgument());
  EXPECT_TRUE(pump->WriteBinlog(part(s, 0), MakePartTag(0, false)).IsInvalidArgument());
  EXPECT_TRUE(pump->WriteBinlog(Prewrite(s)).IsInvalidArgument()) << "duplicate prewrite";
  // Its commit before its last part; then the last part, and nothing after it.
  EXPECT_TRUE(pump->WriteBinlog(Commit(s, clock.Next())).IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(part(s, 10), MakePartTag(1, true)));
  EXPECT_TRUE(pump->WriteBinlog(part(s, 20), MakePartTag(2, true)).IsInvalidArgument());
  // What is never in parts.
  pb::Binlog ddl = Prewrite(clock.Next());
  ddl.clear_tables();
  ddl.set_ddl_query("CREATE TABLE t (id INT)");
  EXPECT_TRUE(pump->WriteBinlog(ddl, MakePartTag(0, false)).IsInvalidArgument());
  pb::Binlog fake;
  fake.set_tp(pb::FAKE);
  fake.set_commit_ts(static_cast<int64_t>(clock.Next()));
  EXPECT_TRUE(pump->WriteBinlog(fake, MakePartTag(0, true)).IsInvalidArgument());
  EXPECT_TRUE(pump->WriteBinlog(Commit(s, clock.Next()), MakePartTag(0, true)).IsInvalidArgument());
  // A batch: parts in order in one write pass; with one missing, the whole batch is refused.
  const uint64_t t = clock.Next(), u = clock.Next();
  std::vector<pb::Binlog> batch = {part(t, 0), part(t, 10), part(t, 20)};
  ASSERT_OK(pump->WriteBinlogs(
      batch,
      std::vector<uint32_t>{MakePartTag(0, false), MakePartTag(1, false), MakePartTag(2, true)}));
  batch = {part(u, 0), part(u, 20)};
  EXPECT_TRUE(
      pump->WriteBinlogs(batch, std::vector<uint32_t>{MakePartTag(0, false), MakePartTag(2, true)})
          .IsInvalidArgument());
  EXPECT_TRUE(pump->WriteBinlog(part(u, 20), MakePartTag(1, true)).IsInvalidArgument())
      << "nothing of the refused batch was stored";
  // A ts whose parts are still in wal/ is not used again by another transaction in parts.
  ASSERT_OK(pump->WriteBinlog(Rollback(t)));
  EXPECT_TRUE(pump->WriteBinlog(part(t, 0), MakePartTag(0, true)).IsInvalidArgument());
  const uint64_t cs = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Commit(s, cs)));
  ASSERT_TRUE(WaitEmitted(pump.get(), cs));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty());
  ASSERT_EQ(log.txns.size(), 1u);
  EXPECT_EQ(log.txns[0].parts, 2u);
  EXPECT_EQ(log.txns[0].rows, 20);
}

// An unfinished prewrite in parts, and an open one-shot commit in parts, hold the watermark
// like a pending prewrite, and max-txn-timeout resolves both.
TEST(PumpPartsTest, UnfinishedPartsHoldTheWatermarkUntilMaxTxnTimeout) {
  binlog::testing::TempDir dir;
  PumpOptions o = Options(dir.path());
  o.max_txn_timeout_seconds = 1;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  TsoClock clock;
  const uint64_t s = clock.Next();
  ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 0, 10), MakePartTag(0, false)));
  const uint64_t c = clock.Next();
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 9, 0, 10), MakePartTag(0, false)));
  const uint64_t start = clock.Next(), commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
  ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(pump->MaxCommitTS(), s);
  EXPECT_EQ(pump->Stats().pending_prewrites, 2u);
  EXPECT_EQ(pump->GetSourceState(9).open_commit_ts, c);
  ASSERT_TRUE(WaitEmitted(pump.get(), commit, std::chrono::seconds(10)));
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
  EXPECT_EQ(pump->GetSourceState(9).open_commit_ts, 0u);
  EXPECT_TRUE(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 10, 10), MakePartTag(1, true))
                  .IsInvalidArgument());
  EXPECT_TRUE(
      pump->WriteBinlog(OneShotPart(c, 9, 10, 10), MakePartTag(1, true)).IsInvalidArgument());
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty());
  ASSERT_EQ(log.txns.size(), 1u);
  EXPECT_EQ(log.txns[0].ts, commit);
}

// A committed producer's transaction in parts: open until its last part (the watermark stays
// below it, GetSourceState says how far it got), then whole in binlog/; a source's new
// transaction in parts ends the one it left open.
TEST(PumpPartsTest, OneShotCommitInPartsFromACommittedProducer) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(Options(dir.path())));
  TsoClock clock;
  const uint64_t c = clock.Next();
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 7, 0, 50), MakePartTag(0, false)));
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 7, 50, 50), MakePartTag(1, false)));
  SourceState st = pump->GetSourceState(7);
  EXPECT_FALSE(st.held.has_value());
  EXPECT_EQ(st.open_commit_ts, c);
  EXPECT_EQ(st.open_parts, 2u);
  EXPECT_GE(st.max_ts, c);
  pb::Binlog fake;
  fake.set_tp(pb::FAKE);
  const uint64_t beat = clock.Next();
  fake.set_commit_ts(static_cast<int64_t>(beat));
  ASSERT_OK(pump->WriteBinlog(fake));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LT(pump->Stats().emitted_ts, c) << "nothing passes an open one-shot commit";
  // Taken: the same ts as a whole one-shot, or as a new transaction in parts.
  EXPECT_TRUE(pump->WriteBinlog(OneShotPart(c, 8, 0, 5)).IsOutOfRange());
  EXPECT_TRUE(pump->WriteBinlog(OneShotPart(c, 8, 0, 5), MakePartTag(0, true)).IsOutOfRange());
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 7, 100, 50), MakePartTag(2, true)));
  ASSERT_TRUE(WaitEmitted(pump.get(), beat));
  st = pump->GetSourceState(7);
  ASSERT_TRUE(st.held.has_value());
  EXPECT_EQ(st.held->commit_ts, c);
  EXPECT_EQ(st.held->source.pos(), 150u);
  EXPECT_EQ(st.open_commit_ts, 0u);

  // Server 7 leaves c2 open and starts c3: c2 is dropped, c3 goes on.
  const uint64_t c2 = clock.Next(), c3 = clock.Next();
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c2, 7, 0, 10), MakePartTag(0, false)));
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c3, 7, 0, 10), MakePartTag(0, false)));
  st = pump->GetSourceState(7);
  EXPECT_EQ(st.open_commit_ts, c3);
  EXPECT_EQ(st.open_parts, 1u);
  EXPECT_TRUE(
      pump->WriteBinlog(OneShotPart(c2, 7, 10, 10), MakePartTag(1, true)).IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c3, 7, 10, 10), MakePartTag(1, true)));
  ASSERT_TRUE(WaitEmitted(pump.get(), c3));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty());
  std::vector<uint64_t> ts;
  for (const StoredTxn& t : log.txns) {
    if (!t.heartbeat) ts.push_back(t.ts);
  }
  EXPECT_EQ(ts, (std::vector<uint64_t>{c, c3}));
  EXPECT_EQ(Find(log, c)->parts, 3u);
  EXPECT_EQ(Find(log, c)->rows, 150);
  EXPECT_EQ(Find(log, c3)->parts, 2u);
}

// A restart in the middle: the parts received are found again in wal/ (how many, what comes
// next), and the rest completes the transaction.
TEST(PumpPartsTest, ARestartGoesOnWithThePartsInTheWal) {
  binlog::testing::TempDir dir;
  TsoClock clock;
  const uint64_t s = clock.Next(), c = clock.Next();
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(Options(dir.path())));
    ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 0, 100), MakePartTag(0, false)));
    ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 100, 100), MakePartTag(1, false)));
    ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 5, 0, 100), MakePartTag(0, false)));
    ASSERT_OK(pump->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(Options(dir.path())));
  EXPECT_EQ(pump->Stats().pending_prewrites, 2u);
  EXPECT_EQ(pump->GetSourceState(5).open_parts, 1u);
  EXPECT_TRUE(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 100, 100), MakePartTag(1, false))
                  .IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(BigPart(pb::PREWRITE, s, 0, 200, 100), MakePartTag(2, true)));
  ASSERT_OK(pump->WriteBinlog(OneShotPart(c, 5, 100, 100), MakePartTag(1, true)));
  const uint64_t commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Commit(s, commit)));
  ASSERT_TRUE(WaitEmitted(pump.get(), commit));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("binlog")));
  EXPECT_TRUE(log.problems.empty());
  ASSERT_EQ(log.txns.size(), 2u);
  EXPECT_EQ(log.txns[0].ts, c);
  EXPECT_EQ(log.txns[0].rows, 200);
  EXPECT_EQ(log.txns[1].ts, commit);
  EXPECT_EQ(log.txns[1].parts, 3u);
  EXPECT_EQ(log.txns[1].rows, 300);
  EXPECT_TRUE(log.txns[1].ids_in_order);
}

}  // namespace
}  // namespace binlog::pump
