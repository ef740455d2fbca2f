// Opening, the reconnect loop and stats. The stream itself (reader and writer) is stream.cc.
#include "syncer/syncer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/logging.h"
#include "syncer/upstream.h"

namespace binlog::syncer {

namespace {

// What a reconnect may cure: the network, the server restarting. Damaged or undecodable events
// are not: the server would send the same bytes again.
bool Retryable(const Status& s) { return s.IsIOError() || s.IsTimedOut(); }

BinlogPosition FromSource(const pb::SourcePosition& src) {
  BinlogPosition p;
  p.name = src.file();
  p.pos = src.pos();
  p.gtid = src.gtid();
  return p;
}

}  // namespace

Syncer::Syncer(const SyncerConfig& config, SyncerOptions options)
    : config_(config), options_(std::move(options)) {}

Syncer::~Syncer() {
  if (status_http_) status_http_->Stop();
  if (sink_) sink_->Close().IgnoreError();
}

Result<std::unique_ptr<Syncer>> Syncer::Open(const SyncerConfig& config, SyncerOptions options) {
  std::unique_ptr<Syncer> s(new Syncer(config, std::move(options)));
  RETURN_IF_ERROR(s->Init());
  return s;
}

Status Syncer::Init() {
  Env* env = options_.env;
  // Before anything is created on disk.
  if (!config_.status_addr.empty()) {
    RETURN_IF_ERROR(server::CheckListenAddr(config_.status_addr, "status-addr"));
  }
  if (config_.to.type == "pump") {
    PumpSinkOptions po;
    po.addrs = config_.to.pump_addrs;
    po.max_retry = config_.max_retry;
    po.retry_base_seconds = options_.retry_base_seconds;
    po.retry_max_seconds = options_.retry_max_seconds;
    ASSIGN_OR_RETURN(sink_, OpenPumpSink(po));
  } else if (config_.to.type == "mysql") {
    MysqlSinkOptions mo;
    mo.connect = config_.to.mysql;
    mo.server_id = config_.server_id;
    mo.worker_count = config_.worker_count;
    mo.txn_batch = config_.batch;
    mo.safe_mode = config_.safe_mode;
    mo.max_retry = config_.max_retry;
    mo.retry_base_seconds = options_.retry_base_seconds;
    mo.retry_max_seconds = options_.retry_max_seconds;
    ASSIGN_OR_RETURN(sink_, OpenMysqlSink(mo));
  } else {
    JournalSinkOptions jo;
    jo.env = env;
    jo.dir = config_.to.dir;
    jo.max_file_size = config_.to.max_file_size;
    ASSIGN_OR_RETURN(sink_, OpenJournalSink(jo));
  }

  if (!config_.meta_from.empty()) {
    ASSIGN_OR_RETURN(BinlogPosition backup, ReadBackupPosition(config_.meta_from));
    RETURN_IF_ERROR(SaveMeta(env, config_.meta, backup));
    LOG_INFO("syncer.meta initialised from a backup's position", KV("from", config_.meta_from),
             KV("meta", config_.meta), KV("position", backup.ToString()));
  }
  ASSIGN_OR_RETURN(meta_, LoadMeta(env, config_.meta));
  if (meta_) position_ = *meta_;
  if (sink_->KeepsPosition()) RETURN_IF_ERROR(ResumeFromSink());
  stats_.position = position_;
  stats_.last_ts = sink_->LastTS();
  if (!config_.status_addr.empty()) RETURN_IF_ERROR(StartStatusService());
  return Status::OK();
}

// A downstream that keeps the position has it committed with what it applied: it wins over
// syncer.meta, which is rewritten to follow it.
Status Syncer::ResumeFromSink() {
  resumed_ = true;
  BinlogPosition kept = sink_->KeptPosition();
  if (kept.empty()) {
    LOG_INFO("the downstream holds no position yet: starting from syncer.meta",
             KV("meta", meta_ ? meta_->ToString() : "(none)"));
    return Status::OK();
  }
  LOG_INFO("resuming from the downstream's position (tidb_binlog.syncer_position), not "
           "syncer.meta",
           KV("downstream", kept.ToString()), KV("meta", meta_ ? meta_->ToString() : "(none)"),
           KV("ts", sink_->LastTS()));
  position_ = kept;
  if (!meta_ || FormatMeta(*meta_) != FormatMeta(kept)) {
    RETURN_IF_ERROR(SaveMeta(options_.env, config_.meta, kept));
  }
  return Status::OK();
}

// Runs once the upstream is known (a pump keys what it holds by the upstream's server_id).
Status Syncer::Resume(uint32_t upstream_server_id) {
  ASSIGN_OR_RETURN(std::optional<pb::SourcePosition> last, sink_->LastSource(upstream_server_id));
  const std::optional<BinlogPosition>& meta = meta_;
  if (last && !last->file().empty()) {
    BinlogPosition held = FromSource(*last);
    skip_until_ = held;
    std::optional<int> cmp = meta ? ComparePositions(held, *meta) : std::optional<int>(1);
    if (!meta || (cmp && *cmp > 0)) {
      // The sink holds transactions the meta does not know of: a crash came between the two
      // writes (or the meta was lost). Resume after them; keep the meta's per-domain GTIDs.
      LOG_INFO("the archive is ahead of syncer.meta: resuming after its newest record",
               KV("meta", meta ? meta->ToString() : "(none)"), KV("archive", held.ToString()));
      std::map<uint32_t, std::string> state = ParseGtidState(position_.gtid);
      for (const auto& [domain, gtid] : ParseGtidState(held.gtid)) state[domain] = gtid;
      position_.name = held.name;
      position_.pos = held.pos;
      position_.gtid = state.empty() ? held.gtid : FormatGtidState(state);
    } else if (!cmp) {
      LOG_WARN(
          "syncer.meta and the archive's newest record are in different binlogs: using "
          "syncer.meta",
          KV("meta", meta->ToString()), KV("archive", held.ToString()));
      skip_until_.reset();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.position = position_;
  stats_.last_ts = sink_->LastTS();
  resumed_ = true;
  return Status::OK();
}

Status Syncer::Run() {
  int failures = 0;
  while (!stop_) {
    bool progressed = false, fatal = false;
    Status s = RunOnce(&progressed, &fatal);
    if (s.ok()) break;
    if (progressed) failures = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.last_error = s.ToString();
    }
    if (stop_) break;
    if (fatal || !Retryable(s)) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.state = "failed";
      return s;
    }
    if (++failures > config_.max_retry) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.state = "failed";
      return s.WithContext(
          fmt::format("gave up after {} reconnects in a row (max-retry)", config_.max_retry));
    }
    LOG_WARN("replication interrupted; reconnecting", KV("error", s), KV("attempt", failures),
             KV("max-retry", config_.max_retry), KV("position", position_.ToString()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.state = "retrying";
      stats_.reconnects++;
    }
    if (!SleepBackoff(failures)) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.state = "stopped";
  return Status::OK();
}

bool Syncer::SleepBackoff(int failures) {
  double seconds =
      std::min(options_.retry_max_seconds,
               options_.retry_base_seconds * std::pow(2.0, std::min(failures, 20) - 1));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stop_.load(); });
  return !stop_;
}

void Syncer::Stop() {
  stop_ = true;
  if (sink_) sink_->Cancel();
  std::lock_guard<std::mutex> lock(mu_);
  if (upstream_ != nullptr) upstream_->Interrupt();
  cv_.notify_all();
}

SyncerStats Syncer::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SyncerStats st = stats_;
  st.events = events_.load(std::memory_order_relaxed);
  return st;
}

std::string Syncer::status_addr() const {
  return status_http_ ? status_http_->addr() : std::string();
}

}  // namespace binlog::syncer
