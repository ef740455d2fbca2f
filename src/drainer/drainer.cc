// The drainer's lifecycle: open the sink and its checkpoint, recover the relay log, pull and
// merge the pumps, apply, stop cleanly.
#include "drainer/drainer.h"

#include <fmt/format.h>

#include <iostream>

#include "common/logging.h"
#include "common/thread_name.h"
#include "common/tso.h"
#include "drainer/checkpoint.h"
#include "drainer/drainer_internal.h"

namespace binlog::drainer {

namespace {

// Each pump's queue in the merger and the engine's pending binlogs, in serialized bytes: enough
// to keep the apply side busy, small enough that three pumps, the engine and the relay batch
// stay below 256 MiB. Parsed, small binlogs take 4-6x their serialized size. drainer_bench,
// 3 pumps: into the file sink, peak RSS 300 MiB at 16 MiB a pump, 175 MiB at 8 (4 was slower);
// into MariaDB at 8 MiB a pump, 260 MiB with 16 MiB pending in the engine, 207 MiB with 8.
constexpr size_t kMaxQueueBytesPerPump = 8u << 20;
constexpr size_t kMaxPendingBytes = 8u << 20;
constexpr size_t kMaxBatch = 4096;
constexpr std::chrono::seconds kStopGrace(30);

std::string ProgressTask(uint64_t cluster_id) { return fmt::format("drainer-{}", cluster_id); }

}  // namespace

Status Drainer::Impl::Open() {
  Env* env = options.env;
  const std::string origin = config.config_file.empty() ? "the flags" : config.config_file;
  ASSIGN_OR_RETURN(registry,
                   registry::OpenRegistry(env, config.pd_urls, config.registry_dir, origin));
  RETURN_IF_ERROR(server::CheckListenAddr(config.addr, "addr"));
  RETURN_IF_ERROR(env->CreateDirs(config.data_dir));
  std::optional<Checkpoint> saved;
  const std::string savepoint = config.data_dir + "/savepoint";
  if (config.sink == SinkType::kMysql) {
    Result<std::unique_ptr<mysql::Connection>> conn = mysql::Connection::Open(config.to);
    if (!conn.ok()) return conn.status().WithContext("cannot reach the downstream [syncer.to]");
    RETURN_IF_ERROR((*conn)->Execute(kCreateCheckpointTable));
    ASSIGN_OR_RETURN(saved, ReadCheckpointTable(conn->get(), config.cluster_id));
    replay::MysqlSinkOptions so;
    so.connect = config.to;
    so.task = ProgressTask(config.cluster_id);
    so.safe_mode = config.safe_mode;
    so.on_advance = [id = config.cluster_id](uint64_t low) {
      return UpsertCheckpointSql(id, Checkpoint{false, low});
    };
    ASSIGN_OR_RETURN(sink, replay::NewMysqlSink(so));
  } else {
    ASSIGN_OR_RETURN(saved, ReadSavepoint(env, savepoint));
    std::unique_ptr<replay::Sink> inner;
    if (config.sink == SinkType::kFile) {
      FileSinkOptions fo;
      fo.env = env;
      fo.dir = config.to_dir.empty() ? config.data_dir : config.to_dir;
      fo.retention_seconds = config.retention_seconds;
      ASSIGN_OR_RETURN(inner, NewFileSink(fo));
    } else {
      inner = replay::NewPrintSink(options.print_out);
    }
    sink = WithSavepoint(std::move(inner), env, savepoint);
  }
  ASSIGN_OR_RETURN(replay::Filter filter, replay::Filter::Make(config.filter));
  replay::EngineOptions eo;
  eo.worker_count = std::min(config.worker_count, sink->MaxWorkers());
  eo.txn_batch = config.txn_batch;
  eo.split_big_txn = config.split_big_txn;
  eo.max_retry = config.max_retry;
  eo.max_pending_bytes = kMaxPendingBytes;
  ASSIGN_OR_RETURN(engine, replay::Engine::Start(sink.get(), std::move(filter), eo));
  const replay::ResumeState& resumed = engine->resumed();
  start_ts = std::max(resumed.low_ts, saved ? saved->commit_ts : 0);
  if (!saved && resumed.low_ts == 0 && resumed.applied.empty()) {
    start_ts = config.initial_commit_ts >= 0 ? static_cast<uint64_t>(config.initial_commit_ts)
                                             : ComposeTS(env->NowMicros() / 1000, 0);
    LOG_INFO("no checkpoint yet: starting after initial-commit-ts", KV("ts", start_ts));
  } else {
    LOG_INFO("resuming after the checkpoint", KV("commit-ts", start_ts),
             KV("consistent", saved && saved->consistent),
             KV("applied-above", resumed.applied.size()));
  }
  checkpoint_at_start = start_ts;
  return Recover();
}

// Binlogs the relay log holds past the checkpoint were merged before a crash (or before the
// pumps went away): they are applied first, the engine's progress skipping what made it.
Status Drainer::Impl::Recover() {
  if (config.relay_dir.empty()) return Status::OK();
  ASSIGN_OR_RETURN(relay, RelayLog::Open(options.env, config.relay_dir, config.relay_max_file_size,
                                         config.keep_relay_seconds));
  const uint64_t last = relay->last_ts();
  if (last <= start_ts) return Status::OK();
  LOG_INFO("the relay log holds binlogs past the checkpoint: applying them before the pumps",
           KV("from-ts", start_ts), KV("to-ts", last), KV("dir", config.relay_dir));
  uint64_t n = 0;
  RETURN_IF_ERROR(relay->ReadAfter(start_ts, [&](MergedBinlog item) {
    n += segment::PartIndex(item.part) == 0 ? 1 : 0;
    return engine->Submit(std::move(item.binlog), item.part);
  }));
  LOG_INFO("relay log recovered", KV("binlogs", n));
  start_ts = last;
  return Status::OK();
}

uint64_t Drainer::Impl::CheckpointTs() const {
  // Not start_ts: what the relay log held past the checkpoint is submitted, not yet applied.
  return engine ? std::max(engine->Stats().progress_ts, checkpoint_at_start) : checkpoint_at_start;
}

void Drainer::Impl::ApplyLoop() {
  NameThisThread("drainer-apply");
  std::vector<MergedBinlog> batch;
  auto last_purge = std::chrono::steady_clock::now();
  while (!stop_apply) {
    batch.clear();
    merger->Pop(&batch, kMaxBatch, std::chrono::milliseconds(200));
    Status s;
    if (!batch.empty() && relay) s = relay->Append(batch);
    for (size_t i = 0; s.ok() && i < batch.size(); ++i) {
      inside_parts = !segment::IsLastPart(batch[i].part);
      s = engine->Submit(std::move(batch[i].binlog), batch[i].part);
    }
    if (s.ok() && relay &&
        std::chrono::steady_clock::now() - last_purge > std::chrono::seconds(1)) {
      s = relay->Purge(engine->Stats().progress_ts);
      last_purge = std::chrono::steady_clock::now();
    }
    if (!s.ok()) {
      LOG_ERROR("the drainer cannot go on: stopping", KV("error", s));
      {
        std::lock_guard<std::mutex> g(mu);
        failure = s;
      }
      Status paused = node->RequestPause();  // StopWork returns the failure to Wait()
      if (!paused.ok()) LOG_WARN("the drainer is stopping already", KV("state", node->StateName()));
      return;
    }
  }
}

Status Drainer::Impl::WriteFinalCheckpoint(uint64_t ts) {
  const Checkpoint c{true, ts};
  if (config.sink != SinkType::kMysql) {
    return WriteSavepoint(options.env, config.data_dir + "/savepoint", c);
  }
  ASSIGN_OR_RETURN(auto conn, mysql::Connection::Open(config.to));
  return conn->Execute(UpsertCheckpointSql(config.cluster_id, c));
}

Status Drainer::Impl::StopWork() {
  if (merger) merger->Stop();
  if (pumps) pumps->Stop();
  stop_apply = true;
  if (apply_thread.joinable()) apply_thread.join();
  Status s;
  {
    std::lock_guard<std::mutex> g(mu);
    s = failure;
  }
  if (inside_parts && engine) {
    // Stopping inside a transaction in parts: what was applied of it is rolled back (split
    // mode keeps its commits, recorded), and the next start reads it again after the checkpoint.
    LOG_INFO("stopping inside a transaction in parts: the next start applies it");
    Status abandoned = engine->AbandonTransaction();
    if (!abandoned.ok()) LOG_WARN("abandoning the open transaction failed", KV("error", abandoned));
  }
  Status finished = FinishEngine();
  const uint64_t ts = CheckpointTs();
  if (finished.ok() && s.ok()) {
    finished = WriteFinalCheckpoint(ts);
    if (finished.ok()) LOG_INFO("checkpoint saved, consistent", KV("commit-ts", ts));
  }
  if (s.ok()) s = finished;
  if (relay) {
    Status closed = relay->Close();
    if (s.ok()) s = closed;
  }
  http.Stop();
  return s;
}

// What was merged is applied before the drainer stops, unless the downstream does not take it
// within kStopGrace (it is down): then the drainer stops anyway, and the next run applies the rest
// after its checkpoint.
Status Drainer::Impl::FinishEngine() {
  std::mutex m;
  std::condition_variable done_cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!done_cv.wait_for(lock, kStopGrace, [&] { return done; })) {
      engine->Abort(Status::Aborted(
          "stopping: the downstream did not take the rest in time; the next start applies it"));
    }
  });
  Status s = engine->Finish();
  {
    std::lock_guard<std::mutex> g(m);
    done = true;
  }
  done_cv.notify_all();
  watchdog.join();
  return s;
}

