#include "syncer/status_server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/thread_name.h"
#include "syncer/config.h"
#include "syncer/syncer.h"

namespace binlog::syncer {

namespace {

constexpr auto kListenTimeout = std::chrono::seconds(5);

void Metric(std::string* out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  fmt::format_to(std::back_inserter(*out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, value);
}

}  // namespace

StatusServer::StatusServer() = default;

StatusServer::~StatusServer() { Stop(); }

Status StatusServer::Start(const std::string& addr, std::function<std::string()> status_json,
                           std::function<std::string()> metrics_text) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(SplitHostPort(addr, &host, &port));
  http_ = std::make_unique<httplib::Server>();
  http_->Get("/status",
             [f = std::move(status_json)](const httplib::Request&, httplib::Response& res) {
               res.set_content(f(), "application/json");
             });
  http_->Get("/metrics",
             [f = std::move(metrics_text)](const httplib::Request&, httplib::Response& res) {
               res.set_content(f(), "text/plain; version=0.0.4");
             });
  std::string bind = host.empty() ? "0.0.0.0" : host;
  int bound =
      port == 0 ? http_->bind_to_any_port(bind) : (http_->bind_to_port(bind, port) ? port : -1);
  if (bound <= 0) {
    return Status::IOError(fmt::format(
        "cannot listen on status-addr {} (port in use, or not an address of this host?)", addr));
  }
  thread_ = std::thread([this] {
    NameThisThread("syncer-http");
    http_->listen_after_bind();
  });
  // stop() does nothing until the loop runs: wait for it so a quick Stop cannot be lost.
  auto deadline = std::chrono::steady_clock::now() + kListenTimeout;
  while (!http_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut("the HTTP status service did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  bool any = bind == "0.0.0.0" || bind == "::";
  addr_ = fmt::format("{}:{}", any ? "127.0.0.1" : bind, bound);
  return Status::OK();
}

void StatusServer::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
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
  std::string out;
  Metric(&out, "binlog_syncer_events_total", "counter", "Binlog events read from the upstream.",
         static_cast<double>(st.events));
  Metric(&out, "binlog_syncer_rows_total", "counter", "Row changes archived durably.",
         static_cast<double>(st.rows));
  Metric(&out, "binlog_syncer_transactions_total", "counter", "Transactions archived durably.",
         static_cast<double>(st.transactions));
  Metric(&out, "binlog_syncer_ddl_total", "counter", "DDL statements archived.",
         static_cast<double>(st.ddl));
  Metric(&out, "binlog_syncer_heartbeats_total", "counter", "FAKE binlogs archived when idle.",
         static_cast<double>(st.heartbeats));
  Metric(&out, "binlog_syncer_reconnects_total", "counter", "Reconnects to the upstream.",
         static_cast<double>(st.reconnects));
  Metric(&out, "binlog_syncer_lag_seconds", "gauge",
         "Seconds between the last archived transaction's upstream time and its archiving (0 "
         "when idle).",
         st.lag_seconds);
  Metric(&out, "binlog_syncer_last_ts", "gauge", "Newest commit ts archived.",
         static_cast<double>(st.last_ts));
  Metric(&out, "binlog_syncer_binlog_pos", "gauge", "Durable position in the upstream's file.",
         static_cast<double>(st.position.pos));
  fmt::format_to(std::back_inserter(out),
                 "# HELP binlog_syncer_position The durable upstream position (labels).\n"
                 "# TYPE binlog_syncer_position gauge\n"
                 "binlog_syncer_position{{file=\"{}\",gtid=\"{}\"}} {}\n",
                 st.position.name, st.position.gtid, st.position.pos);
  return out;
}

}  // namespace binlog::syncer
