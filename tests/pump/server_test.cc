// PumpServer in process, over real loopback sockets: gRPC writes and pulls, HTTP status.
#include <gmock/gmock.h>

#include "pump/server_test_util.h"

namespace binlog::pump {
namespace {

using ::testing::AllOf;
using testing::Commit;
using ::testing::HasSubstr;
using testing::Prewrite;
using testing::PumpServerTest;
using testing::WaitFor;
TEST_F(PumpServerTest, WriteAndPullRoundTripOverGrpc) {
  StartServer();
  // A probe is answered, not stored.
  EXPECT_EQ(WritePayload("").errmsg(), "");
  std::vector<uint64_t> commits;
  for (int i = 0; i < 5; ++i) {
    uint64_t start = tso_.Next();
    pb::WriteBinlogResp p = Write(Prewrite(start));
    ASSERT_EQ(p.errmsg(), "");
    EXPECT_EQ(p.errcode(), "");
    uint64_t commit = tso_.Next();
    ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
    commits.push_back(commit);
  }
  // The batched write, as a producer that has already committed sends it (the syncer): each
  // transaction once, a COMMIT carrying its changes.
  pb::WriteBinlogsReq batch;
  for (int i = 0; i < 5; ++i) {
    pb::Binlog committed = Prewrite(tso_.Next());
    committed.set_tp(pb::COMMIT);
    uint64_t commit = tso_.Next();
    committed.set_commit_ts(static_cast<int64_t>(commit));
    batch.add_payloads(committed.SerializeAsString());
    commits.push_back(commit);
  }
  {
    grpc::ClientContext ctx;
    pb::WriteBinlogResp resp;
    ASSERT_TRUE(stub_->WriteBinlogs(&ctx, batch, &resp).ok());
    ASSERT_EQ(resp.errmsg(), "");
  }

  // Pulls from `from` until every commit above it came, in commit-ts order; max_batch 0 is the
  // TiDB-Binlog form (one entity per response).
  size_t responses = 0;
  auto pull = [&](uint64_t from, uint32_t max_batch = 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    pb::PullBinlogReq req;
    req.mutable_start_from()->set_offset(static_cast<int64_t>(from));
    req.set_max_batch(max_batch);
    auto reader = stub_->PullBinlogs(&ctx, req);
    std::vector<uint64_t> got;
    uint64_t last = from;
    size_t want = 0;
    for (uint64_t c : commits) want += c > from;
    pb::PullBinlogResp resp;
    responses = 0;
    while (got.size() < want && reader->Read(&resp)) {
      ++responses;
      std::vector<pb::Entity> entities(resp.entities().begin(), resp.entities().end());
      if (max_batch <= 1) {
        EXPECT_TRUE(entities.empty());
        entities.push_back(resp.entity());
      } else {
        EXPECT_FALSE(resp.has_entity());
        EXPECT_LE(entities.size(), max_batch);
      }
      for (const pb::Entity& e : entities) {
        pb::Binlog b;
        EXPECT_TRUE(b.ParseFromString(e.payload()));
        auto ts = static_cast<uint64_t>(e.pos().offset());
        EXPECT_EQ(ts, static_cast<uint64_t>(b.commit_ts()));
        EXPECT_GT(ts, last);
        last = ts;
        if (b.tp() == pb::COMMIT) {
          EXPECT_GT(b.tables_size(), 0);
          got.push_back(ts);
        }
      }
    }
    ctx.TryCancel();
    while (reader->Read(&resp)) {
    }
    reader->Finish().error_code();  // CANCELLED, as asked
    return got;
  };
  EXPECT_EQ(pull(0), commits);
  EXPECT_GE(responses, commits.size());
  std::vector<uint64_t> tail(commits.begin() + 6, commits.end());
  EXPECT_EQ(pull(commits[5]), tail);
  // Batched: everything is already in binlog/, so responses carry several (at most 3) each.
  EXPECT_EQ(pull(0, 3), commits);
  EXPECT_LT(responses, commits.size());
  EXPECT_EQ(pull(commits[5], 1000), tail);
  EXPECT_LT(responses, tail.size());
}

TEST_F(PumpServerTest, PullWaitsForNewCommitsAndEndsOnShutdown) {
  StartServer();
  grpc::ClientContext ctx;
  pb::PullBinlogReq req;
  auto reader = stub_->PullBinlogs(&ctx, req);
  uint64_t start = tso_.Next(), commit = tso_.Next();
  ASSERT_EQ(Write(Prewrite(start)).errmsg(), "");
  ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
  pb::PullBinlogResp resp;
  bool seen = false;
  while (!seen && reader->Read(&resp)) {
    seen = static_cast<uint64_t>(resp.entity().pos().offset()) == commit;
  }
  ASSERT_TRUE(seen);
  // A stream waiting for more ends promptly when the server stops.
  auto begin = std::chrono::steady_clock::now();
  ASSERT_OK(server_->Shutdown());
  while (reader->Read(&resp)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
}

TEST_F(PumpServerTest, GarbageAndOversizePayloadsGetClearErrors) {
  StartServer();
  pb::WriteBinlogResp garbage = WritePayload(std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(garbage.errcode(), "invalid");
  EXPECT_THAT(garbage.errmsg(), HasSubstr("not a serialized binlog"));

  // Above max-message-size (64 KiB here) but within gRPC's limit: the pump's own message.
  pb::Binlog big = Prewrite(tso_.Next(), 400);
  ASSERT_GT(big.ByteSizeLong(), 64u << 10);
  pb::WriteBinlogResp oversize = Write(big);
  EXPECT_EQ(oversize.errcode(), "invalid");
  EXPECT_THAT(oversize.errmsg(), AllOf(HasSubstr("larger than"), HasSubstr("65536")));

  // Far above: gRPC refuses the message before it is read, naming both sizes.
  grpc::Status status;
  WritePayload(std::string(2 << 20, 'x'), &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));

  // One bad payload refuses the whole batch, naming it; nothing is stored.
  pb::WriteBinlogsReq batch;
  batch.add_payloads(Prewrite(tso_.Next()).SerializeAsString());
  batch.add_payloads("\xff\xff\xff\xff");
  grpc::ClientContext ctx;
  pb::WriteBinlogResp resp;
  ASSERT_TRUE(stub_->WriteBinlogs(&ctx, batch, &resp).ok());
  EXPECT_EQ(resp.errcode(), "invalid");
  EXPECT_THAT(resp.errmsg(), HasSubstr("payload 1 "));

  // A commit without its prewrite.
  pb::WriteBinlogResp orphan = Write(Commit(tso_.Next(), tso_.Next()));
  EXPECT_EQ(orphan.errcode(), "invalid");
  EXPECT_EQ(server_->pump()->Stats().writes, 0u);
}

TEST_F(PumpServerTest, StatusAndMetricsAnswer) {
  StartServer();
  uint64_t start = tso_.Next(), commit = tso_.Next();
  ASSERT_EQ(Write(Prewrite(start)).errmsg(), "");
  ASSERT_EQ(Write(Commit(start, commit)).errmsg(), "");
  ASSERT_TRUE(testing::WaitEmitted(server_->pump(), commit));

  nlohmann::json st = StatusJson();
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st["node-id"], "pump-test");
  EXPECT_EQ(st["state"], "online");
  EXPECT_EQ(st["addr"], server_->config().advertise_addr);
  EXPECT_EQ(st["status-addr"], server_->status_addr());
  EXPECT_EQ(st["writable"], true);
  EXPECT_GE(st["max-commit-ts"].get<uint64_t>(), commit);
  EXPECT_GE(st["emitted-ts"].get<uint64_t>(), commit);
  EXPECT_EQ(st["pending-prewrites"], 0);
  EXPECT_EQ(st["writes"], 2);
  EXPECT_GT(st["wal-bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(st["binlog-bytes"].get<uint64_t>(), 0u);

  auto metrics = http_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  for (const char* line :
       {"# TYPE binlog_pump_writes_total counter\nbinlog_pump_writes_total 2\n",
        "# TYPE binlog_pump_write_bytes_total counter\n", "binlog_pump_refused_total 0\n",
        "binlog_pump_pending_prewrites 0\n", "binlog_pump_write_streams 0\n",
        "# TYPE binlog_pump_max_commit_ts gauge\n", "# TYPE binlog_pump_available_bytes gauge\n",
        "binlog_pump_state{state=\"online\"} 1\n", "binlog_pump_state{state=\"closing\"} 0\n",
        "# TYPE binlog_pump_write_duration_seconds histogram\n",
        "binlog_pump_write_duration_seconds_bucket{le=\"+Inf\"} 2\n",
        "binlog_pump_write_duration_seconds_count 2\n",
        "# TYPE binlog_pump_fsync_duration_seconds histogram\n",
        "binlog_pump_fsync_duration_seconds_bucket{journal=\"wal\",le=\"0.001\"} "}) {
    EXPECT_THAT(metrics->body, HasSubstr(line));
  }
  // Two acknowledged writes: each was in a synced group of its own.
  EXPECT_THAT(metrics->body,
              HasSubstr("binlog_pump_fsync_duration_seconds_count{journal=\"wal\"} 2\n"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr("binlog_pump_fsync_duration_seconds_bucket{journal=\"wal\",le=\"+Inf\"} 2\n"));
}

}  // namespace
}  // namespace binlog::pump
