// Transactions in parts through the engine, against a sink that records every call: the steps a
// part is cut into, where split mode records it is, what a resume skips, the barrier around a
// big transaction, memory (one part applying, one submitted), and the errors of a broken
// sequence. The SQL of the steps is the mysql sink's, tested against a real server in
// big_txn_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "replay/replay.h"
#include "segment/format.h"
#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

using ::testing::HasSubstr;
using StepEnd = SinkWorker::StepEnd;

struct Call {
  uint64_t ts = 0;
  bool step = false;  // ApplyStep, else Apply (a group of whole transactions) or a rollback
  bool rollback = false;
  uint32_t part = 0;
  StepEnd end = StepEnd::kOpen;
  PartPosition reached;
  bool clears_inside = false;
  std::vector<int64_t> ids;  // the first column of each change
  int in_flight_elsewhere = 0;
};

class StepSink : public Sink {
 public:
  int MaxWorkers() const override { return 4; }
  Status ConflictKeys(const pb::Binlog& b, std::vector<ConflictKey>* out) override {
    for (const auto& t : b.tables()) out->push_back({"t:" + t.table_name(), false});
    return Status::OK();
  }
  Result<ResumeState> LoadResume() override { return resume; }
  Status AdvanceLow(uint64_t ts) override {
    std::lock_guard<std::mutex> g(mu);
    lows.push_back(ts);
    return Status::OK();
  }
  Result<std::unique_ptr<SinkWorker>> NewWorker() override;

  void Record(Call c) {
    std::lock_guard<std::mutex> g(mu);
    calls.push_back(std::move(c));
  }
  std::vector<Call> Steps() {
    std::lock_guard<std::mutex> g(mu);
    std::vector<Call> out;
    for (const Call& c : calls) {
      if (c.step) out.push_back(c);
    }
    return out;
  }

  std::mutex mu;
  std::vector<Call> calls;
  std::vector<uint64_t> lows;
  ResumeState resume;
  std::atomic<int> in_flight{0};
  std::atomic<int> transient_step_failures{0};
  std::chrono::milliseconds step_delay{0};
  // Submits that returned, set by the test: a step of part k must see at most k + 1.
  std::atomic<int> submits_returned{0};
  std::atomic<int> submits_ahead{0};  // the most seen past k + 1
};

std::vector<int64_t> Ids(const pb::Binlog& b) {
  std::vector<int64_t> ids;
  for (const auto& t : b.tables()) {
    for (const auto& m : t.mutations()) ids.push_back(m.row().columns(0).int64_value());
  }
  return ids;
}

class StepWorker : public SinkWorker {
 public:
  explicit StepWorker(StepSink* s) : s_(s) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override {
    ++s_->in_flight;
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    for (const pb::Binlog* b : txns) {
      Call c;
      c.ts = static_cast<uint64_t>(b->commit_ts());
      c.ids = Ids(*b);
      s_->Record(std::move(c));
    }
    --s_->in_flight;
    return Status::OK();
  }
  Status ApplyDdl(const pb::Binlog&) override { return Status::OK(); }
  Status ApplyStep(const pb::Binlog& changes, const Step& step) override {
    const int others = s_->in_flight.load();
    std::this_thread::sleep_for(s_->step_delay);
    const int ahead = s_->submits_returned.load() - static_cast<int>(step.part) - 1;
    if (ahead > s_->submits_ahead.load()) s_->submits_ahead = ahead;
    if (s_->transient_step_failures.load() > 0 && s_->transient_step_failures.fetch_sub(1) > 0) {
      return Status::IOError("connection lost");
    }
    Call c;
    c.ts = static_cast<uint64_t>(changes.commit_ts());
    c.step = true;
    c.part = step.part;
    c.end = step.end;
    c.reached = step.reached;
    c.clears_inside = step.clears_inside;
    c.ids = Ids(changes);
    c.in_flight_elsewhere = others;
    s_->Record(std::move(c));
    return Status::OK();
  }
  void RollbackSteps() override {
    Call c;
    c.rollback = true;
    s_->Record(std::move(c));
  }

 private:
  StepSink* s_;
};

