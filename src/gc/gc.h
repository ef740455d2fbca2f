// Retention for any directory of segments: a pump's binlog/, a drainer's relay log or file-sink
// output, a syncer's journal. The pump's hourly GC and tools/binlog-gc both run this one.
//
// What goes: whole sealed segments, oldest first and only as an unbroken run from the oldest,
// whose newest record (the footer's last ts, by the TSO's physical time) is older than the
// retention, and with a max size the oldest until the directory's segments fit in it. Never
// the newest segment that holds a record, nor anything after it: it carries the directory's ts
// floor across restarts, and the writer appends only there. An arrival-order journal (a pump's
// wal/) is refused: the pump drops it as it resolves, never by age.
//
// It runs beside the directory's writer and readers, in this process or others, without the
// writer's LOCK: the writer only appends to the newest segment and creates newer ones, so a
// sealed older one is never touched again; a reader holding a deleted segment open reads it to
// its end; journal code passes over a sealed segment that vanishes. Two GCs exclude each other
// with GC.LOCK in the directory (journal::kGcLockName). docs/GC.md has the protocol.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "registry/registry.h"

namespace binlog::gc {

inline constexpr double kDefaultGuardLeaseSeconds = 24 * 3600;

struct Options {
  Env* env = Env::Posix();  // files, the clock and the available bytes
  // A segment whose newest record is older than this goes; 0: age deletes nothing.
  double retention_seconds = 0;
  // > 0: the oldest segments also go until the directory's segments total at most this.
  uint64_t max_size = 0;
  // Plan only: nothing is deleted, nothing is created (not even GC.LOCK).
  bool dry_run = false;
  // The drainer guard (null: none). A segment whose newest record is above the checkpoint of a
  // drainer that is not offline and whose heartbeat (update_ts) is younger than the lease is
  // kept, and the report names that drainer. Not owned.
  registry::Registry* registry = nullptr;
  double guard_lease_seconds = kDefaultGuardLeaseSeconds;
  bool force = false;  // delete past the guard
  // When the file system's available bytes are below this, the guard gives way (logged at
  // ERROR with every segment it let go); 0: never.
  uint64_t stop_write_at_available_space = 0;
};

struct Segment {
  std::string name;
  uint64_t bytes = 0;
  uint64_t last_ts = 0;     // its newest record
  bool past_guard = false;  // a guarding drainer had not read it (-force or low disk)
};

// Why the GC stopped where it did.
enum class HeldBy {
  kNoSegments,  // the directory holds none
  kNewest,      // everything older went: what is left is the newest segment(s)
  kRetention,   // the next segment is younger than the retention and the size fits
  kUnsealed,    // the next segment is not sealed: a crash left it, or its footer is damaged
  kGuard,       // a drainer's checkpoint has not passed the next segment
  kOtherGc,     // another GC holds GC.LOCK: nothing was done
};
const char* HeldByName(HeldBy held);  // "no-segments", "newest", "retention", ...

struct GuardHold {
  std::string node_id;
  int64_t checkpoint = 0;  // its max_commit_ts
  int64_t update_ts = 0;   // its last heartbeat (TSO)
};

struct Report {
  bool dry_run = false;
  std::vector<Segment> deleted;  // oldest first; with dry_run, what would be
  uint64_t bytes_freed = 0;
  size_t segments_kept = 0;
  uint64_t bytes_kept = 0;
  HeldBy held_by = HeldBy::kNoSegments;
  std::string held_why;  // held_by in words, naming the segment, drainer, figures and the fix
  // The guarding drainer with the smallest checkpoint, when one held segments back or was
  // overridden (past_guard).
  std::optional<GuardHold> guard;
  bool low_space = false;  // available bytes were below stop_write_at_available_space
  uint64_t available_bytes = 0;
};

// Plans, then (unless dry_run) deletes and syncs the directory. NotFound when dir does not
// exist; InvalidArgument for an arrival-order journal; an error when the registry cannot be
// read (unless force or low space), or a delete fails (what went before it is logged).
Result<Report> CollectGarbage(const std::string& dir, const Options& options);

// "7d", "24h", "1h30m", "45s": seconds as the flags take them.
std::string FormatDuration(double seconds);
// "1.5 GiB", "512 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace binlog::gc
