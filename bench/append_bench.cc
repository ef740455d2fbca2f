// Durable appends: throughput with group commit, and the latency of an acknowledged append.
//
//   journal_append_throughput[_mb]  4 writer threads, one ~1 KiB record per Append, sync = true;
//       baseline: one thread doing write() + fdatasync() of the same bytes in batches of the
//       journal's average group size (records / groups of its first round) on the same disk.
//   journal_ack_latency_{1,4,16}w_{p50,p99}  time of one Append call with 1, 4 and 16 writers;
//       baseline: write() of 1 KiB + fdatasync() on the same disk.
// Journal and baseline run in alternating rounds (see kRounds) and each side pools its rounds.
//
// The appends go to an arrival-order journal (a pump's wal/): concurrent writers cannot promise
// increasing ts, and that is the journal a pump acknowledges from. MB are 10^6 bytes of payload.
//
// Caveat for virtual machines: where an idle vCPU only notices an I/O completion at the next
// timer tick (seen on a Firecracker box: fdatasync ~0.1 ms while a CPU is busy, 4 ms when all are
// idle), a single-threaded raw loop waits for the tick more often than concurrent writers do, and
// the ratios then flatter the journal. On bare metal the raw loop is the physical limit.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "bench_util.h"
#include "journal/journal.h"

namespace binlog::bench {
namespace {

using journal::Journal;
using journal::JournalOptions;
using journal::JournalStats;
using journal::Record;

constexpr size_t kPayloadPool = 4096;

// Pre-generated so no writer spends time building records inside the measured loop.
const std::vector<std::string>& Payloads() {
  static const std::vector<std::string> payloads = [] {
    PayloadGenerator gen(42);
    std::vector<std::string> v;
    for (size_t i = 0; i < kPayloadPool; ++i) v.push_back(gen.Next(RecordTS(i)));
    return v;
  }();
  return payloads;
}

double AveragePayloadBytes() {
  double total = 0;
  for (const auto& p : Payloads()) total += static_cast<double>(p.size());
  return total / static_cast<double>(Payloads().size());
}

// Shared by the writer threads of one Google Benchmark run. Thread 0 sets it up before the
// loop's start barrier and tears it down after its end barrier.
struct AppendFixture {
  std::string dir;
  std::unique_ptr<Journal> journal;
  std::vector<std::vector<double>> latencies_us;  // per thread
  JournalStats stats;
} fixture;

void BM_JournalAppend(benchmark::State& state) {
  AppendFixture& f = fixture;
  if (state.thread_index() == 0) {
    f.dir = FreshDir("append");
    JournalOptions options;
    options.segment.kind = segment::SegmentKind::kArrival;
    options.sync = true;
    f.journal = Check(Journal::Open(f.dir, options), "open journal");
    f.latencies_us.assign(static_cast<size_t>(state.threads()), {});
  }
  const auto& payloads = Payloads();
  const size_t me = static_cast<size_t>(state.thread_index());
  const size_t threads = static_cast<size_t>(state.threads());
  size_t i = me;
  int64_t bytes = 0;
  for (auto _ : state) {
    Record r;
    r.ts = RecordTS(i);
    r.payload = payloads[i % payloads.size()];
    double start = NowSeconds();
    Status s = f.journal->Append(r);
    double end = NowSeconds();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    f.latencies_us[me].push_back((end - start) * 1e6);
    bytes += static_cast<int64_t>(r.payload.size());
    i += threads;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  if (state.thread_index() == 0) {
    f.stats = f.journal->stats();
    Check(f.journal->Close(), "close journal");
    f.journal.reset();
    RemoveAll(f.dir);
  }
}

// The disk's sync latency drifts with other load (on shared virtual disks it even flips between
// modes for seconds at a time), so the journal and its baseline run in alternating short rounds
// and each side pools its rounds.
constexpr int kRounds = 4;
constexpr double kRoundSeconds = 0.5;

struct Totals {
  double seconds = 0;  // wall time of the measured runs
  double records = 0;
  double bytes = 0;
  std::vector<double> latencies_us;
  void Add(const RunResult& r, double records_per_iteration) {
    seconds += r.real_seconds;
    records += static_cast<double>(r.iterations) * records_per_iteration;
    bytes += r.counter("bytes_per_second") * r.real_seconds;
  }
};

// One journal run with `threads` writers, added to *totals; returns the journal's stats.
JournalStats RunAppends(int threads, Totals* totals) {
  RunResult r = RunBenchmark("journal_append", BM_JournalAppend, [&](auto* b) {
    b->Threads(threads)->UseRealTime()->MinTime(kRoundSeconds);
  });
  totals->Add(r, 1);
  for (auto& v : fixture.latencies_us) {
    totals->latencies_us.insert(totals->latencies_us.end(), v.begin(), v.end());
  }
  return fixture.stats;
}

// The physical limit: write() of `batch` records (`batch_bytes`) then fdatasync(), appending to
// one file; added to *totals.
void RunRawSync(size_t batch, size_t batch_bytes, Totals* totals) {
  static std::vector<double> latencies;
  std::string buffer;
  for (size_t i = 0; buffer.size() < batch_bytes; ++i) buffer += Payloads()[i % kPayloadPool];
  buffer.resize(batch_bytes);
  auto fn = [&buffer](benchmark::State& state) {
    std::string dir = FreshDir("raw");
    std::string path = dir + "/raw.log";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      state.SkipWithError("open raw.log");
      return;
    }
    latencies.clear();
    for (auto _ : state) {
      double start = NowSeconds();
      bool ok = ::write(fd, buffer.data(), buffer.size()) == static_cast<ssize_t>(buffer.size()) &&
                ::fdatasync(fd) == 0;
      latencies.push_back((NowSeconds() - start) * 1e6);
      if (!ok) {
        state.SkipWithError("write or fdatasync failed");
        break;
      }
    }
    ::close(fd);
    RemoveAll(dir);
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buffer.size()));
  };
  RunResult r = RunBenchmark("raw_write_fdatasync/bytes:" + std::to_string(batch_bytes), fn,
                             [](auto* b) { b->UseRealTime()->MinTime(kRoundSeconds); });
  totals->Add(r, static_cast<double>(batch));
  totals->latencies_us.insert(totals->latencies_us.end(), latencies.begin(), latencies.end());
}

