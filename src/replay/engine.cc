// The replay engine: filters, schedules transactions onto workers by the keys they touch, applies
// them in groups, retries what is transient, and tracks what is applied (replay.h).
//
// Scheduling: a transaction that shares a key with transactions still pending may only run after
// them. It goes to a worker at once when it depends on nothing pending (the least loaded worker)
// or only on transactions queued on one worker (that worker: its queue runs in order); otherwise
// Submit waits until that is so. A DDL waits until every worker is idle and runs alone.
#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"
#include "common/thread_name.h"
#include "replay/engine_impl.h"

namespace binlog::replay {

namespace {

size_t RowCount(const pb::Binlog& b) {
  size_t n = 0;
  for (const auto& t : b.tables()) n += static_cast<size_t>(t.mutations_size());
  return n;
}

}  // namespace

using Impl = Engine::Impl;

int Impl::LeastLoaded() const {
  int best = 0;
  for (size_t i = 1; i < workers.size(); ++i) {
    if (workers[i].queue.size() < workers[best].queue.size()) best = static_cast<int>(i);
  }
  return best;
}

// Marks seq applied and moves the progress on.
void Impl::MarkDone(uint64_t seq) {
  done[seq] = true;
  while (!order.empty() && done[order.front().first]) {
    stats.progress_ts = std::max(stats.progress_ts, order.front().second);
    stats.applied_through_ts = order.front().second;
    done.erase(order.front().first);
    order.pop_front();
  }
}

void Impl::Fail(Status s) {
  if (error.ok()) {
    error = std::move(s);
    LOG_ERROR("replay stopped", KV("error", error), KV("progress-ts", stats.progress_ts));
  }
  stopping = true;
  changed.notify_all();
  work.notify_all();
}

void Impl::Release(const Txn& t) {
  holders.Release(t.keys, t.worker);
  pending_on.erase(t.seq);
  pending_bytes -= t.bytes;
}

// Takes the front of the worker's queue: whole transactions up to txn_batch rows.
std::vector<std::shared_ptr<Impl::Txn>> Impl::TakeGroup(Worker& w) {
  std::vector<std::shared_ptr<Txn>> group;
  size_t rows = 0;
  while (!w.queue.empty()) {
    size_t next = w.queue.front()->rows;
    if (!group.empty() && rows + next > static_cast<size_t>(options.txn_batch)) break;
    rows += next;
    group.push_back(std::move(w.queue.front()));
    w.queue.pop_front();
  }
  return group;
}

// Runs fn until it succeeds, fails for good (not IOError), fails transiently max_retry times
// in a row, or the engine stops; a doubling backoff between attempts. REQUIRES: mu not held.
Status Impl::WithRetry(const std::function<Status()>& fn, std::string_view what) {
  double backoff = options.retry_base_seconds;
  for (int attempt = 0;; ++attempt) {
    Status s = fn();
    if (s.ok() || !s.IsIOError() || attempt >= options.max_retry) return s;
    {
      std::unique_lock<std::mutex> lock(mu);
      ++stats.retries;
      if (stopping) return s;
    }
    LOG_WARN("failed; retrying", KV("what", what), KV("error", s), KV("attempt", attempt + 1),
             KV("max-retry", options.max_retry));
    std::unique_lock<std::mutex> lock(mu);
    changed.wait_for(lock, std::chrono::duration<double>(backoff), [&] { return stopping; });
    backoff = std::min(backoff * 2, options.retry_max_seconds);
  }
}

Status Impl::ApplyWithRetry(SinkWorker* sink_worker,
                            const std::vector<std::shared_ptr<Txn>>& group) {
  std::vector<const pb::Binlog*> binlogs;
  for (const auto& t : group) binlogs.push_back(&t->binlog);
  Status s = WithRetry([&] { return sink_worker->Apply(binlogs); }, "applying");
  return s.ok() ? s
                : s.WithContext(fmt::format("applying commit ts {}..{}",
                                            group.front()->binlog.commit_ts(),
                                            group.back()->binlog.commit_ts()));
}

// Everything that allocates or frees (the tally, the group's binlogs) happens without mu,
// which Submit and every worker wait on.
void Impl::WorkerLoop(int index) {
  NameThisThread(fmt::format("replay-w{}", index));
  Worker& w = workers[index];
  std::vector<std::shared_ptr<Txn>> group;
  std::unordered_map<std::string, uint64_t> rows_by_table;
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    work.wait(lock, [&] { return stopping || !w.queue.empty(); });
    if (stopping) return;
    if (w.queue.front()->step || w.queue.front()->rollback) {
      RunStep(w, lock);
      continue;
    }
    group = TakeGroup(w);
    lock.unlock();
    const auto began = std::chrono::steady_clock::now();
    Status s = ApplyWithRetry(w.sink.get(), group);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - began);
    rows_by_table.clear();
    for (const auto& t : group) {
      for (const auto& table : t->binlog.tables()) {
        rows_by_table[table.schema_name() + "." + table.table_name()] +=
            static_cast<uint64_t>(table.mutations_size());
      }
    }
    lock.lock();
    if (!s.ok()) {
      Fail(s);
      return;
    }
    ++stats.groups;
    stats.apply_latency.Observe(static_cast<uint64_t>(took.count()));
    for (const auto& [table, rows] : rows_by_table) stats.rows_by_table[table] += rows;
    for (const auto& t : group) {
      ++stats.transactions;
      stats.rows += t->rows;
      Release(*t);
      MarkDone(t->seq);
    }
    changed.notify_all();
    lock.unlock();
    group.clear();
    lock.lock();
  }
}

