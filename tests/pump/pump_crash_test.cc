// kill -9 of a pump under load, repeated: no acknowledged transaction lost, none duplicated.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "pump/pump.h"
#include "pump_test_util.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using testing::Commit;
using testing::Prewrite;
using testing::PullAll;
using testing::Rollback;
using testing::TsoClock;
using testing::WaitEmitted;

PumpOptions CrashOptions(const std::string& dir) {
  PumpOptions o;
  o.data_dir = dir;
  o.max_file_size = 32 << 10;  // rotate often: kills land in creates, seals and wal clean-up
  o.gen_binlog_interval_seconds = 0;
  o.stop_write_at_available_space = 0;
  return o;
}

void LogAck(int ack_fd, uint64_t commit) {
  std::string line = std::to_string(commit) + "\n";
  if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(7);
}

// Batches of 16 prewrites, then of their commits: large enough that the pump's caller compresses
// them for the wal (pump/writer.cc, kCallerEncodeBytes).
[[noreturn]] void RunBatchProducer(Pump* pump, TsoClock* clock, int ack_fd) {
  while (true) {
    std::vector<pb::Binlog> prewrites;
    std::vector<pb::Binlog> commits;
    for (int i = 0; i < 16; ++i) prewrites.push_back(Prewrite(clock->Next()));
    if (!pump->WriteBinlogs(prewrites).ok()) _exit(8);
    for (const pb::Binlog& p : prewrites) {
      commits.push_back(Commit(static_cast<uint64_t>(p.start_ts()), clock->Next()));
    }
    if (!pump->WriteBinlogs(commits).ok()) _exit(9);
    for (const pb::Binlog& c : commits) LogAck(ack_fd, static_cast<uint64_t>(c.commit_ts()));
  }
}

// Producers write prewrite then commit (some roll back), one at a time or in batches; each commit
// ts is logged to the ack file only after the pump acknowledged the commit.
[[noreturn]] void RunChildPump(const std::string& dir, const std::string& ack_path, uint32_t seed) {
  int ack_fd = open(ack_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto pump = Pump::Open(CrashOptions(dir));
  if (!pump.ok() || ack_fd < 0) _exit(3);
  TsoClock clock;
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      if (t == 3) RunBatchProducer(pump->get(), &clock, ack_fd);
      std::mt19937 rng(seed + t);
      while (true) {
        uint64_t start = clock.Next();
        if (!(*pump)->WriteBinlog(Prewrite(start)).ok()) _exit(4);
        if (rng() % 8 == 0) {
          if (!(*pump)->WriteBinlog(Rollback(start)).ok()) _exit(5);
          continue;
        }
        uint64_t commit = clock.Next();
        if (!(*pump)->WriteBinlog(Commit(start, commit)).ok()) _exit(6);
        LogAck(ack_fd, commit);
      }
    });
  }
  for (auto& p : producers) p.join();
  _exit(0);
}

std::set<uint64_t> ReadAcks(const std::string& path) {
  std::set<uint64_t> out;
  auto text = ReadFileToString(Env::Posix(), path);
  if (!text.ok()) return out;
  size_t pos = 0;
  while (true) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) break;  // a line cut by the kill was never acknowledged
    out.insert(std::stoull(text->substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}

TEST(PumpCrashTest, KillNineUnderLoadLosesAndDuplicatesNothing) {
  binlog::testing::TempDir dir;
  std::string data = dir.Sub("pump");
  std::string acks = dir.Sub("acked");
  // Rounds build on each other (one data dir, killed again and again); testutil.h's
  // BINLOG_CRASH_SEED and BINLOG_CRASH_TRIALS choose other kill points and more rounds.
  ASSERT_OK_AND_ASSIGN(auto plan, binlog::testing::CrashPlanFromEnv(4242, 10));
  for (int round = 0; round < plan.End(); ++round) {
    SCOPED_TRACE(plan.Trace(round));
    std::mt19937 rng = plan.Rng(round);
    uint32_t child_seed = rng();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) RunChildPump(data, acks, child_seed);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    std::set<uint64_t> acked = ReadAcks(acks);
    // Prewrites the kill left pending hold the watermark down, as they would for a real
    // producer that died: the max-txn-timeout policy resolves them (at once here).
    PumpOptions reopen = CrashOptions(data);
    reopen.max_txn_timeout_seconds = 0;
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(reopen));
    if (!acked.empty()) {
      ASSERT_TRUE(WaitEmitted(pump.get(), *acked.rbegin()));
    }
    auto pulled = PullAll(pump.get());
    ASSERT_OK(pulled.status);
    EXPECT_EQ(pulled.bad, 0u);
    ASSERT_TRUE(std::is_sorted(pulled.commits.begin(), pulled.commits.end()));
    std::set<uint64_t> got(pulled.commits.begin(), pulled.commits.end());
    ASSERT_EQ(got.size(), pulled.commits.size()) << "a transaction came out twice";
    ASSERT_EQ(binlog::testing::CountLost(acked, got), 0u)
        << "acknowledged commits lost after kill -9";
    ASSERT_OK(pump->Close());
  }
  EXPECT_GT(ReadAcks(acks).size(), 200u) << "too little was written for the test to mean much";
}

}  // namespace
}  // namespace binlog::pump
