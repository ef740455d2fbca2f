// PumpClient::WriteBinlogAsync: against a real pump, closed loops of transactions driven by the
// answers alone; against stand-in pumps, how writes are grouped, a refused group, a pump without
// WriteBinlogs, and a pump that never answers.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
using testing::TsoClock;

// Counts the answers of asynchronous writes and waits for the expected number.
class Answers {
 public:
  PumpClient::WriteDone Expect(std::function<void(const Status&)> then = nullptr) {
    {
      std::lock_guard<std::mutex> g(mu_);
      ++expected_;
    }
    return [this, then = std::move(then)](Status s) {
      if (then) then(s);
      std::lock_guard<std::mutex> g(mu_);
      ++answered_;
      if (!s.ok()) errors_.push_back(s);
      cv_.notify_all();
    };
  }
  // True once every write expected so far was answered (within 30 s).
  bool Wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(30), [&] { return answered_ == expected_; });
  }
  int answered() {
    std::lock_guard<std::mutex> g(mu_);
    return answered_;
  }
  std::vector<Status> errors() {
    std::lock_guard<std::mutex> g(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int expected_ = 0;
  int answered_ = 0;
  std::vector<Status> errors_;
};

// A producer without a thread: PREWRITE, on its answer COMMIT, on that answer the next
// transaction; or, for a bad producer, commits without a prewrite, each refused.
struct Producer {
  PumpClient* client;
  TsoClock* tso;
  Answers* answers;
  bool bad = false;
  int left = 0;
  std::mutex* mu;
  std::vector<uint64_t>* committed;

  void Next() {
    if (left-- == 0) return;
    if (bad) {
      client->WriteBinlogAsync(Commit(tso->Next(), tso->Next()), answers->Expect([this](Status s) {
        EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
        Next();
      }));
      return;
    }
    uint64_t start = tso->Next();
    client->WriteBinlogAsync(Prewrite(start), answers->Expect([this, start](Status s) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      uint64_t commit = tso->Next();
      client->WriteBinlogAsync(Commit(start, commit), answers->Expect([this, commit](Status c) {
        ASSERT_TRUE(c.ok()) << c.ToString();
        {
          std::lock_guard<std::mutex> g(*mu);
          committed->push_back(commit);
        }
        Next();
      }));
    }));
  }
};

TEST_F(PumpServerTest, AsyncWritesOfManyProducersAreEachAnsweredAndStoredOnce) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr()));
  constexpr int kProducers = 32;
  constexpr int kTxns = 30;
  Answers answers;
  std::mutex mu;
  std::vector<uint64_t> committed;
  std::vector<std::unique_ptr<Producer>> producers;
  for (int i = 0; i < kProducers; ++i) {
    producers.push_back(std::make_unique<Producer>(
        Producer{client.get(), &tso_, &answers, i % 4 == 3, kTxns, &mu, &committed}));
  }
  for (auto& p : producers) p->Next();
  // An answer asks for the next write before it counts, so this waits for every chain's end.
  ASSERT_TRUE(answers.Wait());
  const int good = kProducers / 4 * 3, bad = kProducers / 4;
  const int total = good * kTxns * 2 + bad * kTxns;
  EXPECT_EQ(answers.answered(), total) << "a write answered twice";
  EXPECT_EQ(answers.errors().size(), size_t{bad * kTxns});

  std::sort(committed.begin(), committed.end());
  ASSERT_EQ(committed.size(), size_t{good * kTxns});
  ASSERT_TRUE(testing::WaitEmitted(server_->pump(), committed.back()));
  ASSERT_OK_AND_ASSIGN(auto pulled,
                       binlog::testing::PullUntil(server_->grpc_addr(), committed.back()));
  EXPECT_EQ(binlog::testing::CommitTsOf(pulled), committed);
  EXPECT_EQ(server_->pump()->Stats().writes, 2 * committed.size());
}

// Records what it is sent. WriteBinlogs answers after `delay`, so that writes queue behind the
// calls out; a batch holding `bad` is refused whole, as the pump refuses it.
class RecordingPump final : public pb::Pump::Service {
 public:
  RecordingPump(std::chrono::milliseconds delay, std::string bad)
      : delay_(delay), bad_(std::move(bad)) {}

  grpc::Status WriteBinlogs(grpc::ServerContext*, const pb::WriteBinlogsReq* req,
                            pb::WriteBinlogResp* resp) override {
    std::this_thread::sleep_for(delay_);
    std::lock_guard<std::mutex> g(mu_);
    batches_.push_back(req->payloads_size());
    for (const std::string& p : req->payloads()) {
      if (p == bad_) {
        resp->set_errmsg("a bad binlog; nothing was stored");
        resp->set_errcode("invalid");
        return grpc::Status::OK;
      }
    }
    for (const std::string& p : req->payloads()) ++stored_[p];
    return grpc::Status::OK;
  }
  grpc::Status WriteBinlog(grpc::ServerContext*, const pb::WriteBinlogReq* req,
                           pb::WriteBinlogResp* resp) override {
    std::lock_guard<std::mutex> g(mu_);
    ++singles_;
    if (req->payload() == bad_) {
      resp->set_errmsg("a bad binlog");
      resp->set_errcode("invalid");
    } else {
      ++stored_[req->payload()];
    }
    return grpc::Status::OK;
  }

