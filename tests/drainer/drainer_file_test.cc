// The drainer over pumps in this process, into the file sink: order, completeness, pumps that
// pause, die or go offline, restarts, the relay log, the status service.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "drainer/checkpoint.h"
#include "drainer/drainer_test_util.h"
#include "drainer/sinks.h"

namespace binlog::drainer::testing {
namespace {

class DrainerFileTest : public DrainerFixture {
 protected:
  std::vector<uint64_t> Output() { return CommitTs(ReadSegments(tmp_.Sub("drainer"))); }
  std::vector<std::unique_ptr<Writer>> writers_;
};

TEST_F(DrainerFileTest, ThreePumpsAreMergedInCommitTsOrderWithoutGaps) {
  StartPumps(3);
  StartDrainer(BaseConfig(SinkType::kFile));
  std::vector<uint64_t> all = WriteFromEveryPump(150, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  DrainerStats st = drainer_->Stats();
  EXPECT_EQ(st.merge.disorder, 0u);
  EXPECT_EQ(st.merge.pumps.size(), 3u);
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), all);
  ASSERT_OK_AND_ASSIGN(auto saved, ReadSavepoint(Env::Posix(), tmp_.Sub("drainer") + "/savepoint"));
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->consistent);
  EXPECT_GE(saved->commit_ts, all.back());
  // Stopped: paused in the registry, its checkpoint as MaxCommitTS.
  auto reg = registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"));
  ASSERT_OK_AND_ASSIGN(auto drainers, reg->List(registry::NodeKind::kDrainer));
  ASSERT_EQ(drainers.size(), 1u);
  EXPECT_EQ(drainers[0].state, registry::NodeState::kPaused);
  EXPECT_GE(static_cast<uint64_t>(drainers[0].max_commit_ts), all.back());
}

TEST_F(DrainerFileTest, FromDiskAndOverGrpcTheStreamIsTheSame) {
  StartPumps(3);
  std::vector<uint64_t> all = WriteFromEveryPump(60, &writers_);
  std::vector<std::vector<pb::Binlog>> outputs;
  for (PumpAccess access : {PumpAccess::kLocal, PumpAccess::kGrpc}) {
    DrainerConfig c = BaseConfig(SinkType::kFile);
    c.pump_access = access;
    c.data_dir = tmp_.Sub(access == PumpAccess::kLocal ? "local" : "grpc");
    c.to_dir = c.data_dir;
    StartDrainer(c);
    ASSERT_TRUE(WaitCheckpoint(all.back()));
    ASSERT_OK(drainer_->Shutdown());
    drainer_.reset();
    outputs.push_back(ReadSegments(c.data_dir));
  }
  ASSERT_EQ(outputs[0].size(), all.size());
  ASSERT_EQ(outputs[1].size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(outputs[0][i].SerializeAsString(), outputs[1][i].SerializeAsString()) << i;
  }
}

TEST_F(DrainerFileTest, APausedPumpHoldsTheMergeBackUntilItIsBack) {
  StartPumps(3);
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.pump_access = PumpAccess::kGrpc;
  StartDrainer(c);
  std::vector<uint64_t> before = WriteFromEveryPump(20, &writers_);
  ASSERT_TRUE(WaitCheckpoint(before.back()));
  ASSERT_OK(pumps_[1]->Shutdown());  // paused: expected back
  const uint64_t paused_at = tso_.Next();
  std::vector<uint64_t> later;
  for (int i = 0; i < 20; ++i) {
    later.push_back(writers_[0]->WriteRows());
    later.push_back(writers_[2]->WriteRows());
  }
  // Nothing above the paused pump's last watermark may be applied: it may still hold commits.
  ASSERT_TRUE(WaitFor([&] { return drainer_->Stats().merge.waiting_on == "pump-1"; }));
  EXPECT_LT(drainer_->Stats().checkpoint_ts, paused_at);
  pumps_[1].reset();
  StartPump(1);
  later.push_back(writers_[1]->WriteRows());
  std::sort(later.begin(), later.end());
  ASSERT_TRUE(WaitCheckpoint(later.back()));
  ASSERT_OK(drainer_->Shutdown());
  std::vector<uint64_t> all = before;
  all.insert(all.end(), later.begin(), later.end());
  EXPECT_EQ(Output(), all);
}

