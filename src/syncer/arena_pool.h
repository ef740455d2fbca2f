// Protobuf arenas for decoded transactions, handed back after the write and reused.
//
// A big transaction fills megabytes of arena. Fresh memory for each one cost the reader page
// faults (a fifth of its CPU), and destroying the arena in the writer thread freed its values'
// strings in a thread that did not allocate them, contending on malloc's arena lock. A leased
// arena comes back to the pool when its item is done; the next Get, on the decoder's thread,
// resets it there (the strings are freed where they were allocated) and reuses its first block,
// sized to the largest transaction seen.
//
// Thread-safe. Leases may outlive the pool (they then free their arena themselves).
#pragma once

#include <google/protobuf/arena.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace binlog::syncer {

class ArenaPool : public std::enable_shared_from_this<ArenaPool> {
 public:
  struct Slot {
    std::unique_ptr<char[]> block;  // the arena's first block, kept across resets
    size_t block_size = 0;
    std::unique_ptr<google::protobuf::Arena> arena;  // destroyed before block
    bool used = false;
  };
  class Return {
   public:
    Return() = default;
    explicit Return(std::weak_ptr<ArenaPool> pool) : pool_(std::move(pool)) {}
    void operator()(Slot* slot) const {
      std::unique_ptr<Slot> owned(slot);
      if (auto pool = pool_.lock()) pool->Put(std::move(owned));
    }

   private:
    std::weak_ptr<ArenaPool> pool_;
  };
  using Lease = std::unique_ptr<Slot, Return>;

  static std::shared_ptr<ArenaPool> Make() { return std::shared_ptr<ArenaPool>(new ArenaPool); }

  // An empty arena. Call on the thread that fills it.
  Lease Get() {
    std::unique_ptr<Slot> slot;
    size_t want;
    {
      std::lock_guard<std::mutex> lock(mu_);
      want = block_size_;
      if (!free_.empty()) {
        slot = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (slot && slot->block_size >= want) {
      if (slot->used) slot->arena->Reset();
    } else {
      if (slot) slot->arena.reset();  // frees its objects here, then a larger block
      slot = std::make_unique<Slot>();
      slot->block_size = want;
      slot->block.reset(new char[want]);
      google::protobuf::ArenaOptions options;
      options.initial_block = slot->block.get();
      options.initial_block_size = want;
      options.start_block_size = 64 << 10;
      options.max_block_size = 4 << 20;
      slot->arena = std::make_unique<google::protobuf::Arena>(options);
    }
    slot->used = true;
    return Lease(slot.release(), Return(weak_from_this()));
  }

 private:
  // Arenas kept for reuse beyond those in flight; the first block's size is bounded so that
  // one huge transaction does not pin a huge block in every arena.
  static constexpr size_t kMaxFree = 8;
  static constexpr size_t kMaxBlockSize = 64 << 20;

  ArenaPool() = default;

  void Put(std::unique_ptr<Slot> slot) {
    size_t used = static_cast<size_t>(slot->arena->SpaceAllocated());
    std::lock_guard<std::mutex> lock(mu_);
    if (used > block_size_) block_size_ = std::min(kMaxBlockSize, used + used / 4);
    if (free_.size() < kMaxFree) free_.push_back(std::move(slot));
    // else the slot is freed here, after the lock (declared first, destroyed last).
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> free_;
  size_t block_size_ = 64 << 10;
};

}  // namespace binlog::syncer