  std::vector<int> batches() {
    std::lock_guard<std::mutex> g(mu_);
    return batches_;
  }
  std::map<std::string, int> stored() {
    std::lock_guard<std::mutex> g(mu_);
    return stored_;
  }
  int singles() {
    std::lock_guard<std::mutex> g(mu_);
    return singles_;
  }

 private:
  const std::chrono::milliseconds delay_;
  const std::string bad_;
  std::mutex mu_;
  std::vector<int> batches_;
  std::map<std::string, int> stored_;
  int singles_ = 0;
};

TEST(PumpClientAsyncTest, WritesQueuedBehindTheCallsOutGoTogether) {
  RecordingPump service(std::chrono::milliseconds(100), "");
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  {
    ClientOptions options;
    options.max_in_flight = 2;
    ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr, options));
    Answers answers;
    for (uint64_t ts = 1; ts <= 100; ++ts) client->WriteBinlogAsync(Prewrite(ts), answers.Expect());
    ASSERT_TRUE(answers.Wait());
    EXPECT_EQ(answers.answered(), 100);
    EXPECT_TRUE(answers.errors().empty());
  }
  std::vector<int> batches = service.batches();
  ASSERT_FALSE(batches.empty());
  // Two calls go out at once; the 98 written while they were out go together after them (or, on
  // a slow machine, in a few more).
  EXPECT_LE(batches.size(), 5u);
  EXPECT_GE(*std::max_element(batches.begin(), batches.end()), 50);
  std::map<std::string, int> stored = service.stored();
  ASSERT_EQ(stored.size(), 100u);
  for (const auto& [payload, times] : stored) EXPECT_EQ(times, 1);
  EXPECT_EQ(service.singles(), 0);
  pump.server->Shutdown();
}

TEST(PumpClientAsyncTest, ARefusedGroupIsSentAgainOneByOneForEachAnswer) {
  const pb::Binlog bad = Commit(7, 8);
  RecordingPump service(std::chrono::milliseconds(50), bad.SerializeAsString());
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  Status bad_answer;
  {
    ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr));
    Answers answers;
    for (uint64_t ts = 100; ts < 120; ++ts) {
      client->WriteBinlogAsync(Prewrite(ts), answers.Expect());
      if (ts == 110) {
        client->WriteBinlogAsync(bad, answers.Expect([&](const Status& s) { bad_answer = s; }));
      }
    }
    ASSERT_TRUE(answers.Wait());
    EXPECT_EQ(answers.answered(), 21);
    EXPECT_EQ(answers.errors().size(), 1u);
  }
  EXPECT_TRUE(bad_answer.IsInvalidArgument()) << bad_answer.ToString();
  EXPECT_NE(bad_answer.message().find("a bad binlog"), std::string::npos);
  std::map<std::string, int> stored = service.stored();
  ASSERT_EQ(stored.size(), 20u) << "every good binlog stored, the refused group's alone";
  for (const auto& [payload, times] : stored) EXPECT_EQ(times, 1);
  EXPECT_GT(service.singles(), 1);
  pump.server->Shutdown();
}

// TiDB-Binlog's pump has WriteBinlog only: every write goes as one, none is lost.
class WriteBinlogOnlyPump final : public pb::Pump::Service {
 public:
  grpc::Status WriteBinlog(grpc::ServerContext*, const pb::WriteBinlogReq* req,
                           pb::WriteBinlogResp*) override {
    std::lock_guard<std::mutex> g(mu_);
    ++stored_[req->payload()];
    return grpc::Status::OK;
  }
  std::map<std::string, int> stored() {
    std::lock_guard<std::mutex> g(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> stored_;
};

TEST(PumpClientAsyncTest, FallsBackToWriteBinlogWithoutWriteBinlogs) {
  WriteBinlogOnlyPump service;
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr));
    Answers answers;
    for (uint64_t ts = 1; ts <= 40; ++ts) client->WriteBinlogAsync(Prewrite(ts), answers.Expect());
    ASSERT_TRUE(answers.Wait());
    EXPECT_TRUE(answers.errors().empty()) << answers.errors().front().ToString();
    // Later writes go alone from the start.
    client->WriteBinlogAsync(Prewrite(41), answers.Expect());
    ASSERT_TRUE(answers.Wait());
    EXPECT_EQ(answers.answered(), 41);
  }
  std::map<std::string, int> stored = service.stored();
  ASSERT_EQ(stored.size(), 41u);
  for (const auto& [payload, times] : stored) EXPECT_EQ(times, 1);
  pump.server->Shutdown();
}

class NeverAnsweringPump final : public pb::Pump::Service {
 public:
  grpc::Status WriteBinlogs(grpc::ServerContext* ctx, const pb::WriteBinlogsReq*,
                            pb::WriteBinlogResp*) override {
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }
};

TEST(PumpClientAsyncTest, AnAsyncWriteFailsOnceTheTimeoutPasses) {
  NeverAnsweringPump service;
  TestServer pump = Serve(&service);
  ASSERT_NE(pump.server, nullptr);
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  Status answer;
  {
    ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(pump.addr, options));
    Answers answers;
    client->WriteBinlogAsync(Prewrite(5), answers.Expect([&](const Status& s) { answer = s; }));
    ASSERT_TRUE(answers.Wait());
  }  // the client is gone only after its call ended
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_TRUE(answer.IsIOError()) << answer.ToString();
  EXPECT_NE(answer.message().find("Deadline"), std::string::npos) << answer.ToString();
  pump.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace
}  // namespace binlog::pump
