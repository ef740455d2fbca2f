// The Registry contract on a real etcd (a private /usr/bin/etcd on loopback ports).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "common/tso.h"
#include "registry/etcd_cache.h"
#include "registry/registry.h"
#include "testutil/etcd_server.h"
#include "testutil/testutil.h"

namespace binlog::registry {
namespace {

using binlog::testing::EtcdCluster;
using Clock = std::chrono::steady_clock;

NodeStatus Node(const std::string& id, NodeState state = NodeState::kOnline, double lease = 0) {
  NodeStatus n;
  n.node_id = id;
  n.addr = id;
  n.status_addr = "127.0.0.1:8251";
  n.state = state;
  n.max_commit_ts = 422310029132038145;
  n.update_ts = static_cast<int64_t>(ComposeTS(1'700'000'000'000, 0));
  n.lease_seconds = lease;
  return n;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class EtcdRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = EtcdCluster::Start();
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    etcd_ = std::move(*started);
  }
  std::unique_ptr<Registry> Open(const std::string& urls = "") {
    auto reg = NewEtcdRegistry(urls.empty() ? etcd_->urls() : urls);
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    return reg.ok() ? std::move(*reg) : nullptr;
  }
  bool Alive(Registry* reg, const std::string& id) {
    auto n = reg->Get(NodeKind::kPump, id);
    return n.ok() && n->alive;
  }

  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(EtcdRegistryTest, PutGetListRemoveUnderTiDBBinlogsKeys) {
  auto reg = Open();
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("b:8250")));
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("a:8250", NodeState::kOnline, 30)));
  ASSERT_OK(reg->Put(NodeKind::kDrainer, Node("d:8249")));
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("a:8250", NodeState::kPaused)));

  ASSERT_OK_AND_ASSIGN(auto pumps, reg->List(NodeKind::kPump));
  ASSERT_EQ(pumps.size(), 2u);
  EXPECT_EQ(pumps[0].node_id, "a:8250");
  EXPECT_EQ(pumps[0].state, NodeState::kPaused);
  EXPECT_TRUE(pumps[0].alive);
  EXPECT_GT(pumps[0].revision, 0);
  EXPECT_EQ(pumps[1].node_id, "b:8250");
  ASSERT_OK_AND_ASSIGN(auto drainers, reg->List(NodeKind::kDrainer));
  ASSERT_EQ(drainers.size(), 1u);
  EXPECT_EQ(drainers[0].max_commit_ts, 422310029132038145);

  // What TiDB-Binlog's tools read at its keys: its field names.
  ASSERT_OK_AND_ASSIGN(auto raw, etcd_->GetKey("/tidb-binlog/v1/pumps/a:8250"));
  ASSERT_TRUE(raw.has_value());
  nlohmann::json j = nlohmann::json::parse(*raw);
  EXPECT_EQ(j["nodeId"], "a:8250");
  EXPECT_EQ(j["host"], "a:8250");
  EXPECT_EQ(j["state"], "paused");
  EXPECT_EQ(j["isAlive"], true);
  EXPECT_EQ(j["maxCommitTS"], 422310029132038145);
  ASSERT_OK_AND_ASSIGN(raw, etcd_->GetKey("/tidb-binlog/v1/drainers/d:8249"));
  EXPECT_TRUE(raw.has_value());

  ASSERT_OK(reg->Remove(NodeKind::kPump, "b:8250"));
  EXPECT_TRUE(reg->Get(NodeKind::kPump, "b:8250").status().IsNotFound());
  EXPECT_TRUE(reg->Remove(NodeKind::kPump, "b:8250").IsNotFound());
  ASSERT_OK_AND_ASSIGN(pumps, reg->List(NodeKind::kPump));
  EXPECT_EQ(pumps.size(), 1u);
  EXPECT_TRUE(reg->Put(NodeKind::kPump, Node("../escape")).IsInvalidArgument());
  EXPECT_EQ(reg->Describe(), "etcd " + etcd_->urls());
}

