// kill -9 of the pump daemon while producers write to it over gRPC (PumpClient::WriteBinlog, on
// write streams), repeated: every acknowledged commit is served after the restart, none twice.
#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "pump/pump_test_util.h"
#include "pump_client/pump_client.h"
#include "testutil/pump_process.h"
#include "testutil/pump_pull.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using binlog::testing::PumpProcess;
using testing::Commit;
using testing::Prewrite;
using testing::Rollback;
using testing::TsoClock;

// Writes transactions until a write fails (the pump went away): the acknowledged commits go to
// `acked`, the start ts of the transaction whose fate the failure left unknown to `unknown`.
void Produce(const std::string& addr, TsoClock* clock, std::mutex* mu, std::set<uint64_t>* acked,
             std::vector<uint64_t>* unknown) {
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  auto client = PumpClient::Connect(addr, options);
  if (!client.ok()) return;
  while (true) {
    uint64_t start = clock->Next();
    uint64_t commit = 0;
    Status s = (*client)->WriteBinlog(Prewrite(start));
    if (s.ok()) {
      commit = clock->Next();
      s = (*client)->WriteBinlog(Commit(start, commit));
    }
    std::lock_guard<std::mutex> g(*mu);
    if (!s.ok()) {
      unknown->push_back(start);
      return;
    }
    acked->insert(commit);
  }
}

TEST(PumpGrpcCrashTest, KillNineUnderStreamedWritesLosesAndDuplicatesNothing) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir.path()));
  TsoClock clock;
  std::mutex mu;
  std::set<uint64_t> acked;
  // Rounds build on each other (one pump, killed again and again); testutil.h's
  // BINLOG_CRASH_SEED and BINLOG_CRASH_TRIALS choose other kill points and more rounds.
  ASSERT_OK_AND_ASSIGN(auto plan, binlog::testing::CrashPlanFromEnv(4343, 10));
  for (int round = 0; round < plan.End(); ++round) {
    SCOPED_TRACE(plan.Trace(round));
    std::mt19937 rng = plan.Rng(round);
    std::vector<uint64_t> unknown;
    std::vector<std::thread> producers;
    for (int t = 0; t < 8; ++t) {
      producers.emplace_back(Produce, pump->addr(), &clock, &mu, &acked, &unknown);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    ASSERT_OK(pump->Kill9());
    for (auto& p : producers) p.join();
    ASSERT_EQ(unknown.size(), 8u);  // every producer saw the pump go
    ASSERT_OK(pump->Restart());

    // A prewrite made durable whose producer died before committing would hold the watermark
    // until max-txn-timeout: roll back what the kill left unknown. Refused ("not pending") when
    // the pump never got the prewrite, or got the commit too.
    ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump->addr()));
    for (uint64_t start : unknown) {
      Status s = client->WriteBinlog(Rollback(start));
      EXPECT_TRUE(s.ok() || s.IsInvalidArgument()) << s.ToString();
    }
    if (acked.empty()) continue;
    ASSERT_OK_AND_ASSIGN(auto pulled,
                         binlog::testing::PullUntil(pump->addr(), *acked.rbegin(), 30));
    std::vector<uint64_t> served = binlog::testing::CommitTsOf(pulled);
    ASSERT_TRUE(std::is_sorted(served.begin(), served.end()));
    std::set<uint64_t> got(served.begin(), served.end());
    ASSERT_EQ(got.size(), served.size()) << "a transaction came out twice";
    ASSERT_EQ(binlog::testing::CountLost(acked, got), 0u)
        << "acknowledged commits lost after kill -9";
  }
  EXPECT_GT(acked.size(), 200u) << "too little was written for the test to mean much";
}

}  // namespace
}  // namespace binlog::pump
