// Pieces of pump_bench: a timed load with N threads, producer steps (PREWRITE, its ack, then
// COMMIT, the way TiDB and loadgen write), the baseline steps (journal append, raw fdatasync),
// and the pump daemon run as its own process for the gRPC figures.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench_util.h"
#include "binlog.pb.h"
#include "common/status.h"
#include "journal/journal.h"
#include "loadgen/workload.h"
#include "pump_client/pump_client.h"

namespace binlog::bench {

// Seconds each measured load runs ($BENCH_PUMP_SECONDS, default 2).
double LoadSeconds();

// What one thread of a load does and measured.
struct Worker {
  int index = 0;
  uint64_t items = 0;                // units of work finished (transactions, records)
  uint64_t max_ts = 0;               // largest commit ts acknowledged
  std::vector<double> latencies_us;  // of every Timed call

  template <typename F>
  Status Timed(F&& f) {
    double start = NowSeconds();
    Status s = f();
    latencies_us.push_back((NowSeconds() - start) * 1e6);
    return s;
  }
};

// One unit of work; called in a loop until the load's time is up.
using Step = std::function<Status(Worker&)>;

struct LoadResult {
  double seconds = 0;      // from the common start until the last thread finished its last step
  double cpu_seconds = 0;  // of this whole process (every thread) meanwhile
  uint64_t items = 0;
  uint64_t max_ts = 0;
  std::vector<double> latencies_us;  // every thread's, pooled
  double rate() const { return seconds > 0 ? static_cast<double>(items) / seconds : 0; }
  double p(double percentile) { return Percentile(&latencies_us, percentile); }
};

// Builds one step per thread (in the calling thread, before any starts: clients, pools), then
// runs them together for `seconds`. Exits the binary when a step fails.
LoadResult RunLoad(const std::string& what, int threads, double seconds,
                   const std::function<Step(int thread)>& make_step);

// A producer without a thread of its own: a closed loop of transactions (a PREWRITE; from its
// answer a COMMIT with a commit ts taken then; from that answer the next transaction) until its
// deadline, driven by the callbacks of whatever call its subclass makes. The callbacks of one
// producer run one at a time, so its fields need no lock.
class ClosedLoopProducer {
 public:
  // `finished` is called once, when its last call ended.
  ClosedLoopProducer(workload::TsSequencer* ts, double deadline, uint64_t seed,
                     std::function<void()> finished);
  virtual ~ClosedLoopProducer() = default;

  void Start() { Prewrite(); }
  // After `finished` ran: how its calls ended (the first failure, or OK).
  const Status& status() const { return status_; }
  // Adds its transactions, newest commit ts and answer latencies to `r`.
  void Collect(LoadResult* r) const;

 protected:
  // Sends one binlog; the subclass calls Answered with the pump's answer.
  virtual void Send(const pb::Binlog& binlog) = 0;
  // No more transactions: the subclass ends its calls, then calls Finished.
  virtual void Stop() = 0;

  // A refused write ends the benchmark (exit 1): the load is meant to be valid.
  void Answered(const Status& s);
  void Finished(Status s);

 private:
  void Prewrite();
  void Commit();

  workload::TsSequencer* ts_;
  double deadline_;
  std::vector<pb::Binlog> pool_;  // distinct prewrites, cycled
  size_t next_ = 0;
  std::function<void()> finished_;
  bool committing_ = false;
  uint64_t start_ts_ = 0;
  uint64_t commit_ts_ = 0;
  double sent_at_ = 0;
  uint64_t items_ = 0;
  uint64_t max_ts_ = 0;
  std::vector<double> latencies_us_;
  Status status_;
};

// ~1 KiB PREWRITEs of loadgen's workload (changes filled in, ts left 0); deterministic for seed.
std::vector<pb::Binlog> MakePrewrites(size_t n, uint64_t seed);

// Where a producer's binlogs go: one binlog per call, or a batch in one call.
using WriteFn = std::function<Status(std::span<const pb::Binlog> binlogs, bool batched)>;
WriteFn ClientWriter(std::shared_ptr<pump::PumpClient> client);

// A producer: `batch` == 1 writes PREWRITE, then after its ack a COMMIT (WriteBinlog each);
// `batch` > 1 writes `batch` PREWRITEs in one WriteBinlogs, then their COMMITs in another. Start
// and commit ts come from `ts` (shared, like PD), each commit ts taken after the prewrite's ack.
// One item per transaction; each write call is one latency sample.
Step ProducerStep(WriteFn write, uint64_t seed, size_t batch, workload::TsSequencer* ts);

// The journal's own durable append of the same ~1 KiB records, `batch` records per Append.
Step JournalAppendStep(journal::Journal* journal, uint64_t seed, size_t batch);

// The disk's limit: write() of `bytes` then fdatasync() on a file of its own in dir.
Step RawSyncStep(const std::string& dir, size_t bytes);
// The same over a file of zeros written and synced beforehand (as the pump's wal writes):
// the fdatasync then has no file size or extent to commit.
Step RawOverwriteSyncStep(const std::string& dir, size_t bytes);

// Opens an arrival-order, synced journal (a pump's wal/) in a fresh scratch directory.
std::unique_ptr<journal::Journal> OpenWalJournal(const std::string& name);

// tools/pump/pump (or $BENCH_PUMP_BINARY) run as a child process on 127.0.0.1 (a free port),
// with a registry directory, logging at warn to <data_dir>-pump.log.
class PumpProcess {
 public:
  // Starts the daemon on data_dir with extra flags and waits until it answers a probe (online).
  // Its registry is registry_dir, or <data_dir>-registry when empty.
  static std::unique_ptr<PumpProcess> Start(const std::string& data_dir,
                                            const std::vector<std::string>& flags = {},
                                            const std::string& registry_dir = "");
  // SIGTERM and wait (SIGKILL after 10 s).
  ~PumpProcess();
  PumpProcess(const PumpProcess&) = delete;
  PumpProcess& operator=(const PumpProcess&) = delete;

  const std::string& addr() const { return addr_; }
  // User + system CPU seconds the daemon used so far (/proc/<pid>/stat).
  double CpuSeconds() const;
  // A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); 0 when absent.
  uint64_t StatusKb(const std::string& field) const;

 private:
  PumpProcess() = default;
  pid_t pid_ = -1;
  std::string addr_;
};

std::shared_ptr<pump::PumpClient> ConnectClient(const std::string& addr);

// The figures of pump_pull_bench.cc.
void PullFigures();

// The figures of pump_async_bench.cc, with their baselines (0: that figure is not printed).
void AsyncFigures(int in_flight, double journal_rate_records_per_s, double raw_p50_us,
                  double raw_p99_us);
// That run (memoized): transactions, until the last was durable in binlog/, and ack latencies.
LoadResult InprocAsyncLoad(int in_flight);

// How the producers of GrpcAsyncLoad write.
enum class AsyncWrites {
  kStream,        // each on a WriteBinlogStream of its own
  kUnary,         // each as WriteBinlog calls
  kSharedClient,  // all through one PumpClient's WriteBinlogAsync (coalesced WriteBinlogs)
};

// pump_grpc_async_bench.cc: `producers` to the pump at addr, each a closed loop of transactions
// for LoadSeconds(), driven by gRPC's callback API (no thread each).
LoadResult GrpcAsyncLoad(const std::string& addr, int producers, AsyncWrites writes,
                         workload::TsSequencer* ts);

}  // namespace binlog::bench
