// server::Node against a real file registry in a temp dir and a real status service on loopback.
#include "server/node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/tso.h"
#include "testutil/testutil.h"

namespace binlog::server {
namespace {

using registry::NodeKind;
using registry::NodeState;
using registry::NodeStatus;
using ::testing::AllOf;
using ::testing::HasSubstr;

bool WaitFor(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// One node and its status service (/status answers with the node id, as every daemon's does),
// with every hook recorded.
class TestNode {
 public:
  TestNode(registry::Registry* reg, const std::string& id, const std::string& data_dir,
           bool with_drained_hook) {
    NodeOptions o;
    o.kind = NodeKind::kDrainer;
    o.node_id = id;
    o.addr = "127.0.0.1:8249";
    o.data_dir = data_dir;
    o.heartbeat_interval_seconds = 0.02;
    o.max_commit_ts = [this] { return ts.load(); };
    if (with_drained_hook) o.drained = [this] { return drained.load(); };
    o.on_closing = [this] { ++closing_calls; };
    o.stop_serving = [this](NodeState s) {
      stopped_as = s;
      return stop_error;
    };
    o.on_heartbeat = [this] { ++heartbeats; };
    o.on_claimed = [this] {
      claimed = true;
      return Status::OK();
    };
    o.on_stop = [this] { self_stopped = true; };
    node = std::make_unique<Node>(reg, std::move(o));
    http.Route(
        "GET", "/status", "GET /status",
        [this](const HttpServer::Request&, HttpServer::Response* res) {
          res->body =
              nlohmann::json{{"node-id", node->node_id()}, {"state", node->StateName()}}.dump();
        });
    node->AddStateRoute(&http);
  }

  Status Start() {
    RETURN_IF_ERROR(http.Start("127.0.0.1:0", "status-addr", "node-test-http"));
    return node->Start(http.addr());
  }

  std::unique_ptr<httplib::Client> Client() {
    Result<HostPort> hp = SplitHostPort(http.addr());
    auto c = std::make_unique<httplib::Client>(hp->host, hp->port);
    c->set_read_timeout(5, 0);
    return c;
  }

  std::atomic<uint64_t> ts{100};
  std::atomic<bool> drained{false};
  std::atomic<int> closing_calls{0}, heartbeats{0};
  std::atomic<bool> claimed{false}, self_stopped{false};
  std::atomic<NodeState> stopped_as{NodeState::kOnline};
  Status stop_error;
  HttpServer http;  // stopped after the node: its routes call into it
  std::unique_ptr<Node> node;
};

class NodeTest : public ::testing::Test {
 protected:
  NodeTest() : registry_(registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"))) {}

  std::unique_ptr<TestNode> NewNode(bool with_drained_hook = true) {
    return std::make_unique<TestNode>(registry_.get(), "drainer-1", tmp_.Sub("data"),
                                      with_drained_hook);
  }
  NodeStatus Record() {
    auto r = registry_->Get(NodeKind::kDrainer, "drainer-1");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : NodeStatus{};
  }

  binlog::testing::TempDir tmp_;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(NodeTest, RegistersOnlineWithItsHostAndDataDir) {
  auto n = NewNode();
  EXPECT_EQ(n->node->StateName(), "starting");
  ASSERT_OK(n->Start());
  EXPECT_TRUE(n->claimed);
  EXPECT_EQ(n->node->StateName(), "online");
  NodeStatus r = Record();
  EXPECT_EQ(r.state, NodeState::kOnline);
  EXPECT_EQ(r.addr, "127.0.0.1:8249");
  EXPECT_EQ(r.status_addr, n->http.addr());
  EXPECT_EQ(r.max_commit_ts, 100);
  EXPECT_EQ(r.host, registry::ThisHostName());
  EXPECT_EQ(r.data_dir, tmp_.Sub("data"));
  EXPECT_TRUE(std::filesystem::path(r.data_dir).is_absolute());
}

TEST_F(NodeTest, AnUnspecifiedStatusHostIsRecordedAsTheAddrHost) {
  auto n = NewNode();
  ASSERT_OK(n->node->Start("0.0.0.0:8299"));
  EXPECT_EQ(Record().status_addr, "127.0.0.1:8299");
}

TEST_F(NodeTest, HeartbeatsRefreshMaxCommitTS) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  NodeStatus first = Record();
  n->ts = 4242;
  EXPECT_TRUE(WaitFor([&] {
    NodeStatus r = Record();
    return r.max_commit_ts == 4242 && r.update_ts > first.update_ts;
  }));
  EXPECT_TRUE(WaitFor([&] { return n->heartbeats > 0; }));  // after each record written
}

TEST_F(NodeTest, PauseRequestEndsPaused) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  ASSERT_OK(n->node->RequestPause());
  EXPECT_OK(n->node->Wait());
  EXPECT_TRUE(WaitFor([&] { return n->self_stopped.load(); }));
  EXPECT_EQ(n->stopped_as.load(), NodeState::kPaused);
  EXPECT_EQ(n->node->state(), NodeState::kPaused);
  EXPECT_EQ(Record().state, NodeState::kPaused);
  EXPECT_TRUE(n->node->RequestClose().IsInvalidArgument());
  EXPECT_EQ(n->closing_calls.load(), 0);
}

TEST_F(NodeTest, CloseWaitsForTheDrainedHookThenGoesOffline) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  ASSERT_OK(n->node->RequestClose());
  ASSERT_TRUE(WaitFor([&] { return Record().state == NodeState::kClosing; }));
  EXPECT_EQ(n->closing_calls.load(), 1);
  Status again = n->node->RequestPause();
  EXPECT_TRUE(again.IsInvalidArgument());
  EXPECT_THAT(again.message(), HasSubstr("drainer drainer-1 is closing"));

  // Not drained: still closing many heartbeats later, and heartbeating.
  int beats = n->heartbeats;
  ASSERT_TRUE(WaitFor([&] { return n->heartbeats > beats + 5; }));
  EXPECT_FALSE(n->node->stopped());
  n->ts = 777;
  ASSERT_TRUE(WaitFor([&] { return Record().max_commit_ts == 777; }));
  EXPECT_EQ(Record().state, NodeState::kClosing);

  n->drained = true;
  EXPECT_OK(n->node->Wait());
  EXPECT_EQ(n->node->state(), NodeState::kOffline);
  EXPECT_EQ(n->stopped_as.load(), NodeState::kOffline);
  EXPECT_EQ(Record().state, NodeState::kOffline);
  EXPECT_TRUE(WaitFor([&] { return n->self_stopped.load(); }));
  EXPECT_EQ(n->closing_calls.load(), 1);
}

TEST_F(NodeTest, WithoutADrainedHookCloseGoesOfflineAtOnce) {
  auto n = NewNode(/*with_drained_hook=*/false);
  ASSERT_OK(n->Start());
  ASSERT_OK(n->node->RequestClose());
  EXPECT_OK(n->node->Wait());
  EXPECT_EQ(Record().state, NodeState::kOffline);
}

TEST_F(NodeTest, ShutdownLeavesItPausedWithoutOnStop) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  n->ts = 555;
  ASSERT_OK(n->node->Shutdown());
  EXPECT_EQ(n->stopped_as.load(), NodeState::kPaused);
  NodeStatus r = Record();
  EXPECT_EQ(r.state, NodeState::kPaused);
  EXPECT_EQ(r.max_commit_ts, 555);  // the final record carries the last MaxCommitTS
  ASSERT_OK(n->node->Shutdown());   // idempotent
  EXPECT_FALSE(n->self_stopped);    // the owner asked: no callback
  EXPECT_THAT(n->node->RequestPause().message(), HasSubstr("is stopped"));
}

TEST_F(NodeTest, ShutdownEndsACloseStillWaitingAsPaused) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  ASSERT_OK(n->node->RequestClose());
  ASSERT_TRUE(WaitFor([&] { return Record().state == NodeState::kClosing; }));
  ASSERT_OK(n->node->Shutdown());
  EXPECT_EQ(Record().state, NodeState::kPaused);
  EXPECT_FALSE(n->self_stopped);
}

