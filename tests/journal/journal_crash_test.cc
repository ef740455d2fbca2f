// Crashes and disk failures: power loss at random points (fault-injecting Env), kill -9 of a
// writing process, ENOSPC and EIO. What was acknowledged must survive; what was not may vanish,
// but nothing may come back half-written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/fault_env.h"
#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using binlog::testing::CrashPlan;
using binlog::testing::CrashPlanFromEnv;
using testing::PayloadFor;
using testing::ReadAll;

JournalOptions CrashOptions(Env* env, segment::SegmentKind kind, uint64_t preallocate = 0) {
  JournalOptions o;
  o.env = env;
  o.max_file_size = 16 << 10;  // rotate often, so crashes also hit creates and seals
  o.segment.block_bytes = 4 << 10;
  o.segment.kind = kind;
  o.preallocate_bytes = preallocate;
  return o;
}

// Checks what a reopened journal holds against what was acknowledged and attempted.
void ExpectAckedSurvived(Env* env, const std::string& dir, const std::set<uint64_t>& acked,
                         const std::set<uint64_t>& attempted, bool arrival) {
  auto back = ReadAll(env, dir, 0, UINT64_MAX, arrival);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.bad_payloads, 0u) << "a record came back half-written";
  std::set<uint64_t> got(back.ts.begin(), back.ts.end());
  EXPECT_EQ(got.size(), back.ts.size()) << "a record came back twice";
  for (uint64_t ts : acked) ASSERT_TRUE(got.count(ts)) << "acknowledged ts " << ts << " lost";
  for (uint64_t ts : got) EXPECT_TRUE(attempted.count(ts)) << "ts " << ts << " never written";
  if (!arrival) {
    EXPECT_TRUE(std::is_sorted(back.ts.begin(), back.ts.end()));
  }
}

// 40 trials (BINLOG_CRASH_SEED and BINLOG_CRASH_TRIALS choose others, testutil.h): a random
// write or sync fails and every later one of its kind, then power is lost.
void PowerLossTrials(uint64_t preallocate) {
  ASSERT_OK_AND_ASSIGN(CrashPlan plan, CrashPlanFromEnv(20261122, 40));
  for (int trial = plan.Begin(); trial < plan.End(); ++trial) {
    SCOPED_TRACE(plan.Trace(trial));
    std::mt19937 rng = plan.Rng(trial);
    binlog::testing::TempDir dir;
    FaultInjectionEnv env(Env::Posix());
    bool arrival = trial % 2 == 0;
    auto kind = arrival ? segment::SegmentKind::kArrival : segment::SegmentKind::kOrdered;
    std::set<uint64_t> acked;
    std::set<uint64_t> attempted;
    std::mutex mu;
    {
      ASSERT_OK_AND_ASSIGN(auto j,
                           Journal::Open(dir.path(), CrashOptions(&env, kind, preallocate)));
      // The disk stops at a random write or sync: that and every later one fail.
      if (rng() % 2) {
        env.FailNth(FaultInjectionEnv::Op::kWrite, 1 + rng() % 120, EIO);
      } else {
        env.FailNth(FaultInjectionEnv::Op::kSync, 1 + rng() % 120, EIO);
      }
      int threads = arrival ? 4 : 1;
      std::vector<std::thread> writers;
      for (int t = 0; t < threads; ++t) {
        writers.emplace_back([&, t] {
          for (uint64_t i = 1; i <= 150; ++i) {
            uint64_t ts = arrival ? t * 1000000 + i : i;
            {
              std::lock_guard<std::mutex> g(mu);
              attempted.insert(ts);
            }
            if (!j->Append(Record{ts, PayloadFor(ts)}).ok()) return;
            std::lock_guard<std::mutex> g(mu);
            acked.insert(ts);
          }
        });
      }
      for (auto& w : writers) w.join();
      ASSERT_OK(env.Crash());
    }
    env.ClearFaults();
    {
      // Recovery itself must cope with what the crash left, then appending goes on.
      ASSERT_OK_AND_ASSIGN(auto j,
                           Journal::Open(dir.path(), CrashOptions(&env, kind, preallocate)));
      uint64_t next = arrival ? 99000000 : j->last_ts() + 1;
      attempted.insert(next);
      ASSERT_OK(j->Append(Record{next, PayloadFor(next)}));
      acked.insert(next);
      ASSERT_OK(j->Close());
    }
    ExpectAckedSurvived(&env, dir.path(), acked, attempted, arrival);
  }
}

