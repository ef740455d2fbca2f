// The syncer's pump sink with a big transaction's parts, against real pumps (no upstream: the
// records are made here as the syncer's decoder makes them): calls of max_call_bytes ending
// inside the transaction, every part at the ts of its first even when re-stamped, a failed call
// that the pump stored continued from the parts it holds, and a failover to a pump without the
// transaction's beginning stopped.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/tso.h"
#include "pump.grpc.pb.h"
#include "pump/parts_test_util.h"
#include "pump/server_test_util.h"
#include "segment/format.h"
#include "syncer/pump_fixture.h"
#include "syncer/sink.h"
#include "testutil/testutil.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::TempDir;
using pump::testing::ReadStoredLog;
using pump::testing::StoredLog;

constexpr uint32_t kServerId = 21;
constexpr int kRows = 1800;  // ~400 KiB a part

// The records of the Write calls of one test, kept alive while the sink may read them.
class Records {
 public:
  // A transaction's part (part == kWholeTransaction: a whole one) from upstream position pos.
  EncodedBinlog Add(uint64_t ts, segment::PartTag part, int64_t first_id, int rows, uint64_t pos) {
    pb::Binlog b = pump::testing::BigPart(pb::COMMIT, ts, ts, first_id, rows);
    b.mutable_source()->set_server_id(kServerId);
    b.mutable_source()->set_file("mariadb-bin.000001");
    b.mutable_source()->set_pos(pos);
    payloads_.push_back(b.SerializeAsString());
    EncodedBinlog e;
    e.commit_ts = ts;
    e.payload = payloads_.back();
    e.file = "mariadb-bin.000001";
    e.pos = pos;
    e.part = part;
    return e;
  }
  // Parts first .. last of a transaction of `count` parts at ts.
  std::vector<EncodedBinlog> Parts(uint64_t ts, uint32_t first, uint32_t last, uint32_t count) {
    std::vector<EncodedBinlog> out;
    for (uint32_t i = first; i <= last; ++i) {
      out.push_back(Add(ts, segment::MakePartTag(i, i + 1 == count), int64_t{i} * kRows, kRows,
                        1000 + ts % 1000));
    }
    return out;
  }

 private:
  std::deque<std::string> payloads_;  // stable addresses
};

// A pump that passes calls on to another, and can fail one: after passing it on (the call is
// stored, its answer lost) or instead of it (nothing stored).
class Proxy final : public pb::Pump::Service {
 public:
  enum class Mode { kPass, kFailAfter, kFailInstead };
  explicit Proxy(const std::string& target)
      : stub_(pb::Pump::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}

  void FailNextCall(Mode m) { mode_ = m; }
  int failed() const { return failed_; }

  grpc::Status WriteBinlogs(grpc::ServerContext*, const pb::WriteBinlogsReq* req,
                            pb::WriteBinlogResp* resp) override {
    Mode m = mode_.exchange(Mode::kPass);
    if (m == Mode::kFailInstead) return Fail();
    grpc::ClientContext ctx;
    grpc::Status s = stub_->WriteBinlogs(&ctx, *req, resp);
    return m == Mode::kFailAfter ? Fail() : s;
  }
  grpc::Status GetSourceState(grpc::ServerContext*, const pb::SourceStateReq* req,
                              pb::SourceStateResp* resp) override {
    grpc::ClientContext ctx;
    return stub_->GetSourceState(&ctx, *req, resp);
  }

 private:
  grpc::Status Fail() {
    ++failed_;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the proxy lost this call");
  }
  std::unique_ptr<pb::Pump::Stub> stub_;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int> failed_{0};
};

PumpSinkOptions Options(std::vector<std::string> addrs) {
  PumpSinkOptions o;
  o.addrs = std::move(addrs);
  o.max_call_bytes = 1 << 20;  // two parts a call
  o.retry_base_seconds = 0.01;
  o.retry_max_seconds = 0.05;
  o.max_retry = 5;
  return o;
}

bool WaitEmitted(pump::PumpServer* pump, uint64_t ts) {
  return pump::testing::WaitFor([&] { return pump->pump()->Stats().emitted_ts >= ts; });
}

