#include "pump_client/write_stream.h"

namespace binlog::pump {

StreamWriter::StreamWriter(pb::Pump::Stub* stub) {
  stub->async()->WriteBinlogStream(&ctx_, this);
  // Between requests no operation is outstanding; without a hold gRPC could end the call then.
  AddHold();
  StartCall();
}

StreamWriter::~StreamWriter() {
  ctx_.TryCancel();
  AwaitEnd();
}

StreamWriter::Result StreamWriter::Send(const pb::WriteBinlogReq& req,
                                        std::chrono::milliseconds timeout) {
  Result r;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (over_) {
      r.outcome = Outcome::kNotSent;
      r.status = status_;
      return r;
    }
  }
  pending_.store(2, std::memory_order_relaxed);
  req_ = req;
  resp_.Clear();
  StartWrite(&req_);
  StartRead(&resp_);
  bool in_time = answered_.WaitFor(timeout);
  if (!in_time) {
    ctx_.TryCancel();  // both operations then complete, not ok
    answered_.Wait();
  }
  if (in_time && write_ok_ && read_ok_) {
    r.outcome = Outcome::kAnswered;
    r.resp = resp_;
    return r;
  }
  r.outcome = write_ok_ ? Outcome::kFailed : Outcome::kNotSent;
  r.status = AwaitEnd();
  if (!in_time) {
    r.outcome = Outcome::kFailed;
    r.status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "no answer in " + std::to_string(timeout.count()) + " ms");
  } else if (r.status.ok()) {
    r.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the pump ended the stream");
  }
  return r;
}

grpc::Status StreamWriter::AwaitEnd() {
  std::unique_lock<std::mutex> lock(mu_);
  over_ = true;
  if (held_) {
    held_ = false;
    lock.unlock();
    RemoveHold();  // may run OnDone inline
    lock.lock();
  }
  cv_.wait(lock, [&] { return done_; });
  return status_;
}

// The stream outlives these calls: destroying it waits for OnDone, which gRPC runs after every
// other reaction has returned.
void StreamWriter::OnWriteDone(bool ok) {
  write_ok_ = ok;
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) answered_.Post();
}

void StreamWriter::OnReadDone(bool ok) {
  read_ok_ = ok;
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) answered_.Post();
}

void StreamWriter::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> g(mu_);
  status_ = status;
  done_ = true;
  cv_.notify_all();
}

}  // namespace binlog::pump
