// Node: the registry record, the heartbeat thread and the state machine.
#include "server/node.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/thread_name.h"
#include "common/tso.h"

namespace binlog::server {

namespace {

using registry::NodeState;
using registry::NodeStateName;

// How long a running node's status service gets to say who it is (CheckNodeIDFree).
constexpr int kNodeProbeTimeoutMs = 2000;
// A lease shorter than this would flap on a loaded host whose heartbeat runs a second late.
constexpr double kMinLeaseSeconds = 3;

std::string AbsoluteDir(const std::string& dir) {
  if (dir.empty()) return dir;
  std::error_code ec;
  return std::filesystem::absolute(dir, ec).lexically_normal().string();
}

}  // namespace

Node::Node(registry::Registry* registry, NodeOptions options)
    : registry_(registry),
      options_(std::move(options)),
      kind_(registry::NodeKindName(options_.kind)),
      host_(registry::ThisHostName()) {
  options_.data_dir = AbsoluteDir(options_.data_dir);
}

Node::~Node() {
  if (thread_.joinable()) {
    Shutdown().IgnoreError();
    thread_.join();
  }
}

std::string Node::StateName() const { return started_ ? NodeStateName(state_) : "starting"; }

bool Node::stopped() const {
  std::lock_guard<std::mutex> g(mu_);
  return stopped_;
}

Status Node::Start(const std::string& status_addr) {
  status_addr_ = status_addr;
  RETURN_IF_ERROR(CheckNodeIDFree());
  if (options_.on_claimed) RETURN_IF_ERROR(options_.on_claimed());
  RETURN_IF_ERROR(PutRecord(NodeState::kOnline)
                      .WithContext(fmt::format("registering {} {} online in {}", kind_,
                                               options_.node_id, registry_->Describe())));
  state_ = NodeState::kOnline;
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread(fmt::format("{}-node", kind_));
    Loop();
  });
  return Status::OK();
}

// binlogctl and other nodes reach the status service through the record: never 0.0.0.0 there.
std::string Node::RecordedStatusAddr() const {
  Result<HostPort> st = SplitHostPort(status_addr_);
  Result<HostPort> adv = SplitHostPort(options_.addr);
  if (st.ok() && adv.ok() && IsUnspecifiedHost(st->host)) return JoinHostPort(adv->host, st->port);
  return status_addr_;
}

Status Node::PutRecord(NodeState state) const {
  registry::NodeStatus n;
  n.node_id = options_.node_id;
  n.addr = options_.addr;
  n.status_addr = RecordedStatusAddr();
  n.state = state;
  n.max_commit_ts = static_cast<int64_t>(options_.max_commit_ts());
  n.update_ts = static_cast<int64_t>(ComposeTS(options_.env->NowMicros() / 1000, 0));
  n.host = host_;
  n.data_dir = options_.data_dir;
  // While it runs, the record proves the node alive until a lease runs out; the final record
  // (paused, offline) carries none, as nothing keeps it fresh any more.
  if (state == NodeState::kOnline || state == NodeState::kClosing) {
    n.lease_seconds = LeaseSeconds();
  }
  return registry_->Put(options_.kind, n);
}

double Node::LeaseSeconds() const {
  if (options_.lease_seconds > 0) return options_.lease_seconds;
  return std::max(3 * options_.heartbeat_interval_seconds, kMinLeaseSeconds);
}

