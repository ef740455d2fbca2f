// An etcd endpoint that answers with JSON of the wrong shape (a proxy in the way, another
// service on the port, a future etcd): every registry call returns an error naming it, and
// nothing is thrown or crashes. The well-formed protocol is tested against a real etcd in
// etcd_registry_test.cc.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "registry/registry.h"
#include "testutil/testutil.h"

namespace binlog::registry {
namespace {

class WrongShapeServer {
 public:
  explicit WrongShapeServer(std::string body) {
    server_.Post(R"(/v3/.*)", [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    // bind_to_any_port already listens: a request before the thread accepts just waits.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~WrongShapeServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(EtcdBadAnswerTest, AnAnswerOfTheWrongShapeIsAnErrorNotACrash) {
  NodeStatus n;
  n.node_id = "p1:8250";
  n.addr = "p1:8250";
  n.lease_seconds = 3;
  for (const char* body :
       {R"({"header":{},"kvs":"not a list","responses":7,"count":"x"})",
        R"({"header":"x","responses":[1,"two",{"response_range":"three"}],"succeeded":"yes"})",
        R"({"error":"bad","code":"not a number","message":17})", R"([1,2,3])", R"("text")",
        R"({"ID":{"a":1},"TTL":[]})"}) {
    SCOPED_TRACE(body);
    WrongShapeServer server(body);
    ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(Env::Posix(), server.url(), "", "test"));
    EXPECT_FALSE(reg->Put(NodeKind::kPump, n).ok());
    EXPECT_FALSE(reg->Get(NodeKind::kPump, "p1:8250").ok());
    EXPECT_FALSE(reg->Remove(NodeKind::kPump, "p1:8250").ok());
    NodeStatus next = n;
    next.state = NodeState::kOffline;
    EXPECT_FALSE(reg->CompareAndSwap(NodeKind::kPump, n, next).ok());
    // An object without "kvs" is how etcd answers an empty range: no node, or an error.
    auto listed = reg->List(NodeKind::kPump);
    EXPECT_TRUE(!listed.ok() || listed->empty());
  }
}

}  // namespace
}  // namespace binlog::registry
