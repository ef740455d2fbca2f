// kill -9 of the pump daemon while it receives and emits transactions in parts, round after
// round on one data dir: a producer of big prewrites in parts, a committed producer of one-shot
// commits in parts (as the syncer sends them) and small producers, all over gRPC. Some rounds
// kill at a random moment (mostly in the middle of a transaction's parts), the others just after
// a big commit was acknowledged (its parts then being read back from wal/ into binlog/). After
// the last restart, binlog/ holds every acknowledged transaction exactly once, those in parts
// whole, and no part of any transaction that is not whole.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "pump/parts_test_util.h"
#include "pump/pump_test_util.h"
#include "pump/server_test_util.h"
#include "pump_client/pump_client.h"
#include "segment/format.h"
#include "testutil/pump_process.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using binlog::testing::PumpProcess;
using segment::MakePartTag;
using testing::BigPart;
using testing::Commit;
using testing::Prewrite;
using testing::ReadStoredLog;
using testing::StoredLog;
using testing::StoredTxn;
using testing::TsoClock;

constexpr uint32_t kBigParts = 16;
constexpr int kBigRows = 4800;  // ~1 MiB a part, 16 MiB a transaction
constexpr uint32_t kOneShotParts = 8;
constexpr int kOneShotRows = 2400;
constexpr uint32_t kServerId = 11;

struct Shared {
  TsoClock clock;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<uint64_t> small;                  // commit ts acknowledged
  std::map<uint64_t, uint32_t> in_parts;     // commit ts acknowledged -> parts
  std::atomic<uint64_t> last_big_commit{0};  // of the big producer, once acknowledged
  std::atomic<uint32_t> big_parts_sent{0};   // of its transaction under way
};

void ProduceSmall(const std::string& addr, Shared* shared) {
  auto client = PumpClient::Connect(addr);
  if (!client.ok()) return;
  while (!shared->stop) {
    uint64_t start = shared->clock.Next();
    if (!(*client)->WriteBinlog(Prewrite(start)).ok()) return;
    uint64_t commit = shared->clock.Next();
    if (!(*client)->WriteBinlog(Commit(start, commit)).ok()) return;
    std::lock_guard<std::mutex> g(shared->mu);
    shared->small.insert(commit);
  }
}

// Prewrites in parts, each then committed, until the pump goes away.
void ProduceBig(const std::string& addr, Shared* shared) {
  auto client = PumpClient::Connect(addr);
  if (!client.ok()) return;
  while (!shared->stop) {
    const uint64_t start = shared->clock.Next();
    for (uint32_t i = 0; i < kBigParts; ++i) {
      pb::Binlog part = BigPart(pb::PREWRITE, start, 0, int64_t{i} * kBigRows, kBigRows);
      if (!(*client)->WriteBinlog(part, MakePartTag(i, i + 1 == kBigParts)).ok()) return;
      shared->big_parts_sent = i + 1;
    }
    const uint64_t commit = shared->clock.Next();
    if (!(*client)->WriteBinlog(Commit(start, commit)).ok()) return;
    shared->big_parts_sent = 0;
    shared->last_big_commit = commit;
    std::lock_guard<std::mutex> g(shared->mu);
    shared->in_parts[commit] = kBigParts;
  }
}

// One-shot commits in parts from upstream server kServerId, one WriteBinlogs call per two parts
// (as the syncer's pump sink cuts them). A new run after a kill starts a new transaction, which
// ends the one the last run left open (docs/PUMP.md).
void ProduceOneShots(const std::string& addr, Shared* shared) {
  auto client = PumpClient::Connect(addr);
  if (!client.ok()) return;
  while (!shared->stop) {
    uint64_t ts = shared->clock.Next();
    for (uint32_t i = 0; i < kOneShotParts;) {
      std::vector<std::string> payloads;
      std::vector<uint32_t> tags;
      for (uint32_t j = i; j < i + 2; ++j) {
        pb::Binlog b = BigPart(pb::COMMIT, ts, ts, int64_t{j} * kOneShotRows, kOneShotRows);
        b.mutable_source()->set_server_id(kServerId);
        b.mutable_source()->set_pos(ts);
        payloads.push_back(b.SerializeAsString());
        tags.push_back(MakePartTag(j, j + 1 == kOneShotParts));
      }
      Status s = (*client)->WritePayloads(std::move(payloads), std::move(tags));
      // Nothing stored: a commit of another producer went past ts first. Again above it.
      if (s.IsOutOfRange() && i == 0) {
        ts = shared->clock.Next();
        continue;
      }
      if (!s.ok()) return;
      i += 2;
    }
    std::lock_guard<std::mutex> g(shared->mu);
    shared->in_parts[ts] = kOneShotParts;
  }
}

// What journal recovery logs when it cuts a transaction a crash left without its last part.
constexpr const char* kCutLine = "cutting a transaction a crash left without its last part";