TEST(JournalCrashTest, EverySyncedRecordSurvivesPowerLossAtRandomPoints) { PowerLossTrials(0); }

// The same with zeros written ahead of the data: appends then overwrite synced bytes, which a
// power loss puts back (the fault env undoes unsynced overwrites, not only unsynced appends).
TEST(JournalCrashTest, EverySyncedRecordSurvivesPowerLossWithPreallocatedSegments) {
  PowerLossTrials(4 << 10);
}

TEST(JournalCrashTest, NoSpaceReachesTheCallerAndLaterAppendsAreRefused) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  std::set<uint64_t> acked;
  std::set<uint64_t> attempted;
  {
    ASSERT_OK_AND_ASSIGN(
        auto j, Journal::Open(dir.path(), CrashOptions(&env, segment::SegmentKind::kOrdered)));
    for (uint64_t ts = 1; ts <= 20; ++ts) {
      attempted.insert(ts);
      ASSERT_OK(j->Append(Record{ts, PayloadFor(ts)}));
      acked.insert(ts);
    }
    env.FailNth(FaultInjectionEnv::Op::kWrite, 1, ENOSPC);
    attempted.insert(21);
    Status s = j->Append(Record{21, PayloadFor(21)});
    EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
    env.ClearFaults();  // space is back, but the journal has stopped trusting itself
    Status later = j->Append(Record{22, PayloadFor(22)});
    EXPECT_TRUE(later.IsAborted()) << later.ToString();
    EXPECT_NE(later.message().find("No space"), std::string::npos) << later.ToString();
  }
  ExpectAckedSurvived(&env, dir.path(), acked, attempted, false);
}

TEST(JournalCrashTest, FailedSyncIsStickyAndNothingAcknowledgedIsLost) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  std::set<uint64_t> acked;
  std::set<uint64_t> attempted;
  {
    ASSERT_OK_AND_ASSIGN(
        auto j, Journal::Open(dir.path(), CrashOptions(&env, segment::SegmentKind::kOrdered)));
    for (uint64_t ts = 1; ts <= 30; ++ts) {
      attempted.insert(ts);
      ASSERT_OK(j->Append(Record{ts, PayloadFor(ts)}));
      acked.insert(ts);
    }
    env.FailNth(FaultInjectionEnv::Op::kSync, 1, EIO);
    attempted.insert(31);
    Status s = j->Append(Record{31, PayloadFor(31)});
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    env.ClearFaults();
    EXPECT_TRUE(j->Append(Record{32, PayloadFor(32)}).IsAborted());
    EXPECT_FALSE(j->Sync().ok());
    ASSERT_OK(env.Crash());
  }
  ExpectAckedSurvived(&env, dir.path(), acked, attempted, false);
}

