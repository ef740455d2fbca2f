// PumpServer: start and stop, and what the pump plugs into its node: the close protocol, GC.
#include "pump/server.h"

#include <fmt/format.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <climits>

#include "common/logging.h"
#include "common/tso.h"
#include "pump/service.h"

namespace binlog::pump {

namespace {

using registry::NodeState;
using registry::NodeStateName;

// gRPC's own limit sits above the pump's max-message-size so that a binlog a little too big
// reaches the pump and gets its clear errmsg; this much more also leaves room for the request
// framing and for a WriteBinlogs batch of several binlogs.
constexpr uint64_t kMessageMargin = 1 << 20;
// In-flight writes get this long to finish when the gRPC service stops.
constexpr auto kGrpcShutdownGrace = std::chrono::seconds(2);

}  // namespace

PumpServer::PumpServer(const PumpConfig& config, PumpServerOptions options)
    : config_(config), options_(std::move(options)) {}

Result<std::unique_ptr<PumpServer>> PumpServer::Start(const PumpConfig& config,
                                                      PumpServerOptions options) {
  // Before anything is created on disk: an address that cannot be listened on is a config
  // error, said in plain words (gRPC would log its own line and answer only "failed").
  RETURN_IF_ERROR(server::CheckListenAddr(config.addr, "addr"));
  RETURN_IF_ERROR(server::CheckListenAddr(config.status_addr, "status-addr"));
  std::unique_ptr<PumpServer> s(new PumpServer(config, std::move(options)));
  Env* env = s->options_.env;
  std::string origin = config.config_file.empty() ? "the command line" : config.config_file;
  ASSIGN_OR_RETURN(s->registry_,
                   registry::OpenRegistry(env, config.pd_urls, config.registry_dir, origin));
  ASSIGN_OR_RETURN(s->pump_, Pump::Open(config.ToPumpOptions(env)));
  // Until the node is registered online, producers are turned away.
  s->pump_->SetAcceptWrites(false, "pump is starting");
  s->service_ =
      std::make_unique<PumpService>(s->pump_.get(), [raw = s.get()] { return raw->Refusal(); });
  RETURN_IF_ERROR(s->StartGrpc());
  // Once the gRPC port is known (the default node id holds it) and before the HTTP handlers,
  // which read config_, run.
  ASSIGN_OR_RETURN(s->config_.node_id, EffectiveNodeID(env, s->config_));
  RETURN_IF_ERROR(s->StartNode());
  {
    // A pause request may already have stopped serving on the node's thread.
    std::lock_guard<std::mutex> g(s->serving_mu_);
    if (!s->serving_stopped_) s->pump_->SetAcceptWrites(true, "");
  }
  LOG_INFO("pump is online", KV("node-id", s->config_.node_id), KV("addr", s->grpc_addr_),
           KV("advertise-addr", s->config_.advertise_addr), KV("status-addr", s->status_addr_),
           KV("registry", s->registry_->Describe()), KV("max-commit-ts", s->pump_->MaxCommitTS()));
  return s;
}

PumpServer::~PumpServer() {
  if (node_ && node_->started()) {
    node_->Shutdown().IgnoreError();
  } else {
    // A Start that failed half way: stop what it started.
    if (service_) service_->Stop();
    if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
    if (pump_) pump_->Close().IgnoreError();
  }
  http_.Stop();
}

Status PumpServer::StartGrpc() {
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(config_.addr));
  std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(JoinHostPort(host, hp.port), grpc::InsecureServerCredentials(), &port);
  // Otherwise gRPC sets SO_REUSEPORT and a second pump on the same port would start quietly.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(config_.max_message_size + kMessageMargin, INT_MAX)));
  builder.RegisterService(service_.get());
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || port == 0) {
    // Start checked the address; something took it since, or gRPC refused for its own reason.
    Status why = server::CheckListenAddr(config_.addr, "addr");
    return why.ok() ? Status::IOError(fmt::format("gRPC cannot listen on addr {}", config_.addr))
                    : why;
  }
  grpc_addr_ = JoinHostPort(IsUnspecifiedHost(host) ? "127.0.0.1" : host, port);
  ASSIGN_OR_RETURN(HostPort adv, SplitHostPort(config_.advertise_addr));
  if (adv.port == 0) config_.advertise_addr = JoinHostPort(adv.host, port);
  return Status::OK();
}

