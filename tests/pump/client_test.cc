// PumpClient against a real pump server on loopback: coalesced writes from many threads, the
// batched pull, and WriteBinlogStream (the stream a single write goes on).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pump/server_test_util.h"
#include "pump_client/pump_client.h"
#include "testutil/pump_pull.h"

namespace binlog::pump {
namespace {

using testing::Commit;
using testing::Prewrite;
using testing::PumpServerTest;
using testing::Serve;
using testing::TestServer;

TEST_F(PumpServerTest, ClientCoalescesConcurrentWritesYetAnswersEachOnItsOwn) {
  StartServer();
  ClientOptions options;
  options.max_in_flight = 2;
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr(), options));
  constexpr int kThreads = 16;
  constexpr int kTxns = 40;
  std::mutex mu;
  std::vector<uint64_t> committed;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTxns; ++i) {
        if (t % 4 == 3) {
          // Bad binlogs in the same stream of calls: each gets its own refusal, and the good
          // ones that shared a WriteBinlogs with it still go through.
          Status s = client->WriteBinlog(Commit(tso_.Next(), tso_.Next()));
          EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
          EXPECT_NE(s.message().find("commit without prewrite"), std::string::npos);
          ++refused;
          continue;
        }
        uint64_t start = tso_.Next();
        Status p = client->WriteBinlog(Prewrite(start));
        ASSERT_TRUE(p.ok()) << p.ToString();
        uint64_t commit = tso_.Next();
        Status c = client->WriteBinlog(Commit(start, commit));
        ASSERT_TRUE(c.ok()) << c.ToString();
        std::lock_guard<std::mutex> g(mu);
        committed.push_back(commit);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(committed.size(), size_t{kThreads / 4 * 3 * kTxns});
  EXPECT_EQ(refused.load(), kThreads / 4 * kTxns);
  ASSERT_OK(client->Probe());
  std::sort(committed.begin(), committed.end());
  ASSERT_TRUE(testing::WaitEmitted(server_->pump(), committed.back()));

  // Every commit once, in order, through the batched pull.
  ASSERT_OK_AND_ASSIGN(auto pulled,
                       binlog::testing::PullUntil(server_->grpc_addr(), committed.back()));
  EXPECT_EQ(binlog::testing::CommitTsOf(pulled), committed);
  // Fewer wal writes than binlogs would show coalescing only statistically; what must hold is
  // that the pump stored each good binlog once.
  EXPECT_EQ(server_->pump()->Stats().writes, 2 * committed.size());
}

// The service's side of WriteBinlogStream, driven by hand: each request gets its own answer, in
// order, and a refused one leaves the stream usable.
TEST_F(PumpServerTest, WriteStreamAnswersEachRequestAndSurvivesARefusal) {
  StartServer();
  grpc::ClientContext ctx;
  auto stream = stub_->WriteBinlogStream(&ctx);
  auto send = [&](const std::string& payload) {
    pb::WriteBinlogReq req;
    req.set_payload(payload);
    pb::WriteBinlogResp resp;
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->Read(&resp));
    return resp;
  };
  // Refused at once, one after the other (no wal write between them).
  for (int i = 0; i < 500; ++i) ASSERT_EQ(send("not a binlog").errcode(), "invalid");
  uint64_t start = tso_.Next();
  EXPECT_EQ(send(Commit(start, start + 1).SerializeAsString()).errcode(), "invalid");
  pb::WriteBinlogResp pre = send(Prewrite(start).SerializeAsString());
  EXPECT_TRUE(pre.errmsg().empty()) << pre.errmsg();
  uint64_t commit = tso_.Next();
  pb::WriteBinlogResp com = send(Commit(start, commit).SerializeAsString());
  EXPECT_TRUE(com.errmsg().empty()) << com.errmsg();
  EXPECT_TRUE(send("").errmsg().empty());  // a probe
  EXPECT_EQ(StatusJson()["write-streams"], 1);
  ASSERT_TRUE(stream->WritesDone());
  grpc::Status end = stream->Finish();
  EXPECT_TRUE(end.ok()) << end.error_message();
  EXPECT_TRUE(testing::WaitFor([&] { return StatusJson()["write-streams"] == 0; }));
  EXPECT_EQ(server_->pump()->Stats().writes, 2u);
  EXPECT_TRUE(testing::WaitEmitted(server_->pump(), commit));
}

// A stream waiting for its next request does not hold a shutdown up (gRPC would wait out its
// grace period, then cancel it): the service ends it, and says why.
TEST_F(PumpServerTest, ShutdownEndsIdleWriteStreams) {
  StartServer();
  grpc::ClientContext ctx;
  auto stream = stub_->WriteBinlogStream(&ctx);
  pb::WriteBinlogReq req;
  pb::WriteBinlogResp resp;
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_OK(server_->Shutdown());
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(end.error_message(), "pump is stopping");
}