// A sync that fails fails every write not yet durable, even one whose own sync would succeed:
// what the failed one lost lies before it.
TEST(JournalCrashTest, FailedSyncFailsEveryWriteNotYetDurable) {
  binlog::testing::TempDir dir;
  FaultInjectionEnv env(Env::Posix());
  std::set<uint64_t> acked;
  std::set<uint64_t> attempted;
  {
    ASSERT_OK_AND_ASSIGN(
        auto j, Journal::Open(dir.path(), CrashOptions(&env, segment::SegmentKind::kOrdered)));
    Journal::WriteTicket first;
    ASSERT_OK(
        j->Write(std::span<const Record>(std::vector<Record>{Record{1, PayloadFor(1)}}), &first));
    ASSERT_OK(j->WaitDurable(first));
    acked.insert(1);
    attempted.insert(1);
    std::vector<Journal::WriteTicket> tickets(3);
    for (uint64_t ts = 2; ts <= 4; ++ts) {
      attempted.insert(ts);
      std::string payload = PayloadFor(ts);
      std::vector<Record> r{Record{ts, payload}};
      ASSERT_OK(j->Write(r, &tickets[ts - 2]));
    }
    env.FailNth(FaultInjectionEnv::Op::kSync, 1, EIO);
    EXPECT_TRUE(j->WaitDurable(tickets[0]).IsIOError());
    env.ClearFaults();
    EXPECT_TRUE(j->WaitDurable(tickets[2]).IsAborted()) << "its sync would have succeeded";
    EXPECT_TRUE(j->WaitDurable(tickets[1]).IsAborted());
    ASSERT_OK(j->WaitDurable(first));  // durable before the failure
    Journal::WriteTicket later;
    EXPECT_TRUE(
        j->Write(std::span<const Record>(std::vector<Record>{Record{5, PayloadFor(5)}}), &later)
            .IsAborted());
    ASSERT_OK(env.Crash());
  }
  ExpectAckedSurvived(&env, dir.path(), acked, attempted, false);
}

// The child appends with four threads and logs each acknowledged ts to a file after Append
// returns; the parent kills it with SIGKILL at a random moment.
[[noreturn]] void RunChildWriter(const std::string& dir, const std::string& ack_path, int round) {
  int ack_fd = open(ack_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  JournalOptions o = CrashOptions(Env::Posix(), segment::SegmentKind::kArrival);
  auto j = Journal::Open(dir, o);
  if (!j.ok() || ack_fd < 0) _exit(3);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t i = 1;; ++i) {
        uint64_t ts = uint64_t(round) * 100000000 + t * 10000000 + i;
        if (!(*j)->Append(Record{ts, PayloadFor(ts)}).ok()) _exit(4);
        std::string line = std::to_string(ts) + "\n";
        if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          _exit(5);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  _exit(0);
}

TEST(JournalCrashTest, KillNineOfAConcurrentWriterLosesNothingAcknowledged) {
  binlog::testing::TempDir dir;
  std::string journal_dir = dir.Sub("wal");
  std::string ack_path = dir.Sub("acked");
  // Rounds build on each other (one journal, killed again and again).
  ASSERT_OK_AND_ASSIGN(CrashPlan plan, CrashPlanFromEnv(99, 20));
  std::set<uint64_t> acked;
  for (int round = 0; round < plan.End(); ++round) {
    SCOPED_TRACE(plan.Trace(round));
    std::mt19937 rng = plan.Rng(round);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) RunChildWriter(journal_dir, ack_path, round);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 120));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    ASSERT_OK_AND_ASSIGN(std::string acks, ReadFileToString(Env::Posix(), ack_path));
    size_t pos = 0;
    while (pos < acks.size()) {
      size_t nl = acks.find('\n', pos);
      if (nl == std::string::npos) break;  // a line cut by the kill was never acknowledged
      acked.insert(std::stoull(acks.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    // Reopening recovers the journal (cuts a torn tail) and takes appends again.
    ASSERT_OK_AND_ASSIGN(
        auto j,
        Journal::Open(journal_dir, CrashOptions(Env::Posix(), segment::SegmentKind::kArrival)));
    ASSERT_OK(j->Close());
    auto back = ReadAll(Env::Posix(), journal_dir, 0, UINT64_MAX, true);
    ASSERT_OK(back.status);
    EXPECT_EQ(back.bad_payloads, 0u);
    std::set<uint64_t> got(back.ts.begin(), back.ts.end());
    EXPECT_EQ(got.size(), back.ts.size()) << "duplicates after recovery";
    ASSERT_EQ(binlog::testing::CountLost(acked, got), 0u)
        << "acknowledged records lost after kill -9";
  }
  EXPECT_GT(acked.size(), 100u) << "the children wrote too little for the test to mean much";
}

}  // namespace
}  // namespace binlog::journal
