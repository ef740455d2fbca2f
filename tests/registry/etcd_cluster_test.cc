// The registry on a three-member etcd cluster (three /usr/bin/etcd processes on loopback) while
// members are killed: every call goes on through the members left.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "registry/registry.h"
#include "testutil/etcd_server.h"
#include "testutil/testutil.h"

namespace binlog::registry {
namespace {

using binlog::testing::EtcdCluster;
using Clock = std::chrono::steady_clock;

NodeStatus Pump(const std::string& id, int64_t ts) {
  NodeStatus n;
  n.node_id = id;
  n.addr = id;
  n.max_commit_ts = ts;
  n.update_ts = ts;
  n.lease_seconds = 5;
  return n;
}

// A heartbeat that fails is retried at the next one; what matters is that one succeeds within a
// few heartbeats. Returns how long it took.
Status Eventually(const std::function<Status()>& op, Clock::duration* took) {
  auto start = Clock::now();
  Status s;
  while (Clock::now() - start < std::chrono::seconds(10)) {
    s = op();
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *took = Clock::now() - start;
  return s;
}

TEST(EtcdClusterTest, PutAndListGoOnWithOneMemberOfThreeKilled) {
  ASSERT_OK_AND_ASSIGN(auto etcd, EtcdCluster::Start(3));
  ASSERT_OK_AND_ASSIGN(auto node, NewEtcdRegistry(etcd->urls()));
  ASSERT_OK_AND_ASSIGN(auto reader, NewEtcdRegistry(etcd->urls()));
  ASSERT_OK(node->Put(NodeKind::kPump, Pump("p:1", 1)));
  ASSERT_OK_AND_ASSIGN(auto all, reader->List(NodeKind::kPump));  // the watch, on member 0
  ASSERT_EQ(all.size(), 1u);

  // Each member in turn, the first (where both clients' calls and the watch go) first; the one
  // killed before comes back, so two of three are always up.
  int64_t ts = 1;
  Clock::duration worst{};
  for (int victim = 0; victim < etcd->size(); ++victim) {
    SCOPED_TRACE("member " + std::to_string(victim) + " killed");
    ASSERT_OK(etcd->Kill(victim));
    for (int i = 0; i < 20; ++i) {
      ++ts;
      Clock::duration took{};
      ASSERT_OK(Eventually([&] { return node->Put(NodeKind::kPump, Pump("p:1", ts)); }, &took));
      worst = std::max(worst, took);
      ASSERT_OK(Eventually(
          [&]() -> Status {
            ASSIGN_OR_RETURN(auto got, reader->List(NodeKind::kPump));
            if (got.size() == 1 && got[0].max_commit_ts == ts && got[0].alive) return Status::OK();
            return Status::Aborted("not seen yet");
          },
          &took));
      worst = std::max(worst, took);
    }
    ASSERT_OK(etcd->Restart(victim));
  }
  // An election after the leader died takes about a second with the test's settings.
  EXPECT_LT(worst, std::chrono::seconds(5));
  ASSERT_OK_AND_ASSIGN(NodeStatus last, reader->Get(NodeKind::kPump, "p:1"));
  EXPECT_EQ(last.max_commit_ts, ts);
  EXPECT_TRUE(last.alive);
}

}  // namespace
}  // namespace binlog::registry
