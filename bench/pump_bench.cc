// The pump: durable ingest through the in-process API and over gRPC, memory, and PullBinlogs.
// Every baseline is measured in this run on the same disk (BENCH_DIR; never tmpfs).
//
// A transaction is what TiDB and loadgen send: a ~1 KiB PREWRITE (loadgen's workload), and once
// that is acknowledged a COMMIT with a commit ts taken after the ack (ts from one shared
// sequencer, like PD). Each load runs $BENCH_PUMP_SECONDS (default 2) seconds.
//
//   pump_inproc_txn_per_s           64 producer threads ($BENCH_PUMP_PRODUCERS; 32 to 64
//       saturate this 2-core VM) calling Pump::WriteBinlog, prewrite then commit: committed
//       transactions per second, counted until the last one is durable in binlog/ too.
//       Baseline: the journal's own durable append rate, as many threads appending ~1 KiB
//       records one per Append to an arrival-order journal (records/s; a transaction is two wal
//       records, one of them small, plus its binlog/ write).
//   pump_inproc_ack_p50/_p99        time of one WriteBinlog call in that run. Baseline: write()
//       of 1 KiB + fdatasync() on the same disk, one thread.
//   pump_inproc_batch_*             4 producers ($BENCH_PUMP_BATCH_PRODUCERS), each WriteBinlogs of
//       64 prewrites then of their 64 commits. Baselines: the journal appending 64 records per
//       Append with 4 threads, and write() of one batch's bytes + fdatasync().
//   pump_inproc_batch_1p_*          the same with one producer: the least concurrency that gives
//       100k transactions/s, where the ack latency is one call's own (with 4 producers calls
//       queue behind each other: rate up, latency up).
//   pump_inproc_async_*             see pump_async_bench.cc.
//   pump_grpc_{1,16,64}p_*          tools/pump/pump as its own process on 127.0.0.1, producers
//       with one PumpClient each: binlogs (prewrites + commits) acknowledged per second, and
//       the call's ack latency. Baseline: the in-process pump with the same number of
//       producers (binlogs/s, latency), so the ratio is what gRPC costs. TiDB-Binlog's pump is
//       reported at about 30-35k binlogs/s at ~500 us on 8 cores and an SSD; that figure is from
//       another machine and is not a baseline here.
//       A producer's single writes go on one WriteBinlogStream of its own (docs/PUMP.md).
//   pump_grpc_64p_async_*           64 producers as in pump_grpc_64p, each a WriteBinlogStream,
//       driven by gRPC's callback API instead of a thread each (pump_grpc_async_bench.cc): the
//       pump sees the same 64 producers, and the load costs the shared 2 cores less. Baseline:
//       the in-process pump with 64 transactions in flight the same way (pump_inproc_async).
//   pump_grpc_64p_unary_async_*     the same producers sending WriteBinlog calls instead (what
//       TiDB's sessions send, each call a new HTTP/2 stream): the pump's capacity for unary
//       writes when its producers are elsewhere.
//   pump_grpc_64p_shared_async_*    the same 64 producers writing through one shared PumpClient's
//       WriteBinlogAsync, which sends what they write meanwhile together in WriteBinlogs calls
//       (a TiDB server's sessions and its one pump client; docs/PUMP.md). Baseline as above.
//   pump_grpc_64p_shared_*          64 producers sharing one PumpClient, as one TiDB server's
//       sessions share its pump client: concurrent WriteBinlog calls go out together in
//       WriteBinlogs calls (ClientOptions::coalesce_writes). Baseline: the in-process pump with 64
//       producers.
//   pump_grpc_64p*_pump_cpu_per_binlog  CPU the pump process used per binlog in that 64-producer
//       load (/proc/<pid>/stat). Baseline: the producers' side's (this process's) CPU per binlog
//       in the same load. Both share this VM's 2 cores, so with a thread per producer the load
//       can cost more than the pump; producers on other hosts would leave the pump both.
//   pump_grpc_64p*_cpu_ceiling_binlogs_per_s  the rate at which that load would keep every core
//       busy: cores / (pump's + producers' CPU per binlog). Baseline: the rate measured. Not a
//       measurement of its own; a ceiling under a target means the target was out of reach in
//       that run whatever the scheduling, and a ratio near 1 that the load was CPU-bound.
//   pump_grpc_batch_*               the batched write over gRPC (4 producers x 64); baseline the
//       in-process batched write.
//   pump_peak_rss_mb                VmHWM of the pump process after the 64-producer gRPC load
//       (run first on a fresh process). Baseline: its VmRSS once it is online.
//   pump_pull_*                     see pump_pull_bench.cc.
//
// On this kind of VM fdatasync is bimodal (~0.1 ms while a CPU is busy, ~4 ms when all are
// idle: the completion is only noticed at a timer tick), so the latency ratios move between runs.
// The CPU each load used per item (this process, and the pump process for gRPC) goes to stderr:
// on a shared machine it says more than the rates do.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "pump/pump.h"
#include "pump_bench_util.h"
#include "rpc/grpc_runtime.h"

