// Zeros written ahead of the active segment's data, so that its appends overwrite blocks the
// file system has already allocated and written.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/env.h"

namespace binlog::journal {

// An fdatasync after an append that grows the file must also commit the file system's journal
// (the new size, the new extent); after a write over blocks already written and synced it only
// flushes the data. Measured on this VM's ext4, 64 KiB write + fdatasync in a loop: 270 us and
// 105 us of CPU per sync when appending, 100 us and 35 us when overwriting zeros.
//
// A thread of its own keeps up to two chunks of zeros written and synced past the data, so the
// writer never waits for them; the data only ever overwrites zeros whose write has returned
// (Reserve). Zeros are never written past `limit` (the segment's rotation size): the last
// appends of a segment may grow it as before. Sealing and closing cut what is left (the
// segment format: docs/FORMAT_DAMAGE.md, "Preallocated space").
class Preallocator {
 public:
  Preallocator(Env* env, uint64_t chunk_bytes, uint64_t limit);
  ~Preallocator();
  Preallocator(const Preallocator&) = delete;
  Preallocator& operator=(const Preallocator&) = delete;

  // A new active segment whose data ends at data_end.
  void Attach(const std::string& path, uint64_t data_end);
  // No more zeros for the active segment; waits for a zero write under way (call before the
  // segment is sealed or closed, which cut the zeros).
  void Detach();
  // The writer is about to write up to `end`: waits while zeros are being written at or below
  // it, so the data always lands after them.
  void Reserve(uint64_t end);

  uint64_t bytes_zeroed() const;

 private:
  bool Wanted() const;  // REQUIRES: mu_
  void Loop();
  Status WriteZeros(WritableFile* file, uint64_t from, uint64_t to);

  Env* const env_;
  const uint64_t chunk_;
  const uint64_t limit_;
  const std::string zeros_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string path_;         // the active segment; empty when detached
  uint64_t generation_ = 0;  // one per Attach
  uint64_t reserved_ = 0;    // the data's end once the writes reserved so far are done
  uint64_t zeroed_ = 0;      // zeros written and synced up to here
  bool writing_ = false;     // zeros being written from writing_from_
  uint64_t writing_from_ = 0;
  bool failed_ = false;  // for this segment: it is written as if there were no preallocation
  bool stop_ = false;
  uint64_t bytes_zeroed_ = 0;
  std::thread thread_;
};

}  // namespace binlog::journal
