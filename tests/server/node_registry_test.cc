// server::Node while its registry fails: a file registry whose writes fail (FaultInjectionEnv),
// as an etcd that is away does. The node keeps running, says what fails and since when, and
// records its final state once it can.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "common/fault_env.h"
#include "common/logging.h"
#include "server/node.h"
#include "testutil/testutil.h"

namespace binlog::server {
namespace {

using registry::NodeKind;
using registry::NodeState;
using Clock = std::chrono::steady_clock;

bool WaitFor(const std::function<bool()>& cond) {
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class NodeRegistryTest : public ::testing::Test {
 protected:
  NodeRegistryTest()
      : env_(Env::Posix()), registry_(registry::NewFileRegistry(&env_, tmp_.Sub("registry"))) {}

  void StartNode(double lease_seconds = 0) {
    NodeOptions o;
    o.kind = NodeKind::kPump;
    o.node_id = "pump-1";
    o.addr = "127.0.0.1:8250";
    o.heartbeat_interval_seconds = 0.02;
    o.lease_seconds = lease_seconds;
    o.max_commit_ts = [this] { return ts_.load(); };
    o.on_heartbeat = [this] { ++heartbeats_; };
    node_ = std::make_unique<Node>(registry_.get(), std::move(o));
    ASSERT_OK(node_->Start("127.0.0.1:8251"));
  }
  NodeState Recorded() {
    auto r = registry_->Get(NodeKind::kPump, "pump-1");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->state : NodeState::kPaused;
  }
  void RegistryAway() { env_.FailNth(FaultInjectionEnv::Op::kWrite, 1, EIO); }

  binlog::testing::TempDir tmp_;
  FaultInjectionEnv env_;
  std::unique_ptr<registry::Registry> registry_;
  std::atomic<uint64_t> ts_{100};
  std::atomic<int> heartbeats_{0};
  std::unique_ptr<Node> node_;
};

TEST_F(NodeRegistryTest, AFailingRegistryIsReportedWithItsStartAndHeartbeatsGoOn) {
  StartNode();
  EXPECT_TRUE(node_->registry_health().error.empty());
  RegistryAway();
  ASSERT_TRUE(WaitFor([&] { return !node_->registry_health().error.empty(); }));
  Node::RegistryHealth h = node_->registry_health();
  EXPECT_NE(h.error.find("IOError"), std::string::npos) << h.error;
  EXPECT_GT(h.since_micros, 0);
  EXPECT_FALSE(h.since.empty());
  const int before = heartbeats_.load();
  ASSERT_TRUE(WaitFor([&] { return heartbeats_.load() > before + 5; }));  // retried
  EXPECT_EQ(node_->registry_health().since_micros, h.since_micros);       // since the first failure
  EXPECT_EQ(node_->state(), NodeState::kOnline);

  ts_ = 777;
  env_.ClearFaults();
  ASSERT_TRUE(WaitFor([&] { return node_->registry_health().error.empty(); }));
  ASSERT_TRUE(WaitFor([&] {
    auto r = registry_->Get(NodeKind::kPump, "pump-1");
    return r.ok() && r->max_commit_ts == 777;
  }));
  EXPECT_EQ(node_->registry_health().since_micros, 0);
}

// An outage of hours must not write a line every heartbeat: the first failure is logged, the
// next ones at most once a minute, and the recovery once.
TEST_F(NodeRegistryTest, AFailingHeartbeatIsLoggedOnceAMinuteNotEveryHeartbeat) {
  const std::string log_path = tmp_.Sub("node.log");
  ASSERT_OK(InitLogging(LogOptions{"info", log_path, "none"}));
  StartNode();
  RegistryAway();
  ASSERT_TRUE(WaitFor([&] { return !node_->registry_health().error.empty(); }));
  const int before = heartbeats_.load();
  ASSERT_TRUE(WaitFor([&] { return heartbeats_.load() > before + 20; }));  // 20 more failures
  env_.ClearFaults();
  ASSERT_TRUE(WaitFor([&] { return node_->registry_health().error.empty(); }));
  node_.reset();
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(Env::Posix(), log_path));
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("heartbeat to the registry failed"), 1u) << log;
  EXPECT_EQ(count("heartbeat to the registry works again"), 1u) << log;
}

TEST_F(NodeRegistryTest, OfflineWaitsUntilItCanBeRecorded) {
  StartNode();
  RegistryAway();
  ASSERT_OK(node_->RequestClose());  // no drained hook: offline at once, but not recordable
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(node_->stopped());
  EXPECT_EQ(Recorded(), NodeState::kOnline);
  EXPECT_FALSE(node_->registry_health().error.empty());
  env_.ClearFaults();
  ASSERT_OK(node_->Wait());
  EXPECT_EQ(Recorded(), NodeState::kOffline);
  EXPECT_TRUE(node_->registry_health().error.empty());
}

TEST_F(NodeRegistryTest, AShutdownGivesUpOnAnOfflineThatCannotBeRecorded) {
  StartNode();
  RegistryAway();
  ASSERT_OK(node_->RequestClose());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Status s = node_->Shutdown();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(Recorded(), NodeState::kOnline);  // the lease shows it paused
}

TEST_F(NodeRegistryTest, AFinalPausedIsRetriedForAsLongAsTheLeaseLasts) {
  StartNode(/*lease_seconds=*/0.5);
  RegistryAway();
  auto start = Clock::now();
  Status s = node_->Shutdown();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  // Back within the lease: recorded.
  env_.ClearFaults();
  node_.reset();
  StartNode(/*lease_seconds=*/5);
  RegistryAway();
  std::thread back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    env_.ClearFaults();
  });
  ASSERT_OK(node_->Shutdown());
  back.join();
  EXPECT_EQ(Recorded(), NodeState::kPaused);
}

}  // namespace
}  // namespace binlog::server