void AppendThroughput() {
  if (!Wanted({"journal_append_throughput", "journal_append_throughput_mb"})) return;
  Totals journal, raw;
  size_t batch = 0;
  const double record_bytes = AveragePayloadBytes();
  for (int round = 0; round < kRounds; ++round) {
    JournalStats s = RunAppends(4, &journal);
    if (round == 0) {
      // The raw loop writes as many records per fdatasync as the journal's groups held.
      double group = s.groups ? static_cast<double>(s.records) / s.groups : 1;
      batch = static_cast<size_t>(std::max(1.0, std::round(group)));
      std::cerr << "average group " << group << " records, baseline batch " << batch << " x "
                << record_bytes << " bytes\n";
    }
    RunRawSync(batch, static_cast<size_t>(std::round(batch * record_bytes)), &raw);
  }
  PrintFigure("journal_append_throughput", journal.records / journal.seconds, "records/s",
              raw.records / raw.seconds, "records/s");
  PrintFigure("journal_append_throughput_mb", journal.bytes / journal.seconds / 1e6, "MB/s",
              raw.bytes / raw.seconds / 1e6, "MB/s");
}

void AckLatency() {
  for (int w : {1, 4, 16}) {
    std::string base = "journal_ack_latency_" + std::to_string(w) + "w";
    if (!Wanted({base + "_p50", base + "_p99"})) continue;
    Totals journal, raw;
    for (int round = 0; round < kRounds; ++round) {
      RunRawSync(1, 1024, &raw);
      JournalStats s = RunAppends(w, &journal);
      std::cerr << "journal, " << w << " writers: " << s.records << " records in " << s.groups
                << " groups\n";
    }
    PrintFigure(base + "_p50", Percentile(&journal.latencies_us, 50), "us",
                Percentile(&raw.latencies_us, 50), "us");
    PrintFigure(base + "_p99", Percentile(&journal.latencies_us, 99), "us",
                Percentile(&raw.latencies_us, 99), "us");
  }
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  binlog::bench::InitBench(&argc, argv);
  binlog::bench::AppendThroughput();
  binlog::bench::AckLatency();
  return 0;
}
