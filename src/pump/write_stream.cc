// WriteBinlogStream: one producer's writes, one at a time, on a long-lived stream.
//
// gRPC may run a reactor's callbacks inline, inside the StartRead/StartWrite/Finish that caused
// them, on whatever thread called it (Stop's, the pump's completer): so no lock of ours is held
// across those calls, and `this` is not touched after Finish.
#include "pump/write_stream.h"

#include "pump/service.h"

namespace binlog::pump {

namespace {

const grpc::Status kStopping(grpc::StatusCode::UNAVAILABLE, "pump is stopping");

}  // namespace

WriteStream::WriteStream(PumpService* service) : service_(service) {
  bool stopping = false;
  {
    std::lock_guard<std::mutex> g(service_->mu_);
    std::lock_guard<std::mutex> self(mu_);
    stopping = service_->stopping_;
    if (!stopping) service_->write_streams_.insert(this);
    reading_ = !stopping;
    ended_ = stopping;
  }
  // Once registered, Stop may claim the stream's end before this read is started; gRPC
  // queues both until the reactor is bound, then starts the read before the finish.
  if (stopping) {
    Finish(kStopping);
  } else {
    StartRead(&req_);
  }
}

bool WriteStream::ClaimIdleEnd() {
  std::lock_guard<std::mutex> g(mu_);
  if (!reading_ || ended_) return false;
  ended_ = true;
  return true;
}

// The pending read then completes (not ok) and OnReadDone does nothing more. Nobody else
// finishes a claimed stream, so it lives until this call.
void WriteStream::EndClaimed() { Finish(kStopping); }

void WriteStream::OnReadDone(bool ok) {
  {
    std::lock_guard<std::mutex> g(mu_);
    reading_ = false;
    if (ended_) return;  // Stop finished the stream while it waited
    if (!ok) ended_ = true;
  }
  if (!ok) {  // the producer closed its side (or went away): nothing is under way
    Finish(grpc::Status::OK);
    return;
  }
  resp_.Clear();
  BinlogHead head;
  if (Status s = ParseBinlogPayload(req_.payload(), service_->pump_->max_binlog_bytes(), &head,
                                    req_.part());
      !s.ok()) {
    Answer(s);
    return;
  }
  std::vector<std::string> payloads;
  payloads.push_back(std::move(*req_.mutable_payload()));
  service_->pump_->WriteAsync({head}, std::move(payloads), [this](Status s) { Answer(s); });
}

void WriteStream::Answer(const Status& s) {
  service_->Answer(s, &resp_);
  StartWrite(&resp_);
}

void WriteStream::OnWriteDone(bool ok) {
  bool next = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    next = ok && !service_->stopping_;
    reading_ = next;
    ended_ = !next;
  }
  // This callback keeps the stream alive until it returns, even if Stop finishes it meanwhile.
  if (next) {
    StartRead(&req_);
  } else if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the producer went away"));
  } else {
    Finish(kStopping);
  }
}

void WriteStream::OnDone() {
  {
    std::lock_guard<std::mutex> g(service_->mu_);
    service_->write_streams_.erase(this);
  }
  delete this;
}

}  // namespace binlog::pump
