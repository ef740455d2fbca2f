// loadgen: a synthetic producer that appends committed transactions to a journal directory.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/config.h"
#include "common/logging.h"
#include "journal/journal.h"
#include "loadgen/committer.h"
#include "loadgen/options.h"
#include "loadgen/pump_producer.h"
#include "loadgen/workload.h"
#include "rpc/grpc_runtime.h"

namespace binlog::loadgen {
namespace {

constexpr auto kProgressInterval = std::chrono::seconds(5);

// Spreads transactions evenly over time for --rate; shared by all threads.
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate) {}
  void Acquire(int64_t n) {
    if (rate_ <= 0) return;
    auto step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(n) / rate_));
    Clock::time_point at;
    {
      std::lock_guard<std::mutex> lock(mu_);
      at = std::max(Clock::now(), next_);
      next_ = at + step;
    }
    std::this_thread::sleep_until(at);
  }

 private:
  using Clock = std::chrono::steady_clock;
  double rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

struct Progress {
  std::atomic<int64_t> remaining{0};
  std::atomic<uint64_t> txns{0};
  std::atomic<uint64_t> rows{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  Status error;
};

void Fail(Progress* progress, const Status& s) {
  std::lock_guard<std::mutex> lock(progress->mu);
  if (progress->error.ok()) progress->error = s;
  progress->failed = true;
}

void Finish(Progress* progress) {
  std::lock_guard<std::mutex> lock(progress->mu);
  --progress->running;
  progress->cv.notify_all();
}

void RunPumpWorker(int shard, const Options& o, PumpProducer* producer, Pacer* pacer,
                   Progress* progress) {
  workload::WorkloadOptions wo = o.workload;
  wo.shard = shard;
  wo.shards = o.threads;
  workload::Workload gen(wo);
  std::vector<pb::Binlog> txns;
  for (size_t round = shard; !progress->failed.load(); round += o.threads) {
    int64_t left = progress->remaining.fetch_sub(o.batch);
    if (left <= 0) break;
    size_t n = static_cast<size_t>(std::min<int64_t>(left, o.batch));
    pacer->Acquire(static_cast<int64_t>(n));
    txns.resize(n);
    uint64_t rows = 0;
    for (auto& t : txns) rows += gen.Next(&t);
    uint64_t bytes = 0;
    for (const auto& t : txns) bytes += t.ByteSizeLong();
    Status s = producer->Send(txns, round, o.batch > 1);
    if (!s.ok()) {
      Fail(progress, s);
      break;
    }
    progress->txns += n;
    progress->rows += rows;
    progress->bytes += bytes;
  }
  Finish(progress);
}

void RunWorker(int shard, const Options& o, Committer* committer, workload::TsSequencer* sequencer,
               Pacer* pacer, Progress* progress) {
  workload::WorkloadOptions wo = o.workload;
  wo.shard = shard;
  wo.shards = o.threads;
  workload::Workload gen(wo);
  pb::Binlog binlog;
  Batch batch;
  while (!progress->failed.load()) {
    int64_t left = progress->remaining.fetch_sub(o.batch);
    if (left <= 0) break;
    size_t n = static_cast<size_t>(std::min<int64_t>(left, o.batch));
    pacer->Acquire(static_cast<int64_t>(n));
    batch.payloads.resize(n);
    // Start ts come from the same clock before the work, as a TiDB transaction takes its
    // start ts first; commit ts are given at the append, so start_ts < commit_ts always.
    uint64_t start_ts = sequencer->NextN(n);
    uint64_t rows = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      rows += gen.Next(&binlog);
      binlog.set_start_ts(static_cast<int64_t>(start_ts + i));
      binlog.SerializeToString(&batch.payloads[i]);
    }
    Status s = committer->Commit(&batch);
    if (!s.ok()) {
      Fail(progress, s);
      break;
    }
    for (const std::string& p : batch.payloads) bytes += p.size();
    progress->txns += n;
    progress->rows += rows;
    progress->bytes += bytes;
  }
  Finish(progress);
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Waits for the workers, logging progress every few seconds.
void Monitor(Progress* progress, std::chrono::steady_clock::time_point start) {
  uint64_t last_txns = 0;
  auto last = start;
  std::unique_lock<std::mutex> lock(progress->mu);
  while (!progress->cv.wait_for(lock, kProgressInterval, [&] { return progress->running == 0; })) {
    auto now = std::chrono::steady_clock::now();
    uint64_t txns = progress->txns.load();
    LOG_INFO("progress", KV("txns", txns), KV("rows", progress->rows.load()),
             KV("bytes", progress->bytes.load()),
             KV("txn/s", fmt::format("{:.0f}", (txns - last_txns) / Seconds(now - last))),
             KV("elapsed", fmt::format("{:.1f}s", Seconds(now - start))));
    last_txns = txns;
    last = now;
  }
}

// Runs the workers and the progress monitor; returns the seconds taken.
template <typename StartWorker>
double RunWorkers(const Options& o, Progress* progress, StartWorker start_worker) {
  progress->remaining = o.count;
  progress->running = o.threads;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) threads.push_back(start_worker(i));
  Monitor(progress, start);
  for (auto& t : threads) t.join();
  return Seconds(std::chrono::steady_clock::now() - start);
}