// Tells the sink the progress, at most every interval (always with `force`, retrying transient
// failures). What is applied is recorded with it already: a transient failure here only delays
// the record, and is tried again at the next interval. REQUIRES: mu held through `lock`.
Status Impl::TellLow(std::unique_lock<std::mutex>& lock, bool force) {
  auto now = std::chrono::steady_clock::now();
  uint64_t low = stats.progress_ts;
  if (low <= told_low || (!force && now - last_told < std::chrono::duration<double>(
                                                          options.advance_interval_seconds))) {
    return Status::OK();
  }
  lock.unlock();
  Status s = force ? WithRetry([&] { return sink->AdvanceLow(low); }, "recording the progress")
                   : sink->AdvanceLow(low);
  lock.lock();
  if (!s.ok() && s.IsIOError() && !force) {
    LOG_WARN("recording the progress failed; trying again later", KV("error", s),
             KV("progress-ts", low));
    last_told = now;
    return Status::OK();
  }
  if (!s.ok()) return s.WithContext("recording the progress in the destination");
  told_low = low;
  last_told = now;
  return Status::OK();
}

// Waits until every worker's queue is empty and nothing is pending.
Status Impl::WaitIdle(std::unique_lock<std::mutex>& lock) {
  changed.wait(lock, [&] { return stopping || pending_on.empty(); });
  return error;
}

// Waits until every worker is idle and runs the DDL alone. A transaction with row changes too
// (CREATE TABLE ... SELECT) then goes on as any other.
Status Impl::RunDdl(Txn& t, std::unique_lock<std::mutex>& lock) {
  RETURN_IF_ERROR(WaitIdle(lock));
  lock.unlock();
  Status s = WithRetry([&] { return ddl_worker->ApplyDdl(t.binlog); }, "applying a DDL");
  lock.lock();
  if (!s.ok()) {
    Fail(s.WithContext(fmt::format("applying the DDL at commit ts {}", t.binlog.commit_ts())));
    return error;
  }
  ++stats.ddl;
  t.binlog.clear_ddl_query();
  if (t.binlog.tables_size() == 0) {
    ++stats.transactions;
    pending_bytes -= t.bytes;
    MarkDone(t.seq);
  }
  return Status::OK();
}

