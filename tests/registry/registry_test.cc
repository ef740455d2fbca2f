#include "registry/registry.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testutil/testutil.h"

namespace binlog::registry {
namespace {

NodeStatus Pump(const std::string& id, NodeState state = NodeState::kOnline) {
  NodeStatus n;
  n.node_id = id;
  n.addr = id;
  n.status_addr = "127.0.0.1:8251";
  n.state = state;
  n.max_commit_ts = 422310029132038145;
  n.update_ts = 422310029132038146;
  return n;
}

TEST(RegistryTest, RecordsRoundTripThroughTiDBFieldNames) {
  std::string text = EncodeNodeStatus(Pump("192.168.1.1:8250", NodeState::kPaused));
  EXPECT_NE(text.find("\"NodeID\":\"192.168.1.1:8250\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"State\":\"paused\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"MaxCommitTS\":422310029132038145"), std::string::npos) << text;
  ASSERT_OK_AND_ASSIGN(NodeStatus back, DecodeNodeStatus(text));
  EXPECT_EQ(back.node_id, "192.168.1.1:8250");
  EXPECT_EQ(back.state, NodeState::kPaused);
  EXPECT_EQ(back.max_commit_ts, 422310029132038145);
  EXPECT_EQ(back.update_ts, 422310029132038146);
  EXPECT_EQ(back.status_addr, "127.0.0.1:8251");
}

TEST(RegistryTest, DamagedRecordsAreErrorsNotCrashes) {
  EXPECT_TRUE(DecodeNodeStatus("").status().IsCorruption());
  EXPECT_TRUE(DecodeNodeStatus("[1,2]").status().IsCorruption());
  EXPECT_TRUE(DecodeNodeStatus("{\"NodeID\": 5}").status().IsCorruption());
  EXPECT_TRUE(DecodeNodeStatus("{\"Addr\": \"x\"}").status().IsCorruption());
  auto bad_state = DecodeNodeStatus("{\"NodeID\":\"a:1\",\"State\":\"sleeping\"}");
  ASSERT_FALSE(bad_state.ok());
  EXPECT_NE(bad_state.status().message().find("sleeping"), std::string::npos);
}

TEST(RegistryTest, StatesParseByTheirTiDBNames) {
  for (const char* name : {"online", "pausing", "paused", "closing", "offline"}) {
    ASSERT_OK_AND_ASSIGN(NodeState s, ParseNodeState(name));
    EXPECT_STREQ(NodeStateName(s), name);
  }
  EXPECT_FALSE(ParseNodeState("Online").ok());
}

TEST(RegistryTest, FileBackendPutGetListRemove) {
  binlog::testing::TempDir dir;
  auto reg = NewFileRegistry(Env::Posix(), dir.path());
  ASSERT_OK(reg->Put(NodeKind::kPump, Pump("b:8250")));
  ASSERT_OK(reg->Put(NodeKind::kPump, Pump("a:8250")));
  ASSERT_OK(reg->Put(NodeKind::kDrainer, Pump("d:8249")));
  NodeStatus changed = Pump("a:8250", NodeState::kOffline);
  ASSERT_OK(reg->Put(NodeKind::kPump, changed));

  ASSERT_OK_AND_ASSIGN(auto pumps, reg->List(NodeKind::kPump));
  ASSERT_EQ(pumps.size(), 2u);
  EXPECT_EQ(pumps[0].node_id, "a:8250");
  EXPECT_EQ(pumps[0].state, NodeState::kOffline);
  EXPECT_EQ(pumps[1].node_id, "b:8250");
  ASSERT_OK_AND_ASSIGN(auto drainers, reg->List(NodeKind::kDrainer));
  ASSERT_EQ(drainers.size(), 1u);

  // A leftover temp file from an interrupted write is not a node.
  std::ofstream(dir.Sub("pumps/c:8250.json.tmp")) << "{";
  ASSERT_OK_AND_ASSIGN(pumps, reg->List(NodeKind::kPump));
  EXPECT_EQ(pumps.size(), 2u);

  ASSERT_OK(reg->Remove(NodeKind::kPump, "b:8250"));
  EXPECT_TRUE(reg->Get(NodeKind::kPump, "b:8250").status().IsNotFound());
  EXPECT_TRUE(reg->Put(NodeKind::kPump, Pump("../escape")).IsInvalidArgument());
}

TEST(RegistryTest, OpenPicksTheEmbeddedBackendOrNamesTheKey) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto a, OpenRegistry(Env::Posix(), "file://" + dir.path(), "", "p.toml"));
  ASSERT_OK(a->Put(NodeKind::kPump, Pump("x:1")));
  ASSERT_OK_AND_ASSIGN(auto b, OpenRegistry(Env::Posix(), "", dir.path(), "p.toml"));
  ASSERT_OK_AND_ASSIGN(NodeStatus n, b->Get(NodeKind::kPump, "x:1"));
  EXPECT_EQ(n.node_id, "x:1");

  auto etcd = OpenRegistry(Env::Posix(), "http://127.0.0.1:2379", "", "pump.toml");
  ASSERT_FALSE(etcd.ok());
  const std::string& msg = etcd.status().message();
  EXPECT_NE(msg.find("pump.toml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pd-urls"), std::string::npos) << msg;
  EXPECT_NE(msg.find("file://"), std::string::npos) << msg;
}

}  // namespace
}  // namespace binlog::registry
