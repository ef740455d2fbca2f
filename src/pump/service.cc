// The gRPC service: producer writes answered once durable, and the PullBinlogs tail.
#include "pump/service.h"

#include <fmt/format.h>

#include <chrono>
#include <vector>

#include "common/logging.h"

namespace binlog::pump {

namespace {

// How long one tail wait lasts before the loop looks at cancellation again: the stream costs
// nothing while it waits (inotify), and a cancelled client is noticed within this.
constexpr auto kTailWait = std::chrono::milliseconds(500);

}  // namespace

std::string WriteErrorCode(const Status& s, bool online) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "";
    case StatusCode::kInvalidArgument:
      return "invalid";
    case StatusCode::kNoSpace:
      return "no-space";
    case StatusCode::kAborted:
      return online ? "io" : "not-online";
    default:
      return "io";
  }
}

PumpService::PumpService(Pump* pump, std::function<std::string()> refusal)
    : pump_(pump), refusal_(std::move(refusal)) {}

void PumpService::Answer(const Status& s, pb::WriteBinlogResp* resp) {
  if (s.ok()) return;
  resp->set_errmsg(s.ToString());
  resp->set_errcode(WriteErrorCode(s, refusal_().empty()));
}

grpc::Status PumpService::WriteBinlog(grpc::ServerContext*, const pb::WriteBinlogReq* req,
                                      pb::WriteBinlogResp* resp) {
  Answer(pump_->WritePayload(req->payload()), resp);
  return grpc::Status::OK;
}

grpc::Status PumpService::WriteBinlogs(grpc::ServerContext*, const pb::WriteBinlogsReq* req,
                                       pb::WriteBinlogResp* resp) {
  std::vector<pb::Binlog> binlogs(static_cast<size_t>(req->payloads_size()));
  for (int i = 0; i < req->payloads_size(); ++i) {
    const std::string& p = req->payloads(i);
    // The same checks as WritePayload, with the index, before anything is stored.
    if (!binlogs[static_cast<size_t>(i)].ParseFromString(p)) {
      Answer(Status::InvalidArgument(fmt::format(
                 "payload {} of {} bytes is not a serialized binlog; nothing was stored", i,
                 p.size())),
             resp);
      return grpc::Status::OK;
    }
  }
  Answer(pump_->WriteBinlogs(binlogs), resp);
  return grpc::Status::OK;
}

grpc::Status PumpService::PullBinlogs(grpc::ServerContext* ctx, const pb::PullBinlogReq* req,
                                      grpc::ServerWriter<pb::PullBinlogResp>* writer) {
  int64_t from = req->start_from().offset();
  if (from < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        fmt::format("start_from.offset {} is not a commit ts", from));
  }
  auto opened = pump_->PullBinlogs(static_cast<uint64_t>(from), /*follow=*/true);
  if (!opened.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, opened.status().ToString());
  }
  std::unique_ptr<journal::JournalReader> reader = std::move(opened).value();
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "pump is stopping");
    readers_.insert(reader.get());
  }
  // Unregistered before the reader is destroyed, so Stop never wakes a dead one.
  struct Unregister {
    PumpService* self;
    journal::JournalReader* r;
    ~Unregister() {
      std::lock_guard<std::mutex> g(self->mu_);
      self->readers_.erase(r);
    }
  } unregister{this, reader.get()};

  LOG_INFO("PullBinlogs stream opened", KV("peer", ctx->peer()), KV("from-ts", from));
  pb::PullBinlogResp resp;
  journal::Record r;
  uint64_t sent = 0;
  while (!stopping_ && !ctx->IsCancelled()) {
    Result<bool> more = reader->Next(&r, kTailWait);
    if (!more.ok()) {
      LOG_ERROR("PullBinlogs cannot read binlog/", KV("peer", ctx->peer()),
                KV("error", more.status()));
      return grpc::Status(
          more.status().IsCorruption() ? grpc::StatusCode::DATA_LOSS : grpc::StatusCode::INTERNAL,
          more.status().ToString());
    }
    if (!*more) continue;
    pb::Entity* e = resp.mutable_entity();
    e->mutable_pos()->set_offset(static_cast<int64_t>(r.ts));
    e->set_payload(r.payload.data(), r.payload.size());
    if (!writer->Write(resp)) break;  // the client went away
    ++sent;
  }
  LOG_INFO("PullBinlogs stream closed", KV("peer", ctx->peer()), KV("sent", sent),
           KV("cancelled", ctx->IsCancelled()));
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "pump is stopping");
  return grpc::Status::OK;
}

void PumpService::Stop() {
  std::lock_guard<std::mutex> g(mu_);
  stopping_ = true;
  for (journal::JournalReader* r : readers_) r->Wake();
}

}  // namespace binlog::pump
