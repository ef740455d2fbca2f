// Failures on the way: the destination restarted under a running replay, a row the destination
// already has, and the same archive replayed again. Each transaction is applied once: tables
// without a key, where a second application would leave duplicates, are counted.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "replay/replay_test_util.h"

namespace binlog::replay::testing {
namespace {

// Transactions on A touching a keyed table and a table without a key (`log`): n of them, in
// multi-statement batches.
void WriteLoggedInserts(MariaDBServer* a, const std::string& db, int first, int n) {
  std::string batch;
  for (int i = first; i < first + n; ++i) {
    batch += fmt::format(
        "START TRANSACTION; INSERT INTO {0}.t VALUES ({1}, {2}); INSERT INTO {0}.log VALUES ({1}, "
        "{2}); UPDATE {0}.t SET v = v + 1 WHERE id = {3}; COMMIT; ",
        db, i, i % 7, first + (i * 7919) % (i - first + 1));
    if ((i - first) % 100 == 99 || i == first + n - 1) {
      ASSERT_OK(a->Exec(batch + "DO 0"));
      batch.clear();
    }
  }
}

constexpr const char* kLoggedSchema =
    "CREATE TABLE {0}.t (id INT PRIMARY KEY, v INT); CREATE TABLE {0}.log (id INT, v INT)";

class RecoveryTest : public TwoServersTest {
 protected:
  // The commit ts of the first binlog changing the row of `table` whose first column is id.
  static uint64_t CommitTsOf(const std::vector<pb::Binlog>& binlogs, const std::string& table,
                             int64_t id) {
    for (const pb::Binlog& b : binlogs) {
      for (const auto& t : b.tables()) {
        for (const auto& m : t.mutations()) {
          if (t.table_name() == table && m.row().columns(0).int64_value() == id) {
            return static_cast<uint64_t>(b.commit_ts());
          }
        }
      }
    }
    return 0;
  }

