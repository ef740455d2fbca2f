// What a pump holds per upstream server (GetSourceState), kept across restarts, and the
// "ts-behind" refusal of a one-shot commit: the pump side of the syncer's dedupe and ts policy.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/tso.h"
#include "pump/server_test_util.h"
#include "pump/sorter.h"
#include "pump/sources.h"
#include "pump_test_util.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using testing::Prewrite;
using testing::PullAll;
using testing::WaitEmitted;

PumpOptions SmallSegments(const std::string& dir) {
  PumpOptions o;
  o.data_dir = dir;
  o.max_file_size = 16 << 10;
  o.gen_binlog_interval_seconds = 0;
  o.stop_write_at_available_space = 0;
  return o;
}

pb::SourcePosition Source(uint32_t server_id, uint64_t pos) {
  pb::SourcePosition p;
  p.set_server_id(server_id);
  p.set_file("mariadb-bin.000003");
  p.set_pos(pos);
  p.set_gtid(fmt::format("0-{}-{}", server_id, pos));
  p.set_event_time(1700000000);
  return p;
}

// A transaction that committed upstream: a one-shot COMMIT with its changes and source.
pb::Binlog OneShot(uint64_t ts, const pb::SourcePosition& source) {
  pb::Binlog b = Prewrite(ts);
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(static_cast<int64_t>(ts));
  *b.mutable_source() = source;
  return b;
}

uint64_t Now() { return ComposeTS(Env::Posix()->NowMicros() / 1000, 0); }

TEST(SourceTableTest, KeepsTheNewestPerServerAndRoundTrips) {
  SourceTable t;
  t.Note(100, Source(1, 400));
  t.Note(90, Source(1, 300));  // older: a wal record replayed after the table was saved
  t.Note(50, Source(2, 200));
  uint64_t v = t.version();
  t.Note(100, Source(1, 400));
  EXPECT_EQ(t.version(), v) << "an unchanged table needs no save";
  ASSERT_TRUE(t.Get(1).has_value());
  EXPECT_EQ(t.Get(1)->commit_ts, 100u);
  EXPECT_EQ(t.Get(1)->source.pos(), 400u);
  EXPECT_FALSE(t.Get(3).has_value());

  SourceTable back;
  ASSERT_OK(back.Decode(t.Encode(), "test"));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back.Get(2)->source.SerializeAsString(), Source(2, 200).SerializeAsString());
  EXPECT_EQ(back.Get(1)->commit_ts, 100u);
}

TEST(SourceTableTest, DamagedOrNewerFileIsAnErrorNotAnEmptyTable) {
  SourceTable t;
  EXPECT_TRUE(t.Decode("{\"version\":1,\"sources\":[{", "f").IsCorruption());
  EXPECT_TRUE(t.Decode("{\"version\":2,\"sources\":[]}", "f").IsUnsupported());
  EXPECT_TRUE(t.Decode("{\"version\":1,\"sources\":[{\"server-id\":-1}]}", "f").IsCorruption());
  binlog::testing::TempDir dir;
  EXPECT_OK(t.Load(Env::Posix(), dir.Sub("missing")));  // a pump that never had a source
  EXPECT_EQ(t.size(), 0u);
}

TEST(SorterTest, AOneShotCommitBeingWrittenHoldsTheWatermarkBelowIt) {
  Sorter s;
  s.AddHeartbeat(100);
  s.HoldBelow(50);  // validated, its wal write still running
  EXPECT_EQ(s.Watermark(), 49u);
  EXPECT_TRUE(s.TakeReady().empty()) << "the heartbeat at 100 must wait for the commit at 50";
  s.AddCommitted(50, "txn", 1);
  s.Unhold(50);
  std::vector<ReadyTxn> ready = s.TakeReady();
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].commit_ts, 50u);
  EXPECT_EQ(ready[1].commit_ts, 100u);
}

TEST(PumpSourcesTest, AnswersTheNewestOneShotCommitPerServer) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(SmallSegments(dir.path())));
  uint64_t ts = Now();
  ASSERT_OK(pump->WriteBinlogs(std::vector<pb::Binlog>{OneShot(ts + 1, Source(1, 100)),
                                                       OneShot(ts + 2, Source(2, 900)),
                                                       OneShot(ts + 3, Source(1, 200))}));
  SourceState one = pump->GetSourceState(1);
  ASSERT_TRUE(one.held.has_value());
  EXPECT_EQ(one.held->commit_ts, ts + 3);
  EXPECT_EQ(one.held->source.pos(), 200u);
  EXPECT_EQ(one.held->source.gtid(), "0-1-200");
  EXPECT_GE(one.max_ts, ts + 3);
  EXPECT_EQ(pump->GetSourceState(2).held->source.pos(), 900u);
  EXPECT_FALSE(pump->GetSourceState(3).held.has_value());

  // A refused batch changes nothing.
  pb::Binlog bad = OneShot(ts + 4, Source(1, 300));
  bad.set_start_ts(-1);
  EXPECT_FALSE(
      pump->WriteBinlogs(std::vector<pb::Binlog>{OneShot(ts + 5, Source(1, 400)), bad}).ok());
  EXPECT_EQ(pump->GetSourceState(1).held->source.pos(), 200u);
}

