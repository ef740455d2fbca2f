// Transactions in parts (replay.h): a big transaction is applied as its parts come, never held
// whole. It is a barrier: its first part waits until every worker is idle, and it holds no
// conflict keys (a million rows would be a million keys), so what follows its last part waits
// for its commit. Each part is cut into steps (the whole part in atomic mode, slices of
// txn_batch changes in split mode) that one worker applies in order; the next part waits until
// they are applied, so memory holds the part being applied and the one being submitted.
#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"
#include "replay/engine_impl.h"
#include "segment/format.h"

namespace binlog::replay {

namespace {

struct Slice {
  pb::Binlog binlog;
  size_t rows = 0;
  uint64_t end_row = 0;  // the part's row after the slice's last change (as written)
};

// The changes of `part` from row `from` on (counted in the part as written, before the filter)
// that the filter keeps, cut into slices of at most `limit` changes. Mutations are moved, not
// copied; each slice repeats the table's names and columns.
std::vector<Slice> CutPart(pb::Binlog part, uint64_t from, size_t limit, const Filter& filter) {
  std::vector<Slice> out;
  uint64_t row = 0;
  for (pb::TableChanges& t : *part.mutable_tables()) {
    const auto n = static_cast<uint64_t>(t.mutations_size());
    if (row + n <= from || !filter.Accepts(t.schema_name(), t.table_name())) {
      row += n;
      continue;
    }
    pb::TableChanges* into = nullptr;
    for (int j = 0; j < t.mutations_size(); ++j, ++row) {
      if (row < from) continue;
      if (out.empty() || out.back().rows >= limit) {
        pb::Binlog& b = out.emplace_back().binlog;
        b.set_tp(part.tp());
        b.set_start_ts(part.start_ts());
        b.set_commit_ts(part.commit_ts());
        into = nullptr;
      }
      Slice& s = out.back();
      if (into == nullptr) {
        into = s.binlog.add_tables();
        into->set_schema_name(t.schema_name());
        into->set_table_name(t.table_name());
        *into->mutable_columns() = t.columns();
      }
      *into->add_mutations() = std::move(*t.mutable_mutations(j));
      ++s.rows;
      s.end_row = row + 1;
    }
  }
  return out;
}

}  // namespace

Status SinkWorker::ApplyStep(const pb::Binlog& changes, const Step&) {
  return Status::Unsupported(fmt::format(
      "this destination cannot apply a transaction in parts (commit ts {})", changes.commit_ts()));
}

using Impl = Engine::Impl;

Status Impl::BrokenSequence(std::string why) {
  Fail(Status::InvalidArgument(why));
  return error;
}

// The transaction's first part: waits until nothing else is applying.
Status Impl::BeginBig(const pb::Binlog& first, uint32_t index, std::unique_lock<std::mutex>& lock) {
  const auto ts = static_cast<uint64_t>(first.commit_ts());
  const bool resumed_inside = inside.commit_ts == ts;
  if (index != 0 && !resume.Contains(ts) && !(resumed_inside && index <= inside.part)) {
    return BrokenSequence(fmt::format(
        "the transaction at commit ts {} begins with part {}: its part {} was expected first", ts,
        index, resumed_inside ? inside.part : 0));
  }
  changed.wait(lock, [&] { return stopping || !big_pending; });
  RETURN_IF_ERROR(WaitIdle(lock));
  Big b;
  b.commit_ts = ts;
  b.seq = next_seq++;
  b.next_part = index;
  b.worker = LeastLoaded();
  b.already = resume.Contains(ts);
  b.clears_inside = options.split_big_txn || resumed_inside;
  big = b;
  order.emplace_back(b.seq, ts);
  return Status::OK();
}

// The steps of one part. REQUIRES: mu not held; `big` is this part's transaction (only the
// submitting thread changes it).
std::vector<std::shared_ptr<Impl::Txn>> Impl::CutSteps(pb::Binlog part, uint32_t index, bool last) {
  uint64_t from = 0;
  bool resumed_inside = false;
  {
    std::lock_guard<std::mutex> g(mu);
    if (inside.commit_ts == big->commit_ts) {
      resumed_inside = true;
      if (index < inside.part) from = UINT64_MAX;
      if (index == inside.part) from = inside.row;
    }
  }
  const bool split = options.split_big_txn;
  std::vector<Slice> slices = CutPart(
      std::move(part), from, split ? static_cast<size_t>(options.txn_batch) : SIZE_MAX, filter);
  if (last && slices.empty() && (big->sent || resumed_inside)) {
    Slice& empty = slices.emplace_back();  // the commit, with the record
    empty.binlog.set_tp(pb::COMMIT);
    empty.binlog.set_commit_ts(static_cast<int64_t>(big->commit_ts));
  }
  std::vector<std::shared_ptr<Txn>> steps;
  for (size_t i = 0; i < slices.size(); ++i) {
    auto t = std::make_shared<Txn>();
    t->rows = slices[i].rows;
    t->binlog = std::move(slices[i].binlog);
    SinkWorker::Step step;
    step.part = index;
    const bool final_slice = i + 1 == slices.size();
    if (last && final_slice) {
      step.end = SinkWorker::StepEnd::kApplied;
      step.clears_inside = big->clears_inside;
    } else if (split) {
      step.end = SinkWorker::StepEnd::kProgress;
      step.reached = final_slice ? PartPosition{big->commit_ts, index + 1, 0}
                                 : PartPosition{big->commit_ts, index, slices[i].end_row};
    }
    t->step = step;
    steps.push_back(std::move(t));
  }
  return steps;
}

Status Impl::QueueSteps(std::vector<std::shared_ptr<Txn>> steps,
                        std::unique_lock<std::mutex>& lock) {
  changed.wait(lock, [&] { return stopping || steps_pending == 0; });
  if (!error.ok()) return error;
  if (steps.empty()) return Status::OK();
  Worker& w = workers[big->worker];
  for (auto& t : steps) {
    t->seq = next_seq++;
    t->worker = big->worker;
    t->of_seq = big->seq;
    pending_on[t->seq] = big->worker;
    w.queue.push_back(std::move(t));
  }
  steps_pending += steps.size();
  big->sent = true;
  big_pending = true;
  work.notify_all();
  return Status::OK();
}

Status Impl::SubmitPart(pb::Binlog binlog, uint32_t part) {
  std::unique_lock<std::mutex> lock(mu);
  if (!error.ok()) return error;
  const auto ts = static_cast<uint64_t>(binlog.commit_ts());
  const uint32_t index = segment::PartIndex(part);
  const bool last = segment::IsLastPart(part);
  if (binlog.tp() != pb::COMMIT || !binlog.ddl_query().empty()) {
    return BrokenSequence(fmt::format(
        "part {} of the transaction at commit ts {} is {}: a part holds row changes only", index,
        ts, binlog.tp() != pb::COMMIT ? "not a COMMIT" : "a DDL"));
  }
  if (!big) {
    RETURN_IF_ERROR(BeginBig(binlog, index, lock));
  } else if (ts != big->commit_ts) {
    return BrokenSequence(fmt::format(
        "a new transaction (commit ts {}) arrived before the last part of the transaction at "
        "commit ts {} (its part {} was expected next)",
        ts, big->commit_ts, big->next_part));
  } else if (index != big->next_part) {
    return BrokenSequence(
        fmt::format("the transaction at commit ts {}: part {} arrived where part {} was expected",
                    ts, index, big->next_part));
  }
  big->next_part = index + 1;
  if (!big->already) {
    lock.unlock();
    std::vector<std::shared_ptr<Txn>> steps = CutSteps(std::move(binlog), index, last);
    lock.lock();
    RETURN_IF_ERROR(QueueSteps(std::move(steps), lock));
  }
  if (!last) return Status::OK();
  if (big->already) {
    ++stats.already;
    MarkDone(big->seq);
  } else if (!big->sent) {
    ++stats.filtered;  // every part of it filtered away
    MarkDone(big->seq);
  }  // else its last step marks it done
  big.reset();
  return TellLow(lock, false);
}

// Runs the step at the front of the worker's queue. REQUIRES: mu held through `lock`.
void Impl::RunStep(Worker& w, std::unique_lock<std::mutex>& lock) {
  std::shared_ptr<Txn> t = std::move(w.queue.front());
  w.queue.pop_front();
  lock.unlock();
  const auto began = std::chrono::steady_clock::now();
  Status s;
  if (t->rollback) {
    w.sink->RollbackSteps();
  } else {
    s = WithRetry([&] { return w.sink->ApplyStep(t->binlog, *t->step); }, "applying a part");
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - began);
  lock.lock();
  pending_on.erase(t->seq);
  --steps_pending;
  changed.notify_all();
  if (!s.ok()) {
    Fail(s.WithContext(fmt::format("applying part {} of the transaction at commit ts {}",
                                   t->step->part, t->binlog.commit_ts())));
    return;
  }
  if (t->rollback) return;
  stats.rows += t->rows;
  for (const auto& table : t->binlog.tables()) {
    stats.rows_by_table[table.schema_name() + "." + table.table_name()] +=
        static_cast<uint64_t>(table.mutations_size());
  }
  const SinkWorker::Step& step = *t->step;
  if (step.end != SinkWorker::StepEnd::kOpen) {
    ++stats.groups;
    stats.apply_latency.Observe(static_cast<uint64_t>(took.count()));
  }
  if (step.end == SinkWorker::StepEnd::kProgress) inside = step.reached;
  if (step.end == SinkWorker::StepEnd::kApplied) {
    ++stats.transactions;
    ++stats.in_parts;
    if (inside.commit_ts == static_cast<uint64_t>(t->binlog.commit_ts())) inside = {};
    MarkDone(t->of_seq);
    big_pending = false;
  }
  lock.unlock();
  t.reset();  // frees the slice without holding mu
  lock.lock();
}

Status Impl::Abandon(std::unique_lock<std::mutex>& lock) {
  if (!big) return error;
  changed.wait(lock, [&] { return stopping || steps_pending == 0; });
  if (!error.ok()) return error;
  const Big b = *big;
  const bool rollback = !options.split_big_txn && b.sent;
  if (rollback) {
    auto t = std::make_shared<Txn>();
    t->seq = next_seq++;
    t->worker = b.worker;
    t->rollback = true;
    pending_on[t->seq] = b.worker;
    ++steps_pending;
    workers[b.worker].queue.push_back(std::move(t));
    work.notify_all();
    changed.wait(lock, [&] { return stopping || steps_pending == 0; });
    if (!error.ok()) return error;
  }
  // As if it never came: its place in the order goes (everything before it was applied before
  // its first part was taken).
  order.erase(
      std::remove_if(order.begin(), order.end(), [&](const auto& o) { return o.first == b.seq; }),
      order.end());
  big.reset();
  big_pending = false;
  changed.notify_all();
  LOG_WARN("a transaction in parts abandoned: its parts stopped coming",
           KV("commit-ts", b.commit_ts), KV("parts-received", b.next_part),
           KV("downstream", !b.sent    ? "nothing of it was applied"
                            : rollback ? "rolled back"
                                       : "its commits so far stay (split-big-txn), recorded"));
  return Status::OK();
}

}  // namespace binlog::replay
