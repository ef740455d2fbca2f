// PumpServer: start and stop, the node state machine, registry heartbeats and GC.
#include "pump/server.h"

#include <filesystem>

#include <fmt/format.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <climits>

#include "common/logging.h"
#include "common/thread_name.h"
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
// How long a running pump's status service gets to say who it is (CheckNodeIDFree).
constexpr int kNodeProbeTimeoutMs = 2000;

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
  RETURN_IF_ERROR(s->StartHttp());
  RETURN_IF_ERROR(s->CheckNodeIDFree());
  // Only a pump that can serve keeps its node id in data-dir/.node.
  RETURN_IF_ERROR(KeepNodeID(env, s->config_));
  RETURN_IF_ERROR(s->PutRecord(NodeState::kOnline)
                      .WithContext(fmt::format("registering pump {} online in {}",
                                               s->config_.node_id, s->registry_->Describe())));
  s->state_ = NodeState::kOnline;
  s->registered_ = true;
  s->pump_->SetAcceptWrites(true, "");
  s->control_thread_ = std::thread([raw = s.get()] {
    NameThisThread("pump-control");
    raw->ControlLoop();
  });
  LOG_INFO("pump is online", KV("node-id", s->config_.node_id), KV("addr", s->grpc_addr_),
           KV("advertise-addr", s->config_.advertise_addr), KV("status-addr", s->status_addr_),
           KV("registry", s->registry_->Describe()), KV("max-commit-ts", s->pump_->MaxCommitTS()));
  return s;
}

PumpServer::~PumpServer() {
  if (control_thread_.joinable()) {
    Shutdown().IgnoreError();
    control_thread_.join();
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

std::string PumpServer::Refusal() const {
  NodeState s = state_.load();
  if (s == NodeState::kOnline) return "";
  if (!registered_) return "pump is starting";
  return fmt::format("pump is {}", NodeStateName(s));
}

bool PumpServer::stopped() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopped_;
}

// binlogctl and other nodes reach the status service through the record: never 0.0.0.0 there.
std::string PumpServer::RecordedStatusAddr() const {
  Result<HostPort> st = SplitHostPort(status_addr_);
  Result<HostPort> adv = SplitHostPort(config_.advertise_addr);
  if (st.ok() && adv.ok() && IsUnspecifiedHost(st->host)) return JoinHostPort(adv->host, st->port);
  return status_addr_;
}

Status PumpServer::PutRecord(NodeState state) {
  registry::NodeStatus n;
  n.node_id = config_.node_id;
  n.addr = config_.advertise_addr;
  n.status_addr = RecordedStatusAddr();
  n.state = state;
  n.max_commit_ts = static_cast<int64_t>(pump_->MaxCommitTS());
  n.update_ts = static_cast<int64_t>(ComposeTS(options_.env->NowMicros() / 1000, 0));
  n.host = registry::ThisHostName();
  std::error_code ec;
  n.data_dir = std::filesystem::absolute(config_.data_dir, ec).lexically_normal().string();
  return registry_->Put(registry::NodeKind::kPump, n);
}

// One node id, one pump: a record of this id that another running pump keeps up to date is
// refused, as it would otherwise be overwritten every heartbeat by both. A running pump is one
// whose status service answers as this node id; a record whose service does not answer was left
// by a pump that stopped or died (this one's earlier run, after a kill -9), and is taken over.
Status PumpServer::CheckNodeIDFree() {
  const std::string& id = config_.node_id;
  Result<registry::NodeStatus> rec = registry_->Get(registry::NodeKind::kPump, id);
  if (rec.status().IsNotFound()) return Status::OK();
  RETURN_IF_ERROR(rec.status().WithContext(fmt::format("reading the record of pump {}", id)));
  if (rec->status_addr.empty() || rec->status_addr == RecordedStatusAddr()) return Status::OK();
  Result<std::string> answer = server::AskNodeID(rec->status_addr, kNodeProbeTimeoutMs);
  if (answer.ok() && *answer == id) {
    return Status::Busy(fmt::format(
        "node id {} is held by another running pump: its record in {} says addr {}, state {}, "
        "and its status service at {} answers as {}. Give this pump its own node-id (or "
        "data-dir), or stop that pump first: the record of a pump that no longer answers is "
        "taken over",
        id, registry_->Describe(), rec->addr, NodeStateName(rec->state), rec->status_addr, id));
  }
  if (rec->addr != config_.advertise_addr) {
    LOG_WARN("taking over the registry record of a pump that does not answer", KV("node-id", id),
             KV("recorded-addr", rec->addr), KV("recorded-state", NodeStateName(rec->state)),
             KV("recorded-status-addr", rec->status_addr),
             KV("probe", answer.ok() ? "answers as " + *answer : answer.status().ToString()));
  }
  return Status::OK();
}

Status PumpServer::RequestPause() {
  std::lock_guard<std::mutex> g(mu_);
  if (stopped_ || request_ != Request::kNone || state_ != NodeState::kOnline) {
    return Status::InvalidArgument(fmt::format("pump {} is {}: only an online pump can be paused",
                                               config_.node_id,
                                               stopped_ ? "stopped" : NodeStateName(state_)));
  }
  request_ = Request::kPause;
  cv_.notify_all();
  return Status::OK();
}

Status PumpServer::RequestClose() {
  std::lock_guard<std::mutex> g(mu_);
  if (stopped_ || request_ != Request::kNone || state_ != NodeState::kOnline) {
    return Status::InvalidArgument(fmt::format("pump {} is {}: only an online pump can be closed",
                                               config_.node_id,
                                               stopped_ ? "stopped" : NodeStateName(state_)));
  }
  request_ = Request::kClose;
  cv_.notify_all();
  return Status::OK();
}

Status PumpServer::Shutdown() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!stopped_) request_ = Request::kShutdown;
  }
  cv_.notify_all();
  return Wait();
}

