// The pump's write path, second half: a round the writer wrote to the wal is made durable and
// applied to the sorter by one of the durability threads, in the writer's order, then answered
// by the completer thread; or, when nothing else is under way, all three by the writer.
#include <fmt/format.h>

#include <utility>

#include "pump/group_check.h"
#include "pump/pump.h"

namespace binlog::pump {

void Pump::PassOn(std::unique_ptr<Round> round) {
  bool wake;
  {
    std::lock_guard<std::mutex> g(round_mu_);
    round->seq = ++passed_rounds_;
    wake = rounds_.empty();
    rounds_.push_back(std::move(round));
  }
  if (wake) round_cv_.notify_one();
}

// A round written when nothing else is under way (no write queued behind it, none in flight,
// nothing left to answer) is made durable, applied and answered by the writer itself: passing
// it on would cost two thread wake-ups for no overlap, most of a lone producer's call on this
// kind of VM. Returns false, leaving `round` alone, when something else is under way. Writes
// that arrive meanwhile wait for the sync instead of being written beside it: then producers
// are not alone, and the writer passes rounds on (lone_producer_) until a probe finds
// otherwise. Only rounds of in-process callers that wait come here (WriterLoop): with every
// momentarily-alone round finished here, 64 gRPC clients got 11-14k binlogs/s against 14-16k.
bool Pump::FinishAlone(std::unique_ptr<Round>& round) {
  {
    std::lock_guard<std::mutex> done(done_mu_);
    if (!done_.empty()) return false;
  }
  uint64_t seq;
  {
    std::lock_guard<std::mutex> g(round_mu_);
    if (!rounds_.empty() || finished_rounds_ != passed_rounds_) return false;
    // Numbered like a round passed on, so one passed on next waits for this one to finish.
    seq = round->seq = ++passed_rounds_;
  }
  rounds_since_alone_ = 0;
  Status synced = WaitDurable(*round);
  FinishRound(*round, synced);
  {
    // Before answering: a lone producer's next write cannot have come yet.
    std::lock_guard<std::mutex> g(mu_);
    lone_producer_ = requests_.empty();
  }
  Answer(round->group);
  {
    std::lock_guard<std::mutex> g(round_mu_);
    finished_rounds_ = seq;
  }
  finished_cv_.notify_all();
  return true;
}

// Run by kDurableThreads threads. While one waits for round N's fdatasync, the writer checks and
// writes round N+1, and the other thread starts N+1's sync (unless N's covers it); each round is
// finished only after the one before it, so the sorter sees them in the order they were checked.
void Pump::DurableLoop() {
  std::unique_lock<std::mutex> lock(round_mu_);
  while (true) {
    round_cv_.wait(lock, [&] { return !rounds_.empty() || writer_exited_; });
    if (rounds_.empty()) break;  // the writer is gone and every round is taken
    std::unique_ptr<Round> round = std::move(rounds_.front());
    rounds_.pop_front();
    if (!rounds_.empty()) round_cv_.notify_one();
    lock.unlock();
    Status synced = WaitDurable(*round);
    lock.lock();
    finished_cv_.wait(lock, [&] { return finished_rounds_ == round->seq - 1; });
    lock.unlock();
    FinishRound(*round, synced);
    HandOff(std::move(round->group));
    lock.lock();
    finished_rounds_ = round->seq;
    finished_cv_.notify_all();
  }
  if (--durable_running_ > 0) {
    round_cv_.notify_all();  // the other thread may be waiting for the writer's exit too
    return;
  }
  lock.unlock();
  {
    std::lock_guard<std::mutex> g(done_mu_);
    durable_exited_ = true;
  }
  done_cv_.notify_one();
}

Status Pump::WaitDurable(Round& round) {
  if (!round.written.ok() || round.records == 0) return round.written;
  Status s = wal_->WaitDurable(round.ticket);
  round.wal_failed = !s.ok();
  return s;
}

// Sets the status of each accepted request: applied once durable, or the write's error. After a
// wal failure every later round fails too, whatever its own sync said, so no round is applied
// after one that was checked as if it would be and was not.
void Pump::FinishRound(Round& round, const Status& synced) {
  std::lock_guard<std::mutex> g(mu_);
  in_flight_->Forget(round.checked);
  if (round.accepted.empty()) return;
  in_flight_floors_.erase(in_flight_floors_.find(round.floor));
  for (uint64_t ts : round.holds) sorter_.Unhold(ts);
  if (wal_error_.ok() && round.wal_failed) wal_error_ = synced;
  // A round whose own wal write or sync failed says so: the sync that failed names the I/O
  // error even when an earlier round, which waited on that sync, was finished first with the
  // journal's "an earlier sync failed". A later round says what failed before it.
  Status s = round.wal_failed ? synced : (wal_error_.ok() ? synced : wal_error_);
  if (!s.ok()) {
    for (WriteRequest* r : round.accepted) r->status = s;
    return;
  }
  uint64_t seg = round.ticket.segment_ts;
  // The round may have rotated the wal: its records lie between seg and the active segment.
  uint64_t last_seg = wal_->active_segment_ts();
  int64_t now = options_.env->NowMicros();
  for (WriteRequest* r : round.accepted) {
    for (size_t i = 0; i < r->heads.size(); ++i) {
      if (!r->payloads[i].empty()) {
        Apply(r->heads[i], std::move(r->payloads[i]), seg, last_seg, now);
      }
    }
  }
  if (round.records > 0) {
    ++counters_.rounds;
    counters_.writes += round.records;
    counters_.write_bytes += round.bytes;
    last_write_micros_ = now;
  }
  bool filled = emit_bytes_ < kEmitBatchBytes && emit_bytes_ + round.bytes >= kEmitBatchBytes;
  emit_bytes_ += round.bytes;
  if (WakeEmitter() || filled) cv_.notify_one();
}

void Pump::HandOff(std::vector<std::unique_ptr<WriteRequest>> group) {
  if (group.empty()) return;
  bool wake;
  {
    std::lock_guard<std::mutex> g(done_mu_);
    wake = done_.empty();
    done_.push_back(std::move(group));
  }
  if (wake) done_cv_.notify_one();
}

// Answers the rounds in order, on a thread of its own: waking dozens of callers (or finishing
// gRPC calls, or running an asynchronous producer's next step) would otherwise delay the next
// round's sync and apply by as long.
void Pump::CompleterLoop() {
  std::unique_lock<std::mutex> lock(done_mu_);
  while (true) {
    done_cv_.wait(lock, [&] { return !done_.empty() || durable_exited_; });
    if (done_.empty()) break;  // the durability thread is gone and everything is answered
    std::vector<std::unique_ptr<WriteRequest>> group = std::move(done_.front());
    done_.pop_front();
    lock.unlock();
    Answer(group);
    lock.lock();
  }
}

// Recorded before answering: a caller that reads the stats after its answer finds its write.
void Pump::Answer(std::vector<std::unique_ptr<WriteRequest>>& group) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> g(answered_mu_);
    for (const auto& r : group) {
      write_latency_.Observe(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - r->received).count()));
    }
  }
  for (auto& r : group) r->done(std::move(r->status));
}

}  // namespace binlog::pump
