#include "registry/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "common/fault_env.h"
#include "common/tso.h"

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
  EXPECT_NE(text.find("\"nodeId\":\"192.168.1.1:8250\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"host\":\"192.168.1.1:8250\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"state\":\"paused\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"isAlive\":true"), std::string::npos) << text;
  EXPECT_NE(text.find("\"maxCommitTS\":422310029132038145"), std::string::npos) << text;
  EXPECT_NE(text.find("\"updateTS\":422310029132038146"), std::string::npos) << text;
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

TEST(RegistryTest, RecordsOfEarlierVersionsStillDecode) {
  ASSERT_OK_AND_ASSIGN(
      NodeStatus n,
      DecodeNodeStatus("{\"NodeID\":\"d1\",\"Addr\":\"127.0.0.1:8249\",\"State\":\"paused\","
                       "\"MaxCommitTS\":7,\"UpdateTS\":9,\"Host\":\"db1\",\"DataDir\":\"/d\"}"));
  EXPECT_EQ(n.node_id, "d1");
  EXPECT_EQ(n.addr, "127.0.0.1:8249");
  EXPECT_EQ(n.state, NodeState::kPaused);
  EXPECT_EQ(n.max_commit_ts, 7);
  EXPECT_EQ(n.update_ts, 9);
  EXPECT_EQ(n.host, "db1");
  EXPECT_EQ(n.data_dir, "/d");
  EXPECT_EQ(n.lease_seconds, 0);
  EXPECT_TRUE(n.alive);
}

TEST(RegistryTest, ANodeWhoseLeaseRanOutShowsPausedButKeepsItsIntent) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  const int64_t now_ms = 1'700'000'000'000;
  env.SetNowMicros(now_ms * 1000);
  auto reg = NewFileRegistry(&env, dir.path());
  for (NodeState s : {NodeState::kOnline, NodeState::kClosing, NodeState::kPaused,
                      NodeState::kOffline}) {
    NodeStatus n = Pump(std::string("p-") + NodeStateName(s), s);
    n.update_ts = static_cast<int64_t>(ComposeTS(now_ms, 0));
    n.lease_seconds = 6;
    ASSERT_OK(reg->Put(NodeKind::kPump, n));
  }
  NodeStatus old = Pump("p-unleased");  // written by an earlier version: no lease, alive
  old.update_ts = 1;
  ASSERT_OK(reg->Put(NodeKind::kPump, old));

  env.SetNowMicros((now_ms + 6000) * 1000);  // the lease's last moment
  ASSERT_OK_AND_ASSIGN(NodeStatus fresh, reg->Get(NodeKind::kPump, "p-online"));
  EXPECT_TRUE(fresh.alive);
  EXPECT_EQ(EffectiveState(fresh), NodeState::kOnline);

  env.SetNowMicros((now_ms + 6001) * 1000);
  ASSERT_OK_AND_ASSIGN(auto all, reg->List(NodeKind::kPump));
  std::map<std::string, NodeStatus> by_id;
  for (const NodeStatus& n : all) by_id[n.node_id] = n;
  EXPECT_FALSE(by_id["p-online"].alive);
  EXPECT_EQ(by_id["p-online"].state, NodeState::kOnline);  // the intent is kept
  EXPECT_EQ(EffectiveState(by_id["p-online"]), NodeState::kPaused);
  EXPECT_EQ(EffectiveState(by_id["p-closing"]), NodeState::kPaused);
  EXPECT_EQ(EffectiveState(by_id["p-paused"]), NodeState::kPaused);
  EXPECT_EQ(EffectiveState(by_id["p-offline"]), NodeState::kOffline);
  EXPECT_TRUE(by_id["p-unleased"].alive);
  EXPECT_EQ(EffectiveState(by_id["p-unleased"]), NodeState::kOnline);
}

TEST(RegistryTest, CompareAndSwapNeverOverwritesAConcurrentChange) {
  binlog::testing::TempDir dir;
  auto reg = NewFileRegistry(Env::Posix(), dir.path());
  ASSERT_OK(reg->Put(NodeKind::kDrainer, Pump("d:8249")));
  ASSERT_OK_AND_ASSIGN(NodeStatus seen, reg->Get(NodeKind::kDrainer, "d:8249"));

  NodeStatus heartbeat = Pump("d:8249");  // the node writes between our read and our write
  heartbeat.max_commit_ts += 5;
  ASSERT_OK(reg->Put(NodeKind::kDrainer, heartbeat));
  NodeStatus offline = seen;
  offline.state = NodeState::kOffline;
  Status lost = reg->CompareAndSwap(NodeKind::kDrainer, seen, offline);
  EXPECT_TRUE(lost.IsAborted()) << lost.ToString();
  ASSERT_OK_AND_ASSIGN(NodeStatus now, reg->Get(NodeKind::kDrainer, "d:8249"));
  EXPECT_EQ(now.state, NodeState::kOnline);
  EXPECT_EQ(now.max_commit_ts, heartbeat.max_commit_ts);

  offline = now;
  offline.state = NodeState::kOffline;
  ASSERT_OK(reg->CompareAndSwap(NodeKind::kDrainer, now, offline));
  ASSERT_OK_AND_ASSIGN(now, reg->Get(NodeKind::kDrainer, "d:8249"));
  EXPECT_EQ(now.state, NodeState::kOffline);

  ASSERT_OK(reg->Remove(NodeKind::kDrainer, "d:8249"));
  EXPECT_TRUE(reg->CompareAndSwap(NodeKind::kDrainer, now, offline).IsNotFound());
}

TEST(RegistryTest, WritersFromManyThreadsSerializeOnTheLock) {
  binlog::testing::TempDir dir;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto reg = NewFileRegistry(Env::Posix(), dir.path());  // one registry (one lock fd) each
      for (int i = 0; i < 50; ++i) {
        if (!reg->Put(NodeKind::kPump, Pump("p" + std::to_string(t))).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto all, NewFileRegistry(Env::Posix(), dir.path())->List(NodeKind::kPump));
  EXPECT_EQ(all.size(), 4u);
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

TEST(RegistryTest, OpenPicksTheBackendByTheURLOrNamesTheKey) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto a, OpenRegistry(Env::Posix(), "file://" + dir.path(), "", "p.toml"));
  ASSERT_OK(a->Put(NodeKind::kPump, Pump("x:1")));
  ASSERT_OK_AND_ASSIGN(auto b, OpenRegistry(Env::Posix(), "", dir.path(), "p.toml"));
  ASSERT_OK_AND_ASSIGN(NodeStatus n, b->Get(NodeKind::kPump, "x:1"));
  EXPECT_EQ(n.node_id, "x:1");

  // http(s):// is etcd (or PD); nothing is contacted until the first call.
  ASSERT_OK_AND_ASSIGN(
      auto etcd,
      OpenRegistry(Env::Posix(), "http://127.0.0.1:2379, https://h2:2379/", "", "pump.toml"));
  EXPECT_EQ(etcd->Describe(), "etcd http://127.0.0.1:2379,https://h2:2379");

  for (const char* bad : {"http://a:2379,ftp://b:2379", "http://a:2379,", "etcd:2379"}) {
    auto refused = OpenRegistry(Env::Posix(), bad, "", "pump.toml");
    ASSERT_FALSE(refused.ok()) << bad;
    const std::string& msg = refused.status().message();
    EXPECT_TRUE(refused.status().IsInvalidArgument()) << msg;
    EXPECT_NE(msg.find("pump.toml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pd-urls"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace binlog::registry
