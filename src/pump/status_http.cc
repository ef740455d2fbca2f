// The pump's HTTP status service: GET /status, GET /metrics, and its node's PUT /state route.
//
// It listens on status-addr, not on addr as TiDB-Binlog does: gRPC C++ owns its listening
// socket and cannot hand HTTP/1 connections over.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "journal/journal.h"
#include "pump/server.h"
#include "pump/service.h"

namespace binlog::pump {

namespace {

using registry::NodeState;
using HttpRequest = server::HttpServer::Request;
using HttpResponse = server::HttpServer::Response;

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

}  // namespace

Status PumpServer::StartHttp() {
  node_->AddStateRoute(&http_);
  http_.Route("GET", "/status", "GET /status",
              [this](const HttpRequest&, HttpResponse* res) { res->body = StatusJson(); });
  http_.Route("GET", "/metrics", "GET /metrics", [this](const HttpRequest&, HttpResponse* res) {
    res->body = MetricsText();
    res->content_type = "text/plain; version=0.0.4";
  });
  RETURN_IF_ERROR(http_.Start(config_.status_addr, "status-addr", "pump-http"));
  status_addr_ = http_.addr();
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
  j["state"] = node_->StateName();
  // Writes go on while the registry is away; only the record goes stale.
  server::Node::RegistryHealth registry = node_->registry_health();
  j["registry-error"] = registry.error.empty() ? nlohmann::json() : nlohmann::json(registry.error);
  j["registry-error-since"] =
      registry.error.empty() ? nlohmann::json() : nlohmann::json(registry.since);
  bool online = node_->started() && node_->state() == NodeState::kOnline;
  j["writable"] = online && st.writable;
  // A pump that is not online says so first: its state is why, whatever else is also wrong.
  j["not-writable-because"] = !online ? Refusal() : st.not_writable_because;
  j["max-commit-ts"] = st.max_commit_ts;
  j["emitted-ts"] = st.emitted_ts;
  j["pending-prewrites"] = st.pending_prewrites;
  j["committed-waiting"] = st.committed_waiting;
  j["writes"] = st.writes;
  j["write-bytes"] = st.write_bytes;
  j["refused"] = st.refused;
  j["refused-future-ts"] = st.refused_future_ts;
  j["recovered-wal-records"] = st.wal_records_replayed;
  j["write-streams"] = service_->OpenWriteStreams();
  j["available-bytes"] = st.available_bytes;
  j["stop-write-at-available-space"] = config_.stop_write_at_available_space;
  j["wal-bytes"] = DirBytes(options_.env, JoinPath(config_.data_dir, "wal"));
  j["binlog-bytes"] = DirBytes(options_.env, JoinPath(config_.data_dir, "binlog"));
  return j.dump() + "\n";
}

// Prometheus text exposition.
std::string PumpServer::MetricsText() {
  PumpStats st = pump_->Stats();
  server::MetricsText m;
  m.Counter("binlog_pump_writes_total", "Binlogs written durably to the wal (acknowledged).",
            st.writes);
  m.Counter("binlog_pump_write_bytes_total", "Bytes of binlogs written to the wal.",
            st.write_bytes);
  m.Counter("binlog_pump_refused_total", "Writes refused: invalid, no space, not online.",
            st.refused);
  m.Counter("binlog_pump_refused_future_ts_total",
            "Writes refused because a ts was ahead of the pump's clock by more than "
            "max-clock-drift (also in binlog_pump_refused_total).",
            st.refused_future_ts);
  m.Gauge("binlog_pump_write_streams", "Producers' WriteBinlogStreams open now.",
          service_->OpenWriteStreams());
  m.Gauge("binlog_pump_pending_prewrites", "Prewrites waiting for their commit or rollback.",
          st.pending_prewrites);
  m.Gauge("binlog_pump_committed_waiting", "Committed transactions waiting for the watermark.",
          st.committed_waiting);
  m.Gauge("binlog_pump_max_commit_ts", "The watermark: no commit below it can still arrive.",
          st.max_commit_ts);
  m.Gauge("binlog_pump_emitted_ts", "Newest commit ts durable in binlog/.", st.emitted_ts);
  m.Gauge("binlog_pump_available_bytes", "Free bytes on the data-dir file system.",
          st.available_bytes);
  m.Gauge("binlog_pump_wal_bytes", "Bytes in wal/ segments.",
          DirBytes(options_.env, JoinPath(config_.data_dir, "wal")));
  m.Gauge("binlog_pump_binlog_bytes", "Bytes in binlog/ segments.",
          DirBytes(options_.env, JoinPath(config_.data_dir, "binlog")));
  m.Family("binlog_pump_write_duration_seconds", "histogram",
           "From a write's arrival at the pump to its answer (a WriteBinlog, a WriteBinlogs batch "
           "or a probe; refusals included).");
  st.write_latency.AppendPrometheus(m.out(), "binlog_pump_write_duration_seconds", "");
  m.Family("binlog_pump_fsync_duration_seconds", "histogram",
           "fdatasync latency of the pump's journals (a wal sync acknowledges a group of "
           "writes).");
  st.wal_sync_latency.AppendPrometheus(m.out(), "binlog_pump_fsync_duration_seconds",
                                       "journal=\"wal\"");
  st.binlog_sync_latency.AppendPrometheus(m.out(), "binlog_pump_fsync_duration_seconds",
                                          "journal=\"binlog\"");
  server::NodeStateMetric(&m, "binlog_pump_state", node_->state());
  return m.Take();
}

}  // namespace binlog::pump
