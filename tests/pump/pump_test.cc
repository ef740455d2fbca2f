// The pump core: ordering under concurrent producers, validation, heartbeats, disk threshold,
// GC. Crash tests are in pump_crash_test.cc.
#include "pump/pump.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/fault_env.h"
#include "pump_test_util.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using testing::Commit;
using testing::Prewrite;
using testing::PullAll;
using testing::Rollback;
using testing::TsoClock;
using testing::WaitEmitted;

PumpOptions TestOptions(const std::string& dir, Env* env = Env::Posix()) {
  PumpOptions o;
  o.env = env;
  o.data_dir = dir;
  o.max_file_size = 64 << 10;
  o.gen_binlog_interval_seconds = 0;  // tests that want heartbeats turn them on
  o.stop_write_at_available_space = 0;
  return o;
}

TEST(PumpTest, ConcurrentProducersComeOutInCommitOrderExactlyOnce) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  TsoClock clock;
  std::mutex mu;
  std::set<uint64_t> committed;
  std::set<uint64_t> rolled_back;
  std::vector<std::thread> producers;
  for (int t = 0; t < 8; ++t) {
    producers.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 150; ++i) {
        uint64_t start = clock.Next();
        ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
        // Let other producers' commits overtake this one.
        if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        if (rng() % 10 == 0) {
          ASSERT_OK(pump->WriteBinlog(Rollback(start)));
          std::lock_guard<std::mutex> g(mu);
          rolled_back.insert(start);
          continue;
        }
        uint64_t commit = clock.Next();
        ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
        std::lock_guard<std::mutex> g(mu);
        committed.insert(commit);
      }
    });
  }
  for (auto& p : producers) p.join();
  ASSERT_TRUE(WaitEmitted(pump.get(), *committed.rbegin()));
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.bad, 0u);
  EXPECT_TRUE(std::is_sorted(pulled.commits.begin(), pulled.commits.end()));
  EXPECT_EQ(std::adjacent_find(pulled.commits.begin(), pulled.commits.end()), pulled.commits.end());
  EXPECT_EQ(std::set<uint64_t>(pulled.commits.begin(), pulled.commits.end()), committed);
  for (uint64_t start : pulled.start_ts) EXPECT_EQ(rolled_back.count(start), 0u);
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
}

TEST(PumpTest, OneShotCommittedTransactionsAndBatches) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  std::vector<pb::Binlog> batch;
  for (uint64_t ts = 1000; ts < 1100; ++ts) {
    pb::Binlog b = Prewrite(ts);
    b.set_tp(pb::COMMIT);
    b.set_commit_ts(static_cast<int64_t>(ts));
    batch.push_back(b);
  }
  ASSERT_OK(pump->WriteBinlogs(batch));
  ASSERT_TRUE(WaitEmitted(pump.get(), 1099));
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.bad, 0u);
  ASSERT_EQ(pulled.commits.size(), 100u);
  // A re-sent transaction (a producer retrying after a crash) is refused, not duplicated: as
  // "ts-behind", which the syncer answers by asking what the pump holds (pump_sources_test).
  EXPECT_TRUE(pump->WriteBinlog(batch[50]).IsOutOfRange());
}

TEST(PumpTest, PullFromTheMiddle) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  std::vector<uint64_t> commits;
  for (uint64_t i = 0; i < 200; ++i) {
    uint64_t start = 10000 + i * 10;
    ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
    ASSERT_OK(pump->WriteBinlog(Commit(start, start + 5)));
    commits.push_back(start + 5);
  }
  ASSERT_TRUE(WaitEmitted(pump.get(), commits.back()));
  uint64_t from = commits[120];
  auto pulled = PullAll(pump.get(), from);
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits, std::vector<uint64_t>(commits.begin() + 121, commits.end()));
}

