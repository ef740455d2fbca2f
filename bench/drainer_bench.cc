// The drainer (tools/drainer/drainer, run as a child) against what bounds it or replaces it, in
// the same run:
//   drainer_merge_binlogs_per_s: 3 pumps' binlog/ directories (written directly in the pump's
//       format, with their registry records: a drainer on this host reads them from disk) holding
//       1M small binlogs (loadgen's workload, one row change each, ~0.5 KiB) whose commit ts
//       interleave at random, each ending with an idle pump's FAKE heartbeat → the drainer with
//       the file sink, pinned to one CPU: binlogs / seconds from its start until its checkpoint
//       (/metrics) reached the last ts. The output is read back: every binlog, in order.
//       baseline: the segment scan rate of the same three binlog/ (journal::JournalReader, every
//       record parsed as a pb::Binlog, one thread): the drainer reads and parses the same, then
//       merges, re-serializes and writes.
//   drainer_merge_peak_rss_mb: the drainer's peak RSS in that run; baseline tools/reparo's,
//       printing the drainer's output (the same binlogs, one stream, no merge) to /dev/null.
//   drainer_apply_rows_per_s: reparo_bench's workload (1M single-row sysbench changes on a live
//       MariaDB, archived by the syncer), its records spread at random over 3 pumps' binlog/ →
//       the drainer with the mysql sink into a second MariaDB (worker-count 16, txn-batch 20):
//       rows / seconds from its start until its checkpoint reached the last ts. baseline:
//       tools/reparo replaying the syncer's archive itself into the same destination, emptied,
//       with the same worker-count and txn-batch (its whole run).
//   drainer_apply_vs_mariadb_binlog_rows_per_s: the same drainer run. baseline:
//       `mariadb-binlog | mariadb` over the source's own binlog into the same destination.
//   drainer_apply_peak_rss_mb: the drainer's peak RSS in that run; baseline reparo's.
//   drainer_lag_p50, drainer_lag_p99: drainer_lag_bench.cc.
// Every destination's bench.sbtest is checked against the source's (CHECKSUM TABLE): a run that
// applied something else aborts the binary instead of printing a figure.
//
// Environment: BENCH_DRAINER_BINLOGS (1000000), BENCH_DRAINER_ROWS (1000000),
// BENCH_DRAINER_WORKERS (16), BENCH_DRAINER_CPU (the CPU the merge run is pinned to; default the
// last one, -1: not pinned), BENCH_DRAINER_LAG_SECONDS (30).
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "bench_util.h"
#include "drainer_bench_util.h"
#include "syncer_bench_util.h"