Result<std::unique_ptr<SinkWorker>> StepSink::NewWorker() {
  return std::unique_ptr<SinkWorker>(std::make_unique<StepWorker>(this));
}

// Changes with ids [first, first + n) to `table`, as one binlog at ts.
pb::Binlog Rows(uint64_t ts, int64_t first, int n, const std::string& table = "t") {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  b.set_commit_ts(static_cast<int64_t>(ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("db");
  t->set_table_name(table);
  t->add_columns()->set_name("id");
  for (int i = 0; i < n; ++i) {
    pb::TableMutation* m = t->add_mutations();
    m->set_type(pb::INSERT);
    m->mutable_row()->add_columns()->set_int64_value(first + i);
  }
  return b;
}

// A part holding the rows of several tables: {table, first id, count} each.
pb::Binlog Tables(uint64_t ts, std::vector<std::tuple<std::string, int64_t, int>> parts) {
  pb::Binlog b = Rows(ts, 0, 0);
  b.clear_tables();
  for (const auto& [table, first, n] : parts) {
    pb::Binlog one = Rows(ts, first, n, table);
    *b.add_tables() = one.tables(0);
  }
  return b;
}

std::vector<int64_t> Range(int64_t first, int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

Filter Rules(FilterRules rules = {}) {
  auto f = Filter::Make(rules);
  EXPECT_TRUE(f.ok());
  return std::move(*f);
}

// Whole transactions before and after a big one: the big one waits until they are applied, runs
// its parts as steps of one downstream transaction on one worker with nothing beside it, and
// what follows waits for its commit. It counts once.
TEST(PartsTest, AtomicPartsAreOneTransactionAloneBetweenTheOthers) {
  StepSink sink;
  EngineOptions o;
  o.worker_count = 4;
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), o));
  for (uint64_t ts = 1; ts <= 40; ++ts) ASSERT_OK(engine->Submit(Rows(ts, 1000 + ts, 1)));
  for (uint32_t p = 0; p < 5; ++p) {
    ASSERT_OK(engine->Submit(Rows(50, p * 10, 10), segment::MakePartTag(p, p == 4)));
  }
  for (uint64_t ts = 51; ts <= 90; ++ts) ASSERT_OK(engine->Submit(Rows(ts, 1000 + ts, 1)));
  ASSERT_OK(engine->Finish());

  std::vector<Call> calls = sink.calls;
  std::vector<uint64_t> order;
  for (const Call& c : calls) order.push_back(c.ts);
  const auto first_step = std::find_if(calls.begin(), calls.end(), [](auto& c) { return c.step; });
  ASSERT_NE(first_step, calls.end());
  const size_t at = static_cast<size_t>(first_step - calls.begin());
  EXPECT_EQ(at, 40u) << "a whole transaction before the big one was not applied first";
  for (size_t i = 0; i < 5; ++i) {
    const Call& c = calls[at + i];
    ASSERT_TRUE(c.step) << "something ran between the parts";
    EXPECT_EQ(c.part, i);
    EXPECT_EQ(c.end, i == 4 ? StepEnd::kApplied : StepEnd::kOpen);
    EXPECT_EQ(c.ids, Range(i * 10, 10));
    EXPECT_EQ(c.in_flight_elsewhere, 0);
    EXPECT_FALSE(c.clears_inside);
  }
  EXPECT_EQ(calls.size(), 85u);
  for (size_t i = at + 5; i < calls.size(); ++i) EXPECT_GE(calls[i].ts, 51u);
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.transactions, 81u);
  EXPECT_EQ(st.in_parts, 1u);
  EXPECT_EQ(st.rows, 130u);
  EXPECT_EQ(st.progress_ts, 90u);
}

