// The daemons' shared kit: host:port, listen checks, the status HTTP service, Prometheus text.
#include "server/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace binlog::server {
namespace {

using ::testing::HasSubstr;

TEST(HostPortTest, SplitsAndJoins) {
  ASSERT_OK_AND_ASSIGN(HostPort a, SplitHostPort("127.0.0.1:8250"));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8250);
  ASSERT_OK_AND_ASSIGN(HostPort b, SplitHostPort("[::1]:0"));
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(JoinHostPort(b.host, 9), "[::1]:9");
  ASSERT_OK_AND_ASSIGN(HostPort c, SplitHostPort(":8251"));
  EXPECT_EQ(c.host, "");
  EXPECT_TRUE(IsUnspecifiedHost(c.host));
  for (const char* bad : {"8250", "host:", "host:x", "host:65536", "::1:80", "h:-1"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

TEST(CheckListenAddrTest, SaysWhyAnAddressCannotBeUsed) {
  binlog::testing::HeldPort taken;
  ASSERT_GT(taken.port(), 0);
  Status in_use = CheckListenAddr(taken.addr(), "status-addr");
  EXPECT_THAT(in_use.message(), HasSubstr("status-addr 127.0.0.1:"));
  EXPECT_THAT(in_use.message(), HasSubstr("in use by another process"));

  Status unresolvable = CheckListenAddr("256.1.1.1:8250", "addr");
  EXPECT_THAT(unresolvable.message(), HasSubstr("does not resolve"));
  EXPECT_THAT(unresolvable.message(), ::testing::Not(HasSubstr("in use")));

  // TEST-NET-1 (RFC 5737): never an address of this host.
  Status foreign = CheckListenAddr("192.0.2.1:8250", "addr");
  EXPECT_THAT(foreign.message(), HasSubstr("not an address of this host"));

  EXPECT_OK(CheckListenAddr("127.0.0.1:0", "addr"));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_.Route("GET", "/status", "GET /status",
                [](const HttpServer::Request&, HttpServer::Response* res) {
                  res->body = R"({"node-id":"n1"})";
                });
    http_.Route("PUT", "/state/", "PUT /state/<id>/<action>",
                [](const HttpServer::Request& req, HttpServer::Response* res) {
                  res->body = nlohmann::json{{"path", req.path}}.dump();
                });
    ASSERT_OK(http_.Start("127.0.0.1:0", "status-addr", "test-http"));
    ASSERT_OK_AND_ASSIGN(hp_, SplitHostPort(http_.addr()));
  }

  // A client that gives up after one second: an answer that needs longer fails the test.
  std::unique_ptr<httplib::Client> Client() {
    auto c = std::make_unique<httplib::Client>(hp_.host, hp_.port);
    c->set_connection_timeout(1, 0);
    c->set_read_timeout(1, 0);
    return c;
  }

  HttpServer http_;
  HostPort hp_;
};

TEST_F(HttpServerTest, ASecondServerOnThePortIsRefused) {
  HttpServer second;
  Status s = second.Start(http_.addr(), "status-addr", "test-http-2");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("in use by another process"));
  // The first one still answers alone.
  auto res = Client()->Get("/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, IdleConnectionsDoNotHoldUpOthers) {
  // Connections that never send a byte, and some that stop half way through a request line:
  // more than the 8 workers cpp-httplib has by default, each held for its 5 s read timeout.
  std::vector<int> idle;
  for (int i = 0; i < 24; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(hp_.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    if (i % 3 == 0) {
      ASSERT_EQ(write(fd, "GET /sta", 8), 8);
    }
    idle.push_back(fd);
  }
  for (int round = 0; round < 3; ++round) {
    auto res = Client()->Get("/status");
    ASSERT_TRUE(res) << "round " << round << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  for (int fd : idle) close(fd);
}

TEST_F(HttpServerTest, UnknownRoutesAreAnsweredAtOnceWithTheRoutes) {
  auto client = Client();
  // No body and no Content-Length, as curl -X POST sends: nothing to wait for.
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "GET"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/nowhere";
    auto res = client->send(req);
    ASSERT_TRUE(res) << method << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 404) << method;
    auto body = nlohmann::json::parse(res->body);
    EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("/nowhere"));
    EXPECT_EQ(body["routes"].size(), 2u) << res->body;
  }
  auto wrong_method = client->Post("/status");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_THAT(wrong_method->body, HasSubstr("use GET"));
  // With a body, read and then routed the same way.
  auto with_body = client->Post("/nowhere", "x=1", "text/plain");
  ASSERT_TRUE(with_body);
  EXPECT_EQ(with_body->status, 404);
  EXPECT_THAT(with_body->body, HasSubstr("routes"));
  auto prefix = client->Put("/state/a/b");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->status, 200);
  EXPECT_THAT(prefix->body, HasSubstr("/state/a/b"));
}

TEST(MetricsTextTest, IntegersArePrintedExactly) {
  MetricsText m;
  m.Gauge("binlog_test_ts", "A TSO.", uint64_t{470885816839700481});
  m.Counter("binlog_test_total", "A count.", 3);
  m.Gauge("binlog_test_seconds", "A float.", 0.25);
  std::string text = m.Take();
  EXPECT_THAT(text, HasSubstr("binlog_test_ts 470885816839700481\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE binlog_test_total counter\nbinlog_test_total 3\n"));
  EXPECT_THAT(text, HasSubstr("binlog_test_seconds 0.25\n"));
}

}  // namespace
}  // namespace binlog::server