Status PumpServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_; });
  return final_status_;
}

void PumpServer::ControlLoop() {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(config_.heartbeat_interval_seconds));
  const auto gc_interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.gc_interval_seconds));
  auto next_gc = std::chrono::steady_clock::now();  // once at start, then every gc interval
  Request req = Request::kNone;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      req = request_;
    }
    if (req == Request::kShutdown || req == Request::kPause) {
      Stop(NodeState::kPaused);
      break;
    }
    if (req == Request::kClose && state_ == NodeState::kOnline) {
      LOG_INFO("pump state changed", KV("node-id", config_.node_id), KV("from", "online"),
               KV("to", "closing"));
      state_ = NodeState::kClosing;
      pump_->SetAcceptWrites(false, "pump is closing");
      close_target_ts_ = 0;
    }
    if (state_ == NodeState::kClosing && DrainersCaughtUp()) {
      Stop(NodeState::kOffline);
      break;
    }
    if (Status s = PutRecord(state_); !s.ok()) {
      LOG_WARN("pump heartbeat to the registry failed", KV("registry", registry_->Describe()),
               KV("error", s));
    }
    if (std::chrono::steady_clock::now() >= next_gc) {
      CollectGarbage();
      next_gc = std::chrono::steady_clock::now() + gc_interval;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, interval, [&] { return request_ != req; });
  }
  if (req != Request::kShutdown && options_.on_stop) options_.on_stop();
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
  for (const registry::NodeStatus& d : *drainers) {
    if (d.state == NodeState::kOffline) continue;
    if (d.max_commit_ts < 0 || static_cast<uint64_t>(d.max_commit_ts) < close_target_ts_) {
      behind += fmt::format("{}{}={}", behind.empty() ? "" : ",", d.node_id, d.max_commit_ts);
    }
  }
  if (behind.empty()) return true;
  LOG_INFO("closing: waiting for drainers to reach the pump's MaxCommitTS",
           KV("max-commit-ts", close_target_ts_), KV("behind", behind));
  return false;
}

void PumpServer::CollectGarbage() {
  if (config_.gc_seconds <= 0) return;
  Result<size_t> removed = pump_->GarbageCollect(config_.gc_seconds);
  if (!removed.ok()) LOG_WARN("gc failed", KV("error", removed.status()));
}

// Ends serving; the HTTP status service stays up until destruction so the final state can be
// read.
void PumpServer::Stop(NodeState final_state) {
  NodeState from = state_.load();
  pump_->SetAcceptWrites(false, fmt::format("pump is {}", NodeStateName(final_state)));
  state_ = final_state;
  service_->Stop();
  grpc_->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
  Status s = pump_->Close();
  if (!s.ok()) LOG_ERROR("closing the pump's journals failed", KV("error", s));
  Status r = PutRecord(final_state);
  if (!r.ok()) {
    LOG_ERROR("recording the pump's final state failed", KV("state", NodeStateName(final_state)),
              KV("registry", registry_->Describe()), KV("error", r));
    if (s.ok()) s = r;
  }
  LOG_INFO("pump state changed", KV("node-id", config_.node_id), KV("from", NodeStateName(from)),
           KV("to", NodeStateName(final_state)), KV("max-commit-ts", pump_->MaxCommitTS()));
  std::lock_guard<std::mutex> g(mu_);
  stopped_ = true;
  final_status_ = s;
  cv_.notify_all();
}

}  // namespace binlog::pump
