// PumpServer's node states in the registry, node id, GC and listening errors.
#include <gmock/gmock.h>

#include <set>
#include <thread>

#include "common/tso.h"
#include "journal/journal.h"
#include "pump/server_test_util.h"

namespace binlog::pump {
namespace {

using registry::NodeKind;
using registry::NodeState;
using registry::NodeStatus;
using ::testing::AllOf;
using testing::Commit;
using ::testing::HasSubstr;
using testing::Prewrite;
using testing::PumpServerTest;
using testing::WaitFor;

TEST_F(PumpServerTest, RegistersOnlineAndHeartbeats) {
  StartServer();
  NodeStatus first = PumpRecord();
  EXPECT_EQ(first.state, NodeState::kOnline);
  EXPECT_EQ(first.addr, server_->config().advertise_addr);
  EXPECT_NE(first.addr, "127.0.0.1:0");  // the bound port, not 0
  EXPECT_EQ(first.status_addr, server_->status_addr());
  uint64_t start = tso_.Next(), commit = tso_.Next();
  ASSERT_EQ(Write(Prewrite(start)).errmsg(), "");
  ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
  EXPECT_TRUE(WaitFor([&] {
    NodeStatus n = PumpRecord();
    return n.update_ts > first.update_ts && static_cast<uint64_t>(n.max_commit_ts) >= commit;
  }));
}

TEST_F(PumpServerTest, CloseWaitsForDrainersThenGoesOffline) {
  NodeStatus drainer{"drainer-1", "127.0.0.1:8249", "", NodeState::kOnline, 1, 1, "", ""};
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, drainer));
  // An offline drainer is not waited for.
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, NodeStatus{"drainer-old", "127.0.0.1:8248", "",
                                                          NodeState::kOffline, 0, 0, "", ""}));
  StartServer();
  uint64_t start = tso_.Next(), commit = tso_.Next();
  ASSERT_EQ(Write(Prewrite(start)).errmsg(), "");
  ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
  // Acknowledged before the close, committed during it.
  uint64_t late_start = tso_.Next();
  ASSERT_EQ(Write(Prewrite(late_start)).errmsg(), "");

  auto wrong = http_->Put("/state/someone-else/close");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 404);
  auto unknown = http_->Put("/state/pump-test/explode");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);

  auto close = http_->Put("/state/pump-test/close");
  ASSERT_TRUE(close);
  EXPECT_EQ(close->status, 200) << close->body;
  ASSERT_TRUE(WaitFor([&] { return PumpRecord().state == NodeState::kClosing; }));
  EXPECT_EQ(server_->state(), NodeState::kClosing);

  // New transactions are refused while closing; the commit of one acknowledged before is not,
  // since it committed upstream and losing it would lose data.
  pb::WriteBinlogResp refused = Write(Prewrite(tso_.Next()));
  EXPECT_EQ(refused.errcode(), "not-online");
  EXPECT_THAT(refused.errmsg(), HasSubstr("closing"));
  uint64_t late_commit = tso_.Next();
  EXPECT_EQ(Write(Commit(late_start, late_commit)).errmsg(), "");
  auto again = http_->Put("/state/pump-test/pause");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);

  // The drainer is behind: several heartbeat intervals later the pump is still closing.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(server_->stopped());
  EXPECT_EQ(PumpRecord().state, NodeState::kClosing);
  nlohmann::json st = StatusJson();
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st["state"], "closing");

  // Once its checkpoint reaches the pump's MaxCommitTS, the pump goes offline and stops.
  drainer.max_commit_ts = static_cast<int64_t>(server_->pump()->MaxCommitTS());
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, drainer));
  ASSERT_TRUE(WaitFor([&] { return server_->stopped(); }));
  EXPECT_OK(server_->Wait());
  EXPECT_EQ(server_->state(), NodeState::kOffline);
  NodeStatus final_record = PumpRecord();
  EXPECT_EQ(final_record.state, NodeState::kOffline);
  EXPECT_GE(static_cast<uint64_t>(final_record.max_commit_ts), commit);
  EXPECT_TRUE(WaitFor([&] { return self_stopped_.load(); }));  // called after Wait returns
}