TEST_F(NodeTest, AStopErrorIsWhatWaitReturnsAndTheStateIsRecordedAnyway) {
  auto n = NewNode();
  n->stop_error = Status::IOError("journal sync failed");
  ASSERT_OK(n->Start());
  Status s = n->node->Shutdown();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(Record().state, NodeState::kPaused);
}

TEST_F(NodeTest, ANodeIdThatARunningNodeHoldsIsRefused) {
  auto first = NewNode();
  ASSERT_OK(first->Start());
  auto twin = NewNode();
  Status refused = twin->Start();
  EXPECT_TRUE(refused.IsBusy()) << refused.ToString();
  EXPECT_THAT(refused.message(),
              AllOf(HasSubstr("node id drainer-1 is held by another running drainer"),
                    HasSubstr(first->http.addr()), HasSubstr("its own node-id")));
  EXPECT_FALSE(twin->claimed);
  EXPECT_FALSE(twin->node->started());
  EXPECT_EQ(Record().status_addr, first->http.addr());     // untouched
  ASSERT_OK(twin->node->Shutdown());                       // never started: nothing to stop
  EXPECT_EQ(twin->stopped_as.load(), NodeState::kOnline);  // stop_serving never ran

  // Once the first is gone (its status service with it), the record is taken over.
  first.reset();
  auto successor = NewNode();
  ASSERT_OK(successor->Start());
  EXPECT_EQ(Record().status_addr, successor->http.addr());
  EXPECT_EQ(Record().state, NodeState::kOnline);
}

