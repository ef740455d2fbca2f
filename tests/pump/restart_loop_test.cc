// kill -9 of the pump daemon, 20 rounds, while half the producers die in the middle of a
// transaction each round (a prewrite acknowledged, never committed): their prewrites are rolled
// back max-txn-timeout after they arrived however often the pump restarts, so binlog/ keeps
// advancing, the wal replayed at each start stays short, every segment stays within
// max-file-size, and nothing acknowledged is lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "journal/journal.h"
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
using testing::TsoClock;

constexpr uint64_t kMaxFileSize = 128 << 10;
// What one append may add past max-file-size: a block (64 KiB of raw records) and its framing.
constexpr uint64_t kOneBlock = 80 << 10;

struct Shared {
  TsoClock clock;
  std::mutex mu;
  std::set<uint64_t> acked;  // commit ts acknowledged
  size_t orphans = 0;        // prewrites acknowledged and never resolved by their producer
  size_t writes = 0;         // binlogs acknowledged
};

// Whole transactions until the pump goes away; a dying producer stops after `dies_after`
// transactions with a prewrite of a next one that it never commits.
void Produce(const std::string& addr, Shared* shared, int dies_after) {
  auto client = PumpClient::Connect(addr);
  if (!client.ok()) return;
  for (int n = 0;; ++n) {
    uint64_t start = shared->clock.Next();
    if (!(*client)->WriteBinlog(Prewrite(start)).ok()) return;
    if (n == dies_after) {
      std::lock_guard<std::mutex> g(shared->mu);
      ++shared->orphans;
      ++shared->writes;
      return;
    }
    uint64_t commit = shared->clock.Next();
    if (!(*client)->WriteBinlog(Commit(start, commit)).ok()) return;
    std::lock_guard<std::mutex> g(shared->mu);
    shared->acked.insert(commit);
    shared->writes += 2;
  }
}

uint64_t RecoveredWalRecords(const PumpProcess& pump) {
  auto body = pump.StatusJson();
  if (!body.ok()) return UINT64_MAX;
  return nlohmann::json::parse(*body).value("recovered-wal-records", UINT64_MAX);
}

void ExpectSegmentsWithinMaxFileSize(const std::string& dir) {
  ASSERT_OK_AND_ASSIGN(auto segments, journal::ListSegments(Env::Posix(), dir, false));
  for (const journal::SegmentName& seg : segments) {
    ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(JoinPath(dir, seg.name)));
    EXPECT_LE(size, kMaxFileSize + kOneBlock) << dir << "/" << seg.name;
  }
}

TEST(PumpRestartLoopTest, HalfTheProducersDieMidTransactionEveryRound) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir.path(),
                                                     "max-txn-timeout = \"2s\"\n"
                                                     "max-file-size = \"128KiB\"\n"));
  Shared shared;
  std::vector<uint64_t> replayed;
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::thread> producers;
    for (int t = 0; t < 8; ++t) {
      int dies_after = t % 2 == 0 ? 5 + round % 7 : -1;  // -1: runs until the kill
      producers.emplace_back(Produce, pump->addr(), &shared, dies_after);
    }
    // The kill comes once every dying producer left its orphan (at least 300 ms in): on a slow
    // machine (sanitizers, a loaded CI host) a fixed wait can come before some of them did.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> g(shared.mu);
        if (shared.orphans >= static_cast<size_t>(round) * 4) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_OK(pump->Kill9());
    for (auto& p : producers) p.join();
    auto begin = std::chrono::steady_clock::now();
    ASSERT_OK(pump->Restart());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    replayed.push_back(RecoveredWalRecords(*pump));
    std::printf("round %2d: start-to-online %.3f s, wal records replayed %lu\n", round, seconds,
                static_cast<unsigned long>(replayed.back()));
  }
  std::printf("acknowledged: %lu binlogs, %lu commits, %lu orphan prewrites\n",
              static_cast<unsigned long>(shared.writes),
              static_cast<unsigned long>(shared.acked.size()),
              static_cast<unsigned long>(shared.orphans));
  // The orphans are rolled back 2 s after they arrived: everything acknowledged comes out, once,
  // in commit order.
  ASSERT_FALSE(shared.acked.empty());
  ASSERT_OK_AND_ASSIGN(auto pulled,
                       binlog::testing::PullUntil(pump->addr(), *shared.acked.rbegin(), 60));
  std::vector<uint64_t> served = binlog::testing::CommitTsOf(pulled);
  EXPECT_TRUE(std::is_sorted(served.begin(), served.end()));
  std::set<uint64_t> got(served.begin(), served.end());
  EXPECT_EQ(got.size(), served.size()) << "a transaction came out twice";
  EXPECT_EQ(binlog::testing::CountLost(shared.acked, got), 0u);
  EXPECT_GE(shared.orphans, 20u * 4);

  // What a start replays is what the last few rounds left pending (2 s of orphans), not
  // everything written since the first round.
  EXPECT_LT(replayed.back(), shared.writes / 2)
      << "writes acknowledged in all rounds: " << shared.writes;
  EXPECT_LT(*std::max_element(replayed.begin(), replayed.end()), shared.writes / 2);
  ExpectSegmentsWithinMaxFileSize(dir.Sub("pump/binlog"));
  ExpectSegmentsWithinMaxFileSize(dir.Sub("pump/wal"));
}

}  // namespace
}  // namespace binlog::pump
