// The binlog-gc binary with a registry written through the registry's own API (its JSON is the
// registry's business): the drainer that holds segments back is named with the fix, -force
// goes past it, a disk below the watermark wins and says so at ERROR.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gc_test_util.h"
#include "registry/registry.h"

namespace binlog::gc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct GcRun {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class GcCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ms_ = Env::Posix()->NowMicros() / 1000;
    // Ten days of segments ending three days ago: all older than a 1d retention.
    journal::JournalOptions o = testing::SmallJournal(Env::Posix());
    o.max_file_size = 1 << 20;
    ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(Dir(), o));
    for (int d = 0; d < 10; ++d) {
      ASSERT_OK(testing::AppendEvery(j.get(), DayStart(d), 24, testing::kHourMs, d < 9));
    }
    ASSERT_OK(j->Close());
    registry_ = registry::NewFileRegistry(Env::Posix(), dir_.Sub("reg"));
  }
  int64_t DayStart(int d) const { return now_ms_ - (13 - d) * testing::kDayMs; }
  int64_t EndOfDay(int d) const {
    return static_cast<int64_t>(testing::TsAt(DayStart(d) + 23 * testing::kHourMs));
  }
  std::string Dir() const { return dir_.Sub("binlog"); }
  void PutDrainer(const std::string& id, int64_t checkpoint) {
    registry::NodeStatus n;
    n.node_id = id;
    n.state = registry::NodeState::kOnline;
    n.max_commit_ts = checkpoint;
    n.update_ts = static_cast<int64_t>(testing::TsAt(now_ms_ - 60 * 1000));
    ASSERT_OK(registry_->Put(registry::NodeKind::kDrainer, n));
  }
  GcRun Gc(std::vector<std::string> args) {
    args.insert(args.begin(), binlog::testing::ToolPath("binlog-gc"));
    const std::string out = dir_.Sub("out"), err = dir_.Sub("err");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return GcRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err)};
  }

  binlog::testing::TempDir dir_;
  int64_t now_ms_ = 0;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(GcCliTest, TheDrainerThatHoldsSegmentsBackIsNamedWithTheFix) {
  PutDrainer("drainer-7", EndOfDay(2));
  GcRun r = Gc({"-data-dir", Dir(), "-retention", "1d", "-registry-dir", dir_.Sub("reg"),
                "-stop-write-at-available-space", "0"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 7u);
  EXPECT_THAT(r.out, HasSubstr("held back by drainer-guard: drainer drainer-7 has not read"));
  EXPECT_THAT(r.out, HasSubstr("binlogctl -cmd offline-drainer -node-id drainer-7"));
  EXPECT_THAT(r.out, HasSubstr("in 3 segments"));
  EXPECT_THAT(r.err, HasSubstr("[WARN]"));
  EXPECT_THAT(r.err, HasSubstr("[drainer=drainer-7]"));
  // -force goes past it, each such segment marked.
  r = Gc({"-data-dir", Dir(), "-retention", "1d", "-registry-dir", dir_.Sub("reg"), "-force",
          "-stop-write-at-available-space", "0"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 1u);
  EXPECT_THAT(r.out, HasSubstr("past drainer drainer-7's checkpoint"));
  EXPECT_THAT(r.out, HasSubstr("(-force)"));
  EXPECT_THAT(r.out, HasSubstr("held back by newest"));
}

TEST_F(GcCliTest, ALowDiskWinsOverTheGuardLoudly) {
  PutDrainer("drainer-7", EndOfDay(2));
  // No file system has 1 PiB available: the watermark is always crossed.
  GcRun r = Gc({"-data-dir", Dir(), "-retention", "1d", "-pd-urls", "file://" + dir_.Sub("reg"),
                "-stop-write-at-available-space", "1PiB"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 1u);
  EXPECT_THAT(r.out, HasSubstr("(low disk space)"));
  EXPECT_THAT(r.err, HasSubstr("[ERROR]"));
  EXPECT_THAT(r.err, HasSubstr("gc deletes past the drainer guard"));
  EXPECT_THAT(r.err, HasSubstr("gc deleted a segment a drainer has not read (low disk space)"));
}

TEST_F(GcCliTest, AStaleDrainerIsNamedButDoesNotHold) {
  registry::NodeStatus n;
  n.node_id = "ghost";
  n.max_commit_ts = EndOfDay(0);
  n.update_ts = static_cast<int64_t>(testing::TsAt(now_ms_ - 30 * testing::kHourMs));
  ASSERT_OK(registry_->Put(registry::NodeKind::kDrainer, n));
  GcRun r = Gc({"-data-dir", Dir(), "-retention", "1d", "-registry-dir", dir_.Sub("reg"),
                "-gc-guard-lease", "1d", "-stop-write-at-available-space", "0"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 1u);
  EXPECT_THAT(r.err, HasSubstr("has not sent a heartbeat within gc-guard-lease"));
  EXPECT_THAT(r.err, HasSubstr("[node-id=ghost]"));
  EXPECT_THAT(r.out, Not(HasSubstr("drainer-guard")));
}

TEST_F(GcCliTest, AnUnreadableRegistryFailsTheGc) {
  ASSERT_OK(Env::Posix()->CreateDirs(dir_.Sub("reg")));
  std::ofstream(dir_.Sub("reg/drainers")) << "not a directory";
  GcRun r = Gc({"-data-dir", Dir(), "-retention", "1d", "-registry-dir", dir_.Sub("reg")});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("the drainer guard cannot read the registry"));
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 10u);
}

}  // namespace
}  // namespace binlog::gc
