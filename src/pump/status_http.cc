// The pump's HTTP status service: GET /status, GET /metrics, PUT /state/<node-id>/<action>.
//
// It listens on status-addr, not on addr as TiDB-Binlog does: gRPC C++ owns its listening
// socket and cannot hand HTTP/1 connections over.
#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.h"
#include "common/thread_name.h"
#include "journal/journal.h"
#include "pump/server.h"
#include "pump/service.h"

namespace binlog::pump {

namespace {

using registry::NodeState;

constexpr auto kListenTimeout = std::chrono::seconds(5);
constexpr char kStateRoute[] = R"(/state/([^/]+)/([^/]+))";

// "/state/<id>/<action>", as kStateRoute matches it, without compiling a regex per request.
bool ParseStatePath(std::string_view path, std::string* id, std::string* action) {
  constexpr std::string_view kPrefix = "/state/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  path.remove_prefix(kPrefix.size());
  size_t slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == path.size() ||
      path.find('/', slash + 1) != std::string_view::npos) {
    return false;
  }
  *id = std::string(path.substr(0, slash));
  *action = std::string(path.substr(slash + 1));
  return true;
}

// Bytes in a journal directory's segments, as Journal::DiskUsage counts them.
uint64_t DirBytes(Env* env, const std::string& dir) {
  auto segments = journal::ListSegments(env, dir, /*warn_unknown=*/false);
  if (!segments.ok()) return 0;
  uint64_t total = 0;
  for (const journal::SegmentName& seg : *segments) {
    auto size = env->GetFileSize(JoinPath(dir, seg.name));
    if (size.ok()) total += *size;  // removed since the listing
  }
  return total;
}

void Reply(httplib::Response& res, int code, const nlohmann::json& body) {
  res.status = code;
  res.set_content(body.dump() + "\n", "application/json");
}

void Metric(std::string* out, std::string_view name, std::string_view type, std::string_view help,
            uint64_t value) {
  fmt::format_to(std::back_inserter(*out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, value);
}

}  // namespace

void PumpServer::HandleStateRequest(const std::string& id, const std::string& action,
                                    const std::string& remote, httplib::Response& res) {
  if (id != config_.node_id) {
    Reply(res, 404,
          {{"error", fmt::format("no pump {} here: this is pump {}", id, config_.node_id)}});
    return;
  }
  Status s;
  if (action == "pause") {
    s = RequestPause();
  } else if (action == "close") {
    s = RequestClose();
  } else {
    Reply(res, 400, {{"error", fmt::format("unknown action \"{}\": pause or close", action)}});
    return;
  }
  if (!s.ok()) {
    Reply(res, 409, {{"error", s.message()}});
    return;
  }
  LOG_INFO("state change requested over HTTP", KV("node-id", id), KV("action", action),
           KV("remote", remote));
  Reply(
      res, 200,
      {{"node-id", id}, {"action", action}, {"state", action == "pause" ? "pausing" : "closing"}});
}

Status PumpServer::StartHttp() {
  http_ = std::make_unique<httplib::Server>();
  http_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4");
  });
  http_->Put(kStateRoute, [this](const httplib::Request& req, httplib::Response& res) {
    HandleStateRequest(req.matches[1], req.matches[2], req.remote_addr, res);
  });
  // httplib reads a PUT's body before routing and refuses one with neither Content-Length nor
  // chunking, which is what `curl -X PUT` sends; such a request has no body to skip, so it is
  // answered here, before the read.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::string id, action;
    if (req.method != "PUT" || req.has_header("Content-Length") ||
        req.has_header("Transfer-Encoding") || !ParseStatePath(req.path, &id, &action)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    HandleStateRequest(id, action, req.remote_addr, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        Reply(res, 500, {{"error", what}});
      });

  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(config_.status_addr));
  std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;
  int port = hp.port;
  if (port == 0) {
    port = http_->bind_to_any_port(host);
  } else if (!http_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return Status::IOError(fmt::format(
        "cannot listen on status-addr {} for HTTP (port in use, or not an address of this "
        "host?)",
        config_.status_addr));
  }
  status_addr_ = JoinHostPort(IsUnspecifiedHost(host) ? "127.0.0.1" : host, port);
  http_thread_ = std::thread([this] {
    NameThisThread("pump-http");
    http_->listen_after_bind();
  });
  // stop() is a no-op until the loop runs, so a stop that came first would leave it running.
  auto deadline = std::chrono::steady_clock::now() + kListenTimeout;
  while (!http_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut("the HTTP status service did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::OK();
}

std::string PumpServer::StatusJson() {
  PumpStats st = pump_->Stats();
  nlohmann::ordered_json j;
  j["node-id"] = config_.node_id;
  j["addr"] = config_.advertise_addr;
  j["status-addr"] = status_addr_;
  // The HTTP service answers before the node is registered online; "paused" there would send
  // an operator looking for a pause request that never happened.
  j["state"] = registered_ ? registry::NodeStateName(state_) : "starting";
  j["writable"] = state_ == NodeState::kOnline && st.writable;
  j["max-commit-ts"] = st.max_commit_ts;
  j["emitted-ts"] = st.emitted_ts;
  j["pending-prewrites"] = st.pending_prewrites;
  j["committed-waiting"] = st.committed_waiting;
  j["writes"] = st.writes;
  j["write-bytes"] = st.write_bytes;
  j["refused"] = st.refused;
  j["write-streams"] = service_->OpenWriteStreams();
  j["available-bytes"] = st.available_bytes;
  j["wal-bytes"] = DirBytes(options_.env, JoinPath(config_.data_dir, "wal"));
  j["binlog-bytes"] = DirBytes(options_.env, JoinPath(config_.data_dir, "binlog"));
  return j.dump() + "\n";
}

// Prometheus text exposition.
std::string PumpServer::MetricsText() {
  PumpStats st = pump_->Stats();
  std::string out;
  Metric(&out, "binlog_pump_writes_total", "counter",
         "Binlogs written durably to the wal (acknowledged).", st.writes);
  Metric(&out, "binlog_pump_write_bytes_total", "counter", "Bytes of binlogs written to the wal.",
         st.write_bytes);
  Metric(&out, "binlog_pump_refused_total", "counter",
         "Writes refused: invalid, no space, not online.", st.refused);
  Metric(&out, "binlog_pump_write_streams", "gauge", "Producers' WriteBinlogStreams open now.",
         service_->OpenWriteStreams());
  Metric(&out, "binlog_pump_pending_prewrites", "gauge",
         "Prewrites waiting for their commit or rollback.", st.pending_prewrites);
  Metric(&out, "binlog_pump_committed_waiting", "gauge",
         "Committed transactions waiting for the watermark.", st.committed_waiting);
  Metric(&out, "binlog_pump_max_commit_ts", "gauge",
         "The watermark: no commit below it can still arrive.", st.max_commit_ts);
  Metric(&out, "binlog_pump_emitted_ts", "gauge", "Newest commit ts durable in binlog/.",
         st.emitted_ts);
  Metric(&out, "binlog_pump_available_bytes", "gauge", "Free bytes on the data-dir file system.",
         st.available_bytes);
  Metric(&out, "binlog_pump_wal_bytes", "gauge", "Bytes in wal/ segments.",
         DirBytes(options_.env, JoinPath(config_.data_dir, "wal")));
  Metric(&out, "binlog_pump_binlog_bytes", "gauge", "Bytes in binlog/ segments.",
         DirBytes(options_.env, JoinPath(config_.data_dir, "binlog")));
  out +=
      "# HELP binlog_pump_write_duration_seconds From a write's arrival at the pump to its "
      "answer (a WriteBinlog, a WriteBinlogs batch or a probe; refusals included).\n"
      "# TYPE binlog_pump_write_duration_seconds histogram\n";
  st.write_latency.AppendPrometheus(&out, "binlog_pump_write_duration_seconds", "");
  out +=
      "# HELP binlog_pump_fsync_duration_seconds fdatasync latency of the pump's journals (a wal "
      "sync acknowledges a group of writes).\n"
      "# TYPE binlog_pump_fsync_duration_seconds histogram\n";
  st.wal_sync_latency.AppendPrometheus(&out, "binlog_pump_fsync_duration_seconds",
                                       "journal=\"wal\"");
  st.binlog_sync_latency.AppendPrometheus(&out, "binlog_pump_fsync_duration_seconds",
                                          "journal=\"binlog\"");
  out += "# HELP binlog_pump_state The node state (1 for the current one).\n";
  out += "# TYPE binlog_pump_state gauge\n";
  NodeState now = state_;
  for (NodeState s : {NodeState::kOnline, NodeState::kPausing, NodeState::kPaused,
                      NodeState::kClosing, NodeState::kOffline}) {
    fmt::format_to(std::back_inserter(out), "binlog_pump_state{{state=\"{}\"}} {}\n",
                   registry::NodeStateName(s), s == now ? 1 : 0);
  }
  return out;
}

}  // namespace binlog::pump