TEST(PumpSourcesTest, SurvivesRestartsAlsoAfterItsWalSegmentsAreGone) {
  binlog::testing::TempDir dir;
  uint64_t ts = Now();
  uint64_t last = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(SmallSegments(dir.path())));
    for (uint64_t i = 1; i <= 300; ++i) {
      ASSERT_OK(pump->WriteBinlog(OneShot(ts + i, Source(5, i * 10))));
    }
    last = ts + 300;
    // Another source's records push all of server 5's out of the wal.
    for (uint64_t i = 301; i <= 600; ++i) {
      ASSERT_OK(pump->WriteBinlog(OneShot(ts + i, Source(6, i * 10))));
    }
    ASSERT_TRUE(WaitEmitted(pump.get(), ts + 600));
    // Wal segments are dropped once resolved; the table is saved before that.
    ASSERT_TRUE(pump::testing::WaitFor(
        [&] { return Env::Posix()->FileExists(JoinPath(dir.path(), "sources")); }));
    ASSERT_OK(pump->Close());
  }
  {
    // The same data without the sources file: the wal alone no longer knows server 5, so the
    // answer below comes from the file.
    binlog::testing::TempDir copy;
    std::filesystem::copy(dir.path(), copy.Sub("data"), std::filesystem::copy_options::recursive);
    std::filesystem::remove(copy.Sub("data/sources"));
    ASSERT_OK_AND_ASSIGN(auto blind, Pump::Open(SmallSegments(copy.Sub("data"))));
    EXPECT_FALSE(blind->GetSourceState(5).held.has_value());
    EXPECT_TRUE(blind->GetSourceState(6).held.has_value());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(SmallSegments(dir.path())));
    SourceState st = pump->GetSourceState(5);
    ASSERT_TRUE(st.held.has_value());
    EXPECT_EQ(st.held->commit_ts, last);
    EXPECT_EQ(st.held->source.pos(), 3000u);
    // Newer than the saved table: known from the wal replay alone.
    ASSERT_OK(pump->WriteBinlog(OneShot(ts + 601, Source(5, 3010))));
    ASSERT_OK(pump->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(SmallSegments(dir.path())));
  EXPECT_EQ(pump->GetSourceState(5).held->source.pos(), 3010u);
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits.size(), 601u);
}

TEST(PumpSourcesTest, ACommitBehindTheWrittenTsIsOutOfRangeAndNotStored) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(SmallSegments(dir.path())));
  ASSERT_OK(pump->Heartbeat());  // what an idle pump does every gen-binlog-interval
  uint64_t beat = pump->GetSourceState(1).max_ts;
  ASSERT_GT(beat, 0u);
  ASSERT_TRUE(WaitEmitted(pump.get(), beat));
  // An upstream event a minute old, as a syncer catching up would stamp it.
  uint64_t old = ComposeTS(TSPhysicalMs(beat) - 60000, 0);
  Status s = pump->WriteBinlog(OneShot(old, Source(1, 100)));
  EXPECT_TRUE(s.IsOutOfRange()) << s.ToString();
  EXPECT_FALSE(pump->GetSourceState(1).held.has_value());
  SourceState st = pump->GetSourceState(1);
  EXPECT_GE(st.max_ts, beat);
  // Re-stamped above what the pump reports: accepted and served.
  ASSERT_OK(pump->WriteBinlog(OneShot(st.max_ts + 1, Source(1, 100))));
  ASSERT_TRUE(WaitEmitted(pump.get(), st.max_ts + 1));
  auto pulled = PullAll(pump.get());
  ASSERT_OK(pulled.status);
  EXPECT_EQ(pulled.commits, std::vector<uint64_t>{st.max_ts + 1});
}

class PumpSourcesServerTest : public testing::PumpServerTest {};

TEST_F(PumpSourcesServerTest, GetSourceStateAndTsBehindOverGrpc) {
  StartServer();
  uint64_t ts = tso_.Next();
  EXPECT_EQ(Write(OneShot(ts, Source(9, 4242))).errcode(), "");
  grpc::ClientContext ctx;
  pb::SourceStateReq req;
  req.set_server_id(9);
  pb::SourceStateResp resp;
  ASSERT_TRUE(stub_->GetSourceState(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.errmsg(), "");
  EXPECT_TRUE(resp.found());
  EXPECT_EQ(resp.commit_ts(), ts);
  EXPECT_EQ(resp.source().pos(), 4242u);
  EXPECT_GE(resp.max_ts(), ts);

  ASSERT_TRUE(testing::WaitFor([&] { return server_->pump()->Stats().emitted_ts >= ts; }));
  pb::WriteBinlogResp again = Write(OneShot(ts, Source(9, 4242)));
  EXPECT_EQ(again.errcode(), "ts-behind") << again.errmsg();

  grpc::ClientContext ctx2;
  req.set_server_id(10);
  pb::SourceStateResp none;
  ASSERT_TRUE(stub_->GetSourceState(&ctx2, req, &none).ok());
  EXPECT_FALSE(none.found());
}

}  // namespace
}  // namespace binlog::pump
