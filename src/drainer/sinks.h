// The drainer's own sinks and its relay log, both directories of segments in the one format, so
// reparo and segdump read them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"
#include "drainer/merger.h"
#include "journal/journal.h"
#include "replay/replay.h"

namespace binlog::drainer {

struct FileSinkOptions {
  Env* env = Env::Posix();
  std::string dir;
  uint64_t max_file_size = 512ull << 20;
  double retention_seconds = 0;  // sealed segments whose newest record is older go; 0 keeps all
};

// `file` (`pb`): each applied transaction (after the filters) is a record of the output journal,
// keyed by its commit ts. What the journal holds is what was applied, so a restart resumes after
// its newest record and nothing is written twice. Writes are made durable when the engine
// advances its low ts, before the checkpoint says so.
Result<std::unique_ptr<replay::Sink>> NewFileSink(const FileSinkOptions& options);

// The relay log: the merged stream written durably before it is applied, so that a drainer whose
// pumps are gone can still finish what it merged. A segment is removed once every record in it is
// applied (and it is older than keep_seconds).
class RelayLog {
 public:
  static Result<std::unique_ptr<RelayLog>> Open(Env* env, const std::string& dir,
                                                uint64_t max_file_size, double keep_seconds);
  // Appends the COMMIT binlogs of `batch` (FAKEs are skipped; so is what it holds already) in
  // one durable write. Parts of a transaction are appended as they come (docs/FORMAT.md).
  Status Append(std::span<const MergedBinlog> batch);
  // Calls fn for each record above ts, in order (recovery at start). The relay log never ends
  // inside a transaction here: opening it cut one that a crash left without its last part.
  Status ReadAfter(uint64_t ts, const std::function<Status(MergedBinlog)>& fn);
  // Removes segments whose newest record is at or below applied_ts.
  Status Purge(uint64_t applied_ts);
  uint64_t last_ts() const { return journal_->last_ts(); }
  // Bytes in its segments (0 when they cannot be listed).
  uint64_t bytes() const {
    Result<uint64_t> n = journal_->DiskUsage();
    return n.ok() ? *n : 0;
  }
  Status Close() { return journal_->Close(); }

 private:
  RelayLog(Env* env, std::string dir, double keep_seconds,
           std::unique_ptr<journal::Journal> journal)
      : env_(env),
        dir_(std::move(dir)),
        keep_seconds_(keep_seconds),
        journal_(std::move(journal)) {}
  Env* env_;
  std::string dir_;
  double keep_seconds_;
  std::unique_ptr<journal::Journal> journal_;
};

}  // namespace binlog::drainer
