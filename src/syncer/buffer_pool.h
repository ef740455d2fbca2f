// Buffers for encoded transactions, handed back after the write and reused.
//
// A big transaction is megabytes of record. A fresh buffer for each one cost the reader page
// faults (a fifth of its CPU when they were protobuf arenas) and its growth copies; a buffer
// that comes back keeps its capacity, sized by the largest transactions seen.
//
// Thread-safe. Leases may outlive the pool (they then free their buffer themselves).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace binlog::syncer {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  class Return {
   public:
    Return() = default;
    explicit Return(std::weak_ptr<BufferPool> pool) : pool_(std::move(pool)) {}
    void operator()(std::string* buf) const {
      std::unique_ptr<std::string> owned(buf);
      if (auto pool = pool_.lock()) pool->Put(std::move(owned));
    }

   private:
    std::weak_ptr<BufferPool> pool_;
  };
  using Lease = std::unique_ptr<std::string, Return>;

  static std::shared_ptr<BufferPool> Make() { return std::shared_ptr<BufferPool>(new BufferPool); }

  // An empty buffer, with the capacity of one used before when there is one.
  Lease Get() {
    std::unique_ptr<std::string> buf;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        buf = std::move(free_.back());
        free_.pop_back();
        free_bytes_ -= buf->capacity();
      }
    }
    if (buf) {
      buf->clear();
    } else {
      buf = std::make_unique<std::string>();
    }
    return Lease(buf.release(), Return(weak_from_this()));
  }

 private:
  // Buffers kept beyond those in flight, by their capacity: more than the syncer's queue and the
  // batch being written hold (stream.cc). Fewer made a catch-up of big
  // transactions free and fault in a buffer for most of them (a tenth of the reader's CPU);
  // one huge transaction's buffer is not kept.
  static constexpr size_t kMaxFreeBytes = 128 << 20;
  static constexpr size_t kMaxKeptCapacity = 64 << 20;

  BufferPool() = default;

  void Put(std::unique_ptr<std::string> buf) {
    if (buf->capacity() > kMaxKeptCapacity) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (free_bytes_ + buf->capacity() > kMaxFreeBytes) return;  // freed after the lock
    free_bytes_ += buf->capacity();
    free_.push_back(std::move(buf));
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> free_;
  size_t free_bytes_ = 0;
};

}  // namespace binlog::syncer
