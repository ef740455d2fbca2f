// reparo (the binary, a child process) on journals holding big transactions in parts, written
// with journal::Journal: its peak RSS (VmHWM, read from /proc while it runs) for a 64 MiB and a
// 256 MiB transaction stays within a fixed margin; kill -9 in split mode and -resume go on inside
// the transaction, atomic mode shows nothing of it until its end; a stop ts never cuts one; an
// archive that ends inside one stops before it with a warning; -flashback undoes one.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "journal/journal.h"
#include "replay/big_txn_util.h"
#include "segment/format.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::reparo {
namespace {

using ::binlog::replay::testing::BigTableSql;
using ::binlog::replay::testing::BigTxn;
using ::binlog::testing::MariaDBServer;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A journal in dir: one-row transactions at each of `small` (commit ts; id -ts), and `big` in
// parts among them in ts order. With `parts_written` set, the big one ends the journal after
// that many of its parts, and what is returned is a copy of the directory made then (an archive
// copied while it was written).
Status WriteArchive(const std::string& dir, const BigTxn& big, const std::vector<uint64_t>& small,
                    std::optional<int64_t> parts_written = std::nullopt) {
  journal::JournalOptions o;
  o.sync = false;
  o.warn_unsynced = false;
  ASSIGN_OR_RETURN(auto j, journal::Journal::Open(dir + ".writing", o));
  auto whole = [&](uint64_t ts) {
    BigTxn one{big.db, ts, -static_cast<int64_t>(ts), 1, 1, 10};
    const std::string payload = one.Part(0).SerializeAsString();
    return j->Append(journal::Record{ts, payload});
  };
  size_t next = 0;
  for (; next < small.size() && small[next] < big.commit_ts; ++next) {
    RETURN_IF_ERROR(whole(small[next]));
  }
  const int64_t parts = parts_written.value_or(big.parts());
  for (int64_t p = 0; p < parts; ++p) {
    const std::string payload = big.Part(p).SerializeAsString();
    RETURN_IF_ERROR(j->Append(
        journal::Record{big.commit_ts, payload,
                        segment::MakePartTag(static_cast<uint32_t>(p), p + 1 == big.parts())}));
  }
  if (parts_written) {
    RETURN_IF_ERROR(j->Sync());
    std::filesystem::copy(dir + ".writing", dir);
    std::filesystem::remove(dir + "/LOCK");
    return Status::OK();
  }
  for (; next < small.size(); ++next) RETURN_IF_ERROR(whole(small[next]));
  RETURN_IF_ERROR(j->Close());
  j.reset();
  std::filesystem::rename(dir + ".writing", dir);
  return Status::OK();
}

struct ChildRun {
  int exit_code = -1;
  uint64_t vm_hwm_kib = 0;  // the highest VmHWM read from /proc/<pid>/status
  uint64_t maxrss_kib = 0;  // wait4's ru_maxrss: the kernel's own peak
  double seconds = 0;
  std::string log;
};

uint64_t VmHwmKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

class ReparoBigTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = binlog::testing::SharedMariaDB();
    ASSERT_NE(server_, nullptr);
  }

  // A config for the shared server, task `task`.
  std::string Config(const std::string& data_dir, const std::string& task) {
    const std::string path = tmp_.Sub(task + ".toml");
    std::ofstream(path) << fmt::format(
        "data-dir = \"{}\"\ndest-type = \"mysql\"\ntask = \"{}\"\nworker-count = 4\n"
        "[dest-db]\nhost = \"{}\"\nport = {}\nuser = \"root\"\n",
        data_dir, task, server_->host(), server_->port());
    return path;
  }

  // Runs reparo with args to its end, its peak RSS sampled all along; `kill_when` (polled every
  // 20 ms) true: kill -9.
  ChildRun Run(std::vector<std::string> args, const std::function<bool()>& kill_when = {}) {
    args.insert(args.begin(), binlog::testing::ToolPath("reparo"));
    const std::string log = tmp_.Sub("reparo-" + std::to_string(runs_++) + ".log");
    ChildRun r;
    const auto began = Clock::now();
    pid_t pid = binlog::testing::SpawnLogged(args, log, false);
    EXPECT_GT(pid, 0);
    while (pid > 0) {
      r.vm_hwm_kib = std::max(r.vm_hwm_kib, VmHwmKib(pid));
      int status = 0;
      rusage ru{};
      pid_t done = wait4(pid, &status, WNOHANG, &ru);
      if (done == pid) {
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.maxrss_kib = static_cast<uint64_t>(ru.ru_maxrss);
        break;
      }
      if (kill_when && kill_when()) kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - began).count();
    r.log = ReadFile(log);
    return r;
  }

  std::string Check(const BigTxn& txn) {
    auto rows = server_->Query(txn.CheckSql());
    if (!rows.ok()) return rows.status().ToString();
    std::string out;
    for (const auto& v : rows->at(0)) out += (out.empty() ? "" : " ") + v.value_or("NULL");
    return out;
  }
  int64_t Count(const std::string& table) {
    auto n = server_->QueryValue("SELECT COUNT(*) FROM " + table);
    return n.ok() ? std::stoll(*n) : -1;
  }

  MariaDBServer* server_ = nullptr;
  binlog::testing::TempDir tmp_;
  int runs_ = 0;
};

