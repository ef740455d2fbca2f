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
    pending_ = 2;
  }
  req_ = req;
  resp_.Clear();
  StartWrite(&req_);
  StartRead(&resp_);
  bool in_time;
  {
    std::unique_lock<std::mutex> lock(mu_);
    in_time = cv_.wait_for(lock, timeout, [&] { return pending_ == 0; });
  }
  if (!in_time) {
    ctx_.TryCancel();  // both operations then complete, not ok
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return pending_ == 0; });
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

void StreamWriter::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> g(mu_);
  write_ok_ = ok;
  if (--pending_ == 0) cv_.notify_one();
}

void StreamWriter::OnReadDone(bool ok) {
  std::lock_guard<std::mutex> g(mu_);
  read_ok_ = ok;
  if (--pending_ == 0) cv_.notify_one();
}

void StreamWriter::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> g(mu_);
  status_ = status;
  done_ = true;
  cv_.notify_all();
}

}  // namespace binlog::pump
