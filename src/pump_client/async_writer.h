// PumpClient::WriteBinlogAsync (internal to pump_client): writes that hold no thread while they
// wait, for producers whose sessions are callbacks or coroutines rather than threads.
//
// Group commit on the client, as Coalesce does for threads: while max_in_flight calls are out,
// new binlogs queue, and when a call ends, everything queued goes out in the next WriteBinlogs.
// 64 closed-loop producers sharing one client thus cost the pump one call per batch instead of
// one message per binlog (per-message gRPC work was most of a pump's CPU under 64 producers).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "pump.grpc.pb.h"

namespace binlog::pump {

// A WriteBinlogs the client makes of several writes (AsyncWriter's, or Coalesce's for threads)
// carries at least one binlog and stops growing past this.
inline constexpr size_t kCoalescedBytes = 4 << 20;

// Takes the next such call's writes from the front of `queue`; `payload_bytes(item)` sizes one.
template <class Item, class PayloadBytes>
std::vector<Item> TakeCoalesced(std::deque<Item>* queue, PayloadBytes payload_bytes) {
  std::vector<Item> batch;
  size_t bytes = 0;
  while (!queue->empty() && (batch.empty() || bytes < kCoalescedBytes)) {
    bytes += payload_bytes(queue->front());
    batch.push_back(std::move(queue->front()));
    queue->pop_front();
  }
  return batch;
}

class AsyncWriter {
 public:
  using Done = std::function<void(Status)>;
  // coalesce: binlogs go together in WriteBinlogs calls; otherwise each is a WriteBinlog call.
  AsyncWriter(pb::Pump::Stub* stub, std::string addr, std::chrono::milliseconds timeout,
              int max_in_flight, bool coalesce);
  // Waits for every call under way to end (each has the timeout as its deadline). REQUIRES: not
  // called from a Done.
  ~AsyncWriter();
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  // `done` runs exactly once, on one of gRPC's threads, never inside this call.
  void Write(std::string payload, Done done);

 private:
  struct Item {
    std::string payload;
    Done done;
  };
  struct BatchCall;
  struct LoneCall;

  // REQUIRES: mu_ held. The queued items for the next batch, counted as one call out.
  std::vector<Item> TakeBatch();
  void SendBatch(std::vector<Item> batch);
  void BatchEnded(BatchCall* call, const grpc::Status& rpc);
  void SendAlone(Item item);
  void CallEnded();

  pb::Pump::Stub* stub_;
  const std::string addr_;
  const std::chrono::milliseconds timeout_;
  const int max_in_flight_;
  const bool coalesce_;

  std::mutex mu_;
  std::condition_variable ended_cv_;
  std::deque<Item> queue_;        // written while max_in_flight batches were out
  int batches_ = 0;               // WriteBinlogs calls out
  int calls_ = 0;                 // every call out, batches and lone writes
  bool batches_missing_ = false;  // the pump has no WriteBinlogs (TiDB-Binlog's)
};

}  // namespace binlog::pump