namespace binlog::bench {
namespace {

// $BENCH_PUMP_PRODUCERS overrides it (the gRPC figures keep 1, 16 and 64).
int Producers() {
  const char* env = std::getenv("BENCH_PUMP_PRODUCERS");
  int n = env && *env ? std::atoi(env) : 0;
  return n > 0 ? n : 64;
}
int BatchProducers() {
  const char* env = std::getenv("BENCH_PUMP_BATCH_PRODUCERS");
  int n = env && *env ? std::atoi(env) : 0;
  return n > 0 ? n : 4;
}
constexpr size_t kBatch = 64;

workload::TsSequencer& Sequencer() {
  static workload::TsSequencer ts;
  return ts;
}

uint64_t Seed(int thread) { return 1000 + static_cast<uint64_t>(thread); }

struct PumpRun {
  LoadResult load;
  double drain_seconds = 0;  // after the load, until binlog/ held the last commit
  double txn_per_s() const {
    return static_cast<double>(load.items) / (load.seconds + drain_seconds);
  }
  // Acknowledged binlogs (a prewrite and a commit per transaction) per second.
  double binlogs_per_s() const { return 2 * load.rate(); }
};

// The in-process pump with `producers` threads writing `batch` transactions per call, on a fresh
// data dir. Memoized: several figures share a run.
PumpRun& Inproc(int producers, size_t batch) {
  static std::map<std::pair<int, size_t>, PumpRun> runs;
  auto key = std::make_pair(producers, batch);
  if (auto it = runs.find(key); it != runs.end()) return it->second;
  pump::PumpOptions o;
  o.data_dir = FreshDir("pump-inproc");
  auto p = Check(pump::Pump::Open(o), "open pump");
  pump::Pump* raw = p.get();
  WriteFn write = [raw](std::span<const pb::Binlog> b, bool batched) {
    return batched ? raw->WriteBinlogs(b) : raw->WriteBinlog(b[0]);
  };
  PumpRun run;
  run.load = RunLoad("pump in-process", producers, LoadSeconds(),
                     [&](int i) { return ProducerStep(write, Seed(i), batch, &Sequencer()); });
  double start = NowSeconds();
  while (p->Stats().emitted_ts < run.load.max_ts) {
    if (NowSeconds() - start > 60) Check(Status::IOError("binlog/ did not catch up"), "drain");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  run.drain_seconds = NowSeconds() - start;
  pump::PumpStats st = p->Stats();
  auto mean_ms = [](const LatencyHistogram& h) {
    return h.count() ? static_cast<double>(h.sum_micros()) / 1000 / h.count() : 0.0;
  };
  std::cerr << "  drained binlog/ in " << run.drain_seconds << " s; pending "
            << st.pending_prewrites << ", writes " << st.writes << " in " << st.rounds
            << " rounds; wal " << st.wal_sync_latency.count() << " syncs (mean "
            << mean_ms(st.wal_sync_latency) << " ms), binlog/ " << st.binlog_sync_latency.count()
            << " syncs (mean " << mean_ms(st.binlog_sync_latency) << " ms)\n";
  Check(p->Close(), "close pump");
  p.reset();
  RemoveAll(o.data_dir);
  return runs[key] = std::move(run);
}

// The journal's durable append rate with the same concurrency (records/s).
double JournalRate(int threads, size_t batch) {
  auto j = OpenWalJournal("pump-journal");
  LoadResult r = RunLoad("journal append", threads, LoadSeconds(),
                         [&](int i) { return JournalAppendStep(j.get(), Seed(i), batch); });
  journal::JournalStats st = j->stats();
  std::cerr << "  " << st.records << " records in " << st.groups << " groups; Append p50 "
            << r.p(50) << " us, p99 " << r.p(99) << " us\n";
  std::string dir = j->dir();
  Check(j->Close(), "close journal");
  RemoveAll(dir);
  return r.rate();
}

// write() + fdatasync() of `bytes`, one thread: the latency samples.
LoadResult RawSync(size_t bytes) {
  std::string dir = FreshDir("pump-raw");
  LoadResult r = RunLoad("raw write+fdatasync " + std::to_string(bytes) + " B", 1, LoadSeconds(),
                         [&](int) { return RawSyncStep(dir, bytes); });
  // For scale (stderr): the kind of sync the pump's wal does, over zeros written ahead.
  LoadResult over = RunLoad("raw write over synced zeros+fdatasync", 1, LoadSeconds(),
                            [&](int) { return RawOverwriteSyncStep(dir, bytes); });
  std::cerr << "  raw fdatasync: appending p50 " << r.p(50) << " us, p99 " << r.p(99)
            << " us; over synced zeros p50 " << over.p(50) << " us, p99 " << over.p(99) << " us\n";
  RemoveAll(dir);
  return r;
}

void InprocFigures(const std::string& name, int producers, size_t batch) {
  std::string base = "pump_inproc" + name;
  if (Wanted({base + "_txn_per_s"})) {
    double journal = JournalRate(producers, batch);
    PrintFigure(base + "_txn_per_s", Inproc(producers, batch).txn_per_s(), "txn/s", journal,
                "records/s");
  }
  if (Wanted({base + "_ack_p50", base + "_ack_p99"})) {
    // The bytes one call makes durable: a ~1 KiB prewrite, or a batch of them.
    LoadResult raw = RawSync(batch * 1024);
    PumpRun& run = Inproc(producers, batch);
    PrintFigure(base + "_ack_p50", run.load.p(50), "us", raw.p(50), "us");
    PrintFigure(base + "_ack_p99", run.load.p(99), "us", raw.p(99), "us");
  }
}

void AsyncInprocFigures() {
  bool rate = Wanted({"pump_inproc_async_txn_per_s"});
  bool ack = Wanted({"pump_inproc_async_ack_p50", "pump_inproc_async_ack_p99"});
  if (!rate && !ack) return;
  double journal = rate ? JournalRate(Producers(), 1) : 0;
  LoadResult raw = ack ? RawSync(kBatch * 1024) : LoadResult();
  AsyncFigures(Producers(), journal, ack ? raw.p(50) : 0, ack ? raw.p(99) : 0);
}

// A gRPC load and the CPU the pump process used meanwhile.
struct GrpcRun {
  LoadResult load;
  double pump_cpu_seconds = 0;
};

// The figures PrintCpuFigures prints for a load named `base`.
bool CpuFiguresWanted(const std::string& base) {
  return Wanted({base + "_pump_cpu_per_binlog", base + "_cpu_ceiling_binlogs_per_s"});
}

// Where the CPU goes (both sides share this VM's cores): the pump process's CPU per binlog, with
// the producers' (this process's) for the same binlogs as the baseline; and the rate at which the
// two together would keep every core busy, against the rate measured. A ceiling below a target
// says that no scheduling could reach it in that run: the load costs the machine too much.
void PrintCpuFigures(const std::string& base, const GrpcRun& run) {
  double binlogs = 2 * static_cast<double>(std::max<uint64_t>(run.load.items, 1));
  double cpu_per_binlog = (run.pump_cpu_seconds + run.load.cpu_seconds) / binlogs;
  double cores = std::max(1u, std::thread::hardware_concurrency());
  PrintFigure(base + "_pump_cpu_per_binlog", run.pump_cpu_seconds * 1e6 / binlogs, "us",
              run.load.cpu_seconds * 1e6 / binlogs, "us");
  PrintFigure(base + "_cpu_ceiling_binlogs_per_s", cores / cpu_per_binlog, "binlogs/s",
              2 * run.load.rate(), "binlogs/s");
}

// Runs `load` against the pump process, noting the CPU that process used meanwhile (stderr too).
GrpcRun MeasureOnPump(const PumpProcess& server, const std::function<LoadResult()>& load) {
  GrpcRun run;
  double cpu = server.CpuSeconds();
  run.load = load();
  run.pump_cpu_seconds = server.CpuSeconds() - cpu;
  std::cerr << "  the pump process: " << run.pump_cpu_seconds << " s CPU ("
            << run.pump_cpu_seconds * 1e6 /
                   static_cast<double>(std::max<uint64_t>(run.load.items, 1))
            << " us per item); the producers' side is the line above\n";
  return run;
}

// `shared`: the producers are one process's sessions sharing one PumpClient (as a TiDB server's
// do), whose concurrent WriteBinlog calls go out together; otherwise each has its own.
GrpcRun Grpc(const PumpProcess& server, int producers, size_t batch, bool shared = false) {
  std::shared_ptr<pump::PumpClient> one = shared ? ConnectClient(server.addr()) : nullptr;
  return MeasureOnPump(server, [&] {
    return RunLoad("pump gRPC", producers, LoadSeconds(), [&](int i) {
      return ProducerStep(ClientWriter(shared ? one : ConnectClient(server.addr())), Seed(i), batch,
                          &Sequencer());
    });
  });
}

void GrpcFigures(const PumpProcess& server, const std::string& name, int producers, size_t batch,
                 bool shared = false) {
  std::string base = "pump_grpc_" + name;
  const bool cpu_figure = producers == 64;
  if (!Wanted({base + "_binlogs_per_s", base + "_ack_p50", base + "_ack_p99"}) &&
      !(cpu_figure && CpuFiguresWanted(base))) {
    return;
  }
  GrpcRun run = Grpc(server, producers, batch, shared);
  LoadResult& r = run.load;
  PumpRun& inproc = Inproc(producers, batch);
  PrintFigure(base + "_binlogs_per_s", 2 * r.rate(), "binlogs/s", inproc.binlogs_per_s(),
              "binlogs/s");
  PrintFigure(base + "_ack_p50", r.p(50), "us", inproc.load.p(50), "us");
  PrintFigure(base + "_ack_p99", r.p(99), "us", inproc.load.p(99), "us");
  if (cpu_figure) PrintCpuFigures(base, run);
}

// 64 producers without a thread each (pump_grpc_async_bench.cc), on streams or as unary calls.
// Baseline: the in-process pump with 64 transactions in flight the same way (pump_inproc_async).
void GrpcAsyncFigures(const PumpProcess& server, const std::string& name, AsyncWrites writes) {
  std::string base = "pump_grpc_" + name;
  if (!Wanted({base + "_binlogs_per_s", base + "_ack_p50", base + "_ack_p99"}) &&
      !CpuFiguresWanted(base)) {
    return;
  }
  GrpcRun run =
      MeasureOnPump(server, [&] { return GrpcAsyncLoad(server.addr(), 64, writes, &Sequencer()); });
  LoadResult& r = run.load;
  LoadResult inproc = InprocAsyncLoad(64);
  PrintFigure(base + "_binlogs_per_s", 2 * r.rate(), "binlogs/s", 2 * inproc.rate(), "binlogs/s");
  PrintFigure(base + "_ack_p50", r.p(50), "us", inproc.p(50), "us");
  PrintFigure(base + "_ack_p99", r.p(99), "us", inproc.p(99), "us");
  PrintCpuFigures(base, run);
}

void GrpcWriteFigures() {
  bool rss = Wanted({"pump_peak_rss_mb"});
  bool any = rss;
  for (const char* n : {"1p", "16p", "64p", "64p_async", "64p_unary_async", "64p_shared_async",
                        "64p_shared", "batch"}) {
    std::string base = std::string("pump_grpc_") + n;
    any |= Wanted({base + "_binlogs_per_s", base + "_ack_p50", base + "_ack_p99"}) ||
           CpuFiguresWanted(base);
  }
  if (!any) return;
  std::string dir = FreshDir("pump-grpc");
  {
    auto server = PumpProcess::Start(dir);
    double start_mb = static_cast<double>(server->StatusKb("VmRSS")) / 1024;
    // 64 producers first, so the high-water mark is theirs.
    if (rss && !Wanted({"pump_grpc_64p"})) Grpc(*server, 64, 1);
    GrpcFigures(*server, "64p", 64, 1);
    if (rss) {
      PrintFigure("pump_peak_rss_mb", static_cast<double>(server->StatusKb("VmHWM")) / 1024, "MiB",
                  start_mb, "MiB");
    }
    GrpcAsyncFigures(*server, "64p_async", AsyncWrites::kStream);
    GrpcAsyncFigures(*server, "64p_unary_async", AsyncWrites::kUnary);
    GrpcAsyncFigures(*server, "64p_shared_async", AsyncWrites::kSharedClient);
    GrpcFigures(*server, "1p", 1, 1);
    GrpcFigures(*server, "16p", 16, 1);
    GrpcFigures(*server, "64p_shared", 64, 1, /*shared=*/true);
    GrpcFigures(*server, "batch", BatchProducers(), kBatch);
  }
  RemoveAll(dir);
  RemoveAll(dir + "-registry");
  RemoveAll(dir + "-pump.log");
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  using namespace binlog::bench;
  binlog::rpc::ConfigureGrpcRuntime();
  InitBench(&argc, argv);
  ::alarm(600);  // a hung load ends the run (and, through PR_SET_PDEATHSIG, its pump process)
  InprocFigures("", Producers(), 1);
  InprocFigures("_batch", BatchProducers(), kBatch);
  InprocFigures("_batch_1p", 1, kBatch);
  AsyncInprocFigures();
  GrpcWriteFigures();
  PullFigures();
  return 0;
}
