// Where the syncer's records go: a local journal (embedded) or a pump (gRPC). The syncer
// writes each batch of committed transactions, waits for it to be durable, then moves
// syncer.meta past it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"

namespace binlog::syncer {

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes binlogs in order; returns once they are durable. Their commit ts are strictly
  // increasing and above LastTS(). After an error nothing of the call may be assumed written,
  // nor assumed absent: the syncer resumes from its meta and the restart check below.
  virtual Status Write(std::span<const pb::Binlog* const> binlogs) = 0;
  // The largest commit ts the sink holds from this syncer (0 when none): new ts go above it.
  virtual uint64_t LastTS() const = 0;
  // The source position of the newest record the sink holds (nullopt when it holds none), so
  // that a restart skips what a crash between Write and the meta update left behind.
  virtual Result<std::optional<pb::SourcePosition>> LastSource() = 0;
  virtual Status Close() = 0;
};

struct JournalSinkOptions {
  Env* env = Env::Posix();
  std::string dir;
  uint64_t max_file_size = 512ull << 20;
  // The archive is written as fast as the upstream sends: a fast level (with Huffman literals)
  // compresses row values ~1.7x faster than level 1 for ~1% less ratio (sysbench rows).
  int zstd_level = -7;
};

// A journal directory of our own, opened (and recovered) for writing: records are the serialized
// binlogs keyed by commit ts.
Result<std::unique_ptr<Sink>> OpenJournalSink(const JournalSinkOptions& options);

}  // namespace binlog::syncer
