// The gRPC service: producer writes answered once durable, and the PullBinlogs tail.
#include "pump/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/logging.h"
#include "pump/write_stream.h"

namespace binlog::pump {

namespace {

// How long one tail wait lasts before the loop looks at cancellation again: the stream costs
// nothing while it waits (inotify), and a cancelled client is noticed within this.
constexpr auto kTailWait = std::chrono::milliseconds(500);
// Bounds of one batched PullBinlogs response (the client asks for at most so many entities).
constexpr uint32_t kMaxPullBatch = 4096;
constexpr size_t kPullBatchBytes = 1 << 20;

}  // namespace

std::string WriteErrorCode(const Status& s, bool online) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "";
    case StatusCode::kInvalidArgument:
      return "invalid";
    case StatusCode::kNoSpace:
      return "no-space";
    case StatusCode::kOutOfRange:
      return "ts-behind";
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

void PumpService::Submit(std::vector<BinlogHead> heads, std::vector<std::string> payloads,
                         grpc::ServerUnaryReactor* reactor, pb::WriteBinlogResp* resp) {
  pump_->WriteAsync(std::move(heads), std::move(payloads), [this, reactor, resp](Status s) {
    Answer(s, resp);
    reactor->Finish(grpc::Status::OK);
  });
}

grpc::ServerUnaryReactor* PumpService::WriteBinlog(grpc::CallbackServerContext* ctx,
                                                   const pb::WriteBinlogReq* req,
                                                   pb::WriteBinlogResp* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  BinlogHead head;
  if (Status s = ParseBinlogPayload(req->payload(), pump_->max_binlog_bytes(), &head, req->part());
      !s.ok()) {
    Answer(s, resp);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  Submit({head}, {req->payload()}, reactor, resp);
  return reactor;
}

grpc::ServerUnaryReactor* PumpService::WriteBinlogs(grpc::CallbackServerContext* ctx,
                                                    const pb::WriteBinlogsReq* req,
                                                    pb::WriteBinlogResp* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::vector<BinlogHead> heads(static_cast<size_t>(req->payloads_size()));
  std::vector<std::string> payloads(heads.size());
  if (req->parts_size() != 0 && req->parts_size() != req->payloads_size()) {
    Answer(Status::InvalidArgument(fmt::format("{} part tags for {} payloads; nothing was stored",
                                               req->parts_size(), req->payloads_size())),
           resp);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  for (size_t i = 0; i < heads.size(); ++i) {
    const std::string& p = req->payloads(static_cast<int>(i));
    const uint32_t part = req->parts_size() == 0 ? 0 : req->parts(static_cast<int>(i));
    // The same checks as WriteBinlog, with the index, before anything is stored.
    if (Status s = ParseBinlogPayload(p, pump_->max_binlog_bytes(), &heads[i], part); !s.ok()) {
      Answer(Status::InvalidArgument(
                 fmt::format("payload {} of the batch: {}; nothing was stored", i, s.message())),
             resp);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    payloads[i] = p;
  }
  Submit(std::move(heads), std::move(payloads), reactor, resp);
  return reactor;
}

grpc::Status PumpService::GetSourceState(grpc::ServerContext*, const pb::SourceStateReq* req,
                                         pb::SourceStateResp* resp) {
  SourceState st = pump_->GetSourceState(req->server_id());
  resp->set_max_ts(st.max_ts);
  if (st.held) {
    resp->set_found(true);
    resp->set_commit_ts(st.held->commit_ts);
    *resp->mutable_source() = st.held->source;
  }
  resp->set_open_commit_ts(st.open_commit_ts);
  resp->set_open_parts(st.open_parts);
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

  uint32_t max_batch = std::min(req->max_batch(), kMaxPullBatch);
  LOG_INFO("PullBinlogs stream opened", KV("peer", ctx->peer()), KV("from-ts", from),
           KV("max-batch", max_batch));
  pb::PullBinlogResp resp;
  journal::Record r;
  uint64_t sent = 0;
  while (!stopping_ && !ctx->IsCancelled()) {
    // The first binlog may be waited for; the rest of a batch is only what is already there.
    Result<bool> more = reader->Next(&r, kTailWait);
    size_t bytes = 0;
    resp.clear_entities();
    while (more.ok() && *more) {
      pb::Entity* e = max_batch <= 1 ? resp.mutable_entity() : resp.add_entities();
      e->mutable_pos()->set_offset(static_cast<int64_t>(r.ts));
      e->set_payload(r.payload.data(), r.payload.size());
      e->set_part(r.part);
      bytes += r.payload.size();
      if (max_batch <= 1 || static_cast<uint32_t>(resp.entities_size()) >= max_batch ||
          bytes >= kPullBatchBytes) {
        break;
      }
      more = reader->Next(&r);
    }
    if (!more.ok()) {
      LOG_ERROR("PullBinlogs cannot read binlog/", KV("peer", ctx->peer()),
                KV("error", more.status()));
      return grpc::Status(
          more.status().IsCorruption() ? grpc::StatusCode::DATA_LOSS : grpc::StatusCode::INTERNAL,
          more.status().ToString());
    }
    size_t n = max_batch <= 1 ? (resp.has_entity() ? 1 : 0) : resp.entities_size();
    if (n == 0) continue;
    if (!writer->Write(resp)) break;  // the client went away
    resp.clear_entity();
    sent += n;
  }
  LOG_INFO("PullBinlogs stream closed", KV("peer", ctx->peer()), KV("sent", sent),
           KV("cancelled", ctx->IsCancelled()));
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "pump is stopping");
  return grpc::Status::OK;
}

void PumpService::Stop() {
  std::vector<WriteStream*> idle;
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
    for (journal::JournalReader* r : readers_) r->Wake();
    for (WriteStream* w : write_streams_) {
      if (w->ClaimIdleEnd()) idle.push_back(w);
    }
  }
  for (WriteStream* w : idle) w->EndClaimed();
}

size_t PumpService::OpenWriteStreams() {
  std::lock_guard<std::mutex> g(mu_);
  return write_streams_.size();
}

grpc::ServerBidiReactor<pb::WriteBinlogReq, pb::WriteBinlogResp>* PumpService::WriteBinlogStream(
    grpc::CallbackServerContext*) {
  return new WriteStream(this);
}

}  // namespace binlog::pump
