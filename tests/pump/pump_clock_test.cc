// Timestamps that cannot be right: a ts far ahead of the pump's clock is refused, so one bad
// heartbeat cannot put every later commit at or below what binlog/ holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pump/pump.h"
#include "pump/server.h"
#include "pump_test_util.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using ::testing::AllOf;
using testing::Commit;
using ::testing::HasSubstr;
using testing::Prewrite;
using testing::TsoClock;
using testing::WaitEmitted;

constexpr int64_t kTenYearsMs = int64_t{10} * 365 * 86400 * 1000;

PumpOptions ClockOptions(const std::string& dir) {
  PumpOptions o;
  o.data_dir = dir;
  o.max_file_size = 64 << 10;
  o.gen_binlog_interval_seconds = 0;
  o.stop_write_at_available_space = 0;
  o.max_clock_drift_seconds = 60;
  return o;
}

int64_t NowMs() { return Env::Posix()->NowMicros() / 1000; }

pb::Binlog Fake(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::FAKE);
  b.set_commit_ts(static_cast<int64_t>(ts));
  return b;
}

TEST(PumpClockTest, TimestampsFarAheadOfTheClockAreRefusedAndCounted) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(ClockOptions(dir.path())));
  const uint64_t future = ComposeTS(NowMs() + kTenYearsMs, 0);

  Status fake = pump->WriteBinlog(Fake(future));
  EXPECT_TRUE(fake.IsInvalidArgument()) << fake.ToString();
  EXPECT_THAT(fake.message(), AllOf(HasSubstr("FAKE"), HasSubstr("ahead of this pump's clock"),
                                    HasSubstr("max-clock-drift")));
  EXPECT_FALSE(pump->WriteBinlog(Prewrite(future)).ok());
  TsoClock clock;
  uint64_t start = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
  EXPECT_THAT(pump->WriteBinlog(Commit(start, future)).message(),
              HasSubstr("ahead of this pump's clock"));
  EXPECT_EQ(pump->Stats().refused_future_ts, 3u);
  EXPECT_EQ(pump->Stats().refused, 3u);

  // Nothing of those moved the pump: the commit with a right ts goes through and out.
  uint64_t commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
  ASSERT_TRUE(WaitEmitted(pump.get(), commit));
  EXPECT_LT(pump->MaxCommitTS(), future);
  // Within the bound, a producer's clock a little ahead is fine.
  ASSERT_OK(pump->WriteBinlog(Fake(ComposeTS(NowMs() + 30000, 0))));
  EXPECT_EQ(pump->Stats().refused_future_ts, 3u);
}

TEST(PumpClockTest, APumpThatAlreadyHoldsAFutureTsSaysSoInEachRefusal) {
  binlog::testing::TempDir dir;
  PumpOptions unbounded = ClockOptions(dir.path());
  unbounded.max_clock_drift_seconds = 0;  // as pumps were before the bound
  const uint64_t future = ComposeTS(NowMs() + kTenYearsMs, 0);
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(unbounded));
    ASSERT_OK(pump->WriteBinlog(Fake(future)));
    ASSERT_TRUE(WaitEmitted(pump.get(), future));
    ASSERT_OK(pump->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(ClockOptions(dir.path())));
  TsoClock clock;
  uint64_t start = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
  Status s = pump->WriteBinlog(Commit(start, clock.Next()));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), AllOf(HasSubstr("already written"),
                                 HasSubstr("binlog/ already holds ts " + std::to_string(future)),
                                 HasSubstr("docs/OPERATIONS.md")));
}

// The way out documented in docs/PUMP.md: a stopped pump's future heartbeats are dropped, and it
// takes commits again; a transaction ahead of the clock is not dropped.
TEST(PumpClockTest, DropFutureHeartbeatsLetsThePumpTakeCommitsAgain) {
  binlog::testing::TempDir dir;
  PumpOptions unbounded = ClockOptions(dir.path());
  unbounded.max_clock_drift_seconds = 0;
  TsoClock clock;
  uint64_t kept_start = clock.Next(), kept_commit = clock.Next();
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(unbounded));
    ASSERT_OK(pump->WriteBinlog(Prewrite(kept_start)));
    ASSERT_OK(pump->WriteBinlog(Commit(kept_start, kept_commit)));
    ASSERT_OK(pump->WriteBinlog(Fake(ComposeTS(NowMs() + kTenYearsMs, 0))));
    ASSERT_OK(pump->WriteBinlog(Fake(ComposeTS(NowMs() + kTenYearsMs, 5))));
    ASSERT_TRUE(WaitEmitted(pump.get(), ComposeTS(NowMs() + kTenYearsMs - 60000, 0)));
    ASSERT_OK(pump->Close());
  }
  PumpConfig config;
  config.data_dir = dir.path();
  config.max_clock_drift_seconds = 60;
  ASSERT_OK_AND_ASSIGN(journal::DropReport report, DropFutureHeartbeats(config, Env::Posix()));
  EXPECT_EQ(report.records, 2u);
  ASSERT_FALSE(report.kept_as.empty());

  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(ClockOptions(dir.path())));
  uint64_t start = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
  uint64_t commit = clock.Next();
  ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
  ASSERT_TRUE(WaitEmitted(pump.get(), commit));
  auto pulled = testing::PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits, (std::vector<uint64_t>{kept_commit, commit}));
}

TEST(PumpClockTest, DropFutureHeartbeatsRefusesToDropATransaction) {
  binlog::testing::TempDir dir;
  PumpOptions unbounded = ClockOptions(dir.path());
  unbounded.max_clock_drift_seconds = 0;
  const uint64_t future = ComposeTS(NowMs() + kTenYearsMs, 0);
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(unbounded));
    ASSERT_OK(pump->WriteBinlog(Prewrite(future)));
    ASSERT_OK(pump->WriteBinlog(Commit(future, future + 1)));
    ASSERT_TRUE(WaitEmitted(pump.get(), future + 1));
    ASSERT_OK(pump->Close());
  }
  PumpConfig config;
  config.data_dir = dir.path();
  auto refused = DropFutureHeartbeats(config, Env::Posix());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("not a heartbeat"), HasSubstr("Nothing was changed")));
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(unbounded));
  EXPECT_EQ(testing::PullAll(pump.get()).commits, (std::vector<uint64_t>{future + 1}));
}

}  // namespace
}  // namespace binlog::pump
