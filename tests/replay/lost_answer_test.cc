// A statement the destination ran to its end whose answer never reached the sink: the
// connection breaks after the query went out. The sink sees a lost connection, which is
// transient, and the engine retries; the transaction must not be applied a second time, and a
// DDL that already ran must not stop the replay. A proxy between the sink and B cuts the
// connection at the chosen query, deterministically.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "replay/big_txn_util.h"
#include "replay/replay_test_util.h"
#include "segment/format.h"

namespace binlog::replay::testing {
namespace {

// A TCP proxy to a loopback port. CutAfter(marker) arms it: the next query with the marker in
// it goes to the server whole, then the client's side of that connection is closed as soon as
// the server starts answering, while the server's side stays open and is read (so the server
// runs the whole query, COMMIT included, and never learns the client is gone).
class CuttingProxy {
 public:
  explicit CuttingProxy(int upstream_port) : upstream_port_(upstream_port) {}
  ~CuttingProxy() {
    stop_ = true;
    if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
    if (accepter_.joinable()) accepter_.join();
    for (auto& t : pumps_) t.join();
    for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
      if (fd >= 0) close(fd);
    }
  }

  Status Start() {
    if (pipe(wake_) != 0) return Status::FromErrno(errno, "pipe");
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(0);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd_, 64) != 0) {
      return Status::FromErrno(errno, "proxy listen");
    }
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] { Accept(); });
    return Status::OK();
  }

  int port() const { return port_; }
  int cuts() const { return cuts_; }
  // Cuts the connection that sends the (skip + 1)-th query with `marker` from now on.
  void CutAfter(std::string marker, int skip) {
    std::lock_guard<std::mutex> g(mu_);
    marker_ = std::move(marker);
    skip_ = skip;
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  static bool WriteAll(int fd, const char* p, ssize_t n) {
    while (n > 0) {
      ssize_t w = write(fd, p, static_cast<size_t>(n));
      if (w <= 0) return false;
      p += w;
      n -= w;
    }
    return true;
  }

  void Accept() {
    while (!stop_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) <= 0 || fds[1].revents != 0) return;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = Loopback(upstream_port_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        close(client);
        if (server >= 0) close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Whether this query (`seen`: what the client sent since the last answer) is the one to cut.
  bool ShouldCut(const std::string& seen) {
    std::lock_guard<std::mutex> g(mu_);
    if (marker_.empty() || seen.find(marker_) == std::string::npos) return false;
    if (skip_-- > 0) return false;
    marker_.clear();
    return true;
  }

  void Pump(int client, int server) {
    char buf[1 << 16];
    std::string seen;  // the client's bytes since the server last answered
    bool cut = false;
    while (!stop_) {
      pollfd fds[3] = {{cut ? -1 : client, POLLIN, 0}, {server, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 3, -1) <= 0 || fds[2].revents != 0) break;
      if (fds[0].revents != 0) {
        ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0 || !WriteAll(server, buf, n)) break;
        seen.append(buf, static_cast<size_t>(n));
      }
      if (fds[1].revents != 0) {
        ssize_t n = read(server, buf, sizeof(buf));
        if (n <= 0) break;
        if (cut) continue;  // the server's answers go nowhere
        if (!seen.empty() && ShouldCut(seen)) {
          // The server answers: it has the whole query. The client never hears of it.
          shutdown(client, SHUT_RDWR);
          cut = true;
          ++cuts_;
          continue;
        }
        seen.clear();
        if (!WriteAll(client, buf, n)) break;
      }
    }
    close(client);
    close(server);
  }

  const int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_{0};
  std::mutex mu_;
  std::string marker_;
  int skip_ = 0;
  std::thread accepter_;
  std::vector<std::thread> pumps_;  // only the accepter adds to it
};

class LostAnswerTest : public TwoServersTest {
 protected:
  void SetUp() override {
    TwoServersTest::SetUp();
    proxy_ = std::make_unique<CuttingProxy>(b_->port());
    ASSERT_OK(proxy_->Start());
  }

  // Replays through the proxy with a short backoff.
  Result<EngineStats> ReplayThroughProxy(const std::vector<pb::Binlog>& binlogs, int workers) {
    mysql::ConnectOptions dest = DestOptions(b_.get());
    dest.port = proxy_->port();
    EngineOptions eo;
    eo.worker_count = workers;
    eo.retry_base_seconds = 0.05;
    return Replay(binlogs, dest, eo, false);
  }

