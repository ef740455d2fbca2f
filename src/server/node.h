// A node's life in the registry, once for every daemon that registers (pump, drainer):
//
//   Start ──▶ online ──Shutdown() (SIGTERM, SIGINT)─────────────────▶ paused   (expected back)
//               │ ────RequestPause() or PUT /state/<id>/pause──────────▶ paused
//               └─────RequestClose() or PUT /state/<id>/close──▶ closing ──drained()──▶ offline
//
// While online or closing, a heartbeat thread rewrites the record every heartbeat interval with
// the MaxCommitTS the owner supplies, a fresh UpdateTS and a lease: a kill -9 leaves the record
// online but lets the lease run out, so it shows as paused (registry::EffectiveState); the next
// Start with that node id takes it over, since nothing answers for it any more.
//
// The owner keeps its own work (serving, syncing) and plugs in at the hooks below. A drainer:
//
//   server::NodeOptions o;
//   o.kind = registry::NodeKind::kDrainer;
//   o.node_id = config.node_id;
//   o.addr = config.advertise_addr;
//   o.data_dir = config.data_dir;
//   o.heartbeat_interval_seconds = config.heartbeat_interval_seconds;
//   o.max_commit_ts = [this] { return checkpoint_ts_.load(); };
//   o.stop_serving = [this](registry::NodeState) { return StopSyncing(); };
//   o.on_stop = [signals] { signals->Notify(); };  // main returns from StopSignals::Wait
//   node_ = std::make_unique<server::Node>(registry_.get(), std::move(o));
//   node_->AddStateRoute(&http_);
//   RETURN_IF_ERROR(http_.Start(config.status_addr, "status-addr", "drainer-http"));
//   RETURN_IF_ERROR(node_->Start(http_.addr()));
//
// and on a signal, node_->Shutdown() leaves it paused.
//
// The registry may be away for a while (etcd restarting): a failed heartbeat is logged and
// retried at the next one, the node keeps serving, and registry_health() says what fails and
// since when (the daemons' /status shows it). A final state that cannot be recorded is retried
// every heartbeat: offline until it is recorded (or Shutdown gives up on it), paused for as long
// as the lease would last (after that, readers show the node paused anyway). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/env.h"
#include "common/status.h"
#include "registry/registry.h"
#include "server/server.h"

namespace binlog::server {

struct NodeOptions {
  registry::NodeKind kind = registry::NodeKind::kPump;
  std::string node_id;
  std::string addr;      // where others reach the node (advertise-addr), as recorded
  std::string data_dir;  // recorded as an absolute path (a drainer on this host reads it); "" none
  double heartbeat_interval_seconds = 2;
  // How long the node counts as alive after a heartbeat; 0: three heartbeats, at least 3 s. A
  // node killed with kill -9 shows as paused once it runs out.
  double lease_seconds = 0;
  Env* env = Env::Posix();

  // The record's MaxCommitTS: a pump's watermark, a drainer's checkpoint. Required.
  std::function<uint64_t()> max_commit_ts;
  // Asked every heartbeat while closing: true once the node may go offline. Unset: at once.
  std::function<bool()> drained;
  // The hooks below run on the heartbeat thread.
  // Once, when a close request turns the node closing (the pump refuses new writes).
  std::function<void()> on_closing;
  // Once, when the node stops, before its final state is recorded: stop serving and flush. Its
  // error is what Wait() returns; the final state is recorded either way.
  std::function<Status(registry::NodeState final_state)> stop_serving;
  // After every heartbeat while online or closing (the pump's GC).
  std::function<void()> on_heartbeat;
  // By Start, once the node id is known to be free and before the record is written (the pump
  // keeps its node id in data-dir/.node only then). An error fails Start.
  std::function<Status()> on_claimed;
  // Once, after Wait() returns, when a pause or close request finished (not after Shutdown): the
  // owner's main can stop waiting for a signal.
  std::function<void()> on_stop;
};

class Node {
 public:
  // Nothing happens until Start. `registry` outlives the node.
  Node(registry::Registry* registry, NodeOptions options);
  ~Node();  // Shutdown() when started
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // PUT /state/<node-id>/{pause|close}, answered 200 with the new state, 404 for another node
  // id, 400 for another action, 409 when the node is not online. Call before http->Start.
  void AddStateRoute(HttpServer* http);

  // Claims the node id and registers online, then heartbeats. A record of this id whose status
  // service answers as this id is another running node: Busy, the record untouched. A record
  // nothing answers for was left by a node that stopped or died and is taken over (a warning).
  // `status_addr` is the bound status service; an unspecified host ("0.0.0.0") is recorded as
  // addr's host, which other nodes and binlogctl can reach. Call once.
  Status Start(const std::string& status_addr);

  // Ask the heartbeat thread to pause or close; they return at once. InvalidArgument when the
  // node is not online (starting, already pausing or closing, stopped).
  Status RequestPause();
  Status RequestClose();
  // Stops without draining and records paused; also ends a close still waiting for drained().
  // Blocks until stopped; returns how it ended. Idempotent; OK on a node never started.
  Status Shutdown();
  // Blocks until stopped (Shutdown, or a pause or close that finished). REQUIRES: Start succeeded.
  Status Wait();

  // kPaused before Start; the final state once stopped.
  registry::NodeState state() const { return state_.load(); }
  // "starting" before Start succeeded, then the state's name: what /status shows.
  std::string StateName() const;
  bool started() const { return started_.load(); }

  // The registry's last error and since when it has failed; empty while it answers.
  struct RegistryHealth {
    std::string error;
    int64_t since_micros = 0;  // env clock
    std::string since;         // the same as a local datetime, "2026-11-22 10:00:00.123"
  };
  RegistryHealth registry_health() const;
  bool stopped() const;
  const std::string& node_id() const { return options_.node_id; }

 private:
  enum class Request { kNone, kPause, kClose, kShutdown };
  Status Ask(Request request, std::string_view verb);
  Status CheckNodeIDFree() const;
  std::string RecordedStatusAddr() const;
  Status PutRecord(registry::NodeState state) const;
  double LeaseSeconds() const;
  void Loop();
  void Stop(registry::NodeState final_state);
  Status RecordFinalState(registry::NodeState final_state);
  void NoteRegistry(const Status& s);
  void WarnHeartbeatFailure(const Status& s);
  void HandleStateRequest(const HttpServer::Request& req, HttpServer::Response* res);

  registry::Registry* registry_;
  NodeOptions options_;
  const char* kind_;  // "pump", for messages
  std::string host_;
  std::string status_addr_;  // set by Start, before the thread
  std::thread thread_;

  std::atomic<bool> started_{false};
  std::atomic<registry::NodeState> state_{registry::NodeState::kPaused};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Request request_ = Request::kNone;  // guarded by mu_
  bool stopped_ = false;              // guarded by mu_
  Status final_status_;               // guarded by mu_
  mutable std::mutex health_mu_;
  RegistryHealth health_;  // guarded by health_mu_
  // The heartbeat thread's own: how its failures are logged.
  uint64_t failed_heartbeats_ = 0;
  std::chrono::steady_clock::time_point next_heartbeat_warning_{};
};

// The `<name>{state="..."}` gauge family, 1 for `now` and 0 for every other state.
void NodeStateMetric(MetricsText* m, std::string_view name, registry::NodeState now);

}  // namespace binlog::server
