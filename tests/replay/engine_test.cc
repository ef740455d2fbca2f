// The engine's scheduling, resume, retries and errors, against a sink that records what it is
// given (the SQL and the destination are the mysql sink's, tested against a real server).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "replay/replay.h"
#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

// Each row change's first column is its key: transactions that share one must arrive in
// commit order.
class RecordingSink : public Sink {
 public:
  explicit RecordingSink(int workers) : workers_(workers) {}

  int MaxWorkers() const override { return workers_; }
  Status ConflictKeys(const pb::Binlog& b, std::vector<ConflictKey>* out) override {
    for (const auto& t : b.tables()) {
      out->push_back({"t:" + t.table_name(), false});
      for (const auto& m : t.mutations()) {
        out->push_back(
            {t.table_name() + "/" + std::to_string(m.row().columns(0).int64_value()), true});
      }
    }
    return Status::OK();
  }
  Result<ResumeState> LoadResume() override { return resume; }
  Status AdvanceLow(uint64_t ts) override {
    std::lock_guard<std::mutex> g(mu);
    lows.push_back(ts);
    return Status::OK();
  }
  Result<std::unique_ptr<SinkWorker>> NewWorker() override;

  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> by_key;  // commit ts in apply order
  std::vector<uint64_t> applied;
  std::vector<uint64_t> lows;
  std::vector<uint64_t> ddl;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<bool> overlap_with_ddl{false};
  std::atomic<int> transient_failures{0};  // the next N Apply calls fail transiently
  uint64_t refuse_ts = 0;                  // Apply of this commit ts fails for good
  ResumeState resume;

 private:
  int workers_;
};

class RecordingWorker : public SinkWorker {
 public:
  explicit RecordingWorker(RecordingSink* s) : s_(s) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override {
    int now = ++s_->in_flight;
    int seen = s_->max_in_flight.load();
    while (now > seen && !s_->max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    Status result;
    if (s_->transient_failures.load() > 0 && s_->transient_failures.fetch_sub(1) > 0) {
      result = Status::IOError("connection lost");
    }
    for (const pb::Binlog* b : txns) {
      if (static_cast<uint64_t>(b->commit_ts()) == s_->refuse_ts) {
        result = Status::InvalidArgument("Duplicate entry");
      }
    }
    if (result.ok()) {
      std::lock_guard<std::mutex> g(s_->mu);
      for (const pb::Binlog* b : txns) {
        s_->applied.push_back(static_cast<uint64_t>(b->commit_ts()));
        for (const auto& t : b->tables()) {
          for (const auto& m : t.mutations()) {
            s_->by_key[t.table_name() + "/" + std::to_string(m.row().columns(0).int64_value())]
                .push_back(static_cast<uint64_t>(b->commit_ts()));
          }
        }
      }
    }
    --s_->in_flight;
    return result;
  }
  Status ApplyDdl(const pb::Binlog& b) override {
    if (s_->in_flight.load() != 0) s_->overlap_with_ddl = true;
    std::lock_guard<std::mutex> g(s_->mu);
    s_->ddl.push_back(static_cast<uint64_t>(b.commit_ts()));
    s_->applied.push_back(static_cast<uint64_t>(b.commit_ts()));
    return Status::OK();
  }

 private:
  RecordingSink* s_;
};

Result<std::unique_ptr<SinkWorker>> RecordingSink::NewWorker() {
  return std::unique_ptr<SinkWorker>(std::make_unique<RecordingWorker>(this));
}

pb::Binlog Txn(uint64_t ts, const std::string& db, const std::string& table,
               std::vector<int64_t> keys) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts));
  b.set_commit_ts(static_cast<int64_t>(ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name(db);
  t->set_table_name(table);
  t->add_columns()->set_name("id");
  for (int64_t k : keys) {
    pb::TableMutation* m = t->add_mutations();
    m->set_type(pb::UPDATE);
    m->mutable_row()->add_columns()->set_int64_value(k);
  }
  return b;
}

pb::Binlog Ddl(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(static_cast<int64_t>(ts));
  b.set_ddl_query("ALTER TABLE t ADD COLUMN c INT");
  b.set_ddl_schema("db");
  return b;
}

Filter NoFilter() {
  auto f = Filter::Make(FilterRules{});
  EXPECT_TRUE(f.ok());
  return std::move(*f);
}

TEST(EngineTest, ConflictingTransactionsKeepCommitOrderOthersRunInParallel) {
  RecordingSink sink(8);
  EngineOptions o;
  o.worker_count = 8;
  o.txn_batch = 4;
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, NoFilter(), o));
  std::mt19937 rng(7);
  std::map<std::string, std::vector<uint64_t>> expected;
  for (uint64_t ts = 1; ts <= 3000; ++ts) {
    std::vector<int64_t> keys;
    int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) keys.push_back(static_cast<int64_t>(rng() % 200));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (int64_t k : keys) expected["t/" + std::to_string(k)].push_back(ts);
    if (ts % 1000 == 500) {
      ASSERT_OK(engine->Submit(Ddl(ts)));
      for (int64_t k : keys) expected["t/" + std::to_string(k)].pop_back();
      continue;
    }
    ASSERT_OK(engine->Submit(Txn(ts, "db", "t", keys)));
  }
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(sink.by_key, expected);
  EXPECT_EQ(sink.applied.size(), 3000u);
  EXPECT_GT(sink.max_in_flight.load(), 1) << "nothing ran in parallel";
  EXPECT_FALSE(sink.overlap_with_ddl.load()) << "a DDL ran while row changes were applied";
  EXPECT_EQ(sink.ddl, (std::vector<uint64_t>{500, 1500, 2500}));
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.progress_ts, 3000u);
  ASSERT_FALSE(sink.lows.empty());
  EXPECT_EQ(sink.lows.back(), 3000u);
}

