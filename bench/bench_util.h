// Shared pieces of the benchmark binaries: realistic payloads, scratch directories on the repo's
// disk, a Google Benchmark runner that hands back counters, percentiles and the figure lines.
//
// Every binary prints its figures on stdout, one per line, exactly
//   name: value unit (baseline: value unit, ratio: r)
// where ratio = value / baseline. Google Benchmark's own table goes to stderr. Arguments that are
// not --benchmark_* flags filter the figures: a group runs when a figure name of it contains one.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"

namespace binlog::bench {

// Transactions of tools/loadgen's workload (sysbench-shaped sbtest tables plus a table of varied
// types, full before images, an occasional DDL), serialized as binlog.pb.Binlog COMMIT records.
// kTxnRows row changes per transaction on average makes records of about 1 KiB; one row makes
// them about half that. Deterministic for a seed.
inline constexpr double kTxnRows = 2.5;

class PayloadGenerator {
 public:
  explicit PayloadGenerator(uint64_t seed, double txn_rows = kTxnRows);
  ~PayloadGenerator();
  // The next record's payload; commit_ts inside is ts.
  std::string Next(uint64_t ts);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fixed ts for the ordered fixtures: one record per millisecond from a fixed TSO.
uint64_t RecordTS(uint64_t index);

// An Env that forwards to the real one but makes Sync and SyncDir no-ops: only for building
// read-side fixtures fast (their durability is not what is measured). Call ::sync() afterwards.
Env* NoSyncEnv();

// $BENCH_DIR, else bench-tmp in the working directory; created. Warns on stderr when it is tmpfs.
const std::string& BenchRoot();
// BenchRoot()/name, emptied and created.
std::string FreshDir(std::string_view name);
void RemoveAll(const std::string& path);
// Sum of the sizes of the regular files in dir.
uint64_t DirBytes(const std::string& dir);
uint64_t FileBytes(const std::string& path);

// Runs a shell command, returns its exit status; failure is reported on stderr.
int Shell(const std::string& command);
// Aborts the binary with a message when a setup step fails (never used for speed).
void Check(const Status& s, std::string_view what);
template <typename T>
T Check(Result<T> r, std::string_view what) {
  Check(r.status(), what);
  return std::move(r).value();
}

// Nearest-rank percentile (p in [0, 100]) of samples; sorts them. 0 when empty.
double Percentile(std::vector<double>* samples, double p);

// Parses Google Benchmark's flags, takes the other arguments as figure filters, and logs
// warnings and errors only (on stderr).
void InitBench(int* argc, char** argv);
bool Wanted(std::initializer_list<std::string_view> figure_names);
void PrintFigure(std::string_view name, double value, std::string_view unit, double baseline,
                 std::string_view baseline_unit);

// What one Google Benchmark run reported (counters already turned into rates).
struct RunResult {
  double real_seconds = 0;  // per-thread wall time of the measured run
  int64_t iterations = 0;   // summed over threads
  std::map<std::string, double> counters;
  double counter(const std::string& key) const;
};

// Registers fn under name, lets configure set it up (threads, time, ...), runs it with Google
// Benchmark (table on stderr) and unregisters it. Exits when the benchmark reports an error.
RunResult RunBenchmark(const std::string& name, std::function<void(benchmark::State&)> fn,
                       const std::function<void(benchmark::internal::Benchmark*)>& configure);

// A loopback TCP port nothing listens on now (bound, then released: for a child's listen flag).
int FreePort();

// User + system CPU seconds of this process so far.
double CpuSeconds();

// Seconds since an arbitrary epoch (steady clock).
double NowSeconds();

}  // namespace binlog::bench
