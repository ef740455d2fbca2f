// The drainer's parts, shared by drainer.cc (lifecycle, apply loop) and status_http.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "drainer/drainer.h"
#include "drainer/merger.h"
#include "drainer/pumps.h"
#include "drainer/sinks.h"
#include "mysql/mysql.h"
#include "registry/registry.h"
#include "server/node.h"
#include "server/server.h"

namespace binlog::drainer {

struct Drainer::Impl {
  DrainerConfig config;
  DrainerOptions options;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<replay::Sink> sink;
  std::unique_ptr<replay::Engine> engine;
  std::unique_ptr<RelayLog> relay;
  std::unique_ptr<Merger> merger;
  std::unique_ptr<PumpWatcher> pumps;
  server::HttpServer http;
  std::string status_addr;
  uint64_t checkpoint_at_start = 0;  // everything at or below it was applied before this run
  uint64_t start_ts = 0;  // the pumps are read above it (past what the relay log held)
  int64_t started_micros = 0;

  std::unique_ptr<server::Node> node;  // the registry record, PUT /state, the final state
  std::thread apply_thread;
  std::atomic<bool> stop_apply{false};
  // The last binlog submitted is a part with more to come (the apply thread's; read after it).
  bool inside_parts = false;
  std::mutex mu;
  Status failure;  // what stopped the apply loop (guarded by mu)

  Status Open();
  Status Recover();
  Status StartNode();
  void ApplyLoop();
  Status WriteFinalCheckpoint(uint64_t ts);
  Status FinishEngine();
  // The node's stop_serving: stop pulling, apply what was merged, save the checkpoint.
  Status StopWork();
  uint64_t CheckpointTs() const;

  // status_http.cc
  Status StartHttp();
  std::string StatusJson() const;
  std::string MetricsText() const;
};

}  // namespace binlog::drainer
