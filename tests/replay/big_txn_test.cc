// Big transactions, in parts, through the engine into a real MariaDB: atomic ones of 64 MiB and
// 256 MiB apply whole while a reader of the destination never sees a part of them; split ones
// resume inside after the engine is destroyed mid-transaction, and ride out a destination
// restart; an abandoned or failed atomic one leaves nothing. The parts are generated one at a
// time, as a reader of a journal hands them over.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "replay/big_txn_util.h"
#include "replay/replay_test_util.h"
#include "segment/format.h"

namespace binlog::replay::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::string Row(const std::vector<SqlRow>& rows) {
  std::string out;
  for (const auto& v : rows.at(0)) out += (out.empty() ? "" : " ") + v.value_or("NULL");
  return out;
}

std::string Check(MariaDBServer* server, const BigTxn& txn) {
  auto rows = server->Query(txn.CheckSql());
  return rows.ok() ? Row(*rows) : rows.status().ToString();
}

// Polls SELECT COUNT(*) of a table on a READ COMMITTED connection of its own until stopped: every
// count it saw, and when.
class CountReader {
 public:
  CountReader(MariaDBServer* server, std::string table) {
    thread_ = std::thread([this, server, table] {
      auto conn = server->Connect();
      if (!conn.ok()) {
        error_ = conn.status().ToString();
        return;
      }
      Status s = (*conn)->Exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
      while (s.ok() && !stop_) {
        auto n = (*conn)->QueryValue("SELECT COUNT(*) FROM " + table);
        if (!n.ok()) {
          error_ = n.status().ToString();
          return;
        }
        std::lock_guard<std::mutex> g(mu_);
        seen_.emplace_back(Clock::now(), std::stoll(*n));
      }
    });
  }
  ~CountReader() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // The counts seen between from and to.
  std::vector<int64_t> Between(Clock::time_point from, Clock::time_point to) {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<int64_t> out;
    for (const auto& [at, n] : seen_) {
      if (at >= from && at <= to) out.push_back(n);
    }
    return out;
  }
  const std::string& error() const { return error_; }

 private:
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<Clock::time_point, int64_t>> seen_;
  std::string error_;
};

Result<std::unique_ptr<Sink>> OpenSink(MariaDBServer* server, const std::string& task) {
  MysqlSinkOptions so;
  so.connect = DestOptions(server);
  so.task = task;
  return NewMysqlSink(so);
}

Filter NoFilter() {
  auto f = Filter::Make(FilterRules{});
  EXPECT_TRUE(f.ok());
  return std::move(*f);
}

// Submits the parts of `txn` from `from` on (one at a time, as a reader hands them over).
Status SubmitParts(Engine* engine, const BigTxn& txn, int64_t from = 0) {
  for (int64_t p = from; p < txn.parts(); ++p) {
    RETURN_IF_ERROR(engine->Submit(
        txn.Part(p), segment::MakePartTag(static_cast<uint32_t>(p), p + 1 == txn.parts())));
  }
  return Status::OK();
}

// A one-row transaction at ts, its row's id -ts.
pb::Binlog Small(uint64_t ts, const std::string& db) {
  BigTxn one{db, ts, -static_cast<int64_t>(ts), 1, 1, 10};
  return one.Part(0);
}

