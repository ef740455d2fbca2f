// Restarts after producers died mid-transaction: max-txn-timeout counts from a prewrite's
// arrival whatever the restarts in between, and the wal is not replayed again once resolved.
#include <gtest/gtest.h>

#include "common/fault_env.h"
#include "pump/pump.h"
#include "pump_test_util.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using testing::Commit;
using testing::Prewrite;
using testing::PullAll;
using testing::WaitEmitted;

constexpr int64_t kStartMicros = 1767225600LL * 1000000;  // 2026-01-01 00:00:00 UTC
constexpr int64_t kSecond = 1000000;

PumpOptions RestartOptions(const std::string& dir, Env* env) {
  PumpOptions o;
  o.env = env;
  o.data_dir = dir;
  o.max_file_size = 64 << 10;
  o.gen_binlog_interval_seconds = 0;
  o.stop_write_at_available_space = 0;
  o.max_txn_timeout_seconds = 10;
  o.max_clock_drift_seconds = 0;  // the clock is set by hand
  return o;
}

uint64_t TsAt(int64_t micros, uint64_t logical) { return ComposeTS(micros / 1000, logical); }

TEST(PumpRestartTest, MaxTxnTimeoutCountsFromArrivalAcrossRestarts) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  env.SetNowMicros(kStartMicros);
  const uint64_t orphan = TsAt(kStartMicros, 1);  // its producer dies before committing
  const uint64_t start = TsAt(kStartMicros, 2), commit = TsAt(kStartMicros, 3);
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(RestartOptions(dir.path(), &env)));
    ASSERT_OK(pump->WriteBinlog(Prewrite(orphan)));
    ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
    ASSERT_OK(pump->WriteBinlog(Commit(start, commit)));
    ASSERT_OK(pump->Close());
  }
  // Restarts every 4 s: the orphan holds the commit behind it, but only until 10 s after it
  // arrived, not 10 s after the latest start.
  for (int restart = 1; restart <= 2; ++restart) {
    env.SetNowMicros(kStartMicros + restart * 4 * kSecond);
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(RestartOptions(dir.path(), &env)));
    EXPECT_EQ(pump->Stats().pending_prewrites, 1u) << "restart " << restart;
    EXPECT_FALSE(WaitEmitted(pump.get(), commit, std::chrono::seconds(1))) << "restart " << restart;
    ASSERT_OK(pump->Close());
  }
  env.SetNowMicros(kStartMicros + 12 * kSecond);
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(RestartOptions(dir.path(), &env)));
  ASSERT_TRUE(WaitEmitted(pump.get(), commit, std::chrono::seconds(10)))
      << "the orphan prewrite was not rolled back 12 s after it arrived";
  EXPECT_EQ(pump->Stats().pending_prewrites, 0u);
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits, (std::vector<uint64_t>{commit}));
}

TEST(PumpRestartTest, AResolvedWalIsNotReplayedAgain) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  env.SetNowMicros(kStartMicros);
  PumpOptions o = RestartOptions(dir.path(), &env);
  o.max_file_size = 4 << 20;  // the whole run stays in the active wal segment
  uint64_t last = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
    for (uint64_t i = 0; i < 100; ++i) {
      uint64_t start = TsAt(kStartMicros, 10 + 2 * i);
      ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
      ASSERT_OK(pump->WriteBinlog(Commit(start, last = start + 1)));
    }
    ASSERT_TRUE(WaitEmitted(pump.get(), last));
    ASSERT_OK(pump->Close());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
    EXPECT_GE(pump->Stats().wal_records_replayed, 200u);  // what the first run left
    ASSERT_OK(pump->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(o));
  EXPECT_EQ(pump->Stats().wal_records_replayed, 0u) << "the wal was replayed again";
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits.size(), 100u);
  EXPECT_EQ(pulled.commits.back(), last);
}

}  // namespace
}  // namespace binlog::pump
