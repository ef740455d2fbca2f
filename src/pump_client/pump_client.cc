#include "pump_client/pump_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

#include "common/semaphore.h"
#include "pump.grpc.pb.h"
#include "pump_client/async_writer.h"
#include "pump_client/reply.h"
#include "pump_client/write_stream.h"

namespace binlog::pump {

Status FromWriteReply(const std::string& addr, const grpc::Status& rpc,
                      const pb::WriteBinlogResp& r) {
  if (!rpc.ok()) {
    return Status::IOError(fmt::format("pump {}: {} (gRPC code {})", addr, rpc.error_message(),
                                       static_cast<int>(rpc.error_code())));
  }
  if (r.errmsg().empty()) return Status::OK();
  std::string msg = fmt::format("pump {}: {}", addr, r.errmsg());
  if (r.errcode() == "invalid") return Status::InvalidArgument(msg);
  if (r.errcode() == "no-space") return Status::NoSpace(msg);
  if (r.errcode() == "not-online") return Status::Aborted(msg);
  if (r.errcode() == "ts-behind") return Status::OutOfRange(msg);
  return Status::IOError(msg);
}

namespace {

class GrpcPullStream : public PullStream {
 public:
  GrpcPullStream(std::string addr, std::unique_ptr<grpc::ClientContext> context,
                 std::unique_ptr<grpc::ClientReader<pb::PullBinlogResp>> reader)
      : addr_(std::move(addr)), context_(std::move(context)), reader_(std::move(reader)) {}
  ~GrpcPullStream() override {
    if (finished_) return;  // Next already collected the status (a second Finish aborts)
    Cancel();
    reader_->Finish().ok();  // the stream's outcome no longer matters
  }

  using PullStream::Next;
  Result<bool> Next(pb::Binlog* out, uint32_t* part) override {
    if (finished_) return false;  // reading a finished call again is gRPC API misuse
    if (next_ >= resp_.entities_size() && !resp_.has_entity()) {
      resp_.Clear();
      next_ = 0;
      if (!reader_->Read(&resp_)) {
        grpc::Status s = reader_->Finish();
        finished_ = true;
        if (s.ok() || s.error_code() == grpc::StatusCode::CANCELLED) return false;
        return Status::IOError(fmt::format("pulling from pump {}: {}", addr_, s.error_message()));
      }
    }
    // A pump that does not batch answers in `entity` alone.
    const pb::Entity& e = resp_.has_entity() ? resp_.entity() : resp_.entities(next_++);
    if (!out->ParseFromString(e.payload())) {
      return Status::Corruption(fmt::format("pump {} sent a record at ts {} that is not a binlog",
                                            addr_, e.pos().offset()));
    }
    *part = e.part();
    if (resp_.has_entity()) resp_.clear_entity();
    return true;
  }

  void Cancel() override { context_->TryCancel(); }

 private:
  std::string addr_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<pb::PullBinlogResp>> reader_;
  pb::PullBinlogResp resp_;  // the response being handed out
  int next_ = 0;             // its next entity
  bool finished_ = false;
};

class GrpcPumpClient : public PumpClient {
 public:
  GrpcPumpClient(std::string addr, const ClientOptions& options,
                 std::shared_ptr<grpc::Channel> channel)
      : addr_(std::move(addr)),
        options_(options),
        stub_(pb::Pump::NewStub(channel)),
        async_(stub_.get(), addr_, options_.timeout, options_.max_in_flight,
               options_.coalesce_writes) {}

  Status WriteBinlog(const pb::Binlog& binlog, uint32_t part) override {
    if (!options_.coalesce_writes) return SendOne(binlog.SerializeAsString(), part);
    return Coalesce(binlog.SerializeAsString(), part);
  }

  void WriteBinlogAsync(const pb::Binlog& binlog, WriteDone done) override {
    async_.Write(binlog.SerializeAsString(), std::move(done));
  }

  Status WriteBinlogs(std::span<const pb::Binlog> binlogs) override {
    pb::WriteBinlogsReq req;
    for (const pb::Binlog& b : binlogs) req.add_payloads(b.SerializeAsString());
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    return FromWriteReply(addr_, stub_->WriteBinlogs(&ctx, req, &resp), resp);
  }