int CountInLog(const std::string& path, const std::string& line) {
  auto text = ReadFileToString(Env::Posix(), path);
  int n = 0;
  for (size_t at = text.ok() ? text->find(line) : std::string::npos; at != std::string::npos;
       at = text->find(line, at + 1)) {
    // Only binlog/'s: wal/ is an arrival journal, never cut that way.
    size_t eol = text->find('\n', at);
    n += text->substr(at, eol - at).find("/binlog/") != std::string::npos;
  }
  return n;
}

uint64_t StatusNumber(const PumpProcess& pump, const char* key) {
  auto body = pump.StatusJson();
  if (!body.ok()) return 0;
  return nlohmann::json::parse(*body).value(key, uint64_t{0});
}

TEST(PumpPartsCrashTest, KillNineWhileReceivingAndEmittingParts) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto plan, binlog::testing::CrashPlanFromEnv(2020, 6));
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir.path(),
                                                     "max-txn-timeout = \"2s\"\n"
                                                     "gen-binlog-interval = 0\n"
                                                     "max-file-size = \"8MiB\"\n"));
  Shared shared;
  int mid_parts = 0, mid_emit = 0;
  for (int round = 0; round < plan.End(); ++round) {
    SCOPED_TRACE(plan.Trace(round));
    std::mt19937 rng = plan.Rng(round);
    shared.stop = false;
    std::vector<std::thread> producers;
    producers.emplace_back(ProduceBig, pump->addr(), &shared);
    producers.emplace_back(ProduceOneShots, pump->addr(), &shared);
    for (int i = 0; i < 3; ++i) producers.emplace_back(ProduceSmall, pump->addr(), &shared);
    if (round % 2 == 1) {
      // Once the watermark released a big commit and before binlog/ has all of it: its 16 MiB
      // are being read back from wal/ and appended part by part.
      const uint64_t before = shared.last_big_commit;
      EXPECT_TRUE(testing::WaitFor([&] { return shared.last_big_commit != before; },
                                   std::chrono::seconds(60)));
      const uint64_t big = shared.last_big_commit;
      testing::WaitFor([&] { return StatusNumber(*pump, "max-commit-ts") >= big; },
                       std::chrono::seconds(5));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
    }
    const uint32_t parts_sent = shared.big_parts_sent;
    ASSERT_OK(pump->Kill9());
    shared.stop = true;
    for (auto& p : producers) p.join();
    mid_parts += parts_sent > 0;
    ASSERT_OK(pump->Restart());
    // The restarted pump says so when binlog/ ended inside a transaction in parts.
    const int cuts = CountInLog(dir.Sub("pump.log"), kCutLine);
    std::printf("round %d: killed with %u parts of a big prewrite sent%s\n", round, parts_sent,
                cuts > mid_emit ? ", and binlog/ ending inside a transaction in parts" : "");
    mid_emit = cuts;
  }
  std::printf(
      "kills: %d in the middle of a big prewrite's parts, %d in the middle of appending a "
      "transaction's parts to binlog/; acknowledged: %zu small, %zu in parts\n",
      mid_parts, mid_emit, shared.small.size(), shared.in_parts.size());

  // Unfinished prewrites in parts are rolled back 2 s after their newest part; the one-shot a
  // killed producer left open is ended by max-txn-timeout too.
  uint64_t last = 0;
  if (!shared.small.empty()) last = *shared.small.rbegin();
  if (!shared.in_parts.empty()) last = std::max(last, shared.in_parts.rbegin()->first);
  ASSERT_GT(last, 0u);
  ASSERT_TRUE(testing::WaitFor([&] { return StatusNumber(*pump, "emitted-ts") >= last; },
                               std::chrono::seconds(60)));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("pump/binlog"), last));
  for (const std::string& p : log.problems) ADD_FAILURE() << p;
  std::map<uint64_t, const StoredTxn*> by_ts;
  for (const StoredTxn& t : log.txns) by_ts[t.ts] = &t;
  size_t lost = 0;
  for (uint64_t ts : shared.small) lost += by_ts.count(ts) == 0;
  EXPECT_EQ(lost, 0u) << "acknowledged small commits lost";
  for (const auto& [ts, parts] : shared.in_parts) {
    auto it = by_ts.find(ts);
    ASSERT_NE(it, by_ts.end()) << "acknowledged transaction in parts at ts " << ts << " lost";
    EXPECT_EQ(it->second->parts, parts) << ts;
    EXPECT_EQ(it->second->rows, parts == kBigParts ? int64_t{kBigParts} * kBigRows
                                                   : int64_t{kOneShotParts} * kOneShotRows)
        << ts;
    EXPECT_TRUE(it->second->ids_in_order) << ts;
  }
  EXPECT_GE(mid_parts, 2) << "too few kills in the middle of parts for the test to mean much";
  EXPECT_GE(mid_emit, 1) << "no kill came while a transaction's parts were being appended";
  EXPECT_GE(shared.in_parts.size(), 5u);
}

}  // namespace
}  // namespace binlog::pump