  static size_t Commits(const std::vector<pb::Binlog>& binlogs) {
    size_t n = 0;
    for (const pb::Binlog& b : binlogs) n += b.tp() == pb::COMMIT ? 1 : 0;
    return n;
  }
};

// B is shut down, then killed (SIGKILL: a crash), and started again each time while 16 workers
// apply; they retry until it is back. The end state is A's: no transaction lost, none applied
// twice.
TEST_F(RecoveryTest, DestinationStoppedKilledAndRestartedMidReplay) {
  constexpr int kTransactions = 20000;
  ASSERT_OK(a_->Exec("CREATE DATABASE rs; " + fmt::format(kLoggedSchema, "rs")));
  WriteLoggedInserts(a_.get(), "rs", 1, kTransactions);
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_GE(Commits(binlogs), static_cast<size_t>(kTransactions));

  EngineOptions eo;
  eo.worker_count = 16;
  eo.max_retry = 40;
  eo.retry_base_seconds = 0.05;
  eo.retry_max_seconds = 0.5;
  eo.advance_interval_seconds = 0.05;  // progress is recorded while B goes down, too
  const mysql::ConnectOptions dest = DestOptions(b_.get());
  Result<EngineStats> st = Status::Aborted("not run");
  std::atomic<bool> done{false};
  std::thread replay([&] {
    st = Replay(binlogs, dest, eo, false);
    done = true;
  });
  // B is shut down once a tenth of the log is there, and killed at half (the replay under way,
  // far from done), from this thread: a server dies with the thread that started it.
  std::vector<int64_t> rows_when_stopped;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done && rows_when_stopped.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto n = b_->QueryValue("SELECT COUNT(*) FROM rs.log");
    const int64_t at = rows_when_stopped.empty() ? kTransactions / 10 : kTransactions / 2;
    if (n.ok() && std::stoll(*n) >= at) {
      rows_when_stopped.push_back(std::stoll(*n));
      EXPECT_OK(rows_when_stopped.size() == 1 ? b_->Stop() : b_->Kill());
      EXPECT_OK(b_->Restart());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  replay.join();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(rows_when_stopped.size(), 2u) << "the replay ended before B was stopped twice";
  ASSERT_LT(rows_when_stopped[1], kTransactions) << "the replay ended before B was killed";
  EXPECT_GT(st->retries, 0u);
  EXPECT_EQ(*b_->QueryValue("SELECT COUNT(*) FROM rs.log"), std::to_string(kTransactions));
  ExpectSameDatabase(a_.get(), b_.get(), "rs");
  // Everything is recorded: the same task again applies nothing.
  auto again = Replay(binlogs, b_.get(), 4, false);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->transactions, 0u);
  ExpectSameDatabase(a_.get(), b_.get(), "rs");
}

// B holds a row A inserts: without safe mode the replay stops at that transaction, naming its
// commit ts, the table and the statement; neither that transaction nor a low mark at or past
// it is recorded. The same task in safe mode then applies it (REPLACE) and what the first run
// had not, and nothing the first run had.
TEST_F(RecoveryTest, DuplicateKeyStopsWithoutSafeModeAndSafeModeGoesOn) {
  const std::string schema =
      "CREATE DATABASE dk; " + fmt::format(kLoggedSchema, "dk") +
      "; CREATE TABLE dk.other (id INT PRIMARY KEY); CREATE TABLE dk.olog (id INT)";
  ASSERT_OK(a_->Exec(schema));
  ASSERT_OK(b_->Exec(schema));
  MarkStart();
  WriteLoggedInserts(a_.get(), "dk", 1, 50);
  // Transactions that share no key with dk.t's: other workers may apply them meanwhile.
  for (int i = 1; i <= 200; ++i) {
    ASSERT_OK(a_->Exec(fmt::format(
        "START TRANSACTION; INSERT INTO dk.other VALUES ({0}); INSERT INTO dk.olog VALUES ({0}); "
        "COMMIT",
        i)));
  }
  ASSERT_OK(b_->Exec("INSERT INTO dk.t VALUES (30, 999)"));  // A inserts id 30 too
  std::vector<pb::Binlog> binlogs = Archive();
  const uint64_t ts = CommitTsOf(binlogs, "t", 30);
  ASSERT_NE(ts, 0u);

  auto st = Replay(binlogs, b_.get(), 4, false, "dup");
  ASSERT_FALSE(st.ok());
  const std::string message = st.status().ToString();
  EXPECT_NE(message.find(fmt::format("commit ts {}", ts)), std::string::npos) << message;
  EXPECT_NE(message.find("dk.t"), std::string::npos) << message;
  EXPECT_NE(message.find("INSERT INTO `dk`.`t`"), std::string::npos) << message;
  EXPECT_NE(message.find("Duplicate entry"), std::string::npos) << message;
  // The low mark is below ts, and ts is not recorded applied.
  auto low = b_->Query("SELECT low_ts FROM tidb_binlog.replay_progress WHERE task = 'dup'");
  ASSERT_TRUE(low.ok()) << low.status().ToString();
  if (!low->empty()) {
    EXPECT_LT(std::stoull(*(*low)[0][0]), ts);
  }
  EXPECT_EQ(*b_->QueryValue(fmt::format(
                "SELECT COUNT(*) FROM tidb_binlog.replay_applied WHERE task = 'dup' AND "
                "commit_ts = {}",
                ts)),
            "0");
  EXPECT_EQ(*b_->QueryValue("SELECT v FROM dk.t WHERE id = 30"), "999");
  // Transactions past the low mark that other workers applied (as many as the timing allows):
  // the next run must skip them, or dk.olog shows them twice.
  RecordProperty("applied_past_low",
                 *b_->QueryValue("SELECT COUNT(*) FROM tidb_binlog.replay_applied WHERE task = "
                                 "'dup' AND commit_ts > (SELECT COALESCE(MAX(low_ts), 0) FROM "
                                 "tidb_binlog.replay_progress WHERE task = 'dup')"));

  auto safe = Replay(binlogs, b_.get(), 4, true, "dup");
  ASSERT_TRUE(safe.ok()) << safe.status().ToString();
  EXPECT_GT(safe->transactions, 0u);
  EXPECT_EQ(safe->transactions + safe->already, Commits(binlogs));
  ExpectSameDatabase(a_.get(), b_.get(), "dk");
}

// The same archive replayed again with the same task applies nothing; a run that stopped
// halfway is taken up where it stopped. A table without a key shows any transaction applied
// twice.
TEST_F(RecoveryTest, EachTransactionIsAppliedOnceAcrossRuns) {
  ASSERT_OK(a_->Exec("CREATE DATABASE eo; " + fmt::format(kLoggedSchema, "eo")));
  WriteLoggedInserts(a_.get(), "eo", 1, 2000);
  std::vector<pb::Binlog> binlogs = Archive();
  const size_t commits = Commits(binlogs);
  std::vector<pb::Binlog> half(binlogs.begin(), binlogs.begin() + binlogs.size() / 2);

  auto first = Replay(half, b_.get(), 16, false, "once");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto rest = Replay(binlogs, b_.get(), 16, false, "once");
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->already, first->transactions);
  EXPECT_EQ(first->transactions + rest->transactions, commits);
  ExpectSameDatabase(a_.get(), b_.get(), "eo");

