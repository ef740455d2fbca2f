// Keeps one reader thread per pump the registry lists, feeding the merger: online, pausing and
// paused pumps are read (a paused one holds the merge back until it is back or offline), a new
// pump is added while running, an offline one is read to its end and then dropped. Each pump is
// read from its binlog/ when it is on this machine, else over gRPC; a remote pump that stops
// answering is read from disk as soon as its directory is readable here.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/env.h"
#include "drainer/config.h"
#include "drainer/merger.h"
#include "registry/registry.h"

namespace binlog::drainer {

struct PumpView {
  std::string node_id;
  std::string state;  // the registry's
  std::string via;    // "dir ..." / "grpc ..." / "" while not connected
  std::string error;  // the last failure to read it
  int64_t max_commit_ts = 0;
};

class PumpWatcher {
 public:
  PumpWatcher(Env* env, registry::Registry* registry, Merger* merger, PumpAccess access,
              uint64_t from_ts, double detect_interval_seconds);
  ~PumpWatcher();  // Stop()

  // Reads the registry once (so the first pumps are known before anything is merged), then
  // every detect interval on a thread.
  Status Start();
  void Stop();
  std::vector<PumpView> Pumps() const;

 private:
  struct Feed {
    registry::NodeStatus record;
    std::atomic<bool> draining{false};
    std::atomic<bool> done{false};
    std::atomic<int64_t> drain_target{0};
    std::mutex mu;  // guards via, error, reader
    std::string via, error;
    std::unique_ptr<class PumpReader> reader;
    std::thread thread;
  };
  Status Poll();
  void Read(Feed* feed, uint64_t from);
  Result<std::unique_ptr<PumpReader>> OpenReader(const registry::NodeStatus& record, uint64_t from);
  bool Sleep(double seconds);

  Env* env_;
  registry::Registry* registry_;
  Merger* merger_;
  const PumpAccess access_;
  const uint64_t from_ts_;
  const double detect_interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
  std::map<std::string, std::unique_ptr<Feed>> feeds_;
  std::map<std::string, uint64_t> resume_from_;  // a dropped pump's watermark, if it comes back
  std::thread thread_;
};

}  // namespace binlog::drainer