// Split mode: every txn_batch changes a commit, and one at the end of each part, each with the
// position reached, counted in the part as written (a table the filter drops counts too).
TEST(PartsTest, SplitCommitsEveryTxnBatchWithThePositionReached) {
  StepSink sink;
  EngineOptions o;
  o.txn_batch = 3;
  o.split_big_txn = true;
  FilterRules rules;
  rules.ignore_tables = {{"db", "skip"}};
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(rules), o));
  ASSERT_OK(engine->Submit(Tables(7, {{"t", 0, 4}, {"u", 4, 3}}), segment::MakePartTag(0, false)));
  ASSERT_OK(engine->Submit(Tables(7, {{"t", 7, 2}, {"skip", 9, 5}, {"t", 14, 2}}),
                           segment::MakePartTag(1, false)));
  ASSERT_OK(engine->Submit(Tables(7, {{"skip", 16, 2}}), segment::MakePartTag(2, false)));
  ASSERT_OK(engine->Submit(Tables(7, {{"u", 18, 2}}), segment::MakePartTag(3, true)));
  ASSERT_OK(engine->Finish());

  std::vector<Call> steps = sink.Steps();
  ASSERT_EQ(steps.size(), 6u);
  auto pos = [](uint32_t part, uint64_t row) { return PartPosition{7, part, row}; };
  EXPECT_EQ(steps[0].ids, Range(0, 3));
  EXPECT_EQ(steps[0].reached, pos(0, 3));
  EXPECT_EQ(steps[1].ids, Range(3, 3));
  EXPECT_EQ(steps[1].reached, pos(0, 6));
  EXPECT_EQ(steps[2].ids, Range(6, 1));
  EXPECT_EQ(steps[2].reached, pos(1, 0));
  EXPECT_EQ(steps[3].ids, (std::vector<int64_t>{7, 8, 14}));
  EXPECT_EQ(steps[3].reached, pos(1, 8));  // two of t, five of skip, one of t
  EXPECT_EQ(steps[4].ids, (std::vector<int64_t>{15}));
  EXPECT_EQ(steps[4].reached, pos(2, 0));
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(steps[i].end, StepEnd::kProgress);
  EXPECT_EQ(steps[5].ids, Range(18, 2));
  EXPECT_EQ(steps[5].end, StepEnd::kApplied);
  EXPECT_TRUE(steps[5].clears_inside);
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.transactions, 1u);
  EXPECT_EQ(st.groups, 6u);
  EXPECT_EQ(st.rows, 13u);
  EXPECT_EQ(st.rows_by_table["db.t"], 8u);
  EXPECT_EQ(st.rows_by_table.count("db.skip"), 0u);
}

// An earlier split run got to part 1, row 4: what it applied is skipped, whether the caller
// submits those parts again or skips them itself (ContainsPart); the commit of the end clears
// the position, also when this run is atomic.
TEST(PartsTest, AResumeInsideSkipsWhatTheEarlierRunApplied) {
  for (bool caller_skips : {false, true}) {
    for (bool split : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "caller skips " << caller_skips << ", split " << split);
      StepSink sink;
      sink.resume.low_ts = 5;
      sink.resume.inside = PartPosition{9, 1, 4};
      EngineOptions o;
      o.txn_batch = 100;
      o.split_big_txn = split;
      ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), o));
      EXPECT_TRUE(engine->resumed().ContainsPart(9, 0));
      EXPECT_FALSE(engine->resumed().ContainsPart(9, 1));
      EXPECT_FALSE(engine->resumed().Contains(9));
      for (uint32_t p = 0; p < 3; ++p) {
        if (caller_skips && engine->resumed().ContainsPart(9, p)) continue;
        ASSERT_OK(engine->Submit(Rows(9, p * 10, 10), segment::MakePartTag(p, p == 2)));
      }
      ASSERT_OK(engine->Finish());
      std::vector<Call> steps = sink.Steps();
      std::vector<int64_t> ids;
      for (const Call& c : steps) ids.insert(ids.end(), c.ids.begin(), c.ids.end());
      EXPECT_EQ(ids, Range(14, 16));
      ASSERT_FALSE(steps.empty());
      EXPECT_EQ(steps.back().end, StepEnd::kApplied);
      EXPECT_TRUE(steps.back().clears_inside);
      EXPECT_EQ(engine->Stats().transactions, 1u);
    }
  }
}