TEST_F(NodeTest, ARecordLeftByADeadNodeIsTakenOver) {
  std::string dead_status;
  {
    binlog::testing::HeldPort closed;  // nothing listens there once it is closed
    dead_status = closed.addr();
  }
  NodeStatus stale;
  stale.node_id = "drainer-1";
  stale.addr = "127.0.0.1:1";
  stale.status_addr = dead_status;
  stale.state = NodeState::kOnline;
  stale.update_ts = static_cast<int64_t>(ComposeTS(Env::Posix()->NowMicros() / 1000, 0));
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, stale));
  auto n = NewNode();
  ASSERT_OK(n->Start());
  NodeStatus r = Record();
  EXPECT_EQ(r.addr, "127.0.0.1:8249");
  EXPECT_EQ(r.status_addr, n->http.addr());
  EXPECT_EQ(r.state, NodeState::kOnline);
}

TEST_F(NodeTest, StateRoutes) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  auto client = n->Client();
  auto other = client->Put("/state/drainer-2/pause");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_THAT(other->body, HasSubstr("no drainer drainer-2 here: this is drainer drainer-1"));
  auto malformed = client->Put("/state/drainer-1");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 404);
  EXPECT_THAT(malformed->body, HasSubstr("PUT /state/drainer-1/pause"));
  auto unknown = client->Put("/state/drainer-1/explode");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_EQ(Record().state, NodeState::kOnline);

  auto close = client->Put("/state/drainer-1/close");
  ASSERT_TRUE(close);
  EXPECT_EQ(close->status, 200) << close->body;
  auto body = nlohmann::json::parse(close->body);
  EXPECT_EQ(body["state"], "closing");
  EXPECT_EQ(body["node-id"], "drainer-1");
  ASSERT_TRUE(WaitFor([&] { return Record().state == NodeState::kClosing; }));
  auto conflict = client->Put("/state/drainer-1/pause");
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_THAT(conflict->body, HasSubstr("is closing"));

  n->drained = true;
  EXPECT_OK(n->node->Wait());
  EXPECT_EQ(Record().state, NodeState::kOffline);
  // The status service answers until its owner stops it, with the final state.
  auto status = client->Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(nlohmann::json::parse(status->body)["state"], "offline");
}

TEST_F(NodeTest, PauseOverHttp) {
  auto n = NewNode();
  ASSERT_OK(n->Start());
  auto res = n->Client()->Put("/state/drainer-1/pause");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["state"], "pausing");
  EXPECT_OK(n->node->Wait());
  EXPECT_EQ(Record().state, NodeState::kPaused);
  EXPECT_TRUE(WaitFor([&] { return n->self_stopped.load(); }));
}

TEST(NodeStateMetricTest, OneForTheCurrentState) {
  MetricsText m;
  NodeStateMetric(&m, "binlog_drainer_state", NodeState::kClosing);
  std::string text = m.Take();
  EXPECT_THAT(text, HasSubstr("# TYPE binlog_drainer_state gauge\n"));
  EXPECT_THAT(text, HasSubstr("binlog_drainer_state{state=\"closing\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("binlog_drainer_state{state=\"online\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("binlog_drainer_state{state=\"offline\"} 0\n"));
}

}  // namespace
}  // namespace binlog::server
