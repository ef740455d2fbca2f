#include "pump_client/pump_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <mutex>

#include "pump.grpc.pb.h"

namespace binlog::pump {

namespace {

Status FromReply(const std::string& addr, const grpc::Status& rpc, const pb::WriteBinlogResp& r) {
  if (!rpc.ok()) {
    return Status::IOError(fmt::format("pump {}: {} (gRPC code {})", addr, rpc.error_message(),
                                       static_cast<int>(rpc.error_code())));
  }
  if (r.errmsg().empty()) return Status::OK();
  std::string msg = fmt::format("pump {}: {}", addr, r.errmsg());
  if (r.errcode() == "invalid") return Status::InvalidArgument(msg);
  if (r.errcode() == "no-space") return Status::NoSpace(msg);
  if (r.errcode() == "not-online") return Status::Aborted(msg);
  return Status::IOError(msg);
}

class GrpcPullStream : public PullStream {
 public:
  GrpcPullStream(std::string addr, std::unique_ptr<grpc::ClientContext> context,
                 std::unique_ptr<grpc::ClientReader<pb::PullBinlogResp>> reader)
      : addr_(std::move(addr)), context_(std::move(context)), reader_(std::move(reader)) {}
  ~GrpcPullStream() override {
    Cancel();
    reader_->Finish().ok();  // the stream's outcome no longer matters
  }

  Result<bool> Next(pb::Binlog* out) override {
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
      : addr_(std::move(addr)), options_(options), stub_(pb::Pump::NewStub(channel)) {}

  Status WriteBinlog(const pb::Binlog& binlog) override {
    pb::WriteBinlogReq req;
    req.set_payload(binlog.SerializeAsString());
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    return FromReply(addr_, stub_->WriteBinlog(&ctx, req, &resp), resp);
  }

  Status WriteBinlogs(std::span<const pb::Binlog> binlogs) override {
    pb::WriteBinlogsReq req;
    for (const pb::Binlog& b : binlogs) req.add_payloads(b.SerializeAsString());
    pb::WriteBinlogResp resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    return FromReply(addr_, stub_->WriteBinlogs(&ctx, req, &resp), resp);
  }

  Status Probe() override { return WriteBinlog(pb::Binlog()); }

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
  std::string addr_;
  ClientOptions options_;
  std::unique_ptr<pb::Pump::Stub> stub_;
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
