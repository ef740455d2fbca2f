// Shared test helpers: status assertions and temporary directories.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    ::binlog::Status _s = (expr);                             \
    ASSERT_TRUE(_s.ok()) << #expr << " -> " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                       \
  do {                                                        \
    ::binlog::Status _s = (expr);                             \
    EXPECT_TRUE(_s.ok()) << #expr << " -> " << _s.ToString(); \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(BINLOG_CONCAT(_test_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL(result, lhs, rexpr)                         \
  auto result = (rexpr);                                                      \
  ASSERT_TRUE(result.ok()) << #rexpr << " -> " << result.status().ToString(); \
  lhs = std::move(result).value()

namespace binlog::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// the environment variable BINLOG_KEEP_TMP is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Path of a tool binary built by this tree (BINLOG_TOOLS_DIR/<name>/<name>).
std::string ToolPath(const std::string& name);
// Path under the source tree's testdata/.
std::string TestDataPath(const std::string& name);
// Gives the child processes started from now on an AddressSanitizer quarantine of `mb` MiB.
// Its default (256 MiB) keeps freed memory resident, so a peak RSS measured under ASan would be
// the sanitizer's, not the program's. Nothing changes in a build without ASan.
void SmallAsanQuarantineForChildren(int mb);

// True in the AddressSanitizer build. Its allocator keeps freed memory resident in proportion
// to the bytes allocated over a run, not to what the program holds, so a peak-RSS test allows a
// larger margin there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
#else
inline constexpr bool kUnderAsan = false;
#endif

// A loopback port free now, at random in 20000-31999 (below the kernel's ephemeral range, where
// other processes' port-0 binds do not land). Another process may still take it first.
Result<int> FreeLoopbackPort();

// A loopback port held by a listening socket of this process until destruction: an address
// "in use by another process" for whatever else tries to listen on it.
class HeldPort {
 public:
  HeldPort();
  ~HeldPort();
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  int port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Forks and execs args[0] with args, stdout and stderr to `log` (appended or truncated); the
// child's pid, or -1 when fork failed.
pid_t SpawnLogged(const std::vector<std::string>& args, const std::string& log, bool append);

// How many of `acked` (acknowledged before a crash) are not in `got` (what came back after it).
inline size_t CountLost(const std::set<uint64_t>& acked, const std::set<uint64_t>& got) {
  size_t lost = 0;
  for (uint64_t ts : acked) lost += got.count(ts) == 0;
  return lost;
}

// Where crash and fault-injection tests draw their crash points from, and how many they try.
// The defaults are each test's own, fixed, so CI repeats the same points; a soak takes them from
// the environment to explore new ones:
//   BINLOG_CRASH_SEED    the seed (unsigned decimal)
//   BINLOG_CRASH_TRIALS  how many trials (power-loss points, kill -9 rounds)
//   BINLOG_CRASH_TRIAL   replay one failure: only trial N of independent trials, or trials 0..N
//                        of a test whose trials build on each other (one data dir, killed again)
// Each trial draws from its own generator (seed and trial number), so trial N draws the same
// whatever ran before it. A failing trial's trace says how to replay it (Trace).
struct CrashPlan {
  uint64_t seed = 0;
  int trials = 0;
  int only = -1;  // BINLOG_CRASH_TRIAL, -1 when unset

  // The trials to run: [Begin(), End()) when they are independent, [0, End()) when they build on
  // each other (replaying trial N then runs every one before it too).
  int Begin() const { return only < 0 ? 0 : only; }
  int End() const { return only < 0 ? trials : only + 1; }
  std::mt19937 Rng(int t) const;
  // "trial 7 (replay: BINLOG_CRASH_SEED=20261122 BINLOG_CRASH_TRIAL=7)", for SCOPED_TRACE.
  std::string Trace(int t) const;
};

// The plan from the environment, with the test's defaults for what is unset. A value that is
// not a number (or no trials) is InvalidArgument naming the variable.
Result<CrashPlan> CrashPlanFromEnv(uint64_t default_seed, int default_trials);

}  // namespace binlog::testing
