// One node, one identity: a pump keeps a node id only once it serves, each pump on port 0 gets
// its own, and a node id that another running pump holds is refused.
#include "pump/server_test_util.h"

namespace binlog::pump {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::PumpServerTest;

class PumpIdentityTest : public PumpServerTest {
 protected:
  bool NodeFileExists(const std::string& data_dir) {
    return Env::Posix()->FileExists(data_dir + "/.node");
  }
};

TEST_F(PumpIdentityTest, AFailedStartKeepsNoNodeId) {
  config_.node_id.clear();
  binlog::testing::HeldPort taken;
  ASSERT_FALSE(taken.addr().empty());

  PumpConfig grpc_taken = config_;
  grpc_taken.addr = grpc_taken.advertise_addr = taken.addr();
  auto a = PumpServer::Start(grpc_taken);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(),
              AllOf(HasSubstr("addr " + taken.addr()), HasSubstr("in use by another process")));
  EXPECT_FALSE(NodeFileExists(config_.data_dir));

  PumpConfig status_taken = config_;
  status_taken.status_addr = taken.addr();
  auto b = PumpServer::Start(status_taken);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), AllOf(HasSubstr("status-addr " + taken.addr()),
                                          HasSubstr("in use by another process")));
  EXPECT_FALSE(NodeFileExists(config_.data_dir));

  PumpConfig unresolvable = config_;
  unresolvable.addr = unresolvable.advertise_addr = "256.1.1.1:8250";
  auto c = PumpServer::Start(unresolvable);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("does not resolve"));
  EXPECT_THAT(c.status().message(), ::testing::Not(HasSubstr("in use")));
  EXPECT_FALSE(NodeFileExists(config_.data_dir));

  // Corrected, it starts with the id of the address it really listens on.
  StartServer();
  EXPECT_EQ(server_->config().node_id, server_->grpc_addr());
  ASSERT_OK_AND_ASSIGN(std::string kept,
                       ReadFileToString(Env::Posix(), config_.data_dir + "/.node"));
  EXPECT_EQ(kept, server_->grpc_addr() + "\n");
}

TEST_F(PumpIdentityTest, EachPumpOnPortZeroHasItsOwnNodeId) {
  config_.node_id.clear();
  StartServer();
  PumpConfig other = config_;
  other.data_dir = tmp_.Sub("data2");
  ASSERT_OK_AND_ASSIGN(auto second, PumpServer::Start(other));
  std::string first_id = server_->config().node_id;
  std::string second_id = second->config().node_id;
  EXPECT_NE(first_id, second_id);
  EXPECT_THAT(first_id, ::testing::Not(::testing::EndsWith(":0")));
  EXPECT_EQ(second_id, second->grpc_addr());
  ASSERT_OK_AND_ASSIGN(auto pumps, registry_->List(registry::NodeKind::kPump));
  EXPECT_EQ(pumps.size(), 2u);
}

TEST_F(PumpIdentityTest, ANodeIdThatARunningPumpHoldsIsRefused) {
  StartServer();  // node id "pump-test"
  PumpConfig twin = config_;
  twin.data_dir = tmp_.Sub("twin");
  auto refused = PumpServer::Start(twin);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsBusy()) << refused.status().ToString();
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("node id pump-test is held by another running pump"),
                    HasSubstr(server_->config().advertise_addr), HasSubstr(server_->status_addr()),
                    HasSubstr("its own node-id")));
  EXPECT_FALSE(NodeFileExists(twin.data_dir));
  // The running pump's record is untouched.
  EXPECT_EQ(PumpRecord().addr, server_->config().advertise_addr);

  // Once that pump is gone, its record is taken over.
  std::string gone_addr = server_->config().advertise_addr;
  server_.reset();
  ASSERT_OK_AND_ASSIGN(auto twin_server, PumpServer::Start(twin));
  EXPECT_EQ(PumpRecord().addr, twin_server->config().advertise_addr);
  EXPECT_NE(PumpRecord().addr, gone_addr);
}

TEST_F(PumpIdentityTest, ARecordLeftByADeadPumpIsTakenOver) {
  // What a kill -9 leaves: online, recent, and a status address nothing answers on.
  std::string dead_status;
  {
    binlog::testing::HeldPort closed;  // nothing listens there once it is closed
    dead_status = closed.addr();
  }
  registry::NodeStatus stale;
  stale.node_id = "pump-test";
  stale.addr = "127.0.0.1:1";
  stale.status_addr = dead_status;
  stale.state = registry::NodeState::kOnline;
  stale.update_ts = static_cast<int64_t>(ComposeTS(Env::Posix()->NowMicros() / 1000, 0));
  ASSERT_OK(registry_->Put(registry::NodeKind::kPump, stale));
  StartServer();
  EXPECT_EQ(PumpRecord().addr, server_->config().advertise_addr);
  EXPECT_EQ(PumpRecord().state, registry::NodeState::kOnline);
}

}  // namespace
}  // namespace binlog::pump