// A 64 MiB and a 256 MiB transaction (4 MiB parts of 1 KiB rows), with small transactions
// before, between and after: each big one is applied whole, and a reader polling the count all
// along only ever sees the counts before and after it.
TEST(BigTxnTest, AtomicTransactionsOf64And256MiBApplyWholeAndNoReaderSeesAPart) {
  MariaDBServer* b = binlog::testing::SharedMariaDB();
  ASSERT_NE(b, nullptr);
  ASSERT_OK(b->Exec("CREATE DATABASE atomic_big; " + BigTableSql("atomic_big")));
  const BigTxn mib64{"atomic_big", 1000, 1, 64 * 1024, 4096, 1024};
  const BigTxn mib256{"atomic_big", 3000, 100001, 256 * 1024, 4096, 1024};
  ASSERT_GE(mib64.ApproxBytes(), 64u << 20);
  ASSERT_GE(mib256.ApproxBytes(), 256u << 20);

  ASSERT_OK_AND_ASSIGN(auto sink, OpenSink(b, "atomic_big"));
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), NoFilter(), EngineOptions{}));
  CountReader reader(b, "atomic_big.big");
  std::vector<std::pair<Clock::time_point, Clock::time_point>> applying;
  for (const BigTxn* txn : {&mib64, &mib256}) {
    for (uint64_t ts = txn->commit_ts - 5; ts < txn->commit_ts; ++ts) {
      ASSERT_OK(engine->Submit(Small(ts, "atomic_big")));
    }
    const auto began = Clock::now();
    ASSERT_OK(SubmitParts(engine.get(), *txn));
    ASSERT_OK(engine->Submit(Small(txn->commit_ts + 1, "atomic_big")));
    ASSERT_OK(engine->Finish());
    applying.emplace_back(began, Clock::now());
    std::cerr << fmt::format("{:.0f} MiB ({} rows, {} parts) applied in {:.1f} s\n",
                             txn->ApproxBytes() / 1048576.0, txn->rows, txn->parts(),
                             std::chrono::duration<double>(Clock::now() - began).count());
  }
  reader.Stop();
  ASSERT_EQ(reader.error(), "");
  EXPECT_EQ(Check(b, mib64), mib64.Expected());
  EXPECT_EQ(Check(b, mib256), mib256.Expected());
  const int64_t n64 = mib64.rows + 6, n256 = mib256.rows + 6;  // small ones: 5 before, 1 after
  std::vector<int64_t> during64 = reader.Between(applying[0].first, applying[0].second);
  std::vector<int64_t> during256 = reader.Between(applying[1].first, applying[1].second);
  EXPECT_GE(during64.size(), 3u) << "the reader hardly read while the 64 MiB one applied";
  EXPECT_GE(during256.size(), 3u) << "the reader hardly read while the 256 MiB one applied";
  for (int64_t n : during64) EXPECT_TRUE(n <= 5 || n == n64) << "a reader saw " << n << " rows";
  for (int64_t n : during256) {
    EXPECT_TRUE(n <= n64 + 5 || n == n64 + n256) << "a reader saw " << n << " rows";
  }
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.in_parts, 2u);
  EXPECT_EQ(st.transactions, 14u);
  ASSERT_OK(b->Exec("DROP DATABASE atomic_big"));
}

// Split mode, the engine destroyed in the middle of the transaction four times (Abort, then
// its connections gone: what a kill leaves), each next run resuming inside it from the
// destination's record; rows are keyed and there is no safe mode, so a row applied twice would
// stop the run. The caller skips the parts the record covers, except in one round, where the
// engine skips them.
TEST(BigTxnTest, SplitResumesInsideAfterTheEngineIsDestroyedMidTransaction) {
  MariaDBServer* b = binlog::testing::SharedMariaDB();
  ASSERT_NE(b, nullptr);
  ASSERT_OK(b->Exec("CREATE DATABASE split_big; " + BigTableSql("split_big")));
  const BigTxn txn{"split_big", 5000, 1, 30000, 1000, 200};
  EngineOptions eo;
  eo.split_big_txn = true;
  eo.txn_batch = 300;  // not a divisor of a part: commits fall inside parts
  std::set<uint32_t> resumed_parts;
  for (int64_t kill_after : {3, 9, 10, 21, -1}) {
    SCOPED_TRACE(fmt::format("kill after part {}", kill_after));
    ASSERT_OK_AND_ASSIGN(auto sink, OpenSink(b, "split_big"));
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), NoFilter(), eo));
    const ResumeState& resumed = engine->resumed();
    int64_t from = 0;
    if (resumed.inside.commit_ts != 0) {
      EXPECT_EQ(resumed.inside.commit_ts, txn.commit_ts);
      resumed_parts.insert(resumed.inside.part);
      if (kill_after != 10) {
        while (resumed.ContainsPart(txn.commit_ts, static_cast<uint32_t>(from))) ++from;
      }
    }
    for (int64_t p = from; p < txn.parts(); ++p) {
      ASSERT_OK(engine->Submit(
          txn.Part(p), segment::MakePartTag(static_cast<uint32_t>(p), p + 1 == txn.parts())));
      if (p == kill_after) break;
    }
    if (kill_after < 0) {
      ASSERT_OK(engine->Finish());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a step under way
    engine->Abort(Status::Aborted("killed by the test"));
    engine.reset();
    auto count = b->QueryValue("SELECT COUNT(*) FROM split_big.big");
    ASSERT_TRUE(count.ok());
    EXPECT_GT(std::stoll(*count), 0);
    EXPECT_LT(std::stoll(*count), txn.rows);
  }
  EXPECT_GE(resumed_parts.size(), 3u) << "the kills did not land inside the transaction";
  EXPECT_EQ(Check(b, txn), txn.Expected());
  EXPECT_EQ(Row(*b->Query("SELECT low_ts, part_ts, part_index, part_row FROM "
                          "tidb_binlog.replay_progress WHERE task = 'split_big'")),
            "5000 0 0 0");
  ASSERT_OK(b->Exec("DROP DATABASE split_big"));
}