TEST_F(PumpServerTest, ShutdownLeavesThePumpPaused) {
  StartServer();
  uint64_t start = tso_.Next(), commit = tso_.Next();
  ASSERT_EQ(Write(Prewrite(start)).errmsg(), "");
  ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
  ASSERT_OK(server_->Shutdown());
  EXPECT_EQ(server_->state(), NodeState::kPaused);
  EXPECT_EQ(PumpRecord().state, NodeState::kPaused);
  EXPECT_FALSE(self_stopped_);     // the owner asked: no callback
  ASSERT_OK(server_->Shutdown());  // idempotent
  grpc::Status status;
  Write(Prewrite(tso_.Next()), &status);
  EXPECT_FALSE(status.ok());
  // The status service answers until the server is destroyed, with the final state.
  nlohmann::json st = StatusJson();
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st["state"], "paused");

  // A restart comes back online with what was written.
  server_.reset();
  StartServer();
  EXPECT_EQ(PumpRecord().state, NodeState::kOnline);
  EXPECT_GE(server_->pump()->Stats().emitted_ts, commit);
}

TEST_F(PumpServerTest, PauseRequestStopsTheServer) {
  StartServer();
  auto res = http_->Put("/state/pump-test/pause");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_OK(server_->Wait());
  EXPECT_TRUE(WaitFor([&] { return self_stopped_.load(); }));  // called after Wait returns
  EXPECT_EQ(PumpRecord().state, NodeState::kPaused);
}

TEST_F(PumpServerTest, NodeIdFromDataDirAndPortConflicts) {
  config_.node_id.clear();
  StartServer();
  // The default node id is advertise-addr with its bound port, kept in data-dir/.node.
  EXPECT_EQ(server_->config().node_id, server_->config().advertise_addr);
  ASSERT_OK_AND_ASSIGN(std::string kept,
                       ReadFileToString(Env::Posix(), config_.data_dir + "/.node"));
  EXPECT_EQ(kept, server_->config().node_id + "\n");

  // A second pump on the same gRPC port fails with a clear error.
  PumpConfig other = config_;
  other.data_dir = tmp_.Sub("data2");
  other.node_id = "pump-2";
  other.addr = server_->grpc_addr();
  other.advertise_addr = server_->grpc_addr();
  auto second = PumpServer::Start(other);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), AllOf(HasSubstr("cannot listen"), HasSubstr("addr")));
}

TEST_F(PumpServerTest, StatusSaysWhyThePumpIsNotWritable) {
  config_.stop_write_at_available_space = uint64_t{1} << 62;  // more than any disk has
  StartServer();
  nlohmann::json st = StatusJson();
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st["writable"], false);
  std::string why = st["not-writable-because"];
  EXPECT_THAT(why, AllOf(HasSubstr("below stop-write-at-available-space"),
                         HasSubstr(std::to_string(uint64_t{1} << 62))));
  EXPECT_EQ(st["stop-write-at-available-space"], uint64_t{1} << 62);
  EXPECT_GT(st["available-bytes"].get<uint64_t>(), 0u);

  ASSERT_OK(server_->Shutdown());
  st = StatusJson();
  EXPECT_EQ(st["not-writable-because"], "pump is paused");
}

size_t CountSegments(const std::string& dir) {
  auto segs = journal::ListSegments(Env::Posix(), dir, false);
  return segs.ok() ? segs->size() : 0;
}

TEST_F(PumpServerTest, GcRunsAtStartUnlessZero) {
  config_.max_file_size = 4 << 10;
  {
    // Old traffic (2023), in several sealed segments.
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(config_.ToPumpOptions(Env::Posix())));
    uint64_t last = 0;
    for (int i = 0; i < 150; ++i) {
      uint64_t start = ComposeTS(1700000000000LL + i * 1000, 0);
      ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
      last = start + 1;
      ASSERT_OK(pump->WriteBinlog(Commit(start, last)));
      if (i % 30 == 29) {  // in several binlog/ appends, not gathered into one
        ASSERT_TRUE(testing::WaitEmitted(pump.get(), last));
      }
    }
    ASSERT_TRUE(testing::WaitEmitted(pump.get(), last));
    ASSERT_OK(pump->Close());
  }
  const std::string binlog_dir = config_.data_dir + "/binlog";
  size_t before = CountSegments(binlog_dir);
  ASSERT_GE(before, 2u);

  config_.gc_seconds = 0;  // never
  StartServer();
  ASSERT_OK(server_->Shutdown());
  server_.reset();
  EXPECT_EQ(CountSegments(binlog_dir), before);

  config_.gc_seconds = 7 * 86400;
  StartServer();
  EXPECT_TRUE(WaitFor([&] { return CountSegments(binlog_dir) < before; }));
  EXPECT_GE(CountSegments(binlog_dir), 1u);  // never the active segment
}