TEST_F(DrainerFileTest, ADeadPumpIsReadFromItsDirectoryAndDroppedWhenOffline) {
  StartPumps(3);
  StartDrainer(BaseConfig(SinkType::kFile));
  std::vector<uint64_t> all = WriteFromEveryPump(20, &writers_);
  // Pump 2 stops for good; its binlog/ stays readable on this machine.
  ASSERT_OK(pumps_[2]->Shutdown());
  for (int i = 0; i < 10; ++i) {
    all.push_back(writers_[0]->WriteRows());
    all.push_back(writers_[1]->WriteRows());
  }
  std::sort(all.begin(), all.end());
  ASSERT_TRUE(WaitFor([&] { return drainer_->Stats().merge.waiting_on == "pump-2"; }));
  EXPECT_LT(drainer_->Stats().checkpoint_ts, all.back());
  // The operator says it is gone (binlogctl's offline): read to its end, then not waited for.
  auto reg = registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"));
  ASSERT_OK_AND_ASSIGN(registry::NodeStatus rec, reg->Get(registry::NodeKind::kPump, "pump-2"));
  rec.state = registry::NodeState::kOffline;
  ASSERT_OK(reg->Put(registry::NodeKind::kPump, rec));
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  ASSERT_TRUE(WaitFor([&] { return drainer_->Stats().merge.pumps.size() == 2; }));
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), all);
}

TEST_F(DrainerFileTest, APumpAddedWhileRunningIsMergedAndARemovedOneDropped) {
  StartPumps(2);
  StartDrainer(BaseConfig(SinkType::kFile));
  std::vector<uint64_t> all = WriteFromEveryPump(20, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  StartPump(2);  // a third pump joins
  std::vector<uint64_t> more = WriteFromEveryPump(20, &writers_);
  all.insert(all.end(), more.begin(), more.end());
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  EXPECT_EQ(drainer_->Stats().merge.pumps.size(), 3u);
  // Pump 0 stops and its record is removed by hand: drained, then no longer waited on.
  ASSERT_OK(pumps_[0]->Shutdown());
  auto reg = registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"));
  ASSERT_OK(reg->Remove(registry::NodeKind::kPump, "pump-0"));
  for (int i = 0; i < 5; ++i) all.push_back(writers_[1]->WriteRows());
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  ASSERT_TRUE(WaitFor([&] { return drainer_->Stats().merge.pumps.size() == 2; }));
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), all);
  EXPECT_EQ(drainer_->Stats().merge.disorder, 0u);
}

TEST_F(DrainerFileTest, ARestartResumesStrictlyAfterTheCheckpoint) {
  StartPumps(2);
  StartDrainer(BaseConfig(SinkType::kFile));
  std::vector<uint64_t> all = WriteFromEveryPump(30, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  ASSERT_OK(drainer_->Shutdown());
  drainer_.reset();
  std::vector<uint64_t> more = WriteFromEveryPump(30, &writers_);
  all.insert(all.end(), more.begin(), more.end());
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.initial_commit_ts = -1;  // ignored: there is a checkpoint
  StartDrainer(c);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  EXPECT_EQ(drainer_->Stats().engine.already, 0u);
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), all);
}

