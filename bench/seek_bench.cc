// Seek by ts in a journal of many segments.
//
//   journal_seek_{p50,p99}  time from JournalReader::Open(start_ts = t) to the first record
//       returned (its ts is checked to be t), for random existing t, in a journal of 1,000 sealed
//       segments of 100 records (~1 KiB each, appended 25 per call; Rotate() after each 100),
//       warm page cache.
//       Baseline: what a reader without the name order and footer index must do, a linear scan
//       from the first record until ts >= t, for the first 16 of the same targets (each scan
//       reads half the journal on average, so 16 keep the run short; their p99 is their maximum).
#include <unistd.h>

#include <iostream>
#include <random>

#include "bench_util.h"
#include "journal/journal.h"

namespace binlog::bench {
namespace {

using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;
using journal::ReadOptions;
using journal::Record;

constexpr uint64_t kSegments = 1000;
constexpr uint64_t kRecordsPerSegment = 100;
constexpr uint64_t kRecordsPerAppend = 25;
constexpr uint64_t kLinearScans = 16;

std::string BuildJournal() {
  std::string dir = FreshDir("seek") + "/journal";
  JournalOptions options;
  options.env = NoSyncEnv();  // the fixture's durability is not what is measured
  auto journal = Check(Journal::Open(dir, options), "open journal");
  PayloadGenerator gen(11);
  std::vector<std::string> payloads(kRecordsPerAppend);
  std::vector<Record> records(kRecordsPerAppend);
  uint64_t n = 0;
  double start = NowSeconds();
  for (uint64_t s = 0; s < kSegments; ++s) {
    for (uint64_t a = 0; a < kRecordsPerSegment / kRecordsPerAppend; ++a) {
      for (uint64_t i = 0; i < kRecordsPerAppend; ++i, ++n) {
        payloads[i] = gen.Next(RecordTS(n));
        records[i] = Record{RecordTS(n), payloads[i]};
      }
      Check(journal->Append(records), "append");
    }
    Check(journal->Rotate(), "rotate");
  }
  Check(journal->Close(), "close journal");
  ::sync();
  auto segments = Check(journal::ListSegments(Env::Posix(), dir), "list");
  std::cerr << "seek journal: " << segments.size() << " segments, " << n << " records, "
            << DirBytes(dir) << " bytes, built in " << NowSeconds() - start << " s\n";
  return dir;
}

std::vector<uint64_t> Targets() {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<uint64_t> pick(0, kSegments * kRecordsPerSegment - 1);
  std::vector<uint64_t> targets(10000);
  for (auto& t : targets) t = RecordTS(pick(rng));
  return targets;
}

void Seek() {
  if (!Wanted({"journal_seek_p50", "journal_seek_p99"})) return;
  const std::string dir = BuildJournal();
  const std::vector<uint64_t> targets = Targets();

  std::vector<double> seek_us;
  auto seek = [&](benchmark::State& state) {
    seek_us.clear();
    size_t k = 0;
    for (auto _ : state) {
      ReadOptions options;
      options.start_ts = targets[k++ % targets.size()];
      Record r;
      double start = NowSeconds();
      auto reader = JournalReader::Open(Env::Posix(), dir, options);
      Result<bool> got = reader.ok() ? (*reader)->Next(&r) : Result<bool>(reader.status());
      seek_us.push_back((NowSeconds() - start) * 1e6);
      if (!got.ok() || !*got || r.ts != options.start_ts) {
        state.SkipWithError("seek did not return the target record");
        return;
      }
    }
  };
  RunBenchmark("journal_seek", seek,
               [](auto* b) { b->UseRealTime()->MinTime(1.0)->Unit(benchmark::kMicrosecond); });

  std::vector<double> linear_us;
  auto linear = [&](benchmark::State& state) {
    linear_us.clear();
    size_t k = 0;
    for (auto _ : state) {
      uint64_t target = targets[k++ % targets.size()];
      Record r;
      double start = NowSeconds();
      auto reader = Check(JournalReader::Open(Env::Posix(), dir, ReadOptions()), "reader");
      bool found = false;
      while (!found) {
        auto more = reader->Next(&r);
        if (!more.ok() || !*more) break;
        found = r.ts >= target;
      }
      linear_us.push_back((NowSeconds() - start) * 1e6);
      if (!found || r.ts != target) {
        state.SkipWithError("linear scan did not reach the target record");
        return;
      }
    }
  };
  RunBenchmark("linear_scan_to_ts", linear, [](auto* b) {
    b->UseRealTime()->Iterations(kLinearScans)->Unit(benchmark::kMillisecond);
  });

  PrintFigure("journal_seek_p50", Percentile(&seek_us, 50), "us", Percentile(&linear_us, 50), "us");
  PrintFigure("journal_seek_p99", Percentile(&seek_us, 99), "us", Percentile(&linear_us, 99), "us");
  RemoveAll(DirName(dir));
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  binlog::bench::InitBench(&argc, argv);
  binlog::bench::Seek();
  return 0;
}