TEST(PumpTest, FollowingPullSeesNewCommits) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  ASSERT_OK_AND_ASSIGN(auto reader, pump->PullBinlogs(0, true));
  std::thread producer([&] {
    for (uint64_t start = 100; start < 400; start += 10) {
      EXPECT_OK(pump->WriteBinlog(Prewrite(start)));
      EXPECT_OK(pump->WriteBinlog(Commit(start, start + 1)));
    }
  });
  std::vector<uint64_t> seen;
  journal::Record r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (seen.size() < 30 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r, std::chrono::seconds(1)));
    if (more) seen.push_back(r.ts);
  }
  producer.join();
  ASSERT_EQ(seen.size(), 30u);
  EXPECT_EQ(seen.front(), 101u);
  EXPECT_EQ(seen.back(), 391u);
}

TEST(PumpTest, HeartbeatsAdvanceTheWatermarkWhenIdle) {
  binlog::testing::TempDir dir;
  PumpOptions o = TestOptions(dir.path());
  o.gen_binlog_interval_seconds = 0.1;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  uint64_t first = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    first = pump->MaxCommitTS();
    if (first > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(first, 0u);
  uint64_t later = first;
  while (std::chrono::steady_clock::now() < deadline && later <= first) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    later = pump->MaxCommitTS();
  }
  EXPECT_GT(later, first);
  ASSERT_TRUE(WaitEmitted(pump.get(), later));
  auto pulled = PullAll(pump.get());
  EXPECT_TRUE(pulled.commits.empty());
  EXPECT_GE(pulled.all_ts.size(), 2u);  // the heartbeats themselves are recorded
}

TEST(PumpTest, BadInputIsAClearErrorAndNothingIsStored) {
  binlog::testing::TempDir dir;
  PumpOptions o = TestOptions(dir.path());
  o.max_binlog_bytes = 4096;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  Status garbage = pump->WritePayload("\xff\xff\xff\xff garbage");
  EXPECT_TRUE(garbage.IsInvalidArgument()) << garbage.ToString();
  Status orphan = pump->WriteBinlog(Commit(500, 600));
  EXPECT_TRUE(orphan.IsInvalidArgument());
  EXPECT_NE(orphan.message().find("commit without prewrite"), std::string::npos);
  EXPECT_TRUE(pump->WriteBinlog(Rollback(500)).IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(Prewrite(700)));
  Status dup = pump->WriteBinlog(Prewrite(700));
  EXPECT_NE(dup.message().find("duplicate prewrite"), std::string::npos) << dup.ToString();
  Status big = pump->WriteBinlog(Prewrite(800, 100));
  EXPECT_TRUE(big.IsInvalidArgument());
  EXPECT_NE(big.message().find("larger than"), std::string::npos) << big.ToString();
  std::vector<pb::Binlog> batch{Prewrite(900), Commit(901, 902)};
  Status partial = pump->WriteBinlogs(batch);
  EXPECT_NE(partial.message().find("binlog 1"), std::string::npos) << partial.ToString();
  // A probe is answered without being stored.
  ASSERT_OK(pump->WriteBinlog(pb::Binlog()));
  PumpStats stats = pump->Stats();
  EXPECT_EQ(stats.writes, 1u);  // only the first prewrite of 700
  EXPECT_EQ(stats.pending_prewrites, 1u);
  EXPECT_GE(stats.refused, 5u);
}

TEST(PumpTest, WriteLatencyTimesEveryAnsweredWriteFromArrivalToAnswer) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  ASSERT_OK(pump->WriteBinlog(Prewrite(100)));
  ASSERT_OK(pump->WriteBinlog(Commit(100, 101)));
  PumpStats durable = pump->Stats();
  EXPECT_EQ(durable.write_latency.count(), 2u);
  // Each write was answered after an fdatasync of its own, which its time includes.
  ASSERT_EQ(durable.wal_sync_latency.count(), 2u);
  EXPECT_GE(durable.write_latency.sum_micros(), durable.wal_sync_latency.sum_micros());
  // A batch is one write; a refused write and a probe are answered, and timed, too.
  std::vector<pb::Binlog> batch{Prewrite(200), Prewrite(300)};
  ASSERT_OK(pump->WriteBinlogs(batch));
  EXPECT_TRUE(pump->WriteBinlog(Commit(400, 401)).IsInvalidArgument());
  ASSERT_OK(pump->WriteBinlog(pb::Binlog()));
  PumpStats all = pump->Stats();
  EXPECT_EQ(all.write_latency.count(), 5u);
  EXPECT_EQ(all.write_latency.CumulativeCount(LatencyHistogram::kBoundsMicros.size()), 5u);
}

