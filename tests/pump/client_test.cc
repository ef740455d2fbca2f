// PumpClient against a real pump server on loopback: coalesced writes from many threads and the
// batched pull.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pump/server_test_util.h"
#include "pump_client/pump_client.h"

namespace binlog::pump {
namespace {

using testing::Commit;
using testing::Prewrite;
using testing::PumpServerTest;

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
  ASSERT_OK_AND_ASSIGN(auto stream, client->Pull(0));
  std::vector<uint64_t> got;
  pb::Binlog b;
  while (got.size() < committed.size()) {
    ASSERT_OK_AND_ASSIGN(bool more, stream->Next(&b));
    ASSERT_TRUE(more);
    if (b.tp() == pb::COMMIT) got.push_back(static_cast<uint64_t>(b.commit_ts()));
  }
  EXPECT_EQ(got, committed);
  // Fewer wal writes than binlogs would show coalescing only statistically; what must hold is
  // that the pump stored each good binlog once.
  EXPECT_EQ(server_->pump()->Stats().writes, 2 * committed.size());
}

}  // namespace
}  // namespace binlog::pump