namespace binlog::bench {
namespace {

using testing::MariaDBServer;

constexpr int kPumps = 3;

void Merge() {
  const uint64_t n = static_cast<uint64_t>(EnvInt("BENCH_DRAINER_BINLOGS", 1000000));
  const int cpu = EnvInt("BENCH_DRAINER_CPU", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1);
  std::string dir = FreshDir("drainer_merge");
  double t = NowSeconds();
  uint64_t last = 0, payload_bytes = 0;
  std::vector<std::string> dirs;
  {
    PumpDirs pumps(dir, kPumps, 11);
    PayloadGenerator gen(5, 1);
    for (uint64_t i = 0; i < n; ++i) {
      last = RecordTS(i);
      std::string p = gen.Next(last);
      payload_bytes += p.size();
      pumps.Append(last, std::move(p));
    }
    pumps.Finish(last);
    dirs = pumps.binlog_dirs();
    std::cerr << fmt::format(
        "drainer_bench: {} binlogs ({:.0f} bytes each on average) in {} pumps' binlog/, {:.1f} MB "
        "of segments, written in {:.1f} s\n",
        n, static_cast<double>(payload_bytes) / static_cast<double>(n), kPumps,
        pumps.bytes() / 1e6, NowSeconds() - t);
  }
  DrainerSetup setup;
  setup.binary = BINLOG_DRAINER_BINARY;
  setup.dir = dir + "/drainer";
  setup.registry_dir = dir + "/registry";
  setup.db_type = "file";
  setup.cpu = cpu;
  std::filesystem::create_directories(setup.dir);
  DrainerProcess drainer(setup);
  double seconds = drainer.WaitCheckpoint(last, 1800);
  ChildRun run = drainer.Stop();
  std::cerr << fmt::format(
      "drainer_bench: merge to the file sink: checkpoint at the end after {:.2f} s (CPU {}), "
      "stopped after {:.2f} s; {:.2f} s CPU, peak RSS {:.1f} MiB\n",
      seconds, cpu, run.seconds, run.cpu_seconds, run.peak_rss_mb);
  ScanResult out = ScanBinlogDirs({drainer.output_dir()});
  if (out.binlogs != n || !out.ordered || out.last_ts != last) {
    std::cerr << fmt::format(
        "drainer_bench: the file sink holds {} binlogs (ordered: {}, last ts {}), not the {} "
        "written (last ts {}): the figure would mean nothing\n",
        out.binlogs, out.ordered, out.last_ts, n, last);
    std::exit(1);
  }

  t = NowSeconds();
  ScanResult scanned = ScanBinlogDirs(dirs);
  double scan_seconds = NowSeconds() - t;
  std::cerr << fmt::format("drainer_bench: scan of the pumps' binlog/: {} binlogs in {:.2f} s\n",
                           scanned.binlogs, scan_seconds);

  ChildRun reparo = RunChild({BINLOG_REPARO_BINARY, "-data-dir", drainer.output_dir(),
                              "-dest-type", "print", "-L", "warn"},
                             "", "");
  if (reparo.status != 0) Check(Status::IOError("reparo (print) failed"), "reparo");
  std::cerr << fmt::format("drainer_bench: reparo printing the output: {:.2f} s, {:.1f} MiB\n",
                           reparo.seconds, reparo.peak_rss_mb);
  const double rate = static_cast<double>(n) / seconds;
  PrintFigure("drainer_merge_binlogs_per_s", rate, "binlogs/s",
              static_cast<double>(scanned.binlogs) / scan_seconds, "binlogs/s");
  PrintFigure("drainer_merge_peak_rss_mb", run.peak_rss_mb, "MiB", reparo.peak_rss_mb, "MiB");
  RemoveAll(dir);
}

void Apply() {
  const uint64_t rows = static_cast<uint64_t>(EnvInt("BENCH_DRAINER_ROWS", 1000000));
  const int workers = EnvInt("BENCH_DRAINER_WORKERS", 16);
  auto source = Check(MariaDBServer::Start(), "start the source");
  auto dest = Check(MariaDBServer::Start(DestinationOptions(2)), "start the destination");
  Check(source->Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 0; SET GLOBAL sync_binlog = 0"),
        "source settings");
  CreateSbtest(source.get());
  const syncer::BinlogPosition first = EndOfBinlog(source.get());
  double t = NowSeconds();
  WriteChanges(source.get(), rows, 42);
  const syncer::BinlogPosition end = EndOfBinlog(source.get());
  std::cerr << fmt::format("drainer_bench: {} single-row transactions written in {:.1f} s\n", rows,
                           NowSeconds() - t);
  std::string dir = FreshDir("drainer_apply");
  {
    SyncerRun run(source.get(), dir, first);
    run.WaitDurable(end, 1800);
  }
  const std::string archive = dir + "/archive";
  uint64_t last = 0;
  {
    PumpDirs pumps(dir, kPumps, 13);
    last = CopyArchive(archive, &pumps);
    pumps.Finish(last);
    std::cerr << fmt::format("drainer_bench: {} records of the archive in {} pumps' binlog/\n",
                             pumps.records(), kPumps);
  }

  ResetDestination(dest.get());
  ChildRun reparo =
      RunReparo(BINLOG_REPARO_BINARY, WriteReparoConfig(dir, archive, dest.get(), workers));
  ExpectSameChecksum(source.get(), dest.get(), "reparo");
  std::cerr << fmt::format("drainer_bench: reparo {:.1f} s; {:.1f} s CPU, peak RSS {:.1f} MiB\n",
                           reparo.seconds, reparo.cpu_seconds, reparo.peak_rss_mb);

  ResetDestination(dest.get());
  DrainerSetup setup;
  setup.binary = BINLOG_DRAINER_BINARY;
  setup.dir = dir + "/drainer";
  setup.registry_dir = dir + "/registry";
  setup.db_type = "mysql";
  setup.dest = dest.get();
  setup.worker_count = workers;
  std::filesystem::create_directories(setup.dir);
  DrainerProcess drainer(setup);
  double seconds = drainer.WaitCheckpoint(last, 3600);
  ChildRun run = drainer.Stop();
  ExpectSameChecksum(source.get(), dest.get(), "the drainer");
  std::cerr << fmt::format(
      "drainer_bench: drainer into MariaDB: checkpoint at the end after {:.1f} s, stopped after "
      "{:.1f} s; {:.1f} s CPU, peak RSS {:.1f} MiB\n",
      seconds, run.seconds, run.cpu_seconds, run.peak_rss_mb);

  ResetDestination(dest.get());
  auto [reader, client] =
      RunPipe(MariadbBinlogReplay(source.get(), first, end), MariadbClient(dest.get()));
  if (reader.status != 0 || client.status != 0) {
    Check(Status::IOError("mariadb-binlog | mariadb failed"), "baseline");
  }
  ExpectSameChecksum(source.get(), dest.get(), "mariadb-binlog | mariadb");
  double pipe_seconds = std::max(reader.seconds, client.seconds);
  std::cerr << fmt::format("drainer_bench: mariadb-binlog | mariadb {:.1f} s\n", pipe_seconds);

  const double r = static_cast<double>(rows);
  PrintFigure("drainer_apply_rows_per_s", r / seconds, "rows/s", r / reparo.seconds, "rows/s");
  PrintFigure("drainer_apply_vs_mariadb_binlog_rows_per_s", r / seconds, "rows/s",
              r / pipe_seconds, "rows/s");
  PrintFigure("drainer_apply_peak_rss_mb", run.peak_rss_mb, "MiB", reparo.peak_rss_mb, "MiB");
  RemoveAll(dir);
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  using namespace binlog::bench;
  InitBench(&argc, argv);
  if (Wanted({"drainer_merge_binlogs_per_s", "drainer_merge_peak_rss_mb"})) Merge();
  if (Wanted({"drainer_apply_rows_per_s", "drainer_apply_vs_mariadb_binlog_rows_per_s",
              "drainer_apply_peak_rss_mb"})) {
    Apply();
  }
  if (Wanted({"drainer_lag_p50", "drainer_lag_p99"})) Lag();
  return 0;
}
