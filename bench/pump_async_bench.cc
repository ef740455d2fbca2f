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
#include <iostream>
#include <latch>
#include <memory>
#include <vector>

#include "pump/pump.h"
#include "pump_bench_util.h"

namespace binlog::bench {
namespace {

// Writes through Pump::WriteAsync; the pump's completer thread runs the callbacks.
class InprocProducer final : public ClosedLoopProducer {
 public:
  InprocProducer(pump::Pump* pump, workload::TsSequencer* ts, double deadline, uint64_t seed,
                 std::function<void()> finished)
      : ClosedLoopProducer(ts, deadline, seed, std::move(finished)), pump_(pump) {}

 private:
  void Send(const pb::Binlog& binlog) override {
    pump_->WriteAsync({pump::BinlogHead::Of(binlog)}, {binlog.SerializeAsString()},
                      [this](Status s) { Answered(s); });
  }
  void Stop() override { Finished(Status::OK()); }

  pump::Pump* pump_;
};

// Memoized: the seconds run until the last commit was durable in binlog/.
LoadResult& RunAsync(int in_flight) {
  static std::unique_ptr<LoadResult> memo;
  if (memo) return *memo;
  pump::PumpOptions o;
  o.data_dir = FreshDir("pump-async");
  auto p = Check(pump::Pump::Open(o), "open pump");
  workload::TsSequencer ts;
  std::latch finished(in_flight);
  std::vector<std::unique_ptr<InprocProducer>> producers;
  double start = NowSeconds();
  double cpu = CpuSeconds();
  for (int i = 0; i < in_flight; ++i) {
    producers.push_back(std::make_unique<InprocProducer>(p.get(), &ts, start + LoadSeconds(),
                                                         2000 + static_cast<uint64_t>(i),
                                                         [&] { finished.count_down(); }));
  }
  for (auto& a : producers) a->Start();
  finished.wait();
  auto run = std::make_unique<LoadResult>();
  for (auto& a : producers) a->Collect(run.get());
  while (p->Stats().emitted_ts < run->max_ts)
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

LoadResult InprocAsyncLoad(int in_flight) { return RunAsync(in_flight); }

void AsyncFigures(int in_flight, double journal_rate_records_per_s, double raw_p50_us,
                  double raw_p99_us) {
  LoadResult& run = RunAsync(in_flight);
  if (journal_rate_records_per_s > 0) {
    PrintFigure("pump_inproc_async_txn_per_s", run.rate(), "txn/s", journal_rate_records_per_s,
                "records/s");
  }
  if (raw_p50_us > 0) {
    PrintFigure("pump_inproc_async_ack_p50", run.p(50), "us", raw_p50_us, "us");
    PrintFigure("pump_inproc_async_ack_p99", run.p(99), "us", raw_p99_us, "us");
  }
}

}  // namespace binlog::bench
