// The drainer's HTTP status service on addr: GET /status, GET /metrics, PUT /state/<id>/<action>.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/tso.h"
#include "drainer/drainer_internal.h"

namespace binlog::drainer {

namespace {

using HttpRequest = server::HttpServer::Request;
using HttpResponse = server::HttpServer::Response;

double LagSeconds(Env* env, uint64_t ts) {
  if (ts == 0) return 0;
  return std::max(0.0, static_cast<double>(env->NowMicros() / 1000 - TSPhysicalMs(ts)) / 1000);
}

std::string When(uint64_t ts) {
  Result<std::string> text = FormatTSDatetime(ts);
  return text.ok() ? *text : "";
}

}  // namespace

std::string Drainer::Impl::StatusJson() const {
  const uint64_t checkpoint = CheckpointTs();
  const replay::EngineStats st = engine->Stats();
  const MergeStatus merge = merger ? merger->Status() : MergeStatus{};
  nlohmann::ordered_json j;
  j["node-id"] = config.node_id;
  j["addr"] = status_addr;
  j["state"] = node ? node->StateName() : "starting";
  server::Node::RegistryHealth registry =
      node ? node->registry_health() : server::Node::RegistryHealth{};
  j["registry-error"] = registry.error.empty() ? nlohmann::json() : nlohmann::json(registry.error);
  j["registry-error-since"] =
      registry.error.empty() ? nlohmann::json() : nlohmann::json(registry.since);
  j["checkpoint"] = {{"commit-ts", checkpoint}, {"datetime", When(checkpoint)},
                     {"lag-seconds", LagSeconds(options.env, checkpoint)}};
  j["applied"] = {{"transactions", st.transactions}, {"rows", st.rows}, {"ddl", st.ddl},
                  {"filtered", st.filtered}, {"already-applied", st.already},
                  {"retries", st.retries}};
  j["merge"] = {{"emitted-ts", merge.emitted_ts}, {"binlogs", merge.binlogs},
                {"duplicates", merge.duplicates}, {"disorder-binlogs", merge.disorder}};
  if (!merge.waiting_on.empty()) {
    j["merge"]["waiting-on"] = merge.waiting_on;
    j["merge"]["waiting-since"] = When(ComposeTS(merge.waiting_since_micros / 1000, 0));
    j["merge"]["waiting-seconds"] =
        static_cast<double>(options.env->NowMicros() - merge.waiting_since_micros) / 1e6;
  }
  std::map<std::string, PumpFeedStatus> feeds;
  for (const PumpFeedStatus& f : merge.pumps) feeds[f.node_id] = f;
  nlohmann::ordered_json pumps_json = nlohmann::json::array();
  for (const PumpView& p : pumps ? pumps->Pumps() : std::vector<PumpView>{}) {
    const PumpFeedStatus& f = feeds[p.node_id];
    pumps_json.push_back({{"node-id", p.node_id}, {"state", p.state}, {"via", p.via},
                          {"watermark", f.watermark}, {"lag-seconds", LagSeconds(options.env, f.watermark)},
                          {"queued", f.queued}, {"draining", f.draining}, {"error", p.error}});
  }
  j["pumps"] = pumps_json;
  if (relay) j["relay-bytes"] = relay->bytes();
  return j.dump() + "\n";
}

std::string Drainer::Impl::MetricsText() const {
  const replay::EngineStats st = engine->Stats();
  const MergeStatus merge = merger ? merger->Status() : MergeStatus{};
  const uint64_t checkpoint = CheckpointTs();
  server::MetricsText m;
  m.Counter("binlog_drainer_binlogs_applied_total", "Transactions applied downstream.",
            st.transactions);
  m.Counter("binlog_drainer_rows_applied_total", "Row changes applied downstream.", st.rows);
  m.Counter("binlog_drainer_ddl_applied_total", "DDL statements applied downstream.", st.ddl);
  m.Counter("binlog_drainer_retries_total", "Downstream transactions retried.", st.retries);
  m.Counter("binlog_drainer_disorder_binlog_count",
            "Binlogs below what was already applied (not applied; see the log).", merge.disorder);
  m.Counter("binlog_drainer_duplicate_binlogs_total",
            "The same commit ts from a second pump (applied once).", merge.duplicates);
  m.Gauge("binlog_drainer_checkpoint_ts", "Every transaction at or below it is applied.",
          checkpoint);
  m.Gauge("binlog_drainer_lag_seconds", "Now minus the checkpoint's commit time.",
          LagSeconds(options.env, checkpoint));
  m.Gauge("binlog_drainer_relay_bytes", "Bytes in the relay log.",
          relay ? relay->bytes() : 0);
  m.Family("binlog_drainer_apply_duration_seconds", "histogram",
           "Each downstream transaction (a group of whole upstream ones), retries included.");
  st.apply_latency.AppendPrometheus(m.out(), "binlog_drainer_apply_duration_seconds", "");
  m.Family("binlog_drainer_pump_watermark", "gauge", "Each pump's newest ts read.");
  for (const PumpFeedStatus& f : merge.pumps) {
    fmt::format_to(std::back_inserter(*m.out()), "binlog_drainer_pump_watermark{{pump=\"{}\"}} {}\n",
                   f.node_id, f.watermark);
  }
  if (node) server::NodeStateMetric(&m, "binlog_drainer_state", node->state());
  return m.Take();
}

Status Drainer::Impl::StartHttp() {
  http.Route("GET", "/status", "GET /status",
             [this](const HttpRequest&, HttpResponse* res) { res->body = StatusJson(); });
  http.Route("GET", "/metrics", "GET /metrics", [this](const HttpRequest&, HttpResponse* res) {
    res->body = MetricsText();
    res->content_type = "text/plain; version=0.0.4";
  });
  RETURN_IF_ERROR(http.Start(config.addr, "addr", "drainer-http"));
  status_addr = http.addr();
  return Status::OK();
}

}  // namespace binlog::drainer
