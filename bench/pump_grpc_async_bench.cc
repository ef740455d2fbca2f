// 64 gRPC producers that hold no thread each: every producer is a WriteBinlogStream driven by
// gRPC's callback API, a closed loop (PREWRITE, its answer, COMMIT with a commit ts taken then,
// its answer, the next transaction). The pump sees what it sees from 64 producers with a thread
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

// One producer's closed loop of transactions, over whichever call its subclass makes. gRPC runs
// one producer's callbacks one at a time, so its fields need no lock.
class Producer {
 public:
  Producer(workload::TsSequencer* ts, double deadline, uint64_t seed,
           std::function<void()> finished)
      : ts_(ts),
        deadline_(deadline),
        pool_(MakePrewrites(4, seed)),
        finished_(std::move(finished)) {
    latencies_us.reserve(1 << 14);
  }
  virtual ~Producer() = default;

  uint64_t items = 0;
  uint64_t max_ts = 0;
  std::vector<double> latencies_us;
  grpc::Status status;  // how its calls ended: the first failure, or OK

 protected:
  // Sends one serialized binlog; the subclass calls Answered with the reply.
  virtual void Send(std::string payload) = 0;
  // No more transactions: the subclass ends its calls and then calls Finished.
  virtual void Stop() = 0;

  void Prewrite() {
    pb::Binlog& pre = pool_[next_++ % pool_.size()];
    start_ts_ = ts_->Next();
    pre.set_start_ts(static_cast<int64_t>(start_ts_));
    committing_ = false;
    sent_at_ = NowSeconds();
    Send(pre.SerializeAsString());
  }
  void Answered(const pb::WriteBinlogResp& resp) {
    latencies_us.push_back((NowSeconds() - sent_at_) * 1e6);
    if (!resp.errmsg().empty()) {
      std::cerr << "gRPC producer: the pump refused a write: " << resp.errmsg() << "\n";
      std::exit(1);
    }
    if (!committing_) return Commit();
    ++items;
    max_ts = commit_ts_;
    if (NowSeconds() < deadline_) return Prewrite();
    Stop();
  }
  void Finished(const grpc::Status& s) {
    status = s;
    finished_();
  }

 private:
  void Commit() {
    pb::Binlog c;
    c.set_tp(pb::COMMIT);
    c.set_start_ts(static_cast<int64_t>(start_ts_));
    commit_ts_ = ts_->Next();
    c.set_commit_ts(static_cast<int64_t>(commit_ts_));
    committing_ = true;
    sent_at_ = NowSeconds();
    Send(c.SerializeAsString());
  }

  workload::TsSequencer* ts_;
  double deadline_;
  std::vector<pb::Binlog> pool_;  // distinct prewrites, cycled
  size_t next_ = 0;
  std::function<void()> finished_;
  bool committing_ = false;
  uint64_t start_ts_ = 0;
  uint64_t commit_ts_ = 0;
  double sent_at_ = 0;
};

// Writes on one WriteBinlogStream (what PumpClient::WriteBinlog does).
class StreamProducer final
    : public Producer,
      public grpc::ClientBidiReactor<pb::WriteBinlogReq, pb::WriteBinlogResp> {
 public:
  StreamProducer(pb::Pump::Stub* stub, workload::TsSequencer* ts, double deadline, uint64_t seed,
                 std::function<void()> finished)
      : Producer(ts, deadline, seed, std::move(finished)) {
    stub->async()->WriteBinlogStream(&ctx_, this);
    StartCall();
    Prewrite();
  }

  void OnWriteDone(bool) override { Joined(); }  // a failed write fails the read too
  void OnReadDone(bool ok) override {
    read_failed_ = !ok;  // then OnDone has the status
    Joined();
  }
  void OnDone(const grpc::Status& s) override { Finished(s); }

 private:
  void Send(std::string payload) override {
    req_.set_payload(std::move(payload));
    pending_.store(2, std::memory_order_relaxed);
    StartWrite(&req_);
    StartRead(&resp_);
  }
  void Stop() override { StartWritesDone(); }
  // The next message may be started only once both of this one's operations completed.
  void Joined() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (!read_failed_) Answered(resp_);
  }

  grpc::ClientContext ctx_;
  pb::WriteBinlogReq req_;
  pb::WriteBinlogResp resp_;
  std::atomic<int> pending_{0};
  bool read_failed_ = false;
};

// Writes as WriteBinlog calls, one after the other (what a TiDB session sends).
class UnaryProducer final : public Producer {
 public:
  UnaryProducer(pb::Pump::Stub* stub, workload::TsSequencer* ts, double deadline, uint64_t seed,
                std::function<void()> finished)
      : Producer(ts, deadline, seed, std::move(finished)), stub_(stub) {
    Prewrite();
  }

 private:
  void Send(std::string payload) override {
    // A call's context is replaced two calls later, never inside its own callback.
    std::unique_ptr<grpc::ClientContext>& ctx = ctx_[calls_++ % 2];
    ctx = std::make_unique<grpc::ClientContext>();
    req_.set_payload(std::move(payload));
    stub_->async()->WriteBinlog(ctx.get(), &req_, &resp_, [this](grpc::Status s) {
      if (s.ok()) return Answered(resp_);
      Finished(s);
    });
  }
  void Stop() override { Finished(grpc::Status::OK); }

  pb::Pump::Stub* stub_;
  std::unique_ptr<grpc::ClientContext> ctx_[2];
  uint64_t calls_ = 0;
  pb::WriteBinlogReq req_;
  pb::WriteBinlogResp resp_;
};

}  // namespace

LoadResult GrpcAsyncLoad(const std::string& addr, int producers, bool stream,
                         workload::TsSequencer* ts) {
  // One connection, as a producer process (a TiDB server) has to each pump.
  auto stub = pb::Pump::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  std::latch finished(producers);
  std::vector<std::unique_ptr<Producer>> all;
  double begin = NowSeconds();
  double cpu = CpuSeconds();
  for (int i = 0; i < producers; ++i) {
    double deadline = begin + LoadSeconds();
    uint64_t seed = 3000 + static_cast<uint64_t>(i);
    auto done = [&] { finished.count_down(); };
    if (stream) {
      all.push_back(std::make_unique<StreamProducer>(stub.get(), ts, deadline, seed, done));
    } else {
      all.push_back(std::make_unique<UnaryProducer>(stub.get(), ts, deadline, seed, done));
    }
  }
  finished.wait();
  LoadResult r;
  r.seconds = NowSeconds() - begin;
  r.cpu_seconds = CpuSeconds() - cpu;
  for (auto& p : all) {
    if (!p->status.ok()) {
      Check(Status::IOError("a call failed: " + p->status.error_message()), "gRPC async load");
    }
    r.items += p->items;
    r.max_ts = std::max(r.max_ts, p->max_ts);
    r.latencies_us.insert(r.latencies_us.end(), p->latencies_us.begin(), p->latencies_us.end());
  }
  std::cerr << "pump gRPC " << (stream ? "streams" : "WriteBinlog calls")
            << " (callback API): " << producers << " producers, " << r.items << " items in "
            << r.seconds << " s, " << r.latencies_us.size() << " calls, " << r.cpu_seconds
            << " s CPU ("
            << r.cpu_seconds * 1e6 / static_cast<double>(std::max<uint64_t>(r.items, 1))
            << " us per item)\n";
  return r;
}

}  // namespace binlog::bench
