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

// One producer. gRPC runs its callbacks one at a time per stream, so its fields need no lock
// beyond the count that joins a message's write and read completions.
class StreamProducer final
    : public grpc::ClientBidiReactor<pb::WriteBinlogReq, pb::WriteBinlogResp> {
 public:
  StreamProducer(pb::Pump::Stub* stub, workload::TsSequencer* ts, double deadline, uint64_t seed,
                 std::function<void()> finished)
      : ts_(ts), deadline_(deadline), pool_(MakePrewrites(4, seed)), finished_(std::move(finished)) {
    latencies_us.reserve(1 << 14);
    stub->async()->WriteBinlogStream(&ctx_, this);
    StartCall();
    Prewrite();
  }

  uint64_t items = 0;
  uint64_t max_ts = 0;
  std::vector<double> latencies_us;
  grpc::Status status;  // how the stream ended

  void OnWriteDone(bool) override { Joined(); }  // a failed write fails the read too
  void OnReadDone(bool ok) override {
    if (!ok) {
      read_failed_ = true;  // OnDone has the status
    } else {
      latencies_us.push_back((NowSeconds() - sent_at_) * 1e6);
    }
    Joined();
  }
  void OnDone(const grpc::Status& s) override {
    status = s;
    finished_();
  }

 private:
  void Send(const pb::Binlog& b) {
    req_.set_payload(b.SerializeAsString());
    pending_.store(2, std::memory_order_relaxed);
    sent_at_ = NowSeconds();
    StartWrite(&req_);
    StartRead(&resp_);
  }
  void Prewrite() {
    pb::Binlog& pre = pool_[next_++ % pool_.size()];
    start_ts_ = ts_->Next();
    pre.set_start_ts(static_cast<int64_t>(start_ts_));
    committing_ = false;
    Send(pre);
  }
  void Commit() {
    pb::Binlog c;
    c.set_tp(pb::COMMIT);
    c.set_start_ts(static_cast<int64_t>(start_ts_));
    commit_ts_ = ts_->Next();
    c.set_commit_ts(static_cast<int64_t>(commit_ts_));
    committing_ = true;
    Send(c);
  }
  // The next message may be started only once both of this one's operations completed.
  void Joined() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (read_failed_) return;  // the stream is over; OnDone follows
    if (!resp_.errmsg().empty()) {
      std::cerr << "gRPC stream producer: the pump refused a write: " << resp_.errmsg() << "\n";
      std::exit(1);
    }
    if (!committing_) return Commit();
    ++items;
    max_ts = commit_ts_;
    if (NowSeconds() < deadline_) return Prewrite();
    StartWritesDone();
  }

  grpc::ClientContext ctx_;
  workload::TsSequencer* ts_;
  double deadline_;
  std::vector<pb::Binlog> pool_;  // distinct prewrites, cycled
  size_t next_ = 0;
  std::function<void()> finished_;
  pb::WriteBinlogReq req_;
  pb::WriteBinlogResp resp_;
  std::atomic<int> pending_{0};
  bool read_failed_ = false;
  bool committing_ = false;
  uint64_t start_ts_ = 0;
  uint64_t commit_ts_ = 0;
  double sent_at_ = 0;
};

}  // namespace

LoadResult GrpcStreamLoad(const std::string& addr, int producers, workload::TsSequencer* ts) {
  // One connection, as a producer process (a TiDB server) has to each pump.
  auto stub = pb::Pump::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  std::latch finished(producers);
  std::vector<std::unique_ptr<StreamProducer>> all;
  double begin = NowSeconds();
  double cpu = CpuSeconds();
  for (int i = 0; i < producers; ++i) {
    all.push_back(std::make_unique<StreamProducer>(
        stub.get(), ts, begin + LoadSeconds(), 3000 + static_cast<uint64_t>(i),
        [&] { finished.count_down(); }));
  }
  finished.wait();
  LoadResult r;
  r.seconds = NowSeconds() - begin;
  r.cpu_seconds = CpuSeconds() - cpu;
  for (auto& p : all) {
    if (!p->status.ok()) {
      Check(Status::IOError("stream ended: " + p->status.error_message()), "gRPC stream load");
    }
    r.items += p->items;
    r.max_ts = std::max(r.max_ts, p->max_ts);
    r.latencies_us.insert(r.latencies_us.end(), p->latencies_us.begin(), p->latencies_us.end());
  }
  std::cerr << "pump gRPC streams (callback API): " << producers << " producers, " << r.items
            << " items in " << r.seconds << " s, " << r.latencies_us.size() << " calls, "
            << r.cpu_seconds << " s CPU ("
            << r.cpu_seconds * 1e6 / static_cast<double>(std::max<uint64_t>(r.items, 1))
            << " us per item)\n";
  return r;
}

}  // namespace binlog::bench