  Status WritePayloads(std::vector<std::string> payloads, std::vector<uint32_t> parts) override {
    pb::WriteBinlogsReq req;
    for (std::string& p : payloads) req.add_payloads(std::move(p));
    if (std::any_of(parts.begin(), parts.end(), [](uint32_t p) { return p != 0; })) {
      for (uint32_t p : parts) req.add_parts(p);
    }
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    return FromWriteReply(addr_, stub_->WriteBinlogs(&ctx, req, &resp), resp);
  }

  Result<PumpSourceState> GetSourceState(uint32_t server_id) override {
    pb::SourceStateReq req;
    req.set_server_id(server_id);
    pb::SourceStateResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    grpc::Status rpc = stub_->GetSourceState(&ctx, req, &resp);
    if (!rpc.ok()) {
      return Status::IOError(fmt::format("pump {}: {} (gRPC code {})", addr_, rpc.error_message(),
                                         static_cast<int>(rpc.error_code())));
    }
    if (!resp.errmsg().empty())
      return Status::IOError(fmt::format("pump {}: {}", addr_, resp.errmsg()));
    PumpSourceState st;
    st.max_ts = resp.max_ts();
    st.found = resp.found();
    st.commit_ts = resp.commit_ts();
    st.source = resp.source();
    st.open_commit_ts = resp.open_commit_ts();
    st.open_parts = resp.open_parts();
    return st;
  }

  Status Probe() override { return WriteBinlog(pb::Binlog(), 0); }

  Result<std::unique_ptr<PullStream>> Pull(uint64_t from_ts) override {
    pb::PullBinlogReq req;
    req.mutable_start_from()->set_offset(static_cast<int64_t>(from_ts));
    req.set_max_batch(options_.pull_batch);
    auto ctx = std::make_unique<grpc::ClientContext>();
    auto reader = stub_->PullBinlogs(ctx.get(), req);
    return std::unique_ptr<PullStream>(
        new GrpcPullStream(addr_, std::move(ctx), std::move(reader)));
  }

  const std::string& addr() const override { return addr_; }

 private:
  // A WriteBinlog waiting to be sent, alone or with others. Each has its own semaphore, so that
  // a leader answering its batch wakes each caller without making them all wait for one lock.
  struct Pending {
    enum class Turn { kAnswered, kLead };
    std::string payload;
    uint32_t part = 0;
    Status status;
    Turn turn = Turn::kAnswered;
    std::vector<Pending*> batch;  // with kLead: the batch its caller sends
    Semaphore signalled;

    void Signal(Turn t, std::vector<Pending*> lead = {}) {
      turn = t;
      batch = std::move(lead);
      signalled.Post();
    }
    Turn Wait() {
      signalled.Wait();
      return turn;
    }
  };

  // One binlog on a WriteBinlogStream, or as a WriteBinlog call when the pump has no such
  // method (TiDB-Binlog's).
  Status SendOne(std::string payload, uint32_t part) {
    if (unary_only_.load(std::memory_order_relaxed)) return SendUnary(std::move(payload), part);
    pb::WriteBinlogReq req;
    req.set_payload(std::move(payload));
    req.set_part(part);
    std::unique_ptr<StreamWriter> stream = TakeStream();
    bool reused = stream != nullptr;
    if (!reused) stream = std::make_unique<StreamWriter>(stub_.get());
    StreamWriter::Result r = stream->Send(req, options_.timeout);
    if (r.outcome == StreamWriter::Outcome::kNotSent && reused) {
      // A kept stream the pump ended while it waited (a restart, a stop): this request never
      // reached the pump, so it goes out on a new stream.
      stream = std::make_unique<StreamWriter>(stub_.get());
      r = stream->Send(req, options_.timeout);
    }
    if (r.outcome == StreamWriter::Outcome::kAnswered) {
      GiveBack(std::move(stream));
      return FromWriteReply(addr_, grpc::Status::OK, r.resp);
    }
    if (r.status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      unary_only_.store(true, std::memory_order_relaxed);
      return SendUnary(std::move(*req.mutable_payload()), part);
    }
    return FromWriteReply(addr_, r.status, r.resp);
  }

  Status SendUnary(std::string payload, uint32_t part) {
    pb::WriteBinlogReq req;
    req.set_payload(std::move(payload));
    req.set_part(part);
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    return FromWriteReply(addr_, stub_->WriteBinlog(&ctx, req, &resp), resp);
  }