std::set<uint64_t> RecordsIn(const std::string& dir) {
  std::set<uint64_t> out;
  auto reader = journal::JournalReader::Open(Env::Posix(), dir, journal::ReadOptions());
  if (!reader.ok()) return out;
  journal::Record r;
  while (true) {
    auto more = (*reader)->Next(&r);
    if (!more.ok() || !*more) break;
    out.insert(r.ts);
  }
  return out;
}

// The hourly GC is the one GC (src/gc) with the pump's registry as its guard: a drainer with a
// fresh heartbeat keeps what it has not read; once its heartbeat is older than gc-guard-lease,
// it holds nothing back.
TEST_F(PumpServerTest, GcKeepsWhatADrainerWithAFreshHeartbeatHasNotRead) {
  config_.max_file_size = 4 << 10;
  const std::string binlog_dir = config_.data_dir + "/binlog";
  std::vector<uint64_t> commits;
  {
    // How many binlogs a segment holds depends on how the emitter groups them and how well they
    // compress: write rounds until there are enough segments for a checkpoint in the middle.
    ASSERT_OK_AND_ASSIGN(auto pump, Pump::Open(config_.ToPumpOptions(Env::Posix())));
    for (int round = 0; round < 60 && CountSegments(binlog_dir) < 5; ++round) {
      for (int i = 0; i < 30; ++i) {
        uint64_t start = ComposeTS(1700000000000LL + (round * 30 + i) * 1000, 0);
        ASSERT_OK(pump->WriteBinlog(Prewrite(start)));
        commits.push_back(start + 1);
        ASSERT_OK(pump->WriteBinlog(Commit(start, commits.back())));
      }
      ASSERT_TRUE(testing::WaitEmitted(pump.get(), commits.back()));
    }
    ASSERT_OK(pump->Close());
  }
  const size_t before = CountSegments(binlog_dir);
  ASSERT_GE(before, 5u);
  // Past the first segment, short of the last two.
  const uint64_t checkpoint = commits[commits.size() * 3 / 4];
  const int64_t now_ms = Env::Posix()->NowMicros() / 1000;
  NodeStatus drainer{"drainer-1",
                     "127.0.0.1:8249",
                     "",
                     NodeState::kOnline,
                     static_cast<int64_t>(checkpoint),
                     static_cast<int64_t>(ComposeTS(now_ms, 0)),
                     "",
                     ""};
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, drainer));
  config_.gc_seconds = 7 * 86400;
  config_.gc_guard_lease_seconds = 3600;
  gc_interval_seconds_ = 0.05;
  StartServer();
  EXPECT_TRUE(WaitFor([&] { return CountSegments(binlog_dir) < before; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several more GC rounds
  std::set<uint64_t> left = RecordsIn(binlog_dir);
  EXPECT_EQ(left.count(commits.front()), 0u);
  for (uint64_t c : commits) {
    if (c > checkpoint) {
      ASSERT_EQ(left.count(c), 1u) << "commit " << c << " past the checkpoint";
    }
  }
  // Its heartbeat two hours old: it no longer holds anything back.
  drainer.update_ts = static_cast<int64_t>(ComposeTS(now_ms - 2 * 3600 * 1000, 0));
  ASSERT_OK(registry_->Put(NodeKind::kDrainer, drainer));
  EXPECT_TRUE(WaitFor([&] { return CountSegments(binlog_dir) == 1; }));
}

}  // namespace
}  // namespace binlog::pump