int Report(const Options& o, const Progress& progress, const Status& closed, double secs,
           const std::string& extra) {
  if (!progress.error.ok() || !closed.ok()) {
    LOG_ERROR("loadgen failed", KV("error", progress.error.ok() ? closed : progress.error),
              KV("acknowledged-txns", progress.txns.load()),
              KV("target", o.pumps.empty() ? o.dir : fmt::format("{}", fmt::join(o.pumps, ","))));
    return 1;
  }
  LOG_INFO("loadgen finished", KV("transactions", progress.txns.load()),
           KV("rows", progress.rows.load()), KV("bytes", progress.bytes.load()),
           KV("seconds", fmt::format("{:.3f}", secs)),
           KV("txn/s", fmt::format("{:.0f}", secs > 0 ? progress.txns.load() / secs : 0.0)),
           KV("details", extra));
  return 0;
}

int RunIntoJournal(const Options& o, AckLog* ack) {
  journal::JournalOptions jo;
  jo.max_file_size = o.max_file_size;
  jo.sync = o.sync_log;
  auto journal = journal::Journal::Open(o.dir, jo);
  if (!journal.ok()) {
    LOG_ERROR("cannot open the journal", KV("dir", o.dir), KV("error", journal.status()));
    return 1;
  }
  LOG_INFO("loadgen starting", KV("dir", o.dir), KV("count", o.count), KV("threads", o.threads),
           KV("batch", o.batch), KV("rate", o.rate), KV("sync-log", o.sync_log),
           KV("max-file-size", o.max_file_size), KV("seed", o.workload.seed));
  workload::TsSequencer sequencer;
  Committer committer(journal->get(), &sequencer, ack);
  Pacer pacer(o.rate);
  Progress progress;
  double secs = RunWorkers(o, &progress, [&](int i) {
    return std::thread(RunWorker, i, std::cref(o), &committer, &sequencer, &pacer, &progress);
  });
  journal::JournalStats stats = (*journal)->stats();
  Status closed = (*journal)->Close();
  if (ack) {
    Status a = ack->Close();
    if (closed.ok()) closed = a;
  }
  return Report(o, progress, closed, secs,
                fmt::format("appends={} syncs={} segments-created={}", stats.appends, stats.syncs,
                            stats.segments_created));
}

int RunThroughPumps(const Options& o, AckLog* ack) {
  std::vector<std::unique_ptr<pump::PumpClient>> clients;
  std::vector<pump::PumpClient*> raw;
  for (const std::string& addr : o.pumps) {
    auto client = pump::PumpClient::Connect(addr);
    Status probe = client.ok() ? (*client)->Probe() : client.status();
    if (!probe.ok()) {
      LOG_ERROR("cannot reach the pump", KV("pump", addr), KV("error", probe));
      return 1;
    }
    raw.push_back(client->get());
    clients.push_back(std::move(*client));
  }
  LOG_INFO("loadgen starting", KV("pumps", fmt::format("{}", fmt::join(o.pumps, ","))),
           KV("count", o.count), KV("threads", o.threads), KV("batch", o.batch), KV("rate", o.rate),
           KV("seed", o.workload.seed));
  workload::TsSequencer sequencer;
  PumpProducer producer(raw, &sequencer, ack);
  Pacer pacer(o.rate);
  Progress progress;
  double secs = RunWorkers(o, &progress, [&](int i) {
    return std::thread(RunPumpWorker, i, std::cref(o), &producer, &pacer, &progress);
  });
  Status closed = ack ? ack->Close() : Status::OK();
  return Report(o, progress, closed, secs,
                fmt::format("binlogs={} pumps={}", 2 * progress.txns.load(), o.pumps.size()));
}

int Run(const Options& o) {
  Status s = InitLogging(LogOptions{o.log_level, "", "none"});
  if (!s.ok()) {
    std::cerr << "loadgen: " << s.ToString() << "\n";
    return 1;
  }
  std::unique_ptr<AckLog> ack;
  if (!o.ack_log.empty()) {
    auto opened = AckLog::Open(Env::Posix(), o.ack_log);
    if (!opened.ok()) {
      LOG_ERROR("cannot open the ack log", KV("file", o.ack_log), KV("error", opened.status()));
      return 1;
    }
    ack = std::move(*opened);
  }
  return o.pumps.empty() ? RunIntoJournal(o, ack.get()) : RunThroughPumps(o, ack.get());
}

}  // namespace
}  // namespace binlog::loadgen

int main(int argc, char** argv) {
  binlog::rpc::ConfigureGrpcRuntime();
  try {
    binlog::loadgen::Options options;
    if (auto code = binlog::loadgen::ParseArgs(argc, argv, &options)) return *code;
    return binlog::loadgen::Run(options);
  } catch (const std::exception& e) {
    std::cerr << "loadgen: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