// Part k is applied while part k + 1 is being read and submitted; Submit of part k + 2 waits
// until part k is applied: at most two parts are held.
TEST(PartsTest, ThePartApplyingAndTheOneSubmittedAreAllThatIsHeld) {
  StepSink sink;
  sink.step_delay = std::chrono::milliseconds(20);
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), EngineOptions{}));
  for (uint32_t p = 0; p < 10; ++p) {
    ASSERT_OK(engine->Submit(Rows(3, p * 5, 5), segment::MakePartTag(p, p == 9)));
    ++sink.submits_returned;
  }
  ASSERT_OK(engine->Finish());
  EXPECT_EQ(sink.Steps().size(), 10u);
  EXPECT_LE(sink.submits_ahead.load(), 0) << "a part was submitted before the one two before it "
                                             "was applied";
}

TEST(PartsTest, ABrokenSequenceStopsTheEngineNamingIt) {
  struct Case {
    std::string name;
    std::function<Status(Engine*)> run;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"starts past part 0",
       [](Engine* e) { return e->Submit(Rows(5, 0, 1), segment::MakePartTag(1, false)); },
       "the transaction at commit ts 5 begins with part 1: its part 0 was expected first"},
      {"skips a part",
       [](Engine* e) {
         RETURN_IF_ERROR(e->Submit(Rows(5, 0, 1), segment::MakePartTag(0, false)));
         return e->Submit(Rows(5, 1, 1), segment::MakePartTag(2, true));
       },
       "the transaction at commit ts 5: part 2 arrived where part 1 was expected"},
      {"a new ts before the last part",
       [](Engine* e) {
         RETURN_IF_ERROR(e->Submit(Rows(5, 0, 1), segment::MakePartTag(0, false)));
         return e->Submit(Rows(6, 1, 1), segment::MakePartTag(0, true));
       },
       "a new transaction (commit ts 6) arrived before the last part of the transaction at "
       "commit ts 5 (its part 1 was expected next)"},
      {"a whole transaction before the last part",
       [](Engine* e) {
         RETURN_IF_ERROR(e->Submit(Rows(5, 0, 1), segment::MakePartTag(0, false)));
         return e->Submit(Rows(6, 1, 1));
       },
       "a whole transaction (commit ts 6) arrived before the last part of the transaction at "
       "commit ts 5"},
      {"a DDL in parts",
       [](Engine* e) {
         pb::Binlog ddl = Rows(5, 0, 0);
         ddl.set_ddl_query("CREATE TABLE t (id INT)");
         return e->Submit(ddl, segment::MakePartTag(0, false));
       },
       "part 0 of the transaction at commit ts 5 is a DDL"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StepSink sink;
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), EngineOptions{}));
    Status s = c.run(engine.get());
    ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.error));
    EXPECT_FALSE(engine->Submit(Rows(10, 100, 1)).ok()) << "the engine went on";
    EXPECT_FALSE(engine->Finish().ok());
  }
}

// The input ends inside a transaction: Finish abandons it (rolled back) and says so.
TEST(PartsTest, FinishingInsideATransactionAbandonsItAndSaysSo) {
  StepSink sink;
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), EngineOptions{}));
  ASSERT_OK(engine->Submit(Rows(4, 0, 1)));
  ASSERT_OK(engine->Submit(Rows(5, 1, 1), segment::MakePartTag(0, false)));
  Status s = engine->Finish();
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("ended inside the transaction at commit ts 5 (its part 1 "
                                     "never came)"));
  ASSERT_FALSE(sink.calls.empty());
  EXPECT_TRUE(sink.calls.back().rollback);
  EXPECT_EQ(engine->Stats().progress_ts, 4u);
}