// Peak RSS for a 64 MiB and a 256 MiB transaction (4 MiB parts of 1 KiB rows), each applied
// whole: the larger one stays within 24 MiB of the smaller, 64 MiB under ASan (a run that held
// the transaction would need 192 MiB more).
TEST_F(ReparoBigTxnTest, PeakRssDoesNotGrowWithTheTransaction) {
  binlog::testing::SmallAsanQuarantineForChildren(16);
  ASSERT_OK(server_->Exec("CREATE DATABASE rss_big; " + BigTableSql("rss_big")));
  std::vector<ChildRun> runs;
  for (int64_t mib : {64, 256}) {
    const BigTxn txn{"rss_big", static_cast<uint64_t>(mib) * 1000, mib * 10000, mib * 1024, 4096,
                     1024};
    ASSERT_GE(txn.ApproxBytes(), static_cast<uint64_t>(mib) << 20);
    const std::string dir = tmp_.Sub(fmt::format("archive{}", mib));
    const auto began = Clock::now();
    ASSERT_OK(WriteArchive(dir, txn, {txn.commit_ts - 1, txn.commit_ts + 1}));
    const double wrote = std::chrono::duration<double>(Clock::now() - began).count();
    ChildRun r = Run({"-config", Config(dir, fmt::format("rss{}", mib))});
    ASSERT_EQ(r.exit_code, 0) << r.log;
    EXPECT_EQ(Check(txn), txn.Expected());
    EXPECT_THAT(r.log, HasSubstr("1 in parts"));
    std::cerr << fmt::format(
        "reparo, {} MiB transaction ({} parts): peak RSS {} KiB (VmHWM), {} KiB (ru_maxrss); "
        "applied in {:.1f} s (archive written in {:.1f} s)\n",
        mib, txn.parts(), r.vm_hwm_kib, r.maxrss_kib, r.seconds, wrote);
    runs.push_back(r);
    std::filesystem::remove_all(dir);
  }
  const uint64_t peak64 = std::max(runs[0].vm_hwm_kib, runs[0].maxrss_kib);
  const uint64_t peak256 = std::max(runs[1].vm_hwm_kib, runs[1].maxrss_kib);
  EXPECT_GT(runs[0].vm_hwm_kib, 0u) << "VmHWM was never read";
  // Measured: natively 1 to 2 MiB apart; under ASan 21 to 35 MiB (less with the allocator told
  // to return free memory at once: it is what ASan keeps of 192 MiB more allocated and freed).
  const uint64_t margin_kib = binlog::testing::kUnderAsan ? 64 * 1024 : 24 * 1024;
  EXPECT_LE(peak256, peak64 + margin_kib) << "peak RSS grew with the transaction: " << peak64
                                          << " KiB for 64 MiB, " << peak256 << " KiB for 256 MiB";
  ASSERT_OK(server_->Exec("DROP DATABASE rss_big"));
}

