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

// Each pump's queue in the merger: enough to keep the apply side busy, small enough that three
// pumps, the engine's pending bytes and the relay batch stay far below 256 MiB.
constexpr size_t kMaxQueueBytesPerPump = 16u << 20;
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
  eo.max_retry = config.max_retry;
  ASSIGN_OR_RETURN(engine, replay::Engine::Start(sink.get(), std::move(filter), eo));
  const replay::ResumeState& resumed = engine->resumed();
  start_ts = std::max(resumed.low_ts, saved ? saved->commit_ts : 0);
  if (!saved && resumed.low_ts == 0 && resumed.applied.empty()) {
    start_ts = config.initial_commit_ts >= 0
                   ? static_cast<uint64_t>(config.initial_commit_ts)
                   : ComposeTS(env->NowMicros() / 1000, 0);
    LOG_INFO("no checkpoint yet: starting after initial-commit-ts", KV("ts", start_ts));
  } else {
    LOG_INFO("resuming after the checkpoint", KV("commit-ts", start_ts),
             KV("consistent", saved && saved->consistent), KV("applied-above", resumed.applied.size()));
  }
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
  RETURN_IF_ERROR(relay->ReadAfter(start_ts, [&](pb::Binlog b) {
    ++n;
    return engine->Submit(std::move(b));
  }));
  LOG_INFO("relay log recovered", KV("binlogs", n));
  start_ts = last;
  return Status::OK();
}

uint64_t Drainer::Impl::CheckpointTs() const {
  return engine ? std::max(engine->Stats().progress_ts, start_ts) : start_ts;
}

Status Drainer::Impl::PutRecord(registry::NodeState s) {
  registry::NodeStatus n;
  n.node_id = config.node_id;
  n.addr = config.advertise_addr;
  n.status_addr = status_addr;
  n.state = s;
  n.max_commit_ts = static_cast<int64_t>(CheckpointTs());
  n.update_ts = static_cast<int64_t>(ComposeTS(options.env->NowMicros() / 1000, 0));
  n.host = registry::ThisHostName();
  return registry->Put(registry::NodeKind::kDrainer, n);
}

void Drainer::Impl::ApplyLoop() {
  NameThisThread("drainer-apply");
  std::vector<pb::Binlog> batch;
  auto last_purge = std::chrono::steady_clock::now();
  while (!stop_apply) {
    batch.clear();
    merger->Pop(&batch, kMaxBatch, std::chrono::milliseconds(200));
    Status s;
    if (!batch.empty() && relay) s = relay->Append(batch);
    for (size_t i = 0; s.ok() && i < batch.size(); ++i) s = engine->Submit(std::move(batch[i]));
    if (s.ok() && relay && std::chrono::steady_clock::now() - last_purge > std::chrono::seconds(1)) {
      s = relay->Purge(engine->Stats().progress_ts);
      last_purge = std::chrono::steady_clock::now();
    }
    if (!s.ok()) {
      LOG_ERROR("the drainer cannot go on", KV("error", s));
      return StopAsync(registry::NodeState::kPaused, s);
    }
  }
}