TEST(PumpTest, LowDiskSpaceRefusesNewTransactionsUntilSpaceReturns) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  PumpOptions o = TestOptions(dir.path(), &env);
  o.stop_write_at_available_space = 1 << 20;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  ASSERT_OK(pump->WriteBinlog(Prewrite(100)));
  env.SetFreeSpace(1000);
  pump->CheckDiskSpace();
  Status s = pump->WriteBinlog(Prewrite(105));
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("stop-write-at-available-space"), std::string::npos);
  pb::Binlog one_shot = Prewrite(106);
  one_shot.set_tp(pb::COMMIT);
  one_shot.set_commit_ts(106);
  EXPECT_TRUE(pump->WriteBinlog(one_shot).IsNoSpace());
  // What was already acknowledged can still finish: its commit upstream must not be lost.
  ASSERT_OK(pump->WriteBinlog(Commit(100, 110)));
  pb::Binlog heartbeat;
  heartbeat.set_tp(pb::FAKE);
  heartbeat.set_commit_ts(111);
  ASSERT_OK(pump->WriteBinlog(heartbeat));
  EXPECT_FALSE(pump->Stats().writable);
  env.SetFreeSpace(-1);
  pump->CheckDiskSpace();
  ASSERT_OK(pump->WriteBinlog(Prewrite(120)));
  ASSERT_OK(pump->WriteBinlog(Commit(120, 125)));
  ASSERT_TRUE(WaitEmitted(pump.get(), 125));
  EXPECT_EQ(PullAll(pump.get()).commits, (std::vector<uint64_t>{110, 125}));
}

TEST(PumpTest, GcRemovesOnlyOldSealedSegments) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  PumpOptions o = TestOptions(dir.path(), &env);
  o.max_file_size = 4 << 10;  // the smallest: a segment holds about ten days
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  int64_t day_ms = 86400LL * 1000;
  int64_t base_ms = 1700000000000LL;
  // Thirty days of traffic, one transaction every three hours.
  constexpr int64_t kStepMs = 3 * 3600000LL;
  uint64_t last = 0;
  for (int step = 0; step < 240; ++step) {
    uint64_t start = ComposeTS(base_ms + step * kStepMs, 0);
    ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
    last = start + 1;
    ASSERT_OK(pump->WriteBinlog(Commit(start, last)));
    // Traffic spread over days reaches binlog/ in many appends (a segment rotates between
    // them); written at once it would be gathered into a few.
    if (step % 6 == 5) {
      ASSERT_TRUE(WaitEmitted(pump.get(), last));
    }
  }
  ASSERT_TRUE(WaitEmitted(pump.get(), last));
  size_t before = PullAll(pump.get()).commits.size();
  ASSERT_EQ(before, 240u);
  env.SetNowMicros((base_ms + 30 * day_ms) * 1000);
  ASSERT_OK_AND_ASSIGN(size_t removed, pump->GarbageCollect(7 * 86400.0));
  EXPECT_GT(removed, 0u);
  auto after = PullAll(pump.get());
  ASSERT_OK(after.status);
  ASSERT_FALSE(after.commits.empty());
  // Nothing newer than 7 days is gone; whole segments only, so a little older may remain.
  int64_t cutoff_ms = base_ms + 23 * day_ms;
  size_t newer = 0;
  for (int step = 0; step < 240; ++step) newer += base_ms + step * kStepMs >= cutoff_ms;
  EXPECT_GE(after.commits.size(), newer);
  EXPECT_LT(after.commits.size(), before);
  EXPECT_EQ(after.commits.back(), last);
}