TEST_F(EtcdRegistryTest, CompareAndSwapWinsOnTheVersionReadAndLosesToAConcurrentChange) {
  auto reg = Open();
  auto other = Open();  // binlogctl, in another process
  ASSERT_OK(reg->Put(NodeKind::kDrainer, Node("d:8249", NodeState::kOnline, 30)));
  ASSERT_OK_AND_ASSIGN(NodeStatus seen, other->Get(NodeKind::kDrainer, "d:8249"));

  NodeStatus heartbeat = Node("d:8249", NodeState::kOnline, 30);  // the node, in between
  heartbeat.max_commit_ts += 5;
  ASSERT_OK(reg->Put(NodeKind::kDrainer, heartbeat));
  NodeStatus offline = seen;
  offline.state = NodeState::kOffline;
  Status lost = other->CompareAndSwap(NodeKind::kDrainer, seen, offline);
  ASSERT_TRUE(lost.IsAborted()) << lost.ToString();
  EXPECT_NE(lost.message().find("d:8249"), std::string::npos) << lost.ToString();
  EXPECT_NE(lost.message().find("online"), std::string::npos) << lost.ToString();
  ASSERT_OK_AND_ASSIGN(NodeStatus now, reg->Get(NodeKind::kDrainer, "d:8249"));
  EXPECT_EQ(now.state, NodeState::kOnline);
  EXPECT_EQ(now.max_commit_ts, heartbeat.max_commit_ts);

  // Read again, swap: it wins, and liveness is not touched (the node's lease still holds).
  ASSERT_OK_AND_ASSIGN(seen, other->Get(NodeKind::kDrainer, "d:8249"));
  offline = seen;
  offline.state = NodeState::kOffline;
  ASSERT_OK(other->CompareAndSwap(NodeKind::kDrainer, seen, offline));
  ASSERT_OK_AND_ASSIGN(now, other->Get(NodeKind::kDrainer, "d:8249"));
  EXPECT_EQ(now.state, NodeState::kOffline);
  EXPECT_GT(now.revision, seen.revision);
  EXPECT_TRUE(now.alive);
  ASSERT_OK_AND_ASSIGN(auto alive_key, etcd_->GetKey("/binlog/v1/alive/drainers/d:8249"));
  EXPECT_TRUE(alive_key.has_value());
  // The same old version again: refused.
  EXPECT_TRUE(other->CompareAndSwap(NodeKind::kDrainer, seen, offline).IsAborted());

  ASSERT_OK(reg->Remove(NodeKind::kDrainer, "d:8249"));
  EXPECT_TRUE(other->CompareAndSwap(NodeKind::kDrainer, now, offline).IsNotFound());
  EXPECT_TRUE(reg->Get(NodeKind::kDrainer, "d:8249").status().IsNotFound());
}

TEST_F(EtcdRegistryTest, ANodeWhoseLeaseRunsOutShowsPausedWithinTheTTLAndKeepsItsIntent) {
  auto node = Open();
  auto reader = Open();
  ASSERT_OK(node->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 1.5)));  // TTL 2 s
  ASSERT_OK(node->Put(NodeKind::kPump, Node("unleased:1")));                    // no lease
  ASSERT_OK_AND_ASSIGN(NodeStatus n, reader->Get(NodeKind::kPump, "p:1"));
  EXPECT_TRUE(n.alive);
  EXPECT_EQ(EffectiveState(n), NodeState::kOnline);

  // The node stops heartbeating (a kill -9): etcd drops the alive key when the TTL runs out.
  auto stopped = Clock::now();
  node.reset();
  ASSERT_TRUE(WaitFor([&] { return !Alive(reader.get(), "p:1"); }, std::chrono::seconds(10)));
  auto took = std::chrono::duration<double>(Clock::now() - stopped).count();
  EXPECT_LT(took, 2 + 2) << "the TTL is 2 s; etcd checks leases every 0.5 s";
  ASSERT_OK_AND_ASSIGN(n, reader->Get(NodeKind::kPump, "p:1"));
  EXPECT_EQ(n.state, NodeState::kOnline);  // the intent is kept
  EXPECT_EQ(EffectiveState(n), NodeState::kPaused);
  ASSERT_OK_AND_ASSIGN(auto raw, etcd_->GetKey("/tidb-binlog/v1/pumps/p:1"));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(nlohmann::json::parse(*raw)["state"], "online");
  ASSERT_OK_AND_ASSIGN(auto all, reader->List(NodeKind::kPump));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(EffectiveState(all[0]), NodeState::kPaused);
  EXPECT_EQ(all[1].node_id, "unleased:1");
  EXPECT_TRUE(all[1].alive);
}

