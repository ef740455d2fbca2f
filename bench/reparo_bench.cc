// reparo against what an operator would use instead, on the same changes, in the same run:
//   reparo_apply_rows_per_s: 1M sysbench-shaped single-row transactions (inserts, updates and
//       deletes by key) archived by the syncer, replayed by tools/reparo into a local MariaDB.
//       baseline: `mariadb-binlog | mariadb` over the source's own binlog, into the same server.
//   reparo_apply_vs_load_data_rows_per_s: baseline LOAD DATA of the final rows (the server's
//       ingest ceiling).
//   reparo_apply_vs_replica_{1,16}_rows_per_s: baseline a native MariaDB replica applying the
//       same binlog, one SQL thread, and 16 in optimistic mode.
//   reparo_peak_rss_mb: reparo's peak RSS during the apply; baseline mariadb-binlog's.
//   reparo_start_latency_s: from start to the first row of a one-minute window at the end of an
//       archive of 1,000+ segments; baseline mariadb-binlog --start-datetime over a binlog of the
//       same size.
//   reparo_big_row_peak_rss_mb: reparo's peak RSS replaying a transaction with a 16 MiB row;
//       baseline mariadb-binlog's on the same.
// Every destination's bench.sbtest is checked against the source's (CHECKSUM TABLE): a run that
// applied something else aborts the binary instead of printing a figure.
//
// Environment: BENCH_REPARO_ROWS (1000000), BENCH_REPARO_WORKERS (16).
#include <fmt/format.h>

#include <iostream>

#include "bench_util.h"
#include "common/tso.h"
#include "journal/journal.h"
#include "reparo_bench_util.h"
#include "syncer_bench_util.h"