TEST(PumpTest, ABatchCannotResolveOnePrewriteTwice) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  ASSERT_OK(pump->WriteBinlog(Prewrite(100)));
  // Each is valid against the sorter alone; together they contradict each other.
  std::vector<pb::Binlog> twice{Commit(100, 110), Commit(100, 111)};
  Status s = pump->WriteBinlogs(twice);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("binlog 1"), std::string::npos) << s.ToString();
  std::vector<pb::Binlog> rollback_then_commit{Rollback(100), Commit(100, 112)};
  s = pump->WriteBinlogs(rollback_then_commit);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("already resolved"), std::string::npos) << s.ToString();
  // Nothing of either batch was kept: the prewrite is still pending and commits normally.
  EXPECT_EQ(pump->Stats().pending_prewrites, 1u);
  ASSERT_OK(pump->WriteBinlog(Commit(100, 113)));
  ASSERT_TRUE(WaitEmitted(pump.get(), 113));
  EXPECT_EQ(PullAll(pump.get()).commits, (std::vector<uint64_t>{113}));
}

TEST(PumpTest, ConcurrentWritesAreCheckedOneAfterAnother) {
  // Many producers race to resolve the same prewrites: exactly one resolution of each wins,
  // whichever round it lands in.
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  constexpr int kTxns = 200;
  constexpr int kRacers = 4;
  for (int t = 0; t < kTxns; ++t) ASSERT_OK(pump->WriteBinlog(Prewrite(1000 + 10 * t)));
  std::atomic<int> wins{0};
  std::vector<std::thread> racers;
  for (int r = 0; r < kRacers; ++r) {
    racers.emplace_back([&, r] {
      for (int t = 0; t < kTxns; ++t) {
        uint64_t start = 1000 + 10 * t;
        pb::Binlog b = r % 2 ? Rollback(start) : Commit(start, start + 1 + r);
        if (pump->WriteBinlog(b).ok()) ++wins;
      }
    });
  }
  for (auto& th : racers) th.join();
  EXPECT_EQ(wins.load(), kTxns);
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
  // The watermark is free: a heartbeat above everything releases all the commits.
  pb::Binlog heartbeat;
  heartbeat.set_tp(pb::FAKE);
  heartbeat.set_commit_ts(1000 + 10 * kTxns);
  ASSERT_OK(pump->WriteBinlog(heartbeat));
  ASSERT_TRUE(WaitEmitted(pump.get(), 1000 + 10 * kTxns));
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_TRUE(std::is_sorted(pulled.commits.begin(), pulled.commits.end()));
  std::set<uint64_t> starts;
  for (uint64_t c : pulled.commits) starts.insert((c - 1000) / 10);
  EXPECT_EQ(starts.size(), pulled.commits.size()) << "a prewrite was committed twice";
}

TEST(PumpTest, MaxTxnTimeoutRollsBackAForgottenPrewrite) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  int64_t now_us = 1700000000000000LL;
  env.SetNowMicros(now_us);
  PumpOptions o = TestOptions(dir.path(), &env);
  o.max_txn_timeout_seconds = 60;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  ASSERT_OK(pump->WriteBinlog(Prewrite(100)));
  ASSERT_OK(pump->WriteBinlog(Prewrite(200)));
  ASSERT_OK(pump->WriteBinlog(Commit(200, 210)));
  // The forgotten prewrite holds the watermark below the commit.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(pump->Stats().emitted_ts, 210u);
  env.SetNowMicros(now_us + 61 * 1000000LL);
  ASSERT_TRUE(WaitEmitted(pump.get(), 210));
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
  Status late = pump->WriteBinlog(Commit(100, 220));
  EXPECT_NE(late.message().find("commit without prewrite"), std::string::npos) << late.ToString();
  EXPECT_EQ(PullAll(pump.get()).commits, (std::vector<uint64_t>{210}));
  // A restart agrees: the rollback is in the wal.
  ASSERT_OK(pump->Close());
  pump.reset();
  ASSERT_OK_AND_ASSIGN(pump, Pump::Open(o));
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
  EXPECT_EQ(PullAll(pump.get()).commits, (std::vector<uint64_t>{210}));
}