// Atomic: a transaction abandoned after two of its parts leaves nothing; the same transaction
// whole afterwards is applied. A part the destination refuses (a duplicate key) stops the run
// naming the commit ts, the part, the table and the server's message, and nothing of the
// transaction stays.
TEST(BigTxnTest, AnAbandonedOrRefusedAtomicTransactionLeavesNothing) {
  MariaDBServer* b = binlog::testing::SharedMariaDB();
  ASSERT_NE(b, nullptr);
  ASSERT_OK(b->Exec("CREATE DATABASE abandon_big; " + BigTableSql("abandon_big")));
  const BigTxn txn{"abandon_big", 7000, 1, 5000, 1000, 200};
  {
    ASSERT_OK_AND_ASSIGN(auto sink, OpenSink(b, "abandon_big"));
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), NoFilter(), EngineOptions{}));
    ASSERT_OK(engine->Submit(txn.Part(0), segment::MakePartTag(0, false)));
    ASSERT_OK(engine->Submit(txn.Part(1), segment::MakePartTag(1, false)));
    ASSERT_OK(engine->AbandonTransaction());
    EXPECT_EQ(*b->QueryValue("SELECT COUNT(*) FROM abandon_big.big"), "0");
    ASSERT_OK(SubmitParts(engine.get(), txn));
    ASSERT_OK(engine->Finish());
    EXPECT_EQ(Check(b, txn), txn.Expected());
  }
  const BigTxn refused{"abandon_big", 8000, 10001, 5000, 1000, 200};
  ASSERT_OK(b->Exec("INSERT INTO abandon_big.big VALUES (13500, 0, '')"));  // in part 3
  ASSERT_OK_AND_ASSIGN(auto sink, OpenSink(b, "abandon_big"));
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), NoFilter(), EngineOptions{}));
  Status s = SubmitParts(engine.get(), refused);
  if (s.ok()) s = engine->Finish();
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("part 3 of the transaction at commit ts 8000"));
  EXPECT_THAT(s.message(), HasSubstr("table abandon_big.big"));
  EXPECT_THAT(s.message(), HasSubstr("Duplicate entry '13500'"));
  engine.reset();
  EXPECT_EQ(*b->QueryValue("SELECT COUNT(*) FROM abandon_big.big WHERE id > 10000"), "1");
  ASSERT_OK(b->Exec("DROP DATABASE abandon_big"));
}

// The destination killed and restarted under a transaction in parts: split mode retries its
// steps and goes on (the commit whose answer was lost is found recorded, not applied twice);
// atomic mode stops, its transaction rolled back by the server, saying it is applied again from
// its first part, and the next run does so.
TEST(BigTxnTest, ADestinationRestartedUnderATransactionInParts) {
  ASSERT_OK_AND_ASSIGN(auto b, MariaDBServer::Start());
  ASSERT_OK(b->Exec("CREATE DATABASE restart_big; " + BigTableSql("restart_big")));
  for (bool split : {true, false}) {
    SCOPED_TRACE(split ? "split" : "atomic");
    const BigTxn txn{"restart_big", split ? 9000u : 9500u, split ? 1 : 100001, 20000, 1000, 200};
    EngineOptions eo;
    eo.split_big_txn = split;
    eo.txn_batch = 500;
    eo.retry_base_seconds = 0.05;
    eo.retry_max_seconds = 0.5;
    eo.max_retry = 40;
    ASSERT_OK_AND_ASSIGN(auto sink, OpenSink(b.get(), "restart_big"));
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(sink.get(), NoFilter(), eo));
    Status s;
    for (int64_t p = 0; s.ok() && p < txn.parts(); ++p) {
      s = engine->Submit(txn.Part(p),
                         segment::MakePartTag(static_cast<uint32_t>(p), p + 1 == txn.parts()));
      if (p == 8) {
        EXPECT_OK(b->Kill());
        EXPECT_OK(b->Restart());
      }
    }
    if (s.ok()) s = engine->Finish();
    if (split) {
      ASSERT_OK(s);
      EXPECT_GT(engine->Stats().retries, 0u);
    } else {
      ASSERT_TRUE(s.IsAborted()) << s.ToString();
      EXPECT_THAT(s.message(), HasSubstr("applied again from its first part"));
      engine.reset();
      EXPECT_EQ(*b->QueryValue("SELECT COUNT(*) FROM restart_big.big WHERE id > 100000"), "0");
      ASSERT_OK_AND_ASSIGN(sink, OpenSink(b.get(), "restart_big"));  // the next run
      ASSERT_OK_AND_ASSIGN(engine, Engine::Start(sink.get(), NoFilter(), eo));
      ASSERT_OK(SubmitParts(engine.get(), txn));
      ASSERT_OK(engine->Finish());
    }
    EXPECT_EQ(Check(b.get(), txn), txn.Expected());
  }
}

}  // namespace
}  // namespace binlog::replay::testing