  auto again = Replay(binlogs, b_.get(), 16, false, "once");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->transactions, 0u);
  EXPECT_EQ(again->already, commits);
  EXPECT_EQ(*b_->QueryValue("SELECT COUNT(*) FROM eo.log"), "2000");
  ExpectSameDatabase(a_.get(), b_.get(), "eo");
}

// A run that stops without finishing (the engine destroyed under way, as a crash would leave
// it) has applied transactions here and there past its low mark: each is recorded with its
// changes, and the next run skips exactly those. Eight lanes of transactions that share no key
// run on different workers, each lane with a table without a key that shows a transaction
// applied twice.
TEST_F(RecoveryTest, AnInterruptedRunIsTakenUpExactlyWhereItsWorkersWere) {
  constexpr int kLanes = 8, kTransactions = 4000;
  std::string schema = "CREATE DATABASE ir; CREATE TABLE ir.t (id INT PRIMARY KEY)";
  for (int l = 0; l < kLanes; ++l) schema += fmt::format("; CREATE TABLE ir.log{} (id INT)", l);
  ASSERT_OK(a_->Exec(schema));
  std::string batch;
  for (int i = 1; i <= kTransactions; ++i) {
    batch += fmt::format(
        "START TRANSACTION; INSERT INTO ir.t VALUES ({0}); INSERT INTO ir.log{1} VALUES ({0}); "
        "COMMIT; ",
        i, i % kLanes);
    if (i % 200 == 0) {
      ASSERT_OK(a_->Exec(batch + "DO 0"));
      batch.clear();
    }
  }
  std::vector<pb::Binlog> binlogs = Archive();
  const size_t commits = Commits(binlogs);
  {
    MysqlSinkOptions so;
    so.connect = DestOptions(b_.get());
    so.task = "interrupted";
    ASSERT_OK_AND_ASSIGN(auto sink, NewMysqlSink(so));
    EngineOptions eo;
    eo.worker_count = 16;
    eo.txn_batch = 4;
    eo.advance_interval_seconds = 3600;  // the low mark is recorded once at most, early
    ASSERT_OK_AND_ASSIGN(Filter filter, Filter::Make({}));
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), std::move(filter), eo));
    for (const pb::Binlog& b : binlogs) {
      ASSERT_OK(engine->Submit(b));
      if (engine->Stats().transactions >= commits / 3) break;
    }
  }  // the engine stops: groups under way end, queued ones are dropped
  const uint64_t low = std::stoull(*b_->QueryValue(
      "SELECT COALESCE(MAX(low_ts), 0) FROM tidb_binlog.replay_progress WHERE task = "
      "'interrupted'"));
  const std::string past_low = *b_->QueryValue(
      fmt::format("SELECT COUNT(*) FROM tidb_binlog.replay_applied WHERE task = 'interrupted' AND "
                  "commit_ts > {}",
                  low));
  ASSERT_GT(std::stoull(past_low), 0u) << "nothing was applied past the low mark";
  ASSERT_LT(std::stoull(*b_->QueryValue("SELECT COUNT(*) FROM ir.t")), kTransactions)
      << "everything was applied before the engine stopped";

  auto rest = Replay(binlogs, b_.get(), 16, false, "interrupted");
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->transactions + rest->already, commits);
  EXPECT_GE(rest->already, std::stoull(past_low));
  ExpectSameDatabase(a_.get(), b_.get(), "ir");
}

}  // namespace
}  // namespace binlog::replay::testing