  // The most recently used idle stream, or null. The client keeps one per caller that wrote at
  // the same moment.
  std::unique_ptr<StreamWriter> TakeStream() {
    std::lock_guard<std::mutex> g(streams_mu_);
    if (idle_streams_.empty()) return nullptr;
    std::unique_ptr<StreamWriter> s = std::move(idle_streams_.back());
    idle_streams_.pop_back();
    return s;
  }

  void GiveBack(std::unique_ptr<StreamWriter> s) {
    std::lock_guard<std::mutex> g(streams_mu_);
    idle_streams_.push_back(std::move(s));
  }

  // Group commit on the client, as the pump does on its disk: threads that write while
  // max_in_flight calls are out queue up, and the next call takes all that queued, sent by one of
  // them, so that many producers in one process (a database server's sessions) pay gRPC's
  // per-call cost once per batch. The pump refuses a batch whole, nothing stored, so when it
  // refuses one, each binlog is sent again alone to get its own answer.
  Status Coalesce(std::string payload, uint32_t part) {
    Pending self;
    self.payload = std::move(payload);
    self.part = part;
    std::vector<Pending*> mine;
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.push_back(&self);
      // Only the last batch can hold this caller, the last in the queue; it sends that batch
      // itself rather than wake whoever is at its front.
      for (std::vector<Pending*>& b : TakeBatchesLocked()) {
        if (b.back() == &self) {
          mine = std::move(b);
        } else {
          b.front()->Signal(Pending::Turn::kLead, std::move(b));
        }
      }
    }
    if (mine.empty()) {
      if (self.Wait() == Pending::Turn::kAnswered) return self.status;
      mine = std::move(self.batch);
    }
    SendBatch(mine);
    std::vector<std::vector<Pending*>> next;
    {
      std::lock_guard<std::mutex> g(mu_);
      --in_flight_;
      next = TakeBatchesLocked();
    }
    for (std::vector<Pending*>& b : next) b.front()->Signal(Pending::Turn::kLead, std::move(b));
    for (Pending* p : mine) {
      if (p != &self) p->Signal(Pending::Turn::kAnswered);
    }
    return self.status;
  }

  // Under mu_: the batches that may go out now, oldest first, each counted in flight.
  std::vector<std::vector<Pending*>> TakeBatchesLocked() {
    std::vector<std::vector<Pending*>> batches;
    while (!queue_.empty() && in_flight_ < options_.max_in_flight) {
      batches.push_back(TakeCoalesced(&queue_, [](Pending* p) { return p->payload.size(); }));
      ++in_flight_;
    }
    return batches;
  }

  void SendBatch(const std::vector<Pending*>& batch) {
    if (batch.size() == 1) {
      batch[0]->status = SendOne(std::move(batch[0]->payload), batch[0]->part);
      return;
    }
    pb::WriteBinlogsReq req;
    bool parts = false;
    for (Pending* p : batch) {
      req.add_payloads(p->payload);
      parts |= p->part != 0;
    }
    if (parts) {
      for (Pending* p : batch) req.add_parts(p->part);
    }
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    grpc::Status rpc = stub_->WriteBinlogs(&ctx, req, &resp);
    if (!rpc.ok() || resp.errmsg().empty()) {
      Status s = FromWriteReply(addr_, rpc, resp);  // all or nothing reached the pump the same way
      for (Pending* p : batch) p->status = s;
      return;
    }
    for (Pending* p : batch) p->status = SendOne(std::move(p->payload), p->part);
  }

  std::string addr_;
  ClientOptions options_;
  std::unique_ptr<pb::Pump::Stub> stub_;
  std::atomic<bool> unary_only_{false};
  std::mutex streams_mu_;
  std::vector<std::unique_ptr<StreamWriter>> idle_streams_;
  std::mutex mu_;
  std::deque<Pending*> queue_;  // WriteBinlog calls not yet sent
  int in_flight_ = 0;           // coalesced calls out
  AsyncWriter async_;  // last: it waits for its calls, which use the stub, before the rest goes
};

}  // namespace

Result<std::unique_ptr<PumpClient>> PumpClient::Connect(const std::string& addr,
                                                        const ClientOptions& options) {
  if (addr.empty() || addr.find(':') == std::string::npos) {
    return Status::InvalidArgument(fmt::format("pump address \"{}\" is not host:port", addr));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  auto channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<PumpClient>(new GrpcPumpClient(addr, options, channel));
}

}  // namespace binlog::pump