// Abandoned atomic: rolled back, as if it never came; the next transactions go on and the
// progress passes it. Abandoned split: its commits stay, and the same ts again goes on from
// where they got.
TEST(PartsTest, AbandonRollsBackAtomicAndSplitGoesOnWhereItGot) {
  {
    StepSink sink;
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), EngineOptions{}));
    ASSERT_OK(engine->Submit(Rows(5, 0, 3), segment::MakePartTag(0, false)));
    ASSERT_OK(engine->Submit(Rows(5, 3, 3), segment::MakePartTag(1, false)));
    ASSERT_OK(engine->AbandonTransaction());
    ASSERT_OK(engine->AbandonTransaction());  // nothing under way: nothing to do
    ASSERT_OK(engine->Submit(Rows(6, 10, 1)));
    ASSERT_OK(engine->Finish());
    ASSERT_EQ(sink.calls.size(), 4u);
    EXPECT_TRUE(sink.calls[2].rollback);
    EXPECT_EQ(sink.calls[3].ts, 6u);
    EngineStats st = engine->Stats();
    EXPECT_EQ(st.transactions, 1u);
    EXPECT_EQ(st.progress_ts, 6u);
  }
  {
    StepSink sink;
    EngineOptions o;
    o.split_big_txn = true;
    o.txn_batch = 2;
    ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), o));
    ASSERT_OK(engine->Submit(Rows(5, 0, 3), segment::MakePartTag(0, false)));
    ASSERT_OK(engine->Submit(Rows(5, 3, 3), segment::MakePartTag(1, false)));
    ASSERT_OK(engine->AbandonTransaction());
    for (uint32_t p = 0; p < 3; ++p) {
      ASSERT_OK(engine->Submit(Rows(5, p * 3, 3), segment::MakePartTag(p, p == 2)));
    }
    ASSERT_OK(engine->Finish());
    std::vector<int64_t> ids;
    for (const Call& c : sink.calls) {
      EXPECT_FALSE(c.rollback);
      ids.insert(ids.end(), c.ids.begin(), c.ids.end());
    }
    EXPECT_EQ(ids, Range(0, 9));
    EXPECT_EQ(engine->Stats().transactions, 1u);
  }
}

// A part the filter drops whole sends nothing; a transaction the filter drops whole is counted
// once as filtered, and one an earlier run applied once as already applied.
TEST(PartsTest, FilteredAndAlreadyAppliedTransactionsCountOnce) {
  StepSink sink;
  sink.resume.applied = {20};
  FilterRules rules;
  rules.ignore_tables = {{"db", "skip"}};
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(rules), EngineOptions{}));
  ASSERT_OK(engine->Submit(Rows(10, 0, 2), segment::MakePartTag(0, false)));
  ASSERT_OK(engine->Submit(Rows(10, 2, 2, "skip"), segment::MakePartTag(1, false)));
  ASSERT_OK(engine->Submit(Rows(10, 4, 2, "skip"), segment::MakePartTag(2, true)));
  for (uint32_t p = 0; p < 3; ++p) {
    ASSERT_OK(engine->Submit(Rows(15, 0, 2, "skip"), segment::MakePartTag(p, p == 2)));
  }
  for (uint32_t p = 0; p < 3; ++p) {
    ASSERT_OK(engine->Submit(Rows(20, 0, 2), segment::MakePartTag(p, p == 2)));
  }
  ASSERT_OK(engine->Finish());
  std::vector<Call> steps = sink.Steps();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].ids, Range(0, 2));
  EXPECT_EQ(steps[1].end, StepEnd::kApplied);
  EXPECT_TRUE(steps[1].ids.empty());
  EngineStats st = engine->Stats();
  EXPECT_EQ(st.transactions, 1u);
  EXPECT_EQ(st.filtered, 1u);
  EXPECT_EQ(st.already, 1u);
  EXPECT_EQ(st.progress_ts, 20u);
}

TEST(PartsTest, ATransientFailureOfAStepIsRetried) {
  StepSink sink;
  sink.transient_step_failures = 2;
  EngineOptions o;
  o.split_big_txn = true;
  o.txn_batch = 2;
  o.retry_base_seconds = 0.001;
  ASSERT_OK_AND_ASSIGN(auto engine, Engine::Start(&sink, Rules(), o));
  for (uint32_t p = 0; p < 3; ++p) {
    ASSERT_OK(engine->Submit(Rows(5, p * 3, 3), segment::MakePartTag(p, p == 2)));
  }
  ASSERT_OK(engine->Finish());
  std::vector<int64_t> ids;
  for (const Call& c : sink.Steps()) ids.insert(ids.end(), c.ids.begin(), c.ids.end());
  EXPECT_EQ(ids, Range(0, 9));
  EXPECT_EQ(engine->Stats().retries, 2u);
}

}  // namespace
}  // namespace binlog::replay