TEST(EngineTest, WhatAnEarlierRunAppliedIsSkippedAndTheFilterDropsTheRest) {
  RecordingSink sink(4);
  sink.resume.low_ts = 5;
  sink.resume.applied = {8};
  FilterRules rules;
  rules.ignore_dbs = {"skipme"};
  ASSERT_OK_AND_ASSIGN(Filter filter, Filter::Make(rules));
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, std::move(filter), EngineOptions{}));
  for (uint64_t ts = 1; ts <= 10; ++ts) {
    ASSERT_OK(engine->Submit(Txn(ts, ts == 9 ? "skipme" : "db", "t", {static_cast<int64_t>(ts)})));
  }
  ASSERT_OK(engine->Finish());
  std::sort(sink.applied.begin(), sink.applied.end());
  EXPECT_EQ(sink.applied, (std::vector<uint64_t>{6, 7, 10}));
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.already, 6u);
  EXPECT_EQ(st.filtered, 1u);
  EXPECT_EQ(st.progress_ts, 10u);
}

pb::Binlog Statement(uint64_t ts, std::string_view schema, std::string_view query) {
  pb::Binlog b = Ddl(ts);
  b.set_ddl_schema(std::string(schema));
  b.set_ddl_query(std::string(query));
  return b;
}

// A statement whose tables the parser cannot name (a user, a grant, a view) goes by the database
// it ran in, as a replica's replicate-do-db treats one.
TEST(EngineTest, AStatementOfUnknownShapeGoesByTheDatabaseItRanIn) {
  RecordingSink sink(1);
  FilterRules rules;
  rules.do_dbs = {"probe"};
  ASSERT_OK_AND_ASSIGN(Filter filter, Filter::Make(rules));
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, std::move(filter), EngineOptions{}));
  ASSERT_OK(engine->Submit(Statement(1, "", "CREATE USER u IDENTIFIED BY 'pw'")));
  ASSERT_OK(engine->Submit(Statement(2, "other", "CREATE VIEW v AS SELECT 1")));
  ASSERT_OK(engine->Submit(Statement(3, "probe", "CREATE VIEW v AS SELECT 1")));
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(sink.ddl, (std::vector<uint64_t>{3}));
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.filtered, 2u);
  EXPECT_EQ(st.applied_through_ts, 3u);

  RecordingSink all(1);
  rules = FilterRules{};
  rules.ignore_dbs = {"other"};
  ASSERT_OK_AND_ASSIGN(filter, Filter::Make(rules));
  ASSERT_OK_AND_ASSIGN(engine, Engine::Start(&all, std::move(filter), EngineOptions{}));
  ASSERT_OK(engine->Submit(Statement(1, "", "GRANT SELECT ON probe.* TO u")));
  ASSERT_OK(engine->Submit(Statement(2, "other", "CREATE VIEW v AS SELECT 1")));
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(all.ddl, (std::vector<uint64_t>{1}));
}

// Flashback submits newest first: the progress it shows is the last one applied in that order.
TEST(EngineTest, AppliedThroughFollowsTheOrderOfSubmission) {
  RecordingSink sink(2);
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, NoFilter(), EngineOptions{}));
  for (uint64_t ts = 10; ts >= 1; --ts) {
    ASSERT_OK(engine->Submit(Txn(ts, "db", "t", {static_cast<int64_t>(ts)})));
  }
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(engine->Stats().applied_through_ts, 1u);
}

TEST(EngineTest, TransientFailuresAreRetriedAPermanentOneStopsWithProgressBelowIt) {
  RecordingSink sink(2);
  sink.transient_failures = 3;
  EngineOptions o;
  o.worker_count = 1;
  o.retry_base_seconds = 0.001;
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, NoFilter(), o));
  for (uint64_t ts = 1; ts <= 20; ++ts) {
    ASSERT_OK(engine->Submit(Txn(ts, "db", "t", {static_cast<int64_t>(ts)})));
  }
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(sink.applied.size(), 20u);
  EXPECT_EQ(engine->Stats().retries, 3u);

  RecordingSink refusing(1);
  refusing.refuse_ts = 7;
  EngineOptions one;
  one.worker_count = 1;
  one.txn_batch = 1;
  ASSERT_OK_AND_ASSIGN(auto stopped, Engine::Start(&refusing, NoFilter(), one));
  Status s;
  for (uint64_t ts = 1; ts <= 20 && s.ok(); ++ts) {
    s = stopped->Submit(Txn(ts, "db", "t", {static_cast<int64_t>(ts)}));
  }
  if (s.ok()) s = stopped->Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr("Duplicate entry"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr("commit ts 7"));
  EXPECT_EQ(stopped->Stats().progress_ts, 6u);
  EXPECT_EQ(refusing.applied, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace binlog::replay