// Ten parts in two Write calls (each cut into calls of two parts), the second ending with a
// whole transaction, after the pump's own heartbeat went past their ts: they are raised above it,
// all ten at one ts, and come out of binlog/ as one transaction in parts.
TEST(PumpSinkPartsTest, PartsGoInBoundedCallsAtOneTsAndComeOutWhole) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, StartPump(dir.path(), Env::Posix(), 0));
  ASSERT_OK_AND_ASSIGN(auto sink, OpenPumpSink(Options({pump->grpc_addr()})));
  ASSERT_OK_AND_ASSIGN(auto last, sink->LastSource(kServerId));
  EXPECT_FALSE(last.has_value());
  // Upstream event times from a minute ago, behind the pump's heartbeat of now.
  const uint64_t ts = ComposeTS(Env::Posix()->NowMicros() / 1000 - 60000, 0);
  ASSERT_OK(pump->pump()->Heartbeat());
  const uint64_t beat = pump->pump()->Stats().max_commit_ts;
  Records records;
  std::vector<EncodedBinlog> first = records.Parts(ts, 0, 4, 10);
  ASSERT_OK(sink->Write(first));
  std::vector<EncodedBinlog> second = records.Parts(ts, 5, 9, 10);
  second.push_back(records.Add(ts + 1, segment::kWholeTransaction, 0, 10, 5000));
  ASSERT_OK(sink->Write(second));
  ASSERT_TRUE(WaitEmitted(pump.get(), sink->LastTS()));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("pump/binlog")));
  EXPECT_TRUE(log.problems.empty()) << log.problems.front();
  ASSERT_EQ(log.txns.size(), 3u);  // the heartbeat, the big one, the small one
  EXPECT_TRUE(log.txns[0].heartbeat);
  EXPECT_GT(log.txns[1].ts, beat);
  EXPECT_EQ(log.txns[1].parts, 10u);
  EXPECT_EQ(log.txns[1].rows, 10 * kRows);
  EXPECT_TRUE(log.txns[1].ids_in_order);
  EXPECT_EQ(log.txns[2].parts, 0u);
  EXPECT_EQ(sink->LastTS(), log.txns[2].ts);
  ASSERT_OK_AND_ASSIGN(last, sink->LastSource(kServerId));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->pos(), 5000u);
}

// A call the pump stored whose answer was lost: the sink asks the next pump of pump-addrs (the
// same pump, without the proxy) what it holds, finds the call's parts there and goes on with the
// rest, nothing sent twice.
TEST(PumpSinkPartsTest, ACallStoredButNotAnsweredGoesOnFromThePartsThePumpHolds) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, StartPump(dir.path(), Env::Posix(), 0));
  Proxy proxy(pump->grpc_addr());
  pump::testing::TestServer front = pump::testing::Serve(&proxy);
  ASSERT_NE(front.server, nullptr);
  ASSERT_OK_AND_ASSIGN(auto sink, OpenPumpSink(Options({front.addr, pump->grpc_addr()})));
  ASSERT_OK(sink->LastSource(kServerId).status());
  const uint64_t ts = ComposeTS(Env::Posix()->NowMicros() / 1000, 0);
  Records records;
  ASSERT_OK(sink->Write(records.Parts(ts, 0, 3, 8)));
  proxy.FailNextCall(Proxy::Mode::kFailAfter);
  ASSERT_OK(sink->Write(records.Parts(ts, 4, 5, 8)));
  EXPECT_EQ(proxy.failed(), 1);
  EXPECT_EQ(pump->pump()->GetSourceState(kServerId).open_parts, 6u);
  ASSERT_OK(sink->Write(records.Parts(ts, 6, 7, 8)));
  ASSERT_TRUE(WaitEmitted(pump.get(), sink->LastTS()));
  ASSERT_OK_AND_ASSIGN(StoredLog log, ReadStoredLog(dir.Sub("pump/binlog")));
  EXPECT_TRUE(log.problems.empty()) << log.problems.front();
  ASSERT_EQ(log.txns.size(), 1u);
  EXPECT_EQ(log.txns[0].parts, 8u);
  EXPECT_EQ(log.txns[0].rows, 8 * kRows);
  EXPECT_TRUE(log.txns[0].ids_in_order);
  front.server->Shutdown();
}

// A failover in the middle of a transaction to a pump that holds none of it: the sink cannot go
// on there and says so; the syncer then starts the transaction again from its first part.
TEST(PumpSinkPartsTest, AFailoverToAPumpWithoutTheBeginningStops) {
  TempDir dir_a, dir_b;
  ASSERT_OK_AND_ASSIGN(auto a, StartPump(dir_a.path(), Env::Posix(), 0));
  ASSERT_OK_AND_ASSIGN(auto b, StartPump(dir_b.path(), Env::Posix(), 0));
  Proxy proxy(a->grpc_addr());
  pump::testing::TestServer front = pump::testing::Serve(&proxy);
  ASSERT_NE(front.server, nullptr);
  ASSERT_OK_AND_ASSIGN(auto sink, OpenPumpSink(Options({front.addr, b->grpc_addr()})));
  ASSERT_OK(sink->LastSource(kServerId).status());
  const uint64_t ts = ComposeTS(Env::Posix()->NowMicros() / 1000, 0);
  Records records;
  ASSERT_OK(sink->Write(records.Parts(ts, 0, 1, 4)));
  proxy.FailNextCall(Proxy::Mode::kFailInstead);
  Status s = sink->Write(records.Parts(ts, 2, 3, 4));
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_NE(s.message().find("from its beginning"), std::string::npos) << s.ToString();
  EXPECT_EQ(b->pump()->Stats().pending_prewrites, 0u) << "nothing of it went to the other pump";
  front.server->Shutdown();
}

}  // namespace
}  // namespace binlog::syncer::testing
