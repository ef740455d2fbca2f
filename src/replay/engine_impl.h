// The engine's state, shared by engine.cc (whole transactions: scheduling, groups, progress) and
// parts.cc (transactions in parts). Internal to src/replay.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "replay/conflict.h"
#include "replay/replay.h"

namespace binlog::replay {

struct Engine::Impl {
  explicit Impl(Filter f) : filter(std::move(f)) {}

  // What a worker's queue holds: a whole transaction (grouped with others), or one step of a
  // transaction in parts (alone).
  struct Txn {
    uint64_t seq = 0;
    pb::Binlog binlog;
    std::vector<ConflictKey> keys;
    size_t rows = 0;
    size_t bytes = 0;
    int worker = -1;
    std::optional<SinkWorker::Step> step;
    uint64_t of_seq = 0;    // a step: its transaction's seq in `order`
    bool rollback = false;  // a step that rolls back the steps before it (AbandonTransaction)
  };
  struct Worker {
    std::unique_ptr<SinkWorker> sink;
    std::deque<std::shared_ptr<Txn>> queue;  // guarded by mu
    std::thread thread;
  };
  // The transaction in parts under way: from its first part to its last. Runs alone on
  // `worker`.
  struct Big {
    uint64_t commit_ts = 0;
    uint64_t seq = 0;        // its place in `order`
    uint32_t next_part = 0;  // the index the next part must carry
    int worker = 0;
    bool already = false;  // an earlier run applied it whole
    bool sent = false;     // a step of it went to the worker: the last part must commit
    bool clears_inside = false;
  };

  Sink* sink = nullptr;
  Filter filter;
  EngineOptions options;
  ResumeState resume;
  std::unique_ptr<SinkWorker> ddl_worker;

  mutable std::mutex mu;
  std::condition_variable changed;  // a transaction or step finished, or the engine stopped
  std::condition_variable work;     // a worker's queue got something
  std::vector<Worker> workers;
  KeyHolders holders;                            // the pending transactions' keys
  std::unordered_map<uint64_t, int> pending_on;  // seq -> worker (transactions and steps)
  // Every transaction submitted and not yet known applied, in order, with its commit ts: the
  // progress is the commit ts before the first one not done.
  std::deque<std::pair<uint64_t, uint64_t>> order;  // seq, commit ts
  std::unordered_map<uint64_t, bool> done;
  uint64_t next_seq = 1;
  size_t pending_bytes = 0;
  bool stopping = false;
  Status error;
  EngineStats stats;
  uint64_t told_low = 0;
  std::chrono::steady_clock::time_point last_told;

  std::optional<Big> big;
  // The last transaction in parts has steps queued or applying: whatever comes next waits.
  bool big_pending = false;
  size_t steps_pending = 0;
  // How far split mode applied a transaction in parts: from the resume, then from each commit,
  // so that the same commit ts submitted again (after AbandonTransaction) goes on from there.
  PartPosition inside;

  // engine.cc
  int LeastLoaded() const;                                 // REQUIRES: mu
  void MarkDone(uint64_t seq);                             // REQUIRES: mu
  void Fail(Status s);                                     // REQUIRES: mu
  void Release(const Txn& t);                              // REQUIRES: mu
  std::vector<std::shared_ptr<Txn>> TakeGroup(Worker& w);  // REQUIRES: mu
  Status WithRetry(const std::function<Status()>& fn, std::string_view what);
  Status ApplyWithRetry(SinkWorker* sink_worker, const std::vector<std::shared_ptr<Txn>>& group);
  void WorkerLoop(int index);
  Status TellLow(std::unique_lock<std::mutex>& lock, bool force);
  Status WaitIdle(std::unique_lock<std::mutex>& lock);
  Status RunDdl(Txn& t, std::unique_lock<std::mutex>& lock);
  Status Submit(pb::Binlog binlog);
  Status Finish();

  // parts.cc
  Status SubmitPart(pb::Binlog binlog, uint32_t part);
  Status BeginBig(const pb::Binlog& first, uint32_t index, std::unique_lock<std::mutex>& lock);
  Status QueueSteps(std::vector<std::shared_ptr<Txn>> steps, std::unique_lock<std::mutex>& lock);
  std::vector<std::shared_ptr<Txn>> CutSteps(pb::Binlog part, uint32_t index, bool last);
  // Runs the step at the front of the worker's queue (lock held on entry and on return).
  void RunStep(Worker& w, std::unique_lock<std::mutex>& lock);
  Status Abandon(std::unique_lock<std::mutex>& lock);
  // REQUIRES: mu. Stops the engine with `why` about the transaction in parts (InvalidArgument).
  Status BrokenSequence(std::string why);
};

}  // namespace binlog::replay
