// The hand-off between the syncer's reader (decoding) and writer (durable writes): bounded by
// items and bytes so a slow disk stalls the replication stream instead of growing memory.
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

  // Moves up to max items into out, waiting for at least one; false once closed and empty.
  bool PopBatch(size_t max, std::vector<StreamItem>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    while (!items_.empty() && out->size() < max) {
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

}  // namespace binlog::syncer