TEST_F(DrainerFileTest, TheRelayLogIsAppliedFirstWhenThePumpsAreGone) {
  // What a drainer merged into its relay log before it crashed, its pumps gone since.
  const std::string relay_dir = tmp_.Sub("relay");
  std::vector<uint64_t> relayed;
  {
    ASSERT_OK_AND_ASSIGN(auto relay, RelayLog::Open(Env::Posix(), relay_dir, 4096, 0));
    std::vector<MergedBinlog> batch;
    for (int i = 0; i < 50; ++i) {
      pb::Binlog b;
      b.set_tp(pb::COMMIT);
      b.set_start_ts(static_cast<int64_t>(tso_.Next()));
      b.set_commit_ts(static_cast<int64_t>(tso_.Next()));
      TableT(&b)->add_mutations()->set_type(pb::INSERT);
      SetRow(b.mutable_tables(0)->mutable_mutations(0)->mutable_row(), i, "relay");
      relayed.push_back(static_cast<uint64_t>(b.commit_ts()));
      batch.push_back(MergedBinlog{std::move(b)});
    }
    ASSERT_OK(relay->Append(batch));
    ASSERT_OK(relay->Close());
  }
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.relay_dir = relay_dir;
  c.relay_max_file_size = 4096;
  StartDrainer(c);
  ASSERT_TRUE(WaitCheckpoint(relayed.back()));
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(Output(), relayed);
  // Applied relay segments are removed (the active one stays).
  ASSERT_OK_AND_ASSIGN(auto segments, journal::ListSegments(Env::Posix(), relay_dir));
  EXPECT_LE(segments.size(), 2u);
}

TEST_F(DrainerFileTest, MergedBinlogsGoThroughTheRelayLogBeforeTheSink) {
  StartPumps(2);
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.relay_dir = tmp_.Sub("relay");
  c.keep_relay_seconds = 86400;  // kept: a valid reparo input
  StartDrainer(c);
  std::vector<uint64_t> all = WriteFromEveryPump(40, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_EQ(CommitTs(ReadSegments(c.relay_dir)), all);
  EXPECT_EQ(Output(), all);
}

TEST_F(DrainerFileTest, FilteredTablesAreNotWrittenAndTheCheckpointStillMoves) {
  StartPumps(2);
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.filter.ignore_tables.push_back(replay::TableRule{"test", "~^t$"});
  StartDrainer(c);
  std::vector<uint64_t> all = WriteFromEveryPump(20, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  EXPECT_EQ(drainer_->Stats().engine.filtered, all.size());
  ASSERT_OK(drainer_->Shutdown());
  EXPECT_TRUE(Output().empty());
}

TEST_F(DrainerFileTest, StatusSaysWhatTheMergeWaitsOnAndPutStateStopsIt) {
  StartPumps(2);
  DrainerConfig c = BaseConfig(SinkType::kFile);
  c.pump_access = PumpAccess::kGrpc;
  c.node_id = "drainer-t";
  StartDrainer(c);
  std::vector<uint64_t> all = WriteFromEveryPump(5, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  ASSERT_OK(pumps_[0]->Shutdown());
  writers_[1]->WriteRows();
  ASSERT_TRUE(WaitFor([&] { return drainer_->Stats().merge.waiting_on == "pump-0"; }));
  ASSERT_OK_AND_ASSIGN(server::HostPort hp, server::SplitHostPort(drainer_->status_addr()));
  httplib::Client http(hp.host, hp.port);
  auto res = http.Get("/status");
  ASSERT_TRUE(res && res->status == 200);
  nlohmann::json j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["node-id"], "drainer-t");
  EXPECT_EQ(j["state"], "online");
  EXPECT_EQ(j["merge"]["waiting-on"], "pump-0");
  EXPECT_EQ(j["pumps"].size(), 2u);
  res = http.Get("/metrics");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_NE(res->body.find("binlog_drainer_disorder_binlog_count 0"), std::string::npos);
  EXPECT_NE(res->body.find("binlog_drainer_checkpoint_ts "), std::string::npos);
  EXPECT_NE(res->body.find("binlog_drainer_apply_duration_seconds_count "), std::string::npos);
  res = http.Put("/state/other/pause");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = http.Put("/state/drainer-t/close");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_OK(drainer_->Wait());
  auto reg = registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"));
  ASSERT_OK_AND_ASSIGN(auto rec, reg->Get(registry::NodeKind::kDrainer, "drainer-t"));
  EXPECT_EQ(rec.state, registry::NodeState::kOffline);
}

}  // namespace
}  // namespace binlog::drainer::testing