// Logs into a file for the test's duration.
class LogCapture {
 public:
  explicit LogCapture(std::string path) : path_(std::move(path)) {
    EXPECT_OK(InitLogging(LogOptions{"info", path_, "none"}));
  }
  ~LogCapture() { EXPECT_OK(InitLogging(LogOptions())); }
  std::string Text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

TEST_F(EtcdRegistryTest, ANodeThatFindsItsLeaseExpiredRegistersAgainAndSaysSo) {
  binlog::testing::TempDir dir;
  LogCapture logs(dir.Sub("log"));
  auto node = Open();
  auto reader = Open();
  ASSERT_OK(node->Put(NodeKind::kDrainer, Node("d:1", NodeState::kOnline, 1)));
  ASSERT_OK(node->Put(NodeKind::kDrainer, Node("d:1", NodeState::kOnline, 1)));  // keepalive
  EXPECT_EQ(logs.Text().find("lease expired"), std::string::npos);
  // The node stalls longer than its TTL (etcd away, a stopped process): the lease is gone.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto n = reader->Get(NodeKind::kDrainer, "d:1");
        return n.ok() && !n->alive;
      },
      std::chrono::seconds(10)));
  ASSERT_OK(node->Put(NodeKind::kDrainer, Node("d:1", NodeState::kOnline, 1)));
  ASSERT_OK_AND_ASSIGN(NodeStatus n, node->Get(NodeKind::kDrainer, "d:1"));
  EXPECT_TRUE(n.alive);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = reader->Get(NodeKind::kDrainer, "d:1");
        return r.ok() && r->alive;
      },
      std::chrono::seconds(5)));
  std::string text = logs.Text();
  EXPECT_NE(text.find("[WARN]"), std::string::npos) << text;
  EXPECT_NE(text.find("lease expired, re-registered"), std::string::npos) << text;
  EXPECT_NE(text.find("node-id=d:1"), std::string::npos) << text;
  EXPECT_NE(text.find("kind=drainer"), std::string::npos) << text;
}

TEST_F(EtcdRegistryTest, AFinalPutWithoutALeaseRevokesLiveness) {
  auto reg = Open();
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30)));
  ASSERT_OK_AND_ASSIGN(auto alive_key, etcd_->GetKey("/binlog/v1/alive/pumps/p:1"));
  ASSERT_TRUE(alive_key.has_value());
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("p:1", NodeState::kPaused, 0)));
  ASSERT_OK_AND_ASSIGN(alive_key, etcd_->GetKey("/binlog/v1/alive/pumps/p:1"));
  EXPECT_FALSE(alive_key.has_value());
  ASSERT_OK_AND_ASSIGN(NodeStatus n, Open()->Get(NodeKind::kPump, "p:1"));
  EXPECT_EQ(n.state, NodeState::kPaused);
  EXPECT_TRUE(n.alive);  // no lease: the record says itself
  EXPECT_EQ(EffectiveState(n), NodeState::kPaused);

  // A final write from another process (the node restarted) removes the key a lease held.
  ASSERT_OK(reg->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30)));
  ASSERT_OK(Open()->Put(NodeKind::kPump, Node("p:1", NodeState::kOffline, 0)));
  ASSERT_OK_AND_ASSIGN(alive_key, etcd_->GetKey("/binlog/v1/alive/pumps/p:1"));
  EXPECT_FALSE(alive_key.has_value());
}

