// The pump daemon (tools/pump) with its registry on a real etcd: a kill -9 shows as paused
// within the lease, and an etcd that is away for 30 s costs no acknowledged write.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "pump/pump_test_util.h"
#include "pump_client/pump_client.h"
#include "registry/registry.h"
#include "testutil/etcd_server.h"
#include "testutil/pump_process.h"
#include "testutil/pump_pull.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using binlog::testing::EtcdCluster;
using binlog::testing::PumpProcess;
using registry::NodeKind;
using registry::NodeState;
using Clock = std::chrono::steady_clock;

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

nlohmann::json StatusOf(const PumpProcess& pump) {
  auto body = pump.StatusJson();
  if (!body.ok()) return nlohmann::json::object();
  return nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
}

class PumpOnEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = EtcdCluster::Start();
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    etcd_ = std::move(*started);
    auto reg = registry::NewEtcdRegistry(etcd_->urls());
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    registry_ = std::move(*reg);
  }
  Result<registry::NodeStatus> Record(const PumpProcess& pump) {
    return registry_->Get(NodeKind::kPump, pump.node_id());
  }

  binlog::testing::TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(PumpOnEtcdTest, AKilledPumpShowsPausedWithinItsLeaseAndKeepsItsIntent) {
  // heartbeat-interval = 1: a lease of 3 s.
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir_.path(), "", etcd_->urls()));
  ASSERT_OK_AND_ASSIGN(registry::NodeStatus rec, Record(*pump));
  EXPECT_EQ(rec.state, NodeState::kOnline);
  EXPECT_TRUE(rec.alive);
  EXPECT_EQ(rec.lease_seconds, 3);

  ASSERT_OK(pump->Kill9());
  auto killed = Clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Record(*pump);
        return r.ok() && registry::EffectiveState(*r) == NodeState::kPaused;
      },
      std::chrono::seconds(15)));
  EXPECT_LT(Clock::now() - killed, std::chrono::milliseconds(3000 + 2000));
  ASSERT_OK_AND_ASSIGN(rec, Record(*pump));
  EXPECT_EQ(rec.state, NodeState::kOnline);  // its last intent
  EXPECT_FALSE(rec.alive);

  // Back: it takes its record over and is alive again.
  ASSERT_OK(pump->Restart());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Record(*pump);
        return r.ok() && r->alive && registry::EffectiveState(*r) == NodeState::kOnline;
      },
      std::chrono::seconds(5)));
}

// Producers write as fast as a paced loop allows; every acknowledged commit is kept.
class Producers {
 public:
  Producers(const std::string& addr, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, addr] { Run(addr); });
    }
  }
  ~Producers() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  size_t acked() {
    std::lock_guard<std::mutex> g(mu_);
    return acked_.size();
  }
  std::set<uint64_t> acked_set() {
    std::lock_guard<std::mutex> g(mu_);
    return acked_;
  }
  int failures() const { return failures_.load(); }

 private:
  void Run(const std::string& addr) {
    auto client = PumpClient::Connect(addr);
    if (!client.ok()) {
      ++failures_;
      return;
    }
    while (!stop_) {
      uint64_t start = clock_.Next();
      Status s = (*client)->WriteBinlog(testing::Prewrite(start));
      uint64_t commit = clock_.Next();
      if (s.ok()) s = (*client)->WriteBinlog(testing::Commit(start, commit));
      if (!s.ok()) {
        ++failures_;
        continue;
      }
      {
        std::lock_guard<std::mutex> g(mu_);
        acked_.insert(commit);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  testing::TsoClock clock_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  std::set<uint64_t> acked_;
  std::vector<std::thread> threads_;
};

TEST_F(PumpOnEtcdTest, EtcdAwayForThirtySecondsLosesNoAcknowledgedWrite) {
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir_.path(), "", etcd_->urls()));
  EXPECT_TRUE(StatusOf(*pump)["registry-error"].is_null()) << StatusOf(*pump).dump();
  Producers producers(pump->addr(), 2);
  ASSERT_TRUE(WaitFor([&] { return producers.acked() > 100; }, std::chrono::seconds(10)));

  ASSERT_OK(etcd_->Stop(0));
  auto stopped = Clock::now();
  // The next heartbeat (every second) fails, and /status says so.
  ASSERT_TRUE(WaitFor([&] { return StatusOf(*pump)["registry-error"].is_string(); },
                      std::chrono::seconds(5)))
      << StatusOf(*pump).dump();
  nlohmann::json during = StatusOf(*pump);
  const std::string since = during.value("registry-error-since", "");
  EXPECT_FALSE(since.empty()) << during.dump();
  EXPECT_NE(during["registry-error"].get<std::string>().find(etcd_->url(0)), std::string::npos)
      << during.dump();
  EXPECT_EQ(during["state"], "online");
  EXPECT_EQ(during["writable"], true);
  const size_t acked_at_outage = producers.acked();
  std::this_thread::sleep_until(stopped + std::chrono::seconds(30));
  nlohmann::json late = StatusOf(*pump);
  EXPECT_EQ(late.value("registry-error-since", ""), since) << late.dump();  // the same outage
  EXPECT_GT(producers.acked(), acked_at_outage + 1000) << "writes stopped with etcd";

  ASSERT_OK(etcd_->Restart(0));
  ASSERT_TRUE(WaitFor([&] { return StatusOf(*pump)["registry-error"].is_null(); },
                      std::chrono::seconds(10)))
      << StatusOf(*pump).dump();
  producers.Stop();
  EXPECT_EQ(producers.failures(), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Record(*pump);
        return r.ok() && registry::EffectiveState(*r) == NodeState::kOnline;
      },
      std::chrono::seconds(5)));
  // etcd renews every lease when it comes back, so the pump's lease survived the outage.
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(Env::Posix(), dir_.Sub("pump.log")));
  EXPECT_NE(log.find("heartbeat to the registry failed"), std::string::npos);
  EXPECT_NE(log.find("heartbeat to the registry works again"), std::string::npos);

  std::set<uint64_t> acked = producers.acked_set();
  ASSERT_FALSE(acked.empty());
  ASSERT_OK_AND_ASSIGN(auto pulled, binlog::testing::PullUntil(pump->addr(), *acked.rbegin(), 60));
  std::vector<uint64_t> served = binlog::testing::CommitTsOf(pulled);
  std::set<uint64_t> got(served.begin(), served.end());
  EXPECT_EQ(got.size(), served.size()) << "a transaction came out twice";
  EXPECT_EQ(binlog::testing::CountLost(acked, got), 0u) << "acknowledged commits lost";
}

}  // namespace
}  // namespace binlog::pump
