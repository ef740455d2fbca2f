// The syncer's status service: GET /status (JSON) and GET /metrics (Prometheus text).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "syncer/config.h"
#include "syncer/syncer.h"

namespace binlog::syncer {

Status Syncer::StartStatusService() {
  using server::HttpServer;
  status_http_ = std::make_unique<HttpServer>();
  status_http_->Route(
      "GET", "/status", "GET /status",
      [this](const HttpServer::Request&, HttpServer::Response* res) { res->body = StatusJson(); });
  status_http_->Route("GET", "/metrics", "GET /metrics",
                      [this](const HttpServer::Request&, HttpServer::Response* res) {
                        res->body = MetricsText();
                        res->content_type = "text/plain; version=0.0.4";
                      });
  RETURN_IF_ERROR(status_http_->Start(config_.status_addr, "status-addr", "syncer-http"));
  LOG_INFO("status service listening", KV("addr", status_http_->addr()));
  return Status::OK();
}

std::string Syncer::StatusJson() const {
  SyncerStats st = Stats();
  nlohmann::ordered_json j;
  j["state"] = st.state;
  j["upstream"] = fmt::format("{}:{}", config_.from.host, config_.from.port);
  j["upstream-version"] = st.upstream;
  j["binlog-name"] = st.position.name;
  j["binlog-pos"] = st.position.pos;
  j["binlog-gtid"] = st.position.gtid;
  j["last-ts"] = st.last_ts;
  j["lag-seconds"] = st.lag_seconds;
  j["events"] = st.events;
  j["rows"] = st.rows;
  j["transactions"] = st.transactions;
  j["ddl"] = st.ddl;
  j["heartbeats"] = st.heartbeats;
  j["skipped"] = st.skipped;
  j["reconnects"] = st.reconnects;
  j["stopped-on-ddl"] = stopped_on_ddl_;
  j["last-error"] = st.last_error;
  return j.dump() + "\n";
}

std::string Syncer::MetricsText() const {
  SyncerStats st = Stats();
  server::MetricsText m;
  m.Counter("binlog_syncer_events_total", "Binlog events read from the upstream.", st.events);
  m.Counter("binlog_syncer_rows_total", "Row changes archived durably.", st.rows);
  m.Counter("binlog_syncer_transactions_total", "Transactions archived durably.", st.transactions);
  m.Counter("binlog_syncer_ddl_total", "DDL statements archived.", st.ddl);
  m.Counter("binlog_syncer_heartbeats_total", "FAKE binlogs archived when idle.", st.heartbeats);
  m.Counter("binlog_syncer_reconnects_total", "Reconnects to the upstream.", st.reconnects);
  m.Gauge("binlog_syncer_lag_seconds",
          "Seconds between the last archived transaction's upstream time and its archiving (0 "
          "when idle).",
          st.lag_seconds);
  m.Gauge("binlog_syncer_last_ts", "Newest commit ts archived.", st.last_ts);
  m.Gauge("binlog_syncer_binlog_pos", "Durable position in the upstream's file.", st.position.pos);
  m.Family("binlog_syncer_position", "gauge", "The durable upstream position (labels).");
  fmt::format_to(std::back_inserter(*m.out()),
                 "binlog_syncer_position{{file=\"{}\",gtid=\"{}\"}} {}\n", st.position.name,
                 st.position.gtid, st.position.pos);
  return m.Take();
}

}  // namespace binlog::syncer