// The client keeps its streams between writes; one the pump ended while it was idle (here, by
// restarting) is replaced without failing the write that finds it dead.
TEST_F(PumpServerTest, ClientWritesOnAfterThePumpRestarted) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr()));
  uint64_t start = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Prewrite(start)));
  std::string addr = server_->grpc_addr();
  ASSERT_OK(server_->Shutdown());
  server_.reset();
  config_.addr = addr;
  config_.advertise_addr = addr;
  StartServer();
  uint64_t commit = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Commit(start, commit)));
  EXPECT_TRUE(testing::WaitEmitted(server_->pump(), commit));
}

// The same refusals as a unary WriteBinlog gets, through the client's stream: the pump's own
// size check (InvalidArgument), and gRPC's limit, which ends the stream; the next write goes out
// on a new one.
TEST_F(PumpServerTest, StreamedWritesGetTheSizeRefusalsAndGoOn) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr()));
  pb::Binlog big = Prewrite(tso_.Next(), 400);  // above max-message-size (64 KiB here)
  Status s = client->WriteBinlog(big);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("65536"), std::string::npos) << s.ToString();
  pb::Binlog huge = Prewrite(tso_.Next(), 8000);  // above gRPC's limit too
  s = client->WriteBinlog(huge);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("larger than max"), std::string::npos) << s.ToString();
  uint64_t start = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Prewrite(start)));
  uint64_t commit = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Commit(start, commit)));
  EXPECT_EQ(server_->pump()->Stats().writes, 2u);
}

// A pull stream that the pump ended (it stopped) says so, and can then be dropped.
TEST_F(PumpServerTest, APullStreamEndedByThePumpEndsCleanly) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr()));
  uint64_t start = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Prewrite(start)));
  uint64_t commit = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Commit(start, commit)));
  ASSERT_OK_AND_ASSIGN(auto stream, client->Pull(0));
  pb::Binlog b;
  ASSERT_OK_AND_ASSIGN(bool more, stream->Next(&b));
  ASSERT_TRUE(more);
  EXPECT_EQ(static_cast<uint64_t>(b.commit_ts()), commit);
  ASSERT_OK(server_->Shutdown());
  Result<bool> end = stream->Next(&b);
  EXPECT_TRUE(!end.ok() || !*end);
  ASSERT_OK_AND_ASSIGN(bool again, stream->Next(&b));  // asked again: still over
  EXPECT_FALSE(again);
  stream.reset();  // must not finish the call a second time
}

// A pump without WriteBinlogStream (TiDB-Binlog's has only the unary call): the client falls
// back to WriteBinlog, and the binlog that found the method missing is not lost.
class UnaryOnlyPump final : public pb::Pump::Service {
 public:
  grpc::Status WriteBinlog(grpc::ServerContext*, const pb::WriteBinlogReq* req,
                           pb::WriteBinlogResp*) override {
    std::lock_guard<std::mutex> g(mu_);
    payloads_.push_back(req->payload());
    return grpc::Status::OK;
  }
  std::vector<std::string> payloads() {
    std::lock_guard<std::mutex> g(mu_);
    return payloads_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> payloads_;
};

TEST(PumpClientTest, FallsBackToWriteBinlogWithoutTheStreamMethod) {
  UnaryOnlyPump service;
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr));
  ASSERT_OK(client->WriteBinlog(Prewrite(10)));
  ASSERT_OK(client->WriteBinlog(Commit(10, 11)));
  std::vector<std::string> got = service.payloads();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], Prewrite(10).SerializeAsString());
  EXPECT_EQ(got[1], Commit(10, 11).SerializeAsString());
  pump.server->Shutdown();
}

// A pump that takes a streamed write and never answers: the write fails once the client's
// timeout passes, and the client still works against it afterwards (a new stream each time).
class SilentPump final : public pb::Pump::Service {
 public:
  grpc::Status WriteBinlogStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<pb::WriteBinlogResp, pb::WriteBinlogReq>* stream) override {
    pb::WriteBinlogReq req;
    while (stream->Read(&req)) ++received_;
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }
  std::atomic<int> received_{0};
};

TEST(PumpClientTest, AStreamedWriteTimesOutWhenThePumpNeverAnswers) {
  SilentPump service;
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(200);
  options.coalesce_writes = false;
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr, options));
  for (int i = 0; i < 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    Status s = client->WriteBinlog(Prewrite(10 + static_cast<uint64_t>(i)));
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_NE(s.message().find("no answer in 200 ms"), std::string::npos) << s.ToString();
    EXPECT_GE(waited, std::chrono::milliseconds(200));
  }
  EXPECT_EQ(service.received_.load(), 2);
  pump.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace
}  // namespace binlog::pump