// The node and the status service; then online, with data-dir/.node kept only
// once the node id is known to be free (only a pump that can serve keeps it).
Status PumpServer::StartNode() {
  server::NodeOptions o;
  o.kind = registry::NodeKind::kPump;
  o.node_id = config_.node_id;
  o.addr = config_.advertise_addr;
  o.data_dir = config_.data_dir;
  o.heartbeat_interval_seconds = config_.heartbeat_interval_seconds;
  o.env = options_.env;
  o.max_commit_ts = [this] { return pump_->MaxCommitTS(); };
  o.drained = [this] { return DrainersCaughtUp(); };
  o.on_closing = [this] { pump_->SetAcceptWrites(false, "pump is closing"); };
  o.stop_serving = [this](NodeState final_state) { return StopServing(final_state); };
  o.on_heartbeat = [this] { MaybeCollectGarbage(); };
  o.on_claimed = [this] { return KeepNodeID(options_.env, config_); };
  o.on_stop = options_.on_stop;
  node_ = std::make_unique<server::Node>(registry_.get(), std::move(o));
  node_ready_ = true;
  RETURN_IF_ERROR(StartHttp());
  return node_->Start(status_addr_);
}

std::string PumpServer::Refusal() const {
  if (!node_ready_) return "pump is starting";
  if (node_->started() && node_->state() == NodeState::kOnline) return "";
  return fmt::format("pump is {}", node_->StateName());
}

// The close protocol: once no transaction is left in flight, a final heartbeat fixes the
// MaxCommitTS every drainer that is not offline must reach. While closing, commits are refused
// too, so a prewrite still pending is resolved only by max-txn-timeout (rolled back).
bool PumpServer::DrainersCaughtUp() {
  PumpStats st = pump_->Stats();
  // Once the target is set nothing new can land at or below it: writes are refused and the
  // idle heartbeats that follow are above it.
  if (close_target_ts_ == 0 && (st.pending_prewrites > 0 || st.committed_waiting > 0)) {
    LOG_INFO(
        "closing: waiting for transactions in flight (pending prewrites are rolled back "
        "after max-txn-timeout)",
        KV("pending-prewrites", st.pending_prewrites),
        KV("committed-waiting", st.committed_waiting));
    return false;
  }
  if (close_target_ts_ == 0) {
    if (Status h = pump_->Heartbeat(); !h.ok()) {
      LOG_WARN("closing: final heartbeat failed", KV("error", h));
      return false;
    }
    close_target_ts_ = pump_->MaxCommitTS();
    LOG_INFO("closing: final heartbeat written; drainers must reach it",
             KV("max-commit-ts", close_target_ts_));
  }
  if (pump_->Stats().emitted_ts < close_target_ts_) return false;  // the emitter is on it
  auto drainers = registry_->List(registry::NodeKind::kDrainer);
  if (!drainers.ok()) {
    LOG_WARN("closing: cannot list drainers", KV("error", drainers.status()));
    return false;
  }
  std::string behind;
  bool warned_dead_drainer = false;
  for (const registry::NodeStatus& d : *drainers) {
    if (d.state == NodeState::kOffline) continue;
    if (d.max_commit_ts >= 0 && static_cast<uint64_t>(d.max_commit_ts) >= close_target_ts_) {
      continue;
    }
    behind += fmt::format("{}{}={}", behind.empty() ? "" : ",", d.node_id, d.max_commit_ts);
    // The classic trap: it will never catch up by itself. Said at once, then once a minute.
    if (!d.alive && std::chrono::steady_clock::now() >= next_dead_drainer_warning_) {
      Result<std::string> seen = FormatTSDatetime(static_cast<uint64_t>(d.update_ts));
      LOG_WARN(
          "closing: waiting on a drainer that is not alive; if it is gone for good, mark it "
          "offline",
          KV("drainer", d.node_id), KV("checkpoint", d.max_commit_ts),
          KV("last-heartbeat", seen.ok() ? *seen : std::to_string(d.update_ts)),
          KV("fix", fmt::format("binlogctl -cmd update-drainer -node-id {} -state offline",
                                d.node_id)));
      warned_dead_drainer = true;
    }
  }
  if (warned_dead_drainer) {
    next_dead_drainer_warning_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  }
  if (behind.empty()) return true;
  LOG_INFO("closing: waiting for drainers to reach the pump's MaxCommitTS",
           KV("max-commit-ts", close_target_ts_), KV("behind", behind));
  return false;
}

void PumpServer::MaybeCollectGarbage() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_gc_ || config_.gc_seconds <= 0) return;
  next_gc_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(options_.gc_interval_seconds));
  Result<size_t> removed =
      pump_->GarbageCollect(config_.gc_seconds, registry_.get(), config_.gc_guard_lease_seconds);
  if (!removed.ok()) LOG_WARN("gc failed", KV("error", removed.status()));
}

// Ends serving; the HTTP status service stays up until destruction so the final state can be
// read.
Status PumpServer::StopServing(NodeState final_state) {
  {
    std::lock_guard<std::mutex> g(serving_mu_);
    serving_stopped_ = true;
    pump_->SetAcceptWrites(false, fmt::format("pump is {}", NodeStateName(final_state)));
  }
  service_->Stop();
  grpc_->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
  Status s = pump_->Close();
  if (!s.ok()) LOG_ERROR("closing the pump's journals failed", KV("error", s));
  return s;
}

}  // namespace binlog::pump