// Rounds are written while earlier ones sync: when a wal sync fails, that round and every round
// written after it fail, and none of them reaches the sorter.
TEST(PumpTest, AFailedWalSyncFailsEveryRoundInFlight) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  PumpOptions o = TestOptions(dir.path(), &env);
  o.max_file_size = 64 << 20;  // no rotation: the next sync after the first load is the wal's
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  for (uint64_t t = 1; t <= 10; ++t) {
    ASSERT_OK(pump->WriteBinlog(Prewrite(100 * t)));
    ASSERT_OK(pump->WriteBinlog(Commit(100 * t, 100 * t + 1)));
  }
  ASSERT_TRUE(WaitEmitted(pump.get(), 1001));
  env.FailNth(FaultInjectionEnv::Op::kSync, 1, EIO);
  constexpr int kWrites = 200;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  int ok = 0;
  int io_errors = 0;
  for (int t = 0; t < kWrites; ++t) {
    pb::Binlog b = Prewrite(5000 + 10 * t);
    pump->WriteAsync({BinlogHead::Of(b)}, {b.SerializeAsString()}, [&](Status s) {
      std::lock_guard<std::mutex> g(mu);
      ok += s.ok();
      io_errors += s.IsIOError();
      ++answered;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return answered == kWrites; }));
  }
  EXPECT_EQ(ok, 0);
  EXPECT_GE(io_errors, 1) << "the round whose sync failed names the I/O error";
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u) << "a failed round reached the sorter";
  env.ClearFaults();
  EXPECT_FALSE(pump->WriteBinlog(Prewrite(99000)).ok()) << "the wal stays failed";
  pump->Close().IgnoreError();
}

TEST(PumpTest, AsyncWritesAreAnsweredOnceEachAndRefusedAfterClose) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(TestOptions(dir.path())));
  constexpr int kTxns = 300;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::vector<Status> results(2 * kTxns);
  auto answer = [&](int slot) {
    return [&, slot](Status s) {
      std::lock_guard<std::mutex> g(mu);
      results[static_cast<size_t>(slot)] = std::move(s);
      ++answered;
      cv.notify_one();
    };
  };
  // Every prewrite first (a producer does not commit before its prewrite is acknowledged).
  for (int t = 0; t < kTxns; ++t) {
    pb::Binlog b = Prewrite(1000 + 10 * t);
    pump->WriteAsync({BinlogHead::Of(b)}, {b.SerializeAsString()}, answer(t));
  }
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return answered == kTxns; }));
  }
  for (int t = 0; t < kTxns; ++t) {
    pb::Binlog b = Commit(1000 + 10 * t, 1005 + 10 * t);
    pump->WriteAsync({BinlogHead::Of(b)}, {b.SerializeAsString()}, answer(kTxns + t));
  }
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return answered == 2 * kTxns; }));
  }
  for (const Status& s : results) EXPECT_OK(s);
  uint64_t last = 1005 + 10 * (kTxns - 1);
  ASSERT_TRUE(WaitEmitted(pump.get(), last));
  EXPECT_EQ(PullAll(pump.get()).commits.size(), size_t{kTxns});

  ASSERT_OK(pump->Close());
  bool refused = false;
  pb::Binlog late = Prewrite(99999);
  pump->WriteAsync({BinlogHead::Of(late)}, {late.SerializeAsString()},
                   [&](Status s) { refused = s.IsAborted(); });
  EXPECT_TRUE(refused) << "a write after Close is answered at once, refused";
}

}  // namespace
}  // namespace binlog::pump
