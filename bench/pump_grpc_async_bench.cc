// 64 gRPC producers that hold no thread each, driven by gRPC's callbacks, each a closed loop
// (PREWRITE, its answer, COMMIT with a commit ts taken then, its answer, the next transaction):
// on a WriteBinlogStream each, as WriteBinlog calls, or through one shared PumpClient's
// WriteBinlogAsync (AsyncWrites). The pump sees what it sees from 64 producers with a thread
// each; the load itself costs this 2-core VM less of the CPU the pump needs (a thread per
// producer is a wake-up and a context switch per binlog, more than half the machine at 30k
// binlogs/s), the way TiDB's sessions (goroutines) or producers on other hosts would.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <iostream>
#include <latch>
#include <memory>
#include <vector>

#include "pump.grpc.pb.h"
#include "pump_bench_util.h"

namespace binlog::bench {
namespace {

Status FromGrpc(const grpc::Status& s) {
  return s.ok() ? Status::OK() : Status::IOError(s.error_message());
}
Status FromResp(const pb::WriteBinlogResp& r) {
  return r.errmsg().empty() ? Status::OK() : Status::IOError(r.errmsg());
}

// Writes on one WriteBinlogStream (what PumpClient::WriteBinlog does).
class StreamProducer final
    : public ClosedLoopProducer,
      public grpc::ClientBidiReactor<pb::WriteBinlogReq, pb::WriteBinlogResp> {
 public:
  StreamProducer(pb::Pump::Stub* stub, workload::TsSequencer* ts, double deadline, uint64_t seed,
                 std::function<void()> finished)
      : ClosedLoopProducer(ts, deadline, seed, std::move(finished)) {
    stub->async()->WriteBinlogStream(&ctx_, this);
    StartCall();
    Start();
  }

  void OnWriteDone(bool) override { Joined(); }  // a failed write fails the read too
  void OnReadDone(bool ok) override {
    read_failed_ = !ok;  // then OnDone has the status
    Joined();
  }
  void OnDone(const grpc::Status& s) override { Finished(FromGrpc(s)); }

 private:
  void Send(const pb::Binlog& binlog) override {
    req_.set_payload(binlog.SerializeAsString());
    pending_.store(2, std::memory_order_relaxed);
    StartWrite(&req_);
    StartRead(&resp_);
  }
  void Stop() override { StartWritesDone(); }
  // The next message may be started only once both of this one's operations completed.
  void Joined() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (!read_failed_) Answered(FromResp(resp_));
  }

  grpc::ClientContext ctx_;
  pb::WriteBinlogReq req_;
  pb::WriteBinlogResp resp_;
  std::atomic<int> pending_{0};
  bool read_failed_ = false;
};

// Writes as WriteBinlog calls, one after the other (what a TiDB session sends).
class UnaryProducer final : public ClosedLoopProducer {
 public:
  UnaryProducer(pb::Pump::Stub* stub, workload::TsSequencer* ts, double deadline, uint64_t seed,
                std::function<void()> finished)
      : ClosedLoopProducer(ts, deadline, seed, std::move(finished)), stub_(stub) {
    Start();
  }

 private:
  void Send(const pb::Binlog& binlog) override {
    // A call's context is replaced two calls later, never inside its own callback.
    std::unique_ptr<grpc::ClientContext>& ctx = ctx_[calls_++ % 2];
    ctx = std::make_unique<grpc::ClientContext>();
    req_.set_payload(binlog.SerializeAsString());
    stub_->async()->WriteBinlog(ctx.get(), &req_, &resp_, [this](grpc::Status s) {
      if (s.ok()) return Answered(FromResp(resp_));
      Finished(FromGrpc(s));
    });
  }
  void Stop() override { Finished(Status::OK()); }

  pb::Pump::Stub* stub_;
  std::unique_ptr<grpc::ClientContext> ctx_[2];
  uint64_t calls_ = 0;
  pb::WriteBinlogReq req_;
  pb::WriteBinlogResp resp_;
};

// Writes through a PumpClient shared by every producer (a TiDB server's sessions and its one
// pump client): the client sends what they write at the same moment in one WriteBinlogs.
class SharedClientProducer final : public ClosedLoopProducer {
 public:
  SharedClientProducer(pump::PumpClient* client, workload::TsSequencer* ts, double deadline,
                       uint64_t seed, std::function<void()> finished)
      : ClosedLoopProducer(ts, deadline, seed, std::move(finished)), client_(client) {
    Start();
  }

 private:
  void Send(const pb::Binlog& binlog) override {
    client_->WriteBinlogAsync(binlog, [this](Status s) { Answered(s); });
  }
  void Stop() override { Finished(Status::OK()); }

  pump::PumpClient* client_;
};

}  // namespace

LoadResult GrpcAsyncLoad(const std::string& addr, int producers, AsyncWrites writes,
                         workload::TsSequencer* ts) {
  // One connection, as a producer process (a TiDB server) has to each pump.
  auto stub = pb::Pump::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  std::shared_ptr<pump::PumpClient> client = ConnectClient(addr);
  std::latch finished(producers);
  std::vector<std::unique_ptr<ClosedLoopProducer>> all;
  double begin = NowSeconds();
  double cpu = CpuSeconds();
  for (int i = 0; i < producers; ++i) {
    double deadline = begin + LoadSeconds();
    uint64_t seed = 3000 + static_cast<uint64_t>(i);
    auto done = [&] { finished.count_down(); };
    switch (writes) {
      case AsyncWrites::kStream:
        all.push_back(std::make_unique<StreamProducer>(stub.get(), ts, deadline, seed, done));
        break;
      case AsyncWrites::kUnary:
        all.push_back(std::make_unique<UnaryProducer>(stub.get(), ts, deadline, seed, done));
        break;
      case AsyncWrites::kSharedClient:
        all.push_back(
            std::make_unique<SharedClientProducer>(client.get(), ts, deadline, seed, done));
        break;
    }
  }
  finished.wait();
  LoadResult r;
  r.seconds = NowSeconds() - begin;
  r.cpu_seconds = CpuSeconds() - cpu;
  for (auto& p : all) {
    Check(p->status(), "gRPC async load");
    p->Collect(&r);
  }
  const char* how = writes == AsyncWrites::kStream  ? "streams"
                    : writes == AsyncWrites::kUnary ? "WriteBinlog calls"
                                                    : "one shared client's WriteBinlogAsync";
  std::cerr << "pump gRPC " << how << " (callback API): " << producers << " producers, " << r.items
            << " items in " << r.seconds << " s, " << r.latencies_us.size() << " calls, "
            << r.cpu_seconds << " s CPU ("
            << r.cpu_seconds * 1e6 / static_cast<double>(std::max<uint64_t>(r.items, 1))
            << " us per item)\n";
  return r;
}

}  // namespace binlog::bench
