// Pumps and the drainer with their registry on a real etcd: a three-member cluster that loses a
// member, and a pump daemon killed with kill -9, as the drainer's /status shows it.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "drainer/drainer_test_util.h"
#include "server/server.h"
#include "testutil/etcd_server.h"
#include "testutil/pump_process.h"

namespace binlog::drainer::testing {
namespace {

using binlog::testing::EtcdCluster;

class DrainerOnEtcdTest : public DrainerFixture {
 protected:
  // The nodes record their final state before etcd goes.
  void TearDown() override {
    drainer_.reset();
    clients_.clear();
    pumps_.clear();
  }
  void StartEtcd(int members) {
    auto started = EtcdCluster::Start(members);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    etcd_ = std::move(*started);
  }
  void StartPumpsOnEtcd(int n) {
    pumps_.resize(n);
    clients_.resize(n);
    for (int i = 0; i < n; ++i) {
      pump::PumpConfig c = PumpConfigFor(i);
      c.registry_dir.clear();
      c.pd_urls = etcd_->urls();
      auto started = pump::PumpServer::Start(c);
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      pumps_[i] = std::move(*started);
      auto client = pump::PumpClient::Connect(pumps_[i]->grpc_addr());
      ASSERT_TRUE(client.ok()) << client.status().ToString();
      clients_[i] = std::move(*client);
    }
  }
  DrainerConfig OnEtcd(DrainerConfig c) {
    c.registry_dir.clear();
    c.pd_urls = etcd_->urls();
    return c;
  }
  // The drainer's /status "pumps": node id -> state.
  std::map<std::string, std::string> PumpStates() {
    std::map<std::string, std::string> out;
    Result<server::HostPort> hp = server::SplitHostPort(drainer_->status_addr());
    if (!hp.ok()) return out;
    httplib::Client http(hp->host, hp->port);
    auto res = http.Get("/status");
    if (!res || res->status != 200) return out;
    nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
    for (const nlohmann::json& p : j.value("pumps", nlohmann::json::array())) {
      out[p.value("node-id", "")] = p.value("state", "");
    }
    return out;
  }
  std::vector<uint64_t> Output() { return CommitTs(ReadSegments(tmp_.Sub("drainer"))); }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<Writer>> writers_;
};

TEST_F(DrainerOnEtcdTest, PumpsAndTheDrainerGoOnWithOneMemberOfThreeKilled) {
  StartEtcd(3);
  StartPumpsOnEtcd(2);
  StartDrainer(OnEtcd(BaseConfig(SinkType::kFile)));
  std::vector<uint64_t> all = WriteFromEveryPump(50, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));

  // The member every client and watch started on goes first; the next one while it is back.
  for (int victim : {0, 1}) {
    SCOPED_TRACE("member " + std::to_string(victim) + " killed");
    ASSERT_OK(etcd_->Kill(victim));
    std::vector<uint64_t> more = WriteFromEveryPump(50, &writers_);
    all.insert(all.end(), more.begin(), more.end());
    std::sort(all.begin(), all.end());
    ASSERT_TRUE(WaitCheckpoint(all.back(), std::chrono::seconds(30)));
    // Both pumps heartbeat through the members left: the drainer still sees them online.
    EXPECT_TRUE(WaitFor([&] {
      auto states = PumpStates();
      return states["pump-0"] == "online" && states["pump-1"] == "online";
    }));
    ASSERT_OK(etcd_->Restart(victim));
  }
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), all);
  ASSERT_OK_AND_ASSIGN(auto reg, registry::NewEtcdRegistry(etcd_->urls()));
  ASSERT_OK_AND_ASSIGN(registry::NodeStatus d,
                       reg->Get(registry::NodeKind::kDrainer, "drainer-test"));
  EXPECT_EQ(d.state, registry::NodeState::kPaused);
  EXPECT_GE(static_cast<uint64_t>(d.max_commit_ts), all.back());
}

TEST_F(DrainerOnEtcdTest, APumpKilledWithKillNineShowsPausedWithinItsLease) {
  StartEtcd(1);
  binlog::testing::TempDir pump_dir;
  // heartbeat-interval = 1: a lease of 3 s.
  ASSERT_OK_AND_ASSIGN(auto pump,
                       binlog::testing::PumpProcess::Start(pump_dir.path(), "", etcd_->urls()));
  DrainerConfig c = OnEtcd(BaseConfig(SinkType::kFile));
  c.pump_access = PumpAccess::kGrpc;
  StartDrainer(c);
  ASSERT_TRUE(WaitFor([&] { return PumpStates()[pump->node_id()] == "online"; }));
  ASSERT_OK(pump->Kill9());
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return PumpStates()[pump->node_id()] == "paused"; }));
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::milliseconds(3000 + 2000));
  ASSERT_OK_AND_ASSIGN(auto reg, registry::NewEtcdRegistry(etcd_->urls()));
  ASSERT_OK_AND_ASSIGN(registry::NodeStatus rec,
                       reg->Get(registry::NodeKind::kPump, pump->node_id()));
  EXPECT_EQ(rec.state, registry::NodeState::kOnline);  // its last intent, as the record says
  EXPECT_FALSE(rec.alive);
}

}  // namespace
}  // namespace binlog::drainer::testing