// One node id, one node: a record of this id that another running node keeps up to date is
// refused, as both would otherwise overwrite it every heartbeat. A running node is one whose
// status service answers as this node id; a record whose service does not answer was left by a
// node that stopped or died (this one's earlier run, after a kill -9), and is taken over.
Status Node::CheckNodeIDFree() const {
  const std::string& id = options_.node_id;
  Result<registry::NodeStatus> rec = registry_->Get(options_.kind, id);
  if (rec.status().IsNotFound()) return Status::OK();
  if (rec.status().IsIOError()) {  // the registry is unreachable: say which and the way out
    return rec.status().WithContext(fmt::format(
        "reading the record of {} {} in {} (pd-urls; without etcd, use the embedded registry: "
        "registry-dir = \"/path\")",
        kind_, id, registry_->Describe()));
  }
  RETURN_IF_ERROR(rec.status().WithContext(fmt::format("reading the record of {} {}", kind_, id)));
  if (rec->status_addr.empty() || rec->status_addr == RecordedStatusAddr()) return Status::OK();
  Result<std::string> answer = AskNodeID(rec->status_addr, kNodeProbeTimeoutMs);
  if (answer.ok() && *answer == id) {
    return Status::Busy(fmt::format(
        "node id {} is held by another running {}: its record in {} says addr {}, state {}, "
        "and its status service at {} answers as {}. Give this {} its own node-id (or "
        "data-dir), or stop that {} first: the record of a {} that no longer answers is "
        "taken over",
        id, kind_, registry_->Describe(), rec->addr, NodeStateName(rec->state), rec->status_addr,
        id, kind_, kind_, kind_));
  }
  if (rec->addr != options_.addr) {
    LOG_WARN(fmt::format("taking over the registry record of a {} that does not answer", kind_),
             KV("node-id", id), KV("recorded-addr", rec->addr),
             KV("recorded-state", NodeStateName(rec->state)),
             KV("recorded-status-addr", rec->status_addr),
             KV("probe", answer.ok() ? "answers as " + *answer : answer.status().ToString()));
  }
  return Status::OK();
}

Status Node::Ask(Request request, std::string_view verb) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!stopped_ && started_ && request_ == Request::kNone && state_ == NodeState::kOnline) {
      request_ = request;
      cv_.notify_all();
      return Status::OK();
    }
  }
  return Status::InvalidArgument(fmt::format("{} {} is {}: only an online {} can be {}", kind_,
                                             options_.node_id, stopped() ? "stopped" : StateName(),
                                             kind_, verb));
}

Status Node::RequestPause() { return Ask(Request::kPause, "paused"); }
Status Node::RequestClose() { return Ask(Request::kClose, "closed"); }

Status Node::Shutdown() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!started_) stopped_ = true;  // nothing to stop
    if (!stopped_) request_ = Request::kShutdown;
  }
  cv_.notify_all();
  return Wait();
}

Status Node::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_; });
  return final_status_;
}

void Node::Loop() {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.heartbeat_interval_seconds));
  Request req = Request::kNone;
  while (true) {
    {
      std::lock_guard<std::mutex> g(mu_);
      req = request_;
    }
    if (req == Request::kShutdown || req == Request::kPause) {
      Stop(NodeState::kPaused);
      break;
    }
    if (req == Request::kClose && state_ == NodeState::kOnline) {
      LOG_INFO(fmt::format("{} state changed", kind_), KV("node-id", options_.node_id),
               KV("from", "online"), KV("to", "closing"));
      state_ = NodeState::kClosing;
      if (options_.on_closing) options_.on_closing();
    }
    if (state_ == NodeState::kClosing && (!options_.drained || options_.drained())) {
      Stop(NodeState::kOffline);
      break;
    }
    Status s = PutRecord(state_);
    NoteRegistry(s);
    WarnHeartbeatFailure(s);
    if (options_.on_heartbeat) options_.on_heartbeat();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, interval, [&] { return request_ != req; });
  }
  if (req != Request::kShutdown && options_.on_stop) options_.on_stop();
}

void Node::Stop(NodeState final_state) {
  NodeState from = state_.exchange(final_state);
  Status s = options_.stop_serving ? options_.stop_serving(final_state) : Status::OK();
  if (Status r = RecordFinalState(final_state); !r.ok()) {
    LOG_ERROR(fmt::format("recording the {}'s final state failed", kind_),
              KV("state", NodeStateName(final_state)), KV("registry", registry_->Describe()),
              KV("error", r));
    if (s.ok()) s = r;
  }
  LOG_INFO(fmt::format("{} state changed", kind_), KV("node-id", options_.node_id),
           KV("from", NodeStateName(from)), KV("to", NodeStateName(final_state)),
           KV("max-commit-ts", options_.max_commit_ts()));
  std::lock_guard<std::mutex> g(mu_);
  stopped_ = true;
  final_status_ = s;
  cv_.notify_all();
}

Status Node::RecordFinalState(NodeState final_state) {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.heartbeat_interval_seconds));
  const auto lease_end = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(LeaseSeconds()));
  for (;;) {
    Status r = PutRecord(final_state);
    NoteRegistry(r);
    if (r.ok()) return r;
    std::unique_lock<std::mutex> lock(mu_);
    const bool give_up = final_state == NodeState::kOffline
                             ? request_ == Request::kShutdown
                             : std::chrono::steady_clock::now() >= lease_end;
    if (give_up) return r;
    LOG_WARN(fmt::format("recording the {}'s final state failed; retrying every heartbeat", kind_),
             KV("state", NodeStateName(final_state)), KV("registry", registry_->Describe()),
             KV("error", r));
    Request seen = request_;
    cv_.wait_for(lock, interval, [&] { return request_ != seen; });
  }
}