void Drainer::Impl::HeartbeatLoop() {
  NameThisThread("drainer-heart");
  std::unique_lock<std::mutex> lock(mu);
  while (!cv.wait_for(lock, std::chrono::duration<double>(config.heartbeat_interval_seconds),
                      [&] { return stopping; })) {
    lock.unlock();
    Status s = PutRecord(registry::NodeState::kOnline);
    if (!s.ok()) LOG_WARN("cannot refresh the registry record", KV("error", s));
    lock.lock();
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

Status Drainer::Impl::Stop(registry::NodeState final_state, Status cause) {
  {
    std::unique_lock<std::mutex> lock(mu);
    if (stopping) {
      cv.wait(lock, [&] { return stopped; });
      return final_status;
    }
    stopping = true;
  }
  cv.notify_all();
  state = final_state == registry::NodeState::kOffline ? registry::NodeState::kClosing
                                                        : registry::NodeState::kPausing;
  if (merger) merger->Stop();
  if (pumps) pumps->Stop();
  stop_apply = true;
  if (apply_thread.joinable() && apply_thread.get_id() != std::this_thread::get_id()) {
    apply_thread.join();
  }
  if (heartbeat_thread.joinable()) heartbeat_thread.join();
  Status s = cause;
  if (engine) {
    Status finished = FinishEngine();
    const uint64_t ts = CheckpointTs();
    if (finished.ok() && cause.ok()) {
      finished = WriteFinalCheckpoint(ts);
      if (finished.ok()) LOG_INFO("checkpoint saved, consistent", KV("commit-ts", ts));
    }
    if (s.ok()) s = finished;
  }
  if (relay) {
    Status closed = relay->Close();
    if (s.ok()) s = closed;
  }
  if (registry) {
    Status put = PutRecord(final_state);
    if (!put.ok()) LOG_ERROR("cannot record the final state", KV("error", put));
    if (s.ok()) s = put;
  }
  state = final_state;
  http.Stop();
  LOG_INFO("drainer stopped", KV("state", registry::NodeStateName(final_state)), KV("status", s));
  std::lock_guard<std::mutex> g(mu);
  stopped = true;
  final_status = s;
  cv.notify_all();
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

void Drainer::Impl::StopAsync(registry::NodeState final_state, Status cause) {
  std::lock_guard<std::mutex> g(mu);
  if (stopping || stop_thread.joinable()) return;
  stop_thread = std::thread([this, final_state, cause] {
    NameThisThread("drainer-stop");
    (void)Stop(final_state, cause);  // Wait() returns it
    if (options.on_stop) options.on_stop();
  });
}

Result<std::unique_ptr<Drainer>> Drainer::Start(const DrainerConfig& config,
                                                DrainerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = std::move(options);
  if (impl->options.print_out == nullptr) impl->options.print_out = &std::cout;
  impl->started_micros = impl->options.env->NowMicros();
  std::unique_ptr<Drainer> d(new Drainer(std::move(impl)));
  Impl& m = *d->impl_;
  Status s = m.Open();
  if (s.ok()) s = m.StartHttp(d.get());
  if (s.ok()) {
    if (m.config.advertise_addr.empty()) m.config.advertise_addr = m.status_addr;
    if (m.config.node_id.empty()) m.config.node_id = m.config.advertise_addr;
    s = registry::ValidateNodeID(m.config.node_id);
  }
  if (s.ok()) {
    m.merger = std::make_unique<Merger>(m.start_ts, kMaxQueueBytesPerPump);
    m.pumps = std::make_unique<PumpWatcher>(m.options.env, m.registry.get(), m.merger.get(),
                                            config.pump_access, m.start_ts,
                                            config.detect_interval_seconds);
    s = m.pumps->Start();
  }
  if (s.ok()) s = m.PutRecord(registry::NodeState::kOnline);
  if (!s.ok()) {
    std::lock_guard<std::mutex> g(m.mu);
    m.stopping = m.stopped = true;  // nothing was started that Stop must wait for
    if (m.merger) m.merger->Stop();
    if (m.pumps) m.pumps->Stop();
    m.http.Stop();
    return s;
  }
  m.apply_thread = std::thread([&m] { m.ApplyLoop(); });
  m.heartbeat_thread = std::thread([&m] { m.HeartbeatLoop(); });
  LOG_INFO("drainer started", KV("node-id", config.node_id), KV("addr", m.status_addr),
           KV("checkpoint", m.start_ts));
  return d;
}

Drainer::Drainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Drainer::~Drainer() {
  (void)Shutdown();  // logged; a caller that wants it calls Shutdown first
  std::thread stopper;
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    stopper = std::move(impl_->stop_thread);
  }
  if (stopper.joinable()) stopper.join();
}

Status Drainer::Shutdown() { return impl_->Stop(registry::NodeState::kPaused, Status::OK()); }

Status Drainer::RequestPause() {
  if (impl_->state != registry::NodeState::kOnline) {
    return Status::InvalidArgument("the drainer is not online");
  }
  impl_->StopAsync(registry::NodeState::kPaused, Status::OK());
  return Status::OK();
}

Status Drainer::RequestClose() {
  if (impl_->state != registry::NodeState::kOnline) {
    return Status::InvalidArgument("the drainer is not online");
  }
  impl_->StopAsync(registry::NodeState::kOffline, Status::OK());
  return Status::OK();
}

Status Drainer::Wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
  return impl_->final_status;
}

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
