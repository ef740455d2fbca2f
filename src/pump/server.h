// The pump daemon: a Pump, its gRPC service, the HTTP status service, and its node in the
// registry (server::Node: online, heartbeats, pause, close, the final state).
//
//   start ──▶ online ──SIGTERM / Shutdown()────────────▶ paused   (no drain; expected back)
//                │ ───PUT /state/<id>/pause───────────────▶ paused
//                └────PUT /state/<id>/close──▶ closing ──▶ offline
//                     refuse writes, final heartbeat, wait until every drainer that is not
//                     offline has a checkpoint (max_commit_ts) at or past the pump's MaxCommitTS
//
// While online the registry record carries the pump's MaxCommitTS; GC runs at start and hourly.
// New transactions are refused in every state but online (commits of prewrites already
// acknowledged still pass: docs/PUMP.md). A pause or close request ends with the server
// stopped: on_stop is called so the owner can return from its wait.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/env.h"
#include "common/status.h"
#include "pump/config.h"
#include "pump/pump.h"
#include "registry/registry.h"
#include "server/node.h"
#include "server/server.h"

namespace grpc {
class Server;
}

namespace binlog::pump {

class PumpService;

// pump -drop-future-heartbeats, run instead of the daemon on a pump that is stopped: removes the
// FAKE heartbeats that binlog/ holds beyond this host's clock plus max-clock-drift, which make
// the pump refuse every commit below them (docs/OPERATIONS.md, "A ts from the future"). Refuses,
// changing nothing, when a record beyond the clock carries changes.
Result<journal::DropReport> DropFutureHeartbeats(const PumpConfig& config, Env* env);

struct PumpServerOptions {
  Env* env = Env::Posix();
  // Called once, from a server thread, when the server stopped by itself (a pause or close
  // request finished). Not called for Shutdown().
  std::function<void()> on_stop;
  // How often GC runs (TiDB-Binlog: hourly). Tests shorten it.
  double gc_interval_seconds = 3600;
};

class PumpServer {
 public:
  // Opens the pump, binds the gRPC and HTTP listeners (a port 0 is replaced by the one bound,
  // in advertise-addr too), settles the node id (data-dir/.node), registers online and starts
  // serving. Nothing stays running when it fails.
  static Result<std::unique_ptr<PumpServer>> Start(const PumpConfig& config,
                                                   PumpServerOptions options = {});
  // Shutdown() unless already stopped.
  ~PumpServer();
  PumpServer(const PumpServer&) = delete;
  PumpServer& operator=(const PumpServer&) = delete;

  // SIGTERM/SIGINT: stops serving and records the node as paused (no drain). Blocks until the
  // server stopped; returns how it ended (an error when the final registry write failed).
  // Idempotent; also ends a close that is still waiting for drainers (recorded paused).
  Status Shutdown() { return node_->Shutdown(); }
  // What PUT /state/<id>/pause and /close do; they return at once, the work runs on the
  // node's heartbeat thread. InvalidArgument when the node is not online.
  Status RequestPause() { return node_->RequestPause(); }
  Status RequestClose() { return node_->RequestClose(); }
  // Blocks until the server stopped (Shutdown, or a pause/close that finished).
  Status Wait() { return node_->Wait(); }

  registry::NodeState state() const { return node_->state(); }
  bool stopped() const { return node_->stopped(); }
  const PumpConfig& config() const { return config_; }         // advertise-addr, node-id effective
  const std::string& grpc_addr() const { return grpc_addr_; }  // bound, for clients
  const std::string& status_addr() const { return status_addr_; }  // bound, for clients
  Pump* pump() { return pump_.get(); }

 private:
  PumpServer(const PumpConfig& config, PumpServerOptions options);
  Status StartGrpc();
  Status StartNode();
  Status StartHttp();
  Status StopServing(registry::NodeState final_state);
  void MaybeCollectGarbage();
  bool DrainersCaughtUp();
  std::string Refusal() const;
  std::string StatusJson();
  std::string MetricsText();

  PumpConfig config_;
  PumpServerOptions options_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<Pump> pump_;
  std::unique_ptr<PumpService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  server::HttpServer http_;
  std::string grpc_addr_, status_addr_;
  // Set once before the status service starts, read by gRPC threads (Refusal) once node_ready_.
  std::unique_ptr<server::Node> node_;
  std::atomic<bool> node_ready_{false};
  std::mutex serving_mu_;
  bool serving_stopped_ = false;  // guarded by serving_mu_

  // Node thread only.
  std::chrono::steady_clock::time_point next_gc_{};  // at start, then every gc interval
  // The close protocol names a dead drainer it waits on at once, then once a minute.
  std::chrono::steady_clock::time_point next_dead_drainer_warning_{};
  uint64_t close_target_ts_ = 0;                     // the MaxCommitTS drainers must reach
};

}  // namespace binlog::pump