void Node::NoteRegistry(const Status& s) {
  std::lock_guard<std::mutex> g(health_mu_);
  if (s.ok()) {
    if (!health_.error.empty()) {
      LOG_INFO(fmt::format("{} heartbeat to the registry works again", kind_),
               KV("registry", registry_->Describe()), KV("failed-since", health_.since));
    }
    health_ = RegistryHealth{};
    return;
  }
  if (health_.error.empty()) {
    health_.since_micros = static_cast<int64_t>(options_.env->NowMicros());
    Result<std::string> when = FormatTSDatetime(ComposeTS(health_.since_micros / 1000, 0));
    health_.since = when.ok() ? *when : "";
  }
  health_.error = s.ToString();
}

// An outage of hours must not write a line every heartbeat: the first failure, then one line a
// minute with how many failed since (the status service says it all the time).
void Node::WarnHeartbeatFailure(const Status& s) {
  if (s.ok()) {
    failed_heartbeats_ = 0;
    return;
  }
  ++failed_heartbeats_;
  const auto now = std::chrono::steady_clock::now();
  if (failed_heartbeats_ > 1 && now < next_heartbeat_warning_) return;
  next_heartbeat_warning_ = now + std::chrono::minutes(1);
  LOG_WARN(fmt::format("{} heartbeat to the registry failed; retrying every heartbeat", kind_),
           KV("registry", registry_->Describe()), KV("error", s),
           KV("failing-since", registry_health().since), KV("failed-heartbeats", failed_heartbeats_));
}

Node::RegistryHealth Node::registry_health() const {
  std::lock_guard<std::mutex> g(health_mu_);
  return health_;
}

void Node::AddStateRoute(HttpServer* http) {
  http->Route("PUT", "/state/", "PUT /state/<node-id>/{pause|close}",
              [this](const HttpServer::Request& req, HttpServer::Response* res) {
                HandleStateRequest(req, res);
              });
}

// PUT /state/<node-id>/<action>.
void Node::HandleStateRequest(const HttpServer::Request& req, HttpServer::Response* res) {
  auto reply = [res](int code, const nlohmann::json& body) {
    res->status = code;
    res->body = body.dump() + "\n";
  };
  const std::string& me = options_.node_id;
  std::string_view rest = std::string_view(req.path).substr(std::string_view("/state/").size());
  size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size() ||
      rest.find('/', slash + 1) != std::string_view::npos) {
    reply(404, {{"error", fmt::format("{} is not /state/<node-id>/<action>: this is {} {}, try "
                                      "PUT /state/{}/pause or /state/{}/close",
                                      req.path, kind_, me, me, me)}});
    return;
  }
  std::string id(rest.substr(0, slash));
  std::string action(rest.substr(slash + 1));
  if (id != me) {
    reply(404, {{"error", fmt::format("no {} {} here: this is {} {}", kind_, id, kind_, me)}});
    return;
  }
  Status s;
  if (action == "pause") {
    s = RequestPause();
  } else if (action == "close") {
    s = RequestClose();
  } else {
    reply(400, {{"error", fmt::format("unknown action \"{}\": pause or close", action)}});
    return;
  }
  if (!s.ok()) {
    reply(409, {{"error", s.message()}});
    return;
  }
  LOG_INFO("state change requested over HTTP", KV("node-id", id), KV("action", action),
           KV("remote", req.remote));
  reply(
      200,
      {{"node-id", id}, {"action", action}, {"state", action == "pause" ? "pausing" : "closing"}});
}

void NodeStateMetric(MetricsText* m, std::string_view name, NodeState now) {
  m->Family(name, "gauge", "The node state (1 for the current one).");
  for (NodeState s : {NodeState::kOnline, NodeState::kPausing, NodeState::kPaused,
                      NodeState::kClosing, NodeState::kOffline}) {
    fmt::format_to(std::back_inserter(*m->out()), "{}{{state=\"{}\"}} {}\n", name, NodeStateName(s),
                   s == now ? 1 : 0);
  }
}

}  // namespace binlog::server