// Split mode: kill -9 three times while the transaction is applied, -resume each time; the
// resumed runs go on inside it (the log says where), and the end state has every row once (a
// row applied twice would stop the run on the primary key: no safe mode).
TEST_F(ReparoBigTxnTest, KillDashNineInSplitModeAndResumeGoOnInsideTheTransaction) {
  ASSERT_OK(server_->Exec("CREATE DATABASE kill_big; " + BigTableSql("kill_big")));
  const BigTxn txn{"kill_big", 5000, 1, 60000, 1000, 100};
  const std::string dir = tmp_.Sub("archive");
  ASSERT_OK(WriteArchive(dir, txn, {4000, 6000}));
  const std::string config = Config(dir, "kill_big");
  std::vector<std::string> args = {"-config", config, "-split-big-txn", "-txn-batch", "70"};
  int inside = 0;
  for (int64_t at : {8000, 25000, 41000}) {
    SCOPED_TRACE(fmt::format("killed at {} rows", at));
    ChildRun r = Run(args, [&] { return Count("kill_big.big") >= at; });
    if (r.exit_code == 0) break;  // it ended before the kill
    ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.log;
    const int64_t n = Count("kill_big.big");
    inside += n > 1 && n < txn.rows + 1;
    if (args.back() != "-resume") args.push_back("-resume");
  }
  EXPECT_GE(inside, 2) << "the kills did not land inside the transaction";
  ChildRun last = Run(args);
  ASSERT_EQ(last.exit_code, 0) << last.log;
  EXPECT_THAT(last.log, HasSubstr("resuming inside a transaction in parts"));
  EXPECT_EQ(Check(txn), txn.Expected());
  EXPECT_EQ(Count("kill_big.big"), txn.rows + 2);
  EXPECT_EQ(*server_->QueryValue("SELECT CONCAT(low_ts, ' ', part_ts) FROM "
                                 "tidb_binlog.replay_progress WHERE task = 'kill_big'"),
            "6000 0");
  ASSERT_OK(server_->Exec("DROP DATABASE kill_big"));
}

