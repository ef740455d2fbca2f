// The hand-offs between the syncer's reader (decoding), writer (compression and writes) and
// durability thread (fdatasync, then syncer.meta): bounded so a slow disk stalls the
// replication stream instead of growing memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "syncer/decoder.h"

namespace binlog::syncer {

class ItemQueue {
 public:
  ItemQueue(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Blocks while full; false when the queue was closed (the item is dropped).
  bool Push(StreamItem item) {
    size_t bytes = item.approx_bytes;
    std::unique_lock<std::mutex> lock(mu_);
    // One item always fits, however large, or a big transaction could never pass.
    not_full_.wait(lock, [&] {
      return closed_ || items_.empty() ||
             (items_.size() < max_items_ && bytes_ + bytes <= max_bytes_);
    });
    if (closed_) return false;
    bytes_ += bytes;
    items_.push_back(Entry{std::move(item), bytes});
    not_empty_.notify_one();
    return true;
  }

  // Moves up to max items, and up to max_bytes unless a single item is more, into out, waiting
  // for at least one; false once closed and empty.
  bool PopBatch(size_t max, size_t max_bytes, std::vector<StreamItem>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    size_t taken = 0;
    while (!items_.empty() && out->size() < max &&
           (out->empty() || taken + items_.front().bytes <= max_bytes)) {
      taken += items_.front().bytes;
      bytes_ -= items_.front().bytes;
      out->push_back(std::move(items_.front().item));
      items_.pop_front();
    }
    not_full_.notify_all();
    return true;
  }

  // No more pushes; the consumer still gets what is queued.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  // Drops what is queued (the consumer failed: nothing more will be written).
  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    items_.clear();
    bytes_ = 0;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  struct Entry {
    StreamItem item;
    size_t bytes;
  };
  const size_t max_items_;
  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Entry> items_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

// Written batches, from the writer to the thread that makes them durable: at most max_batches
// waiting, so the writer runs at most that far ahead of the fdatasync.
class BatchHandoff {
 public:
  using Batch = std::vector<StreamItem>;
  explicit BatchHandoff(size_t max_batches) : max_(max_batches) {}

  // Blocks while full; false when the handoff was aborted (the batch is dropped).
  bool Push(Batch batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return aborted_ || batches_.size() < max_; });
    if (aborted_) return false;
    batches_.push_back(std::move(batch));
    not_empty_.notify_one();
    return true;
  }

  // Moves every waiting batch into out, waiting for one; false once closed and empty.
  bool TakeAll(std::vector<Batch>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !batches_.empty() || closed_; });
    if (batches_.empty()) return false;
    for (Batch& b : batches_) out->push_back(std::move(b));
    batches_.clear();
    not_full_.notify_all();
    return true;
  }

  // No more pushes; the consumer still gets what waits.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

  // Drops what waits and refuses pushes (a stage failed).
  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = aborted_ = true;
    batches_.clear();
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  const size_t max_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::vector<Batch> batches_;
  bool closed_ = false;
  bool aborted_ = false;
};

}  // namespace binlog::syncer