TEST_F(EtcdRegistryTest, TheWatchedCopySeesWhatAnotherClientChanges) {
  auto drainer = Open();
  auto pump = Open();
  ASSERT_OK_AND_ASSIGN(auto none, drainer->List(NodeKind::kPump));  // starts the watch
  EXPECT_TRUE(none.empty());
  ASSERT_OK(pump->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 1)));
  auto listed = [&](const std::function<bool(const std::vector<NodeStatus>&)>& want) {
    return WaitFor(
        [&] {
          auto all = drainer->List(NodeKind::kPump);
          return all.ok() && want(*all);
        },
        std::chrono::seconds(10));
  };
  EXPECT_TRUE(listed([](auto& all) { return all.size() == 1 && all[0].alive; }));
  NodeStatus later = Node("p:1", NodeState::kOnline, 1);
  later.max_commit_ts += 100;
  ASSERT_OK(pump->Put(NodeKind::kPump, later));
  EXPECT_TRUE(listed(
      [&](auto& all) { return all.size() == 1 && all[0].max_commit_ts == later.max_commit_ts; }));
  // Liveness ends in etcd, not by any write: the copy sees the key go.
  pump.reset();
  EXPECT_TRUE(listed([](auto& all) { return all.size() == 1 && !all[0].alive; }));
  ASSERT_OK(Open()->Remove(NodeKind::kPump, "p:1"));
  EXPECT_TRUE(listed([](auto& all) { return all.empty(); }));
}

// The copy itself: once established it answers from memory, and follows another client's puts
// and deletes, including the deletes etcd makes when a lease runs out.
TEST_F(EtcdRegistryTest, TheWatchCacheFollowsPutsDeletesAndLeaseExpiry) {
  ASSERT_OK_AND_ASSIGN(auto client, etcd::Client::Open(etcd_->urls()));
  etcd::WatchCache cache(client.get(), {"/tidb-binlog/v1/", "/binlog/v1/alive/"});
  EXPECT_FALSE(cache.Read([](const etcd::WatchCache::Map&) {}));  // not started: read etcd
  auto writer = Open();
  ASSERT_OK(writer->Put(NodeKind::kPump, Node("before:1")));
  cache.Start();
  ASSERT_TRUE(cache.WaitEstablished(5000));
  auto value_of = [&](const std::string& key) {
    std::string out = "<none>";
    EXPECT_TRUE(cache.Read([&](const etcd::WatchCache::Map& map) {
      auto it = map.find(key);
      if (it != map.end() && !it->second.deleted) out = it->second.value;
    }));
    return out;
  };
  EXPECT_NE(value_of("/tidb-binlog/v1/pumps/before:1"), "<none>");  // from the listing
  ASSERT_OK(writer->Put(NodeKind::kDrainer, Node("d:1", NodeState::kOnline, 1)));
  // The record and its alive key are one transaction but two watchers: either may come first.
  EXPECT_TRUE(WaitFor([&] { return value_of("/binlog/v1/alive/drainers/d:1") != "<none>"; },
                      std::chrono::seconds(5)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return value_of("/tidb-binlog/v1/drainers/d:1").find("\"state\":\"online\"") !=
               std::string::npos;
      },
      std::chrono::seconds(5)));
  writer.reset();  // its lease runs out
  EXPECT_TRUE(WaitFor([&] { return value_of("/binlog/v1/alive/drainers/d:1") == "<none>"; },
                      std::chrono::seconds(5)));
  ASSERT_OK(Open()->Remove(NodeKind::kPump, "before:1"));
  EXPECT_TRUE(WaitFor([&] { return value_of("/tidb-binlog/v1/pumps/before:1") == "<none>"; },
                      std::chrono::seconds(5)));
}

// List answers from the watched copy; what this object wrote is in it before its event arrives.
TEST_F(EtcdRegistryTest, AListAfterAWriteOfTheSameObjectSeesIt) {
  auto reg = Open();
  ASSERT_OK(reg->List(NodeKind::kPump).status());  // the watch starts
  for (int i = 0; i < 50; ++i) {
    NodeStatus n = Node("p:1", NodeState::kOnline, 30);
    n.max_commit_ts = i;
    ASSERT_OK(reg->Put(NodeKind::kPump, n));
    ASSERT_OK_AND_ASSIGN(auto all, reg->List(NodeKind::kPump));
    ASSERT_EQ(all.size(), 1u) << i;
    ASSERT_EQ(all[0].max_commit_ts, i);
    ASSERT_TRUE(all[0].alive);
    ASSERT_OK(reg->Remove(NodeKind::kPump, "p:1"));
    ASSERT_OK_AND_ASSIGN(all, reg->List(NodeKind::kPump));
    ASSERT_TRUE(all.empty()) << i;
  }
}