// The registry record through the node kit: online now, heartbeats with the checkpoint as
// MaxCommitTS, and the final state (paused, or offline after a close request) once StopWork ran.
Status Drainer::Impl::StartNode() {
  server::NodeOptions o;
  o.kind = registry::NodeKind::kDrainer;
  o.node_id = config.node_id;
  o.addr = config.advertise_addr;
  o.data_dir = config.data_dir;
  o.heartbeat_interval_seconds = config.heartbeat_interval_seconds;
  o.env = options.env;
  o.max_commit_ts = [this] { return CheckpointTs(); };
  o.stop_serving = [this](registry::NodeState) { return StopWork(); };
  o.on_stop = options.on_stop;
  node = std::make_unique<server::Node>(registry.get(), std::move(o));
  node->AddStateRoute(&http);
  return Status::OK();
}

Result<std::unique_ptr<Drainer>> Drainer::Start(const DrainerConfig& config,
                                                DrainerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = std::move(options);
  if (impl->options.print_out == nullptr) impl->options.print_out = &std::cout;
  Impl& m = *impl;
  if (m.config.advertise_addr.empty()) m.config.advertise_addr = m.config.addr;
  if (m.config.node_id.empty()) m.config.node_id = m.config.advertise_addr;
  Result<server::HostPort> hp = server::SplitHostPort(m.config.node_id);
  if (hp.ok() && hp->port == 0) {
    return Status::InvalidArgument(fmt::format(
        "node-id: defaults to advertise-addr, \"{}\", whose port 0 is no identity: set node-id",
        m.config.node_id));
  }
  RETURN_IF_ERROR(registry::ValidateNodeID(m.config.node_id));
  std::unique_ptr<Drainer> d(new Drainer(std::move(impl)));
  Status s = m.Open();
  if (s.ok()) s = m.StartNode();
  if (s.ok()) s = m.StartHttp();
  if (s.ok()) {
    m.merger = std::make_unique<Merger>(m.start_ts, kMaxQueueBytesPerPump, /*horizon=*/0);
    m.pumps = std::make_unique<PumpWatcher>(m.options.env, m.registry.get(), m.merger.get(),
                                            config.pump_access, m.start_ts,
                                            config.detect_interval_seconds);
    s = m.pumps->Start();
  }
  if (s.ok()) s = m.node->Start(m.status_addr);
  if (!s.ok()) {
    if (m.merger) m.merger->Stop();
    if (m.pumps) m.pumps->Stop();
    m.http.Stop();
    return s;
  }
  m.apply_thread = std::thread([&m] { m.ApplyLoop(); });
  LOG_INFO("drainer started", KV("node-id", m.config.node_id), KV("addr", m.status_addr),
           KV("checkpoint", m.checkpoint_at_start), KV("read-pumps-after", m.start_ts));
  return d;
}

Drainer::Drainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Drainer::~Drainer() {
  Status s = Shutdown();
  if (!s.ok()) LOG_WARN("the drainer stopped with an error", KV("error", s));
}

Status Drainer::Shutdown() {
  if (!impl_->node || !impl_->node->started()) return Status::OK();
  return impl_->node->Shutdown();
}
Status Drainer::RequestPause() { return impl_->node->RequestPause(); }
Status Drainer::RequestClose() { return impl_->node->RequestClose(); }
Status Drainer::Wait() { return impl_->node->Wait(); }

DrainerStats Drainer::Stats() const {
  DrainerStats s;
  s.checkpoint_ts = impl_->CheckpointTs();
  if (impl_->engine) s.engine = impl_->engine->Stats();
  if (impl_->merger) s.merge = impl_->merger->Status();
  if (impl_->relay) s.relay_bytes = impl_->relay->bytes();
  return s;
}

const std::string& Drainer::status_addr() const { return impl_->status_addr; }
const DrainerConfig& Drainer::config() const { return impl_->config; }

}  // namespace binlog::drainer
