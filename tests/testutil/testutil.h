// Shared test helpers: status assertions and temporary directories.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
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

// A loopback port free now, at random in 20000-31999 (below the kernel's ephemeral range, where
// other processes' port-0 binds do not land). Another process may still take it first.
Result<int> FreeLoopbackPort();

// Forks and execs args[0] with args, stdout and stderr to `log` (appended or truncated); the
// child's pid, or -1 when fork failed.
pid_t SpawnLogged(const std::vector<std::string>& args, const std::string& log, bool append);

// How many of `acked` (acknowledged before a crash) are not in `got` (what came back after it).
inline size_t CountLost(const std::set<uint64_t>& acked, const std::set<uint64_t>& got) {
  size_t lost = 0;
  for (uint64_t ts : acked) lost += got.count(ts) == 0;
  return lost;
}

}  // namespace binlog::testing
