// The syncer against a private MariaDB upstream (tests/testutil's helper: ROW binlog, FULL row
// image and metadata; its datadir under $TMPDIR), archiving into a journal under BenchRoot().
//
//   syncer_oltp_rows_per_s, syncer_bulk_rows_per_s  row changes per second decoded and archived
//       durably (CRC32 checks, decode, protobuf, zstd, block checksums, fdatasync, syncer.meta)
//       by our syncer reading a binlog of >= 1M row changes from its first event to its end.
//       oltp: sysbench oltp_write_only's transactions (4 row changes, 4 statements: 10 events
//       each), the shape of an OLTP server's binlog. bulk: transactions of 12,500 row changes in
//       rows events of ~1,000 rows, where mariadb-binlog's per-event costs vanish and its
//       printing of each value is all that is left (its best case; ~10x its OLTP rate).
//       baseline: `mariadb-binlog --read-from-remote-server --base64-output=DECODE-ROWS --verbose`
//       of the same binlog to /dev/null, as the same replication user. The two alternate for
//       kRounds rounds (the baseline first) and each side pools its rounds.
//   syncer_lag_p50, syncer_lag_p99  ms from a transaction's commit being acknowledged to the
//       client until the syncer has it durable: its batch fdatasynced and syncer.meta replaced
//       (SyncerOptions::on_durable; the archive is read afterwards to map positions to
//       transactions. A follow-mode JournalReader would see records before their fdatasync).
//       Load: 100 transactions of 100 rows a second (10k rows/s) for BENCH_SYNCER_LAG_SECONDS
//       (20). baseline: the same for `mariadb-binlog --read-from-remote-server --stop-never`
//       following the same stream at the same time, until it prints the transaction's COMMIT.
//       It makes nothing durable: a floor for any replica that decodes rows rather than a peer.
//       The upstream's own commit latency under the load is logged on stderr for scale.
//
// BENCH_SYNCER_ROWS (default 1000000) sets the row changes of the first figure.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "binlog.pb.h"
#include "common/tso.h"
#include "journal/journal.h"
#include "syncer_bench_util.h"