// Atomic mode: kill -9 in the middle of the transaction leaves nothing of it (the reader sees
// the row before it only), and -resume applies it whole.
TEST_F(ReparoBigTxnTest, KillDashNineInAtomicModeLeavesNothingOfTheTransaction) {
  ASSERT_OK(server_->Exec("CREATE DATABASE atomic_kill; " + BigTableSql("atomic_kill")));
  const BigTxn txn{"atomic_kill", 5000, 1, 100000, 2000, 300};
  const std::string dir = tmp_.Sub("archive");
  ASSERT_OK(WriteArchive(dir, txn, {4000, 6000}));
  const std::string config = Config(dir, "atomic_kill");
  // Killed once the server holds many of the transaction's rows, uncommitted (a dirty read
  // counts them).
  ASSERT_OK_AND_ASSIGN(auto dirty, server_->Connect());
  ASSERT_OK(dirty->Exec("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED"));
  ChildRun killed = Run({"-config", config}, [&] {
    auto n = dirty->QueryValue("SELECT COUNT(*) FROM atomic_kill.big");
    return n.ok() && std::stoll(*n) >= 10000;
  });
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.log;
  for (int i = 0; i < 100 && Count("atomic_kill.big") != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the rollback
  }
  EXPECT_EQ(Count("atomic_kill.big"), 1);
  ChildRun resumed = Run({"-config", config, "-resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.log;
  EXPECT_EQ(Check(txn), txn.Expected());
  EXPECT_EQ(Count("atomic_kill.big"), txn.rows + 2);
  ASSERT_OK(server_->Exec("DROP DATABASE atomic_kill"));
}

// A window whose stop (or start) is the big transaction's ts has all its parts; one that stops
// just before it has none. Printed: each part under its own header.
TEST_F(ReparoBigTxnTest, TheWindowNeverCutsATransaction) {
  const BigTxn txn{"window", 200, 1, 50, 10, 8};
  const std::string dir = tmp_.Sub("archive");
  ASSERT_OK(WriteArchive(dir, txn, {100, 300}));
  auto print = [&](std::vector<std::string> window) {
    std::vector<std::string> args = {"-data-dir", dir, "-dest-type", "print"};
    args.insert(args.end(), window.begin(), window.end());
    ChildRun r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.log;
    return r.log;
  };
  const std::string to_it = print({"-stop-tso", "200"});
  for (int p = 0; p < 5; ++p) EXPECT_THAT(to_it, HasSubstr(fmt::format(", part {}\n", p)));
  EXPECT_THAT(to_it, HasSubstr("# commit ts 100 "));
  EXPECT_THAT(to_it, Not(HasSubstr("# commit ts 300 ")));
  EXPECT_THAT(to_it, HasSubstr("id(bigint): 50\n"));

  const std::string before = print({"-stop-tso", "199"});
  EXPECT_THAT(before, Not(HasSubstr(", part ")));
  EXPECT_THAT(before, HasSubstr("# commit ts 100 "));

  const std::string from_it = print({"-start-tso", "200"});
  for (int p = 0; p < 5; ++p) EXPECT_THAT(from_it, HasSubstr(fmt::format(", part {}\n", p)));
  EXPECT_THAT(from_it, Not(HasSubstr("# commit ts 100 ")));
  EXPECT_THAT(from_it, HasSubstr("# commit ts 300 "));
}

// An archive copied while the big transaction was written ends inside it: reparo applies what
// comes before, none of it, says so in a warning naming its ts, and exits 0; atomic or split
// alike. -flashback of a whole archive undoes the transaction in parts too.
TEST_F(ReparoBigTxnTest, AnArchiveEndingInsideATransactionStopsBeforeItWithAWarning) {
  ASSERT_OK(server_->Exec("CREATE DATABASE cut_big; " + BigTableSql("cut_big")));
  const BigTxn txn{"cut_big", 5000, 1, 5000, 1000, 100};
  const std::string cut = tmp_.Sub("cut");
  ASSERT_OK(WriteArchive(cut, txn, {4000, 4500}, 3));
  for (bool split : {false, true}) {
    SCOPED_TRACE(split ? "split" : "atomic");
    ASSERT_OK(server_->Exec("TRUNCATE TABLE cut_big.big"));
    std::vector<std::string> args = {"-config", Config(cut, split ? "cut_split" : "cut_atomic")};
    if (split) args.push_back("-split-big-txn");
    ChildRun r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.log;
    EXPECT_THAT(r.log, HasSubstr("the archive ends inside a transaction"));
    EXPECT_THAT(r.log, HasSubstr("[commit-ts=5000]"));
    EXPECT_THAT(r.log, HasSubstr("3 of its parts are in"));
    EXPECT_EQ(Count("cut_big.big"), 2);
  }

  ASSERT_OK(server_->Exec("TRUNCATE TABLE cut_big.big"));
  const std::string whole = tmp_.Sub("whole");
  ASSERT_OK(WriteArchive(whole, txn, {4000, 6000}));
  ChildRun applied = Run({"-config", Config(whole, "flash")});
  ASSERT_EQ(applied.exit_code, 0) << applied.log;
  EXPECT_EQ(Count("cut_big.big"), txn.rows + 2);
  ChildRun undone = Run({"-config", Config(whole, "flash"), "-flashback"});
  ASSERT_EQ(undone.exit_code, 0) << undone.log;
  EXPECT_EQ(Count("cut_big.big"), 0);
  ASSERT_OK(server_->Exec("DROP DATABASE cut_big"));
}

}  // namespace
}  // namespace binlog::reparo
