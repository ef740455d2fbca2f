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
  uint64_t start_ts = 0;  // the checkpoint it started from
  int64_t started_micros = 0;

  std::thread apply_thread, heartbeat_thread;
  std::thread stop_thread;  // a stop the drainer started itself (guarded by mu)
  std::atomic<bool> stop_apply{false};
  std::atomic<registry::NodeState> state{registry::NodeState::kOnline};
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  bool stopped = false;   // guarded by mu
  Status final_status;    // guarded by mu

  Status Open();
  Status Recover();
  void ApplyLoop();
  void HeartbeatLoop();
  Status PutRecord(registry::NodeState s);
  Status WriteFinalCheckpoint(uint64_t ts);
  Status FinishEngine();
  Status Stop(registry::NodeState final_state, Status cause);
  void StopAsync(registry::NodeState final_state, Status cause);
  uint64_t CheckpointTs() const;

  // status_http.cc
  Status StartHttp(Drainer* owner);
  std::string StatusJson() const;
  std::string MetricsText() const;
};

}  // namespace binlog::drainer