// Get reads etcd itself: another client's change is there at once, so a compare-and-swap that
// follows never loses to a copy that lags.
TEST_F(EtcdRegistryTest, GetSeesAnotherClientsWriteAtOnce) {
  auto reader = Open();
  auto writer = Open();
  ASSERT_OK(reader->List(NodeKind::kDrainer).status());  // its watch runs too
  for (int i = 0; i < 50; ++i) {
    NodeStatus n = Node("d:1", NodeState::kOnline, 30);
    n.max_commit_ts = i;
    ASSERT_OK(writer->Put(NodeKind::kDrainer, n));
    ASSERT_OK_AND_ASSIGN(NodeStatus seen, reader->Get(NodeKind::kDrainer, "d:1"));
    ASSERT_EQ(seen.max_commit_ts, i);
    NodeStatus paused = seen;
    paused.state = NodeState::kPaused;
    ASSERT_OK(reader->CompareAndSwap(NodeKind::kDrainer, seen, paused));
  }
}

TEST_F(EtcdRegistryTest, ManyThreadsShareOneRegistry) {
  auto reg = Open();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        NodeStatus n = Node("p" + std::to_string(t), NodeState::kOnline, 30);
        n.max_commit_ts = i;
        if (!reg->Put(NodeKind::kPump, n).ok()) ++failures;
        auto all = reg->List(NodeKind::kPump);
        if (!all.ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto all, reg->List(NodeKind::kPump));
  ASSERT_EQ(all.size(), 4u);
  for (const NodeStatus& n : all) {
    EXPECT_EQ(n.max_commit_ts, 29);
    EXPECT_TRUE(n.alive);
  }
}

TEST_F(EtcdRegistryTest, AnEndpointThatCannotBeReachedPassesTheCallToTheNext) {
  ASSERT_OK_AND_ASSIGN(int dead, binlog::testing::FreeLoopbackPort());
  const std::string dead_url = "http://127.0.0.1:" + std::to_string(dead);
  for (const std::string& urls : {dead_url + "," + etcd_->urls(), etcd_->urls() + "," + dead_url}) {
    SCOPED_TRACE(urls);
    auto reg = Open(urls);
    ASSERT_OK(reg->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30)));
    ASSERT_OK_AND_ASSIGN(NodeStatus n, reg->Get(NodeKind::kPump, "p:1"));
    EXPECT_TRUE(n.alive);
    ASSERT_OK_AND_ASSIGN(auto all, reg->List(NodeKind::kPump));
    EXPECT_EQ(all.size(), 1u);
  }
  // None answers: an error soon, naming what was tried.
  auto reg = Open(dead_url);
  auto start = Clock::now();
  Status s = reg->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find(dead_url), std::string::npos) << s.ToString();
  EXPECT_TRUE(reg->List(NodeKind::kPump).status().IsIOError());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(EtcdRegistryTest, AfterEtcdRestartsTheWatchIsBackAndNothingWasLost) {
  auto reg = Open();
  auto writer = Open();
  ASSERT_OK(writer->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30)));
  ASSERT_TRUE(WaitFor([&] { return Alive(reg.get(), "p:1"); }, std::chrono::seconds(5)));
  ASSERT_OK(etcd_->Stop(0));
  // Reads go to etcd directly while the watch is down: they fail, they do not serve old data.
  EXPECT_TRUE(WaitFor([&] { return !reg->List(NodeKind::kPump).ok(); }, std::chrono::seconds(5)));
  EXPECT_FALSE(writer->Put(NodeKind::kPump, Node("p:1", NodeState::kOnline, 30)).ok());
  ASSERT_OK(etcd_->Restart(0));
  NodeStatus later = Node("p:1", NodeState::kOnline, 30);
  later.max_commit_ts += 1;
  ASSERT_OK(writer->Put(NodeKind::kPump, later));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto n = reg->Get(NodeKind::kPump, "p:1");
        return n.ok() && n->max_commit_ts == later.max_commit_ts && n->alive;
      },
      std::chrono::seconds(10)));
}

}  // namespace
}  // namespace binlog::registry
