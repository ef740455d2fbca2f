#include "pump_client/async_writer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "pump_client/reply.h"

namespace binlog::pump {

struct AsyncWriter::BatchCall {
  grpc::ClientContext ctx;
  pb::WriteBinlogsReq req;
  pb::WriteBinlogResp resp;
  std::vector<Done> done;  // one per payload of req
};

struct AsyncWriter::LoneCall {
  grpc::ClientContext ctx;
  pb::WriteBinlogReq req;
  pb::WriteBinlogResp resp;
  Done done;
};

AsyncWriter::AsyncWriter(pb::Pump::Stub* stub, std::string addr, std::chrono::milliseconds timeout,
                         int max_in_flight, bool coalesce)
    : stub_(stub),
      addr_(std::move(addr)),
      timeout_(timeout),
      max_in_flight_(std::max(max_in_flight, 1)),
      coalesce_(coalesce) {}

AsyncWriter::~AsyncWriter() {
  std::unique_lock<std::mutex> lock(mu_);
  ended_cv_.wait(lock, [&] { return calls_ == 0; });
}

void AsyncWriter::Write(std::string payload, Done done) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!coalesce_ || batches_missing_) {
    ++calls_;
    lock.unlock();
    SendAlone(Item{std::move(payload), std::move(done)});
    return;
  }
  queue_.push_back(Item{std::move(payload), std::move(done)});
  if (batches_ >= max_in_flight_) return;  // goes with the next batch, when one ends
  std::vector<Item> batch = TakeBatch();
  lock.unlock();
  SendBatch(std::move(batch));
}

std::vector<AsyncWriter::Item> AsyncWriter::TakeBatch() {
  std::vector<Item> batch =
      TakeCoalesced(&queue_, [](const Item& item) { return item.payload.size(); });
  ++batches_;
  ++calls_;
  return batch;
}

void AsyncWriter::SendBatch(std::vector<Item> batch) {
  auto* call = new BatchCall;
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  call->done.reserve(batch.size());
  for (Item& item : batch) {
    call->req.add_payloads(std::move(item.payload));
    call->done.push_back(std::move(item.done));
  }
  stub_->async()->WriteBinlogs(&call->ctx, &call->req, &call->resp,
                               [this, call](grpc::Status rpc) { BatchEnded(call, rpc); });
}

// The next batch goes out before this one's producers hear back, so the pump always has work.
// A refused batch stored nothing: its binlogs go again one by one, each for its own answer (one
// bad binlog must not fail the others). So do they when the pump has no WriteBinlogs.
void AsyncWriter::BatchEnded(BatchCall* call, const grpc::Status& rpc) {
  std::unique_ptr<BatchCall> ended(call);
  const bool missing = rpc.error_code() == grpc::StatusCode::UNIMPLEMENTED;
  const bool refused = rpc.ok() && !call->resp.errmsg().empty() && call->done.size() > 1;
  std::vector<Item> next;
  std::deque<Item> alone;  // queued behind a batch that found no WriteBinlogs
  {
    std::lock_guard<std::mutex> g(mu_);
    --batches_;
    if (missing) {
      batches_missing_ = true;
      alone.swap(queue_);
    } else if (!queue_.empty()) {
      next = TakeBatch();
    }
    if (missing || refused) calls_ += static_cast<int>(call->done.size());
    calls_ += static_cast<int>(alone.size());
  }
  if (!next.empty()) SendBatch(std::move(next));
  if (missing || refused) {
    for (size_t i = 0; i < call->done.size(); ++i) {
      SendAlone(Item{std::move(*call->req.mutable_payloads(static_cast<int>(i))),
                     std::move(call->done[i])});
    }
    for (Item& item : alone) SendAlone(std::move(item));  // after the older ones
  } else {
    Status s = FromWriteReply(addr_, rpc, call->resp);
    for (Done& done : call->done) done(s);
  }
  ended.reset();
  CallEnded();
}

// REQUIRES: counted in calls_ by the caller.
void AsyncWriter::SendAlone(Item item) {
  auto* call = new LoneCall;
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  call->req.set_payload(std::move(item.payload));
  call->done = std::move(item.done);
  stub_->async()->WriteBinlog(&call->ctx, &call->req, &call->resp, [this, call](grpc::Status rpc) {
    std::unique_ptr<LoneCall> ended(call);
    ended->done(FromWriteReply(addr_, rpc, ended->resp));
    ended.reset();
    CallEnded();
  });
}

void AsyncWriter::CallEnded() {
  std::lock_guard<std::mutex> g(mu_);
  if (--calls_ == 0) ended_cv_.notify_all();  // under the lock: the destructor may be waiting
}

}  // namespace binlog::pump
