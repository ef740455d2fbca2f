// The drainer: every pump's committed binlogs, merged in commit-ts order, written durably to an
// optional relay log, and applied to a sink (a MariaDB/MySQL server, segment files, or readable
// text) exactly once, resuming after its checkpoint.
//
//   registry ──pumps──▶ one reader each ──▶ Merger ──▶ relay log ──▶ replay::Engine ──▶ sink
//   (every detect-interval)  (its binlog/ on disk,  (commit-ts order,  (fdatasync    (exactly once,
//                              or PullBinlogs)        watermarks)        first)        checkpoint)
//
// Node states: online while running; paused when stopped (SIGTERM, or killed: the record is left
// online and its heartbeat stops) or asked to pause (PUT /state/<id>/pause): the cluster expects
// it back; offline only when asked to close (PUT /state/<id>/close). Its MaxCommitTS in the
// registry is its checkpoint, which a closing pump waits on.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "drainer/config.h"
#include "drainer/merger.h"
#include "replay/replay.h"

namespace binlog::drainer {

struct DrainerOptions {
  Env* env = Env::Posix();
  std::ostream* print_out = nullptr;  // the print sink's output (default std::cout)
  // Called once, from a drainer thread, when it stopped by itself: a pause or close request, or
  // a failure (Wait returns it). Not called for Shutdown().
  std::function<void()> on_stop;
};

struct DrainerStats {
  uint64_t checkpoint_ts = 0;  // every transaction at or below it is applied
  replay::EngineStats engine;
  MergeStatus merge;
  uint64_t relay_bytes = 0;
};

class Drainer {
 public:
  // Opens the sink and the checkpoint, applies what the relay log holds past it, binds the
  // status service, registers online and starts pulling. Nothing stays running when it fails.
  static Result<std::unique_ptr<Drainer>> Start(const DrainerConfig& config,
                                                DrainerOptions options = {});
  ~Drainer();  // Shutdown()
  Drainer(const Drainer&) = delete;
  Drainer& operator=(const Drainer&) = delete;

  // Stops pulling, applies what was merged, writes the checkpoint consistent and records the
  // node paused. Idempotent; returns how the drainer ended.
  Status Shutdown();
  // PUT /state/<id>/pause and /close: the same stop, recorded paused or offline.
  Status RequestPause();
  Status RequestClose();
  // Blocks until the drainer stopped; its error when a failure stopped it.
  Status Wait();

  DrainerStats Stats() const;
  const std::string& status_addr() const;
  const DrainerConfig& config() const;

 private:
  struct Impl;
  explicit Drainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace binlog::drainer