  std::unique_ptr<CuttingProxy> proxy_;
};

// The third group's COMMIT runs, its answer is lost, the group is retried: the retry finds it
// recorded and applies nothing (an INSERT into a primary key would fail, the table without a
// key would have it twice).
TEST_F(LostAnswerTest, ACommittedGroupWhoseAnswerIsLostIsNotAppliedAgain) {
  ASSERT_OK(a_->Exec(
      "CREATE DATABASE la; CREATE TABLE la.t (id INT PRIMARY KEY); CREATE TABLE la.log (id INT)"));
  for (int i = 1; i <= 100; ++i) {
    ASSERT_OK(a_->Exec(fmt::format(
        "START TRANSACTION; INSERT INTO la.t VALUES ({0}); INSERT INTO la.log VALUES ({0}); "
        "COMMIT",
        i)));
  }
  std::vector<pb::Binlog> binlogs = Archive();
  proxy_->CutAfter("INSERT INTO tidb_binlog.replay_applied", 5);
  auto st = ReplayThroughProxy(binlogs, 4);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(proxy_->cuts(), 1);
  EXPECT_GE(st->retries, 1u);
  EXPECT_EQ(*b_->QueryValue("SELECT COUNT(*) FROM la.log"), "100");
  ExpectSameDatabase(a_.get(), b_.get(), "la");
}

// A DDL runs, its answer is lost: the retry finds the table changed already ("Duplicate column
// name") and takes it as applied.
TEST_F(LostAnswerTest, ADdlWhoseAnswerIsLostIsNotAnError) {
  ASSERT_OK(
      a_->Exec("CREATE DATABASE la; CREATE TABLE la.t (id INT PRIMARY KEY); "
               "INSERT INTO la.t VALUES (1), (2); ALTER TABLE la.t ADD COLUMN c INT; "
               "INSERT INTO la.t VALUES (3, 3)"));
  std::vector<pb::Binlog> binlogs = Archive();
  proxy_->CutAfter("ALTER TABLE", 0);
  auto st = ReplayThroughProxy(binlogs, 4);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(proxy_->cuts(), 1);
  ExpectSameDatabase(a_.get(), b_.get(), "la");
}

// A transaction in parts: in split mode the commit of a step (its rows and its position) runs
// and its answer is lost, and the retry finds the position recorded; atomic, the commit of the
// last part (with every earlier part in its transaction) runs and its answer is lost, and the
// retry finds the transaction recorded. Rows are keyed: a second application would fail.
TEST_F(LostAnswerTest, ACommittedStepOfATransactionInPartsIsNotAppliedAgain) {
  ASSERT_OK(b_->Exec("CREATE DATABASE lap; " + BigTableSql("lap")));
  for (bool split : {true, false}) {
    SCOPED_TRACE(split ? "split" : "atomic");
    const BigTxn txn{"lap", split ? 100u : 200u, split ? 1 : 100001, 5000, 1000, 100};
    mysql::ConnectOptions dest = DestOptions(b_.get());
    dest.port = proxy_->port();
    MysqlSinkOptions so;
    so.connect = dest;
    so.task = "lap";
    ASSERT_OK_AND_ASSIGN(auto sink, NewMysqlSink(so));
    ASSERT_OK_AND_ASSIGN(Filter filter, Filter::Make({}));
    EngineOptions eo;
    eo.split_big_txn = split;
    eo.txn_batch = 400;
    eo.retry_base_seconds = 0.05;
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), std::move(filter), eo));
    const int cuts = proxy_->cuts();
    proxy_->CutAfter(
        split ? "part_index = VALUES(part_index)" : "INSERT INTO tidb_binlog.replay_applied",
        split ? 4 : 0);
    for (int64_t p = 0; p < txn.parts(); ++p) {
      ASSERT_OK(engine->Submit(
          txn.Part(p), segment::MakePartTag(static_cast<uint32_t>(p), p + 1 == txn.parts())));
    }
    ASSERT_OK(engine->Finish());
    EXPECT_EQ(proxy_->cuts(), cuts + 1);
    EXPECT_GE(engine->Stats().retries, 1u);
    auto check = b_->Query(txn.CheckSql());
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    std::string got;
    for (const auto& v : (*check)[0]) got += (got.empty() ? "" : " ") + v.value_or("NULL");
    EXPECT_EQ(got, txn.Expected());
  }
}

}  // namespace
}  // namespace binlog::replay::testing