namespace binlog::bench {
namespace {

using testing::MariaDBServer;

ChildRun Reparo(const std::string& config) { return RunReparo(BINLOG_REPARO_BINARY, config); }

void Apply() {
  const uint64_t rows = static_cast<uint64_t>(EnvInt("BENCH_REPARO_ROWS", 1000000));
  const int workers = EnvInt("BENCH_REPARO_WORKERS", 16);
  auto source = Check(MariaDBServer::Start(), "start the source");
  auto dest = Check(MariaDBServer::Start(DestinationOptions(2)), "start the destination");
  Check(source->Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 0; SET GLOBAL sync_binlog = 0"),
        "source settings");
  CreateSbtest(source.get());
  const syncer::BinlogPosition first = EndOfBinlog(source.get());
  double t = NowSeconds();
  WriteChanges(source.get(), rows, 42);
  const syncer::BinlogPosition end = EndOfBinlog(source.get());
  std::cerr << fmt::format("reparo_bench: {} single-row transactions written in {:.1f} s\n", rows,
                           NowSeconds() - t);
  std::string dir = FreshDir("reparo_apply");
  {
    SyncerRun run(source.get(), dir, first);
    run.WaitDurable(end, 1800);
  }
  std::string archive = dir + "/archive";

  ResetDestination(dest.get());
  ChildRun ours = Reparo(WriteReparoConfig(dir, archive, dest.get(), workers));
  ExpectSameChecksum(source.get(), dest.get(), "reparo");
  double ours_rate = static_cast<double>(rows) / ours.seconds;
  std::cerr << fmt::format("reparo_bench: reparo {:.1f} s, peak RSS {:.1f} MiB\n", ours.seconds,
                           ours.peak_rss_mb);

  if (Wanted({"reparo_apply_rows_per_s", "reparo_peak_rss_mb"})) {
    ResetDestination(dest.get());
    auto [reader, client] =
        RunPipe(MariadbBinlogReplay(source.get(), first, end), MariadbClient(dest.get()));
    if (reader.status != 0 || client.status != 0) {
      Check(Status::IOError("mariadb-binlog | mariadb failed"), "baseline");
    }
    ExpectSameChecksum(source.get(), dest.get(), "mariadb-binlog | mariadb");
    double seconds = std::max(reader.seconds, client.seconds);
    std::cerr << fmt::format("reparo_bench: mariadb-binlog | mariadb {:.1f} s\n", seconds);
    PrintFigure("reparo_apply_rows_per_s", ours_rate, "rows/s", rows / seconds, "rows/s");
    PrintFigure("reparo_peak_rss_mb", ours.peak_rss_mb, "MiB", reader.peak_rss_mb, "MiB");
  }
  if (Wanted({"reparo_apply_vs_load_data_rows_per_s"})) {
    std::string file = dir + "/final.txt";
    Check(source->Exec(fmt::format("SELECT * INTO OUTFILE '{}' FROM bench.sbtest", file)),
          "dump the final rows");
    uint64_t final_rows = std::stoull(
        Check(source->QueryValue("SELECT COUNT(*) FROM bench.sbtest"), "count the rows"));
    ResetDestination(dest.get());
    t = NowSeconds();
    Check(dest->Exec(fmt::format("LOAD DATA INFILE '{}' INTO TABLE bench.sbtest", file)),
          "LOAD DATA");
    double seconds = NowSeconds() - t;
    ExpectSameChecksum(source.get(), dest.get(), "LOAD DATA");
    PrintFigure("reparo_apply_vs_load_data_rows_per_s", ours_rate, "rows/s", final_rows / seconds,
                "rows/s");
  }
  for (int threads : {1, 16}) {
    std::string name = fmt::format("reparo_apply_vs_replica_{}_rows_per_s", threads);
    if (!Wanted({name})) continue;
    ResetDestination(dest.get());
    double seconds = ReplicaApply(source.get(), dest.get(), first, end, threads);
    ExpectSameChecksum(source.get(), dest.get(), fmt::format("the replica ({} threads)", threads));
    PrintFigure(name, ours_rate, "rows/s", rows / seconds, "rows/s");
  }
  RemoveAll(dir);
}

// An archive of 1,000+ segments spanning two hours, and a source binlog of the same size and
// span (its events' times set with SET TIMESTAMP).
void StartLatency() {
  // An hour from now: mariadb-binlog starts at the first event at or after --start-datetime and
  // prints everything from there, so the binlog's own events (server start, CREATE TABLE, now)
  // must come before the window.
  const int64_t kBaseMs = (Env::Posix()->NowMicros() / 1000000 + 3600) * 1000;
  constexpr int64_t kSpanMs = 2 * 3600 * 1000;
  std::string dir = FreshDir("reparo_start");
  std::string archive = dir + "/archive";
  journal::JournalOptions jo;
  jo.env = NoSyncEnv();
  jo.max_file_size = 64 << 10;
  auto j = Check(journal::Journal::Open(archive, jo), "open the archive");
  PayloadGenerator gen(7);
  const int records = 100000;
  for (int i = 0; i < records; ++i) {
    uint64_t ts = ComposeTS(kBaseMs + kSpanMs * i / records, 0) + 1;
    std::string p = gen.Next(ts);
    Check(j->Append(journal::Record{ts, p}), "append");
  }
  Check(j->Close(), "close the archive");
  ::sync();
  const uint64_t bytes = DirBytes(archive);
  auto segments = Check(journal::ListSegments(Env::Posix(), archive), "list");

  // The window: the last minute.
  std::string start =
      Check(FormatTSDatetime(ComposeTS(kBaseMs + kSpanMs - 60000, 0), "UTC"), "datetime");
  start = start.substr(0, 19);
  double ours = TimeToFirst({BINLOG_REPARO_BINARY, "-data-dir", archive, "-time-zone", "UTC",
                             "-start-datetime", start, "-L", "warn"},
                            "schema: ");

  auto source = Check(MariaDBServer::Start(), "start the source");
  Check(source->Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 0; SET GLOBAL sync_binlog = 0; "
                     "SET GLOBAL max_binlog_size = 1073741824"),
        "source settings");
  CreateSbtest(source.get());
  const syncer::BinlogPosition first = EndOfBinlog(source.get());
  uint64_t written = 0;
  int64_t last_ms = 0;
  {
    // Event times spread evenly over the span, like the archive's: the first batch tells how
    // many transactions make a binlog of the archive's size.
    auto conn = Check(source->Connect("bench"), "connect");
    uint64_t planned = 1000;
    while (EndOfBinlog(source.get()).pos - first.pos < bytes) {
      std::string batch;
      for (int k = 0; k < 500; ++k, ++written) {
        int64_t ms = kBaseMs + static_cast<int64_t>(std::min(written, planned - 1)) * kSpanMs /
                                   static_cast<int64_t>(planned);
        last_ms = ms;
        batch += fmt::format(
            "SET TIMESTAMP = {}; INSERT INTO sbtest VALUES ({}, {}, REPEAT('c', 120), "
            "REPEAT('p', 60));",
            ms / 1000, written + 1, written);
      }
      Check(conn->Exec(batch), "fill the binlog");
      if (written == 500) {
        uint64_t per_txn = (EndOfBinlog(source.get()).pos - first.pos) / written;
        planned = bytes / std::max<uint64_t>(per_txn, 1) + 500;
      }
    }
  }
  // The last minute of what was written (a little short of the span's end).
  std::string binlog_start =
      Check(FormatTSDatetime(ComposeTS(last_ms - 60000, 0), "UTC"), "datetime").substr(0, 19);
  std::string file = source->datadir() + "/" + first.name;
  double baseline = TimeToFirst({"/usr/bin/mariadb-binlog", "--base64-output=DECODE-ROWS",
                                 "--verbose", "--start-datetime=" + binlog_start, file},
                                "### INSERT");
  std::cerr << fmt::format(
      "reparo_bench: start latency over {} segments ({:.1f} MB): reparo {:.3f} s; "
      "mariadb-binlog over {:.1f} MB of binlog {:.3f} s\n",
      segments.size(), bytes / 1e6, ours, FileBytes(file) / 1e6, baseline);
  PrintFigure("reparo_start_latency_s", ours, "s", baseline, "s");
  RemoveAll(dir);
}

void BigRow() {
  auto source = Check(MariaDBServer::Start(DestinationOptions(1)), "start the source");
  auto dest = Check(MariaDBServer::Start(DestinationOptions(2)), "start the destination");
  Check(source->Exec("CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB)"),
        "create");
  Check(dest->Exec("CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB)"),
        "create");
  const syncer::BinlogPosition first = EndOfBinlog(source.get());
  Check(source->Exec("INSERT INTO big.t VALUES (1, REPEAT(UNHEX('00FF7F'), 16 * 1024 * 1024 / 3))"),
        "the 16 MiB row");
  const syncer::BinlogPosition end = EndOfBinlog(source.get());
  std::string dir = FreshDir("reparo_big");
  {
    SyncerRun run(source.get(), dir, first);
    run.WaitDurable(end, 600);
  }
  ChildRun ours = Reparo(WriteReparoConfig(dir, dir + "/archive", dest.get(), 4));
  std::string a = Check(source->QueryValue("SELECT MD5(b) FROM big.t"), "md5");
  std::string b = Check(dest->QueryValue("SELECT MD5(b) FROM big.t"), "md5");
  if (a != b) Check(Status::Corruption("the 16 MiB row came out different"), "big row");
  Check(dest->Exec("DELETE FROM big.t"), "reset");
  auto [reader, client] =
      RunPipe(MariadbBinlogReplay(source.get(), first, end), MariadbClient(dest.get()));
  PrintFigure("reparo_big_row_peak_rss_mb", ours.peak_rss_mb, "MiB", reader.peak_rss_mb, "MiB");
  RemoveAll(dir);
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  using namespace binlog::bench;
  InitBench(&argc, argv);
  setenv("TZ", "UTC", 1);  // mariadb-binlog reads --start-datetime in the local zone
  if (Wanted({"reparo_apply_rows_per_s", "reparo_peak_rss_mb",
              "reparo_apply_vs_load_data_rows_per_s", "reparo_apply_vs_replica_1_rows_per_s",
              "reparo_apply_vs_replica_16_rows_per_s"})) {
    Apply();
  }
  if (Wanted({"reparo_start_latency_s"})) StartLatency();
  if (Wanted({"reparo_big_row_peak_rss_mb"})) BigRow();
  return 0;
}
