// Timestamps that cannot be right: a ts far ahead of the pump's clock is refused, so one bad
// heartbeat cannot put every later commit at or below what binlog/ holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pump/pump.h"
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
                                 HasSubstr("docs/PUMP.md")));
}

}  // namespace
}  // namespace binlog::pump