namespace binlog::bench {

using syncer::BinlogPosition;
using testing::MariaDBServer;

namespace {

constexpr int kRounds = 3;
constexpr int kLagTxnRows = 100;
constexpr int kLagTxnPerSecond = 100;

// Diagnostic (stderr): how long the server takes to stream the binlog to a client that does
// nothing with it. No replica on this machine beats that, so a baseline less than twice it
// puts a 2x ratio out of reach.
void Floor(MariaDBServer* server, int round, const BinlogPosition& first,
           const BinlogPosition& end) {
  std::string dir = FreshDir("syncer_floor");
  std::string cmd = fmt::format("MYSQL_PWD='{}'", MariaDBServer::kReplPassword);
  std::vector<std::string> args = MariadbBinlogArgs(server);
  for (size_t i = 0; i < 5; ++i) cmd += " " + args[i];  // binary, remote, host, port, user
  cmd += fmt::format(" --raw --result-file={}/ --start-position={} --to-last-log {}", dir,
                     first.pos, first.name);
  double t = NowSeconds();
  if (Shell(cmd) != 0) Check(Status::IOError("mariadb-binlog --raw failed"), "floor");
  double raw = NowSeconds() - t;
  RemoveAll(dir);
  double cpu = 0, server_cpu = CpuSecondsOf(server->pid());
  uint64_t bytes = 0;
  double fetch = FetchOnly(server, first, end, &cpu, &bytes);
  server_cpu = CpuSecondsOf(server->pid()) - server_cpu;
  std::cerr << fmt::format(
      "round {}: floor: mariadb-binlog --raw {:.2f} s; our Upstream::Fetch alone {:.2f} s "
      "({:.2f} s CPU, server {:.2f} s CPU, {:.1f} MB of events)\n",
      round, raw, fetch, cpu, server_cpu, static_cast<double>(bytes) / 1e6);
}

using LoadFn = uint64_t (*)(MariaDBServer*, uint64_t, BinlogPosition*);

void RowsPerSecond(MariaDBServer* server, const std::string& figure, LoadFn load) {
  const uint64_t target = static_cast<uint64_t>(EnvInt("BENCH_SYNCER_ROWS", 1000000));
  double t = NowSeconds();
  BinlogPosition first;
  const uint64_t rows = load(server, target, &first);
  const BinlogPosition end = EndOfBinlog(server);
  std::cerr << fmt::format("{}: loaded {} row changes in {:.1f} s; binlog {} to {}\n", figure,
                           rows, NowSeconds() - t, first.ToString(), end.ToString());

  std::string cmd = fmt::format("MYSQL_PWD='{}'", MariaDBServer::kReplPassword);
  for (const std::string& a : MariadbBinlogArgs(server)) cmd += " " + a;
  cmd += fmt::format(" --start-position={} --to-last-log {} >/dev/null", first.pos, first.name);
  double baseline_seconds = 0, seconds = 0;
  for (int round = 0; round < kRounds; ++round) {
    t = NowSeconds();
    double b_cpu = ChildrenCpuSeconds(), b_server_cpu = CpuSecondsOf(server->pid());
    if (Shell(cmd) != 0) Check(Status::IOError("mariadb-binlog failed"), "baseline");
    double b = NowSeconds() - t;
    b_cpu = ChildrenCpuSeconds() - b_cpu;
    b_server_cpu = CpuSecondsOf(server->pid()) - b_server_cpu;
    baseline_seconds += b;
    Floor(server, round, first, end);

    std::string dir = FreshDir("syncer_rows");
    double cpu = CpuSeconds(), server_cpu = CpuSecondsOf(server->pid());
    SyncerRun run(server, dir, first);
    double s = run.WaitDurable(end, 600) - run.start();
    seconds += s;
    run.Stop();
    syncer::SyncerStats stats = run.Stats();
    cpu = CpuSeconds() - cpu;
    server_cpu = CpuSecondsOf(server->pid()) - server_cpu;
    std::cerr << fmt::format(
        "round {}: mariadb-binlog {:.2f} s ({:.2f} s CPU, server {:.2f} s CPU); syncer {:.2f} s "
        "({:.2f} s CPU, server {:.2f} s CPU), {} rows, {} transactions, archive {:.1f} MB\n",
        round, b, b_cpu, b_server_cpu, s, cpu, server_cpu, stats.rows, stats.transactions,
        DirBytes(run.archive()) / 1e6);
    std::cerr << fmt::format(
        "round {}: syncer CPU by thread: reader {:.2f} s, writer {:.2f} s, "
        "durability {:.2f} s\n",
        round, stats.reader_cpu_seconds, stats.writer_cpu_seconds, stats.durable_cpu_seconds);
    if (stats.rows != rows) {
      std::cerr << "WARNING: the syncer archived " << stats.rows << " rows, " << rows
                << " were written\n";
    }
    RemoveAll(dir);
  }
  double r = static_cast<double>(rows) * kRounds;
  PrintFigure(figure, r / seconds, "rows/s", r / baseline_seconds, "rows/s");
}

// Runs the paced lag load: transaction n (kLagTxnRows rows, first column n) is due at
// start + n / kLagTxnPerSecond and sent at once when late. Returns when each was acknowledged
// (NowSeconds); *commit_ms gets each one's latency.
std::vector<double> LagLoad(MariaDBServer* server, int transactions,
                            std::vector<double>* commit_ms) {
  auto conn = Check(server->Connect("bench"), "connect");
  std::vector<double> ack(static_cast<size_t>(transactions));
  SbRows gen(7);
  std::string sql;
  double start = NowSeconds() + 0.2;
  for (int n = 0; n < transactions; ++n) {
    sql = "INSERT INTO lag (txn, seq, k, c, pad) VALUES ";
    for (int r = 0; r < kLagTxnRows; ++r) {
      gen.Append(fmt::format("{}({}, {}, ", r > 0 ? "," : "", n, r), &sql);
    }
    double wait = start + static_cast<double>(n) / kLagTxnPerSecond - NowSeconds();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    double t0 = NowSeconds();
    Check(conn->Exec(sql), "lag insert");
    ack[static_cast<size_t>(n)] = NowSeconds();
    commit_ms->push_back((ack[static_cast<size_t>(n)] - t0) * 1e3);
  }
  std::cerr << fmt::format("lag load: {} transactions of {} rows in {:.1f} s\n", transactions,
                           kLagTxnRows, NowSeconds() - start);
  return ack;
}

// Each lag transaction's durable moment is that of the first durable batch at or past its
// position (the log's positions only grow); returns ms from its acknowledgement.
std::vector<double> SyncerLags(SyncerRun* run, const std::vector<double>& ack, uint64_t start_ts) {
  auto log = run->Log();
  std::vector<double> lags;
  journal::ReadOptions ro;
  ro.start_ts = start_ts;
  auto reader = Check(journal::JournalReader::Open(Env::Posix(), run->archive(), ro), "reader");
  journal::Record rec;
  pb::Binlog binlog;
  while (Check(reader->Next(&rec), "read the archive")) {
    if (!binlog.ParseFromArray(rec.payload.data(), static_cast<int>(rec.payload.size()))) {
      Check(Status::Corruption("not a binlog"), "read the archive");
    }
    BinlogPosition pos{binlog.source().file(), binlog.source().pos(), ""};
    for (const pb::TableChanges& t : binlog.tables()) {
      if (t.table_name() != "lag" || t.mutations_size() == 0) continue;
      int64_t n = t.mutations(0).row().columns(0).int64_value();
      auto it = std::partition_point(log.begin(), log.end(),
                                     [&](const auto& e) { return !Reached(e.second, pos); });
      if (it == log.end() || n < 0 || static_cast<size_t>(n) >= ack.size()) continue;
      lags.push_back((it->first - ack[static_cast<size_t>(n)]) * 1e3);
    }
  }
  return lags;
}

void Lag(MariaDBServer* server) {
  const int transactions = EnvInt("BENCH_SYNCER_LAG_SECONDS", 20) * kLagTxnPerSecond;
  Check(server->Exec("CREATE TABLE bench.lag (txn BIGINT NOT NULL, seq INT NOT NULL, "
                     "k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, "
                     "PRIMARY KEY (txn, seq))"),
        "create lag");
  const BinlogPosition from = EndOfBinlog(server);
  std::string dir = FreshDir("syncer_lag");
  SyncerRun run(server, dir, from);
  run.WaitDurable(from, 30);
  run.StartLog();
  BinlogTail tail(server, from, transactions);
  tail.WaitStarted(10);
  const int64_t start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();

  std::vector<double> commit_ms;
  std::vector<double> ack = LagLoad(server, transactions, &commit_ms);
  run.WaitDurable(EndOfBinlog(server), 60);
  if (!tail.WaitFor(transactions - 1, 60)) std::cerr << "WARNING: mariadb-binlog fell behind\n";
  tail.Stop();
  std::vector<double> baseline;
  for (size_t n = 0; n < ack.size(); ++n) {
    if (tail.seen()[n] >= 0) baseline.push_back((tail.seen()[n] - ack[n]) * 1e3);
  }
  // Commit ts are the events' seconds in ms (or higher): the load's start minus a margin.
  std::vector<double> lags = SyncerLags(&run, ack, ComposeTS(start_ms - 5000, 0));
  run.Stop();
  std::cerr << fmt::format(
      "upstream commit latency p50 {:.2f} ms, p99 {:.2f} ms; transactions seen: syncer {}, "
      "mariadb-binlog {} of {}; {} durable batches\n",
      Percentile(&commit_ms, 50), Percentile(&commit_ms, 99), lags.size(), baseline.size(),
      transactions, run.Log().size());
  if (lags.size() != static_cast<size_t>(transactions)) {
    std::cerr << "WARNING: the syncer's archive lacks transactions of the lag load\n";
  }
  PrintFigure("syncer_lag_p50", Percentile(&lags, 50), "ms", Percentile(&baseline, 50), "ms");
  PrintFigure("syncer_lag_p99", Percentile(&lags, 99), "ms", Percentile(&baseline, 99), "ms");
  RemoveAll(dir);
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  namespace bench = binlog::bench;
  bench::InitBench(&argc, argv);
  const bool oltp = bench::Wanted({"syncer_oltp_rows_per_s"});
  const bool bulk = bench::Wanted({"syncer_bulk_rows_per_s"});
  const bool lag = bench::Wanted({"syncer_lag_p50", "syncer_lag_p99"});
  if (!oltp && !bulk && !lag) return 0;
  binlog::testing::MariaDBOptions options;
  // Room for the bulk load: the helper's defaults (64M buffer pool, 8M redo) suit small tests.
  options.extra_args = {"--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M"};
  double t = bench::NowSeconds();
  // Static: a failed Check (std::exit) still stops the server and removes its datadir.
  static std::unique_ptr<bench::MariaDBServer> server;
  server = bench::Check(binlog::testing::MariaDBServer::Start(options), "start MariaDB");
  std::cerr << fmt::format("MariaDB on port {} in {:.1f} s\n", server->port(),
                           bench::NowSeconds() - t);
  bench::Check(server->Exec("CREATE DATABASE bench"), "create database");
  if (oltp) bench::RowsPerSecond(server.get(), "syncer_oltp_rows_per_s", bench::LoadOltp);
  if (bulk) bench::RowsPerSecond(server.get(), "syncer_bulk_rows_per_s", bench::LoadBulk);
  if (lag) bench::Lag(server.get());
  return 0;
}
