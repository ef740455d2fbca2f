// The pump's asynchronous in-process API (Pump::WriteAsync, the one the gRPC service uses): a
// producer that keeps transactions in flight without a thread each.
//
//   pump_inproc_async_txn_per_s     $BENCH_PUMP_PRODUCERS (64) transactions in flight at all
//       times, each a ~1 KiB PREWRITE, then, from its acknowledgement, a COMMIT with a commit ts
//       taken then, then the next transaction: committed transactions per second, counted until
//       the last is durable in binlog/ too. Baseline: the journal's durable append rate with as
//       many threads appending ~1 KiB records one per Append (as for pump_inproc_txn_per_s).
//   pump_inproc_async_ack_p50/_p99  from WriteAsync to its acknowledgement. Baseline: write() of
//       64 KiB + fdatasync() (a group's worth of records).
#include <algorithm>
#include <atomic>
#include <iostream>
#include <latch>
#include <memory>
#include <vector>

#include "pump/pump.h"
#include "pump_bench_util.h"

namespace binlog::bench {
namespace {

// One logical producer: its transaction in flight and what it measured. Only the pump's completer
// thread runs its callbacks, one at a time, so its fields need no lock.
struct AsyncProducer {
  pump::Pump* pump = nullptr;
  workload::TsSequencer* ts = nullptr;
  double deadline = 0;
  std::vector<pb::Binlog> pool;  // distinct prewrites, cycled
  size_t next = 0;
  uint64_t items = 0;
  uint64_t max_ts = 0;
  std::vector<double> latencies_us;
  std::function<void()> finished;

  void Fail(const Status& s) {
    std::cerr << "async producer: " << s.ToString() << "\n";
    std::exit(1);
  }

  void Start() {
    if (NowSeconds() >= deadline) return finished();
    pb::Binlog& pre = pool[next++ % pool.size()];
    uint64_t start = ts->Next();
    pre.set_start_ts(static_cast<int64_t>(start));
    double t0 = NowSeconds();
    pump->WriteAsync({pump::BinlogHead::Of(pre)}, {pre.SerializeAsString()},
                     [this, start, t0](Status s) {
                       if (!s.ok()) Fail(s);
                       latencies_us.push_back((NowSeconds() - t0) * 1e6);
                       Commit(start);
                     });
  }

  void Commit(uint64_t start) {
    pb::Binlog c;
    c.set_tp(pb::COMMIT);
    c.set_start_ts(static_cast<int64_t>(start));
    uint64_t commit = ts->Next();
    c.set_commit_ts(static_cast<int64_t>(commit));
    double t0 = NowSeconds();
    pump->WriteAsync({pump::BinlogHead::Of(c)}, {c.SerializeAsString()},
                     [this, commit, t0](Status s) {
                       if (!s.ok()) Fail(s);
                       latencies_us.push_back((NowSeconds() - t0) * 1e6);
                       ++items;
                       max_ts = std::max(max_ts, commit);
                       Start();
                     });
  }
};

struct AsyncRun {
  double seconds = 0;  // until the last commit was durable in binlog/
  uint64_t items = 0;
  std::vector<double> latencies_us;
};

AsyncRun& RunAsync(int in_flight) {
  static std::unique_ptr<AsyncRun> memo;
  if (memo) return *memo;
  pump::PumpOptions o;
  o.data_dir = FreshDir("pump-async");
  auto p = Check(pump::Pump::Open(o), "open pump");
  workload::TsSequencer ts;
  std::latch finished(in_flight);
  std::vector<std::unique_ptr<AsyncProducer>> producers;
  double start = NowSeconds();
  double cpu = CpuSeconds();
  for (int i = 0; i < in_flight; ++i) {
    auto a = std::make_unique<AsyncProducer>();
    a->pump = p.get();
    a->ts = &ts;
    a->deadline = start + LoadSeconds();
    a->pool = MakePrewrites(4, 2000 + static_cast<uint64_t>(i));
    a->finished = [&] { finished.count_down(); };
    producers.push_back(std::move(a));
  }
  for (auto& a : producers) a->Start();
  finished.wait();
  auto run = std::make_unique<AsyncRun>();
  uint64_t max_ts = 0;
  for (auto& a : producers) {
    run->items += a->items;
    max_ts = std::max(max_ts, a->max_ts);
    run->latencies_us.insert(run->latencies_us.end(), a->latencies_us.begin(),
                             a->latencies_us.end());
  }
  while (p->Stats().emitted_ts < max_ts)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  run->seconds = NowSeconds() - start;
  cpu = CpuSeconds() - cpu;
  std::cerr << "pump in-process async: " << in_flight << " in flight, " << run->items
            << " transactions in " << run->seconds << " s, " << cpu << " s CPU ("
            << cpu * 1e6 / static_cast<double>(std::max<uint64_t>(run->items, 1))
            << " us per transaction)\n";
  pump::PumpStats st = p->Stats();
  std::cerr << "  writes " << st.writes << " in " << st.rounds << " rounds; wal "
            << st.wal_sync_latency.count() << " syncs, binlog/ " << st.binlog_sync_latency.count()
            << " syncs\n";
  Check(p->Close(), "close pump");
  p.reset();
  RemoveAll(o.data_dir);
  memo = std::move(run);
  return *memo;
}

}  // namespace

LoadResult InprocAsyncLoad(int in_flight) {
  AsyncRun& run = RunAsync(in_flight);
  LoadResult r;
  r.seconds = run.seconds;
  r.items = run.items;
  r.latencies_us = run.latencies_us;
  return r;
}

void AsyncFigures(int in_flight, double journal_rate_records_per_s, double raw_p50_us,
                  double raw_p99_us) {
  AsyncRun& run = RunAsync(in_flight);
  if (journal_rate_records_per_s > 0) {
    PrintFigure("pump_inproc_async_txn_per_s", static_cast<double>(run.items) / run.seconds,
                "txn/s", journal_rate_records_per_s, "records/s");
  }
  if (raw_p50_us > 0) {
    PrintFigure("pump_inproc_async_ack_p50", Percentile(&run.latencies_us, 50), "us", raw_p50_us,
                "us");
    PrintFigure("pump_inproc_async_ack_p99", Percentile(&run.latencies_us, 99), "us", raw_p99_us,
                "us");
  }
}

}  // namespace binlog::bench