Status Impl::Submit(pb::Binlog binlog) {
  std::unique_lock<std::mutex> lock(mu);
  if (!error.ok()) return error;
  auto commit_ts = static_cast<uint64_t>(binlog.commit_ts());
  if (big) {
    return BrokenSequence(fmt::format(
        "a whole transaction (commit ts {}) arrived before the last part of the transaction at "
        "commit ts {} (its part {} was expected next)",
        commit_ts, big->commit_ts, big->next_part));
  }
  // A transaction in parts held no keys: what follows it waits for its commit.
  changed.wait(lock, [&] { return stopping || !big_pending; });
  if (!error.ok()) return error;
  auto t = std::make_shared<Txn>();
  t->seq = next_seq++;
  order.emplace_back(t->seq, commit_ts);
  if (binlog.tp() != pb::COMMIT) {
    MarkDone(t->seq);  // a heartbeat: only time passes
    return TellLow(lock, false);
  }
  if (resume.Contains(commit_ts)) {
    ++stats.already;
    MarkDone(t->seq);
    return TellLow(lock, false);
  }
  if (!filter.Keep(&binlog)) {
    ++stats.filtered;
    MarkDone(t->seq);
    return TellLow(lock, false);
  }
  t->rows = RowCount(binlog);
  t->bytes = binlog.ByteSizeLong();
  t->binlog = std::move(binlog);
  changed.wait(lock, [&] {
    return stopping || pending_bytes == 0 || pending_bytes + t->bytes <= options.max_pending_bytes;
  });
  if (!error.ok()) return error;
  pending_bytes += t->bytes;
  if (!t->binlog.ddl_query().empty()) {
    RETURN_IF_ERROR(RunDdl(*t, lock));
    if (t->binlog.tables_size() == 0) return TellLow(lock, false);
  }
  lock.unlock();
  Status keys = WithRetry(
      [&] {
        t->keys.clear();
        return sink->ConflictKeys(t->binlog, &t->keys);
      },
      "reading the destination's tables");
  lock.lock();
  if (!keys.ok()) {
    Fail(keys.WithContext(fmt::format("commit ts {}", commit_ts)));
    return error;
  }
  int target = -1;
  changed.wait(lock, [&] {
    if (stopping) return true;
    std::vector<int> on = holders.Conflicts(t->keys);
    if (on.size() > 1) return false;
    target = on.empty() ? LeastLoaded() : on.front();
    return true;
  });
  if (!error.ok()) return error;
  t->worker = target;
  holders.Hold(t->keys, target);
  pending_on[t->seq] = target;
  workers[target].queue.push_back(std::move(t));
  work.notify_all();
  return TellLow(lock, false);
}

Status Impl::Finish() {
  std::unique_lock<std::mutex> lock(mu);
  if (big) {
    const uint64_t ts = big->commit_ts;
    const uint32_t next = big->next_part;
    RETURN_IF_ERROR(Abandon(lock));
    return Status::InvalidArgument(fmt::format(
        "the input ended inside the transaction at commit ts {} (its part {} never came): it is "
        "abandoned",
        ts, next));
  }
  RETURN_IF_ERROR(WaitIdle(lock));
  return TellLow(lock, true);
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    impl_->stopping = true;
  }
  impl_->work.notify_all();
  impl_->changed.notify_all();
  for (auto& w : impl_->workers) {
    if (w.thread.joinable()) w.thread.join();
  }
}

Result<std::unique_ptr<Engine>> Engine::Start(Sink* sink, Filter filter,
                                              const EngineOptions& options) {
  auto impl = std::make_unique<Impl>(std::move(filter));
  impl->sink = sink;
  impl->options = options;
  impl->options.worker_count = std::clamp(options.worker_count, 1, sink->MaxWorkers());
  impl->options.txn_batch = std::max(options.txn_batch, 1);
  ASSIGN_OR_RETURN(impl->resume, sink->LoadResume());
  impl->inside = impl->resume.inside;
  impl->told_low = impl->resume.low_ts;
  impl->stats.progress_ts = impl->resume.low_ts;
  ASSIGN_OR_RETURN(impl->ddl_worker, sink->NewWorker());
  impl->workers.resize(static_cast<size_t>(impl->options.worker_count));
  for (auto& w : impl->workers) {
    ASSIGN_OR_RETURN(w.sink, sink->NewWorker());
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  Impl* raw = engine->impl_.get();
  for (size_t i = 0; i < raw->workers.size(); ++i) {
    raw->workers[i].thread = std::thread([raw, i] { raw->WorkerLoop(static_cast<int>(i)); });
  }
  return engine;
}

Status Engine::Submit(pb::Binlog binlog, uint32_t part) {
  return part == 0 ? impl_->Submit(std::move(binlog)) : impl_->SubmitPart(std::move(binlog), part);
}

Status Engine::Finish() { return impl_->Finish(); }

Status Engine::AbandonTransaction() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->Abandon(lock);
}

void Engine::Abort(Status why) {
  std::lock_guard<std::mutex> g(impl_->mu);
  impl_->Fail(std::move(why));
}

EngineStats Engine::Stats() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->stats;
}

const ResumeState& Engine::resumed() const { return impl_->resume; }

}  // namespace binlog::replay
