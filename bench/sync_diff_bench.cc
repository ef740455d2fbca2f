// sync-diff against what an operator would run instead, on two equal tables held by two local
// MariaDB servers (the tests' helper), in the same run:
//   sync_diff_rows_per_s: tools/sync-diff over two equal N-row sysbench-shaped tables, as run
//       by default (-threads 4, -chunk-size 10000: the tables' CHECKSUM TABLE first, equal),
//       rows / wall time of the whole run (start, connect, plan, check). baseline: CHECKSUM
//       TABLE on both servers at once, rows / its wall time (the servers' own whole-table
//       checksum, which finds no row).
//   sync_diff_vs_full_compare_rows_per_s: the same run. baseline: every row of both tables
//       streamed in key order (mysql_use_result) and compared in the client: a row-by-row
//       compare without checksums.
//   sync_diff_chunked_rows_per_s: -checksum-table=false, so every chunk's checksum is compared
//       (what a table whose CHECKSUM TABLE differs costs, less the rows re-read); integer key,
//       chunks cut by value. baseline: the row-by-row compare.
//   sync_diff_walk_rows_per_s: the same on a copy keyed by (k, id), whose chunks are walked on
//       the source's key. baseline: the row-by-row compare.
// Each figure is the median of three runs. Every run must find the tables equal (exit 0), or
// the binary aborts instead of printing a figure.
//
// Environment: BENCH_SYNC_DIFF_ROWS (1000000), BENCH_SYNC_DIFF_THREADS (4).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <thread>

#include "bench_util.h"
#include "reparo_bench_util.h"
#include "syncer_bench_util.h"

namespace binlog::bench {
namespace {

using testing::MariaDBOptions;
using testing::MariaDBServer;

MariaDBOptions ServerOptions(int server_id) {
  MariaDBOptions o;
  o.extra_args = {"--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M",
                  fmt::format("--server-id={}", server_id), "--skip-log-bin"};
  return o;
}

// The same deterministic rows on each server: sysbench's shape (id, k, c CHAR(120), pad
// CHAR(60)), and a copy keyed by (k, id).
void Fill(MariaDBServer* server, uint64_t rows) {
  Check(server->Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 0; CREATE DATABASE bench; "
                     "CREATE TABLE bench.sbtest (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) "
                     "NOT NULL, pad CHAR(60) NOT NULL, KEY k (k)); CREATE TABLE bench.walked "
                     "LIKE bench.sbtest; ALTER TABLE bench.walked DROP PRIMARY KEY, ADD PRIMARY "
                     "KEY (k, id)"),
        "create the tables");
  constexpr uint64_t kBatch = 200000;
  for (uint64_t from = 1; from <= rows; from += kBatch) {
    const uint64_t to = std::min(rows, from + kBatch - 1);
    Check(server->Exec(fmt::format(
              "INSERT INTO bench.sbtest SELECT seq, seq * 7919 % 1000003, "
              "REPEAT(LPAD(CRC32(seq), 11, '0'), 10), REPEAT(LPAD(CRC32(seq + 1), 11, '0'), 5) "
              "FROM bench.seq_{}_to_{}",
              from, to)),
          "fill");
  }
  Check(server->Exec("INSERT INTO bench.walked SELECT * FROM bench.sbtest; ANALYZE TABLE "
                     "bench.sbtest, bench.walked"),
        "copy");
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double SyncDiffSeconds(MariaDBServer* a, MariaDBServer* b, const std::string& table, int threads,
                       bool checksum_table) {
  const std::string out = FreshDir("sync_diff") + "/out.txt";
  ChildRun r =
      RunChild({BINLOG_SYNC_DIFF_BINARY, "-source-port", std::to_string(a->port()), "-target-port",
                std::to_string(b->port()), "-do-table", table, "-threads", std::to_string(threads),
                "-L", "warn", checksum_table ? "-checksum-table=true" : "-checksum-table=false"},
               "", out);
  if (r.status != 0) Check(Status::IOError(fmt::format("sync-diff exited {}", r.status)), table);
  return r.seconds;
}

double ChecksumBothSeconds(MariaDBServer* a, MariaDBServer* b, const std::string& table) {
  auto sum = [&](MariaDBServer* s) {
    return Check(s->Query("CHECKSUM TABLE " + table), "CHECKSUM TABLE")[0][1].value_or("");
  };
  std::string sums[2];
  const double start = NowSeconds();
  std::thread other([&] { sums[1] = sum(b); });
  sums[0] = sum(a);
  other.join();
  const double seconds = NowSeconds() - start;
  if (sums[0] != sums[1]) Check(Status::Corruption("the tables differ"), "CHECKSUM TABLE");
  return seconds;
}

// Both tables in key order, row by row: what a compare without checksums costs.
double FullCompareSeconds(MariaDBServer* a, MariaDBServer* b, uint64_t rows) {
  auto ca = Check(a->Connect(), "connect"), cb = Check(b->Connect(), "connect");
  const char* sql = "SELECT id, k, c, pad FROM bench.sbtest ORDER BY id";
  const double start = NowSeconds();
  MYSQL_RES* res[2] = {nullptr, nullptr};
  MYSQL* conns[2] = {ca->handle(), cb->handle()};
  for (int i = 0; i < 2; ++i) {
    if (mysql_real_query(conns[i], sql, std::strlen(sql)) != 0 ||
        (res[i] = mysql_use_result(conns[i])) == nullptr) {
      Check(Status::IOError(mysql_error(conns[i])), "full compare");
    }
  }
  uint64_t seen = 0;
  for (;; ++seen) {
    MYSQL_ROW ra = mysql_fetch_row(res[0]), rb = mysql_fetch_row(res[1]);
    if (ra == nullptr || rb == nullptr) {
      if (ra != rb) Check(Status::Corruption("one table is longer"), "full compare");
      break;
    }
    const unsigned long* la = mysql_fetch_lengths(res[0]);
    const unsigned long* lb = mysql_fetch_lengths(res[1]);
    for (int c = 0; c < 4; ++c) {
      if (la[c] != lb[c] || std::memcmp(ra[c], rb[c], la[c]) != 0) {
        Check(Status::Corruption("a row differs"), "full compare");
      }
    }
  }
  const double seconds = NowSeconds() - start;
  mysql_free_result(res[0]);
  mysql_free_result(res[1]);
  if (seen != rows) Check(Status::Corruption("rows missing"), "full compare");
  return seconds;
}

void Run() {
  const uint64_t rows = static_cast<uint64_t>(EnvInt("BENCH_SYNC_DIFF_ROWS", 1000000));
  const int threads = EnvInt("BENCH_SYNC_DIFF_THREADS", 4);
  auto a = Check(MariaDBServer::Start(ServerOptions(1)), "start the source");
  auto b = Check(MariaDBServer::Start(ServerOptions(2)), "start the target");
  double t = NowSeconds();
  std::thread fill_b([&] { Fill(b.get(), rows); });
  Fill(a.get(), rows);
  fill_b.join();
  std::cerr << fmt::format("sync_diff_bench: {} rows on each server in {:.1f} s\n", rows,
                           NowSeconds() - t);
  std::vector<double> ours, checksum, full, chunked, walked;
  for (int round = 0; round < 3; ++round) {
    ours.push_back(SyncDiffSeconds(a.get(), b.get(), "bench.sbtest", threads, true));
    checksum.push_back(ChecksumBothSeconds(a.get(), b.get(), "bench.sbtest"));
    full.push_back(FullCompareSeconds(a.get(), b.get(), rows));
    if (Wanted({"sync_diff_chunked_rows_per_s"})) {
      chunked.push_back(SyncDiffSeconds(a.get(), b.get(), "bench.sbtest", threads, false));
    }
    if (Wanted({"sync_diff_walk_rows_per_s"})) {
      walked.push_back(SyncDiffSeconds(a.get(), b.get(), "bench.walked", threads, false));
    }
  }
  const double n = static_cast<double>(rows);
  std::cerr << fmt::format(
      "sync_diff_bench: sync-diff {:.2f} s, CHECKSUM TABLE on both {:.2f} s, row-by-row compare "
      "{:.2f} s",
      Median(ours), Median(checksum), Median(full));
  if (!chunked.empty()) std::cerr << fmt::format(", chunks only {:.2f} s", Median(chunked));
  if (!walked.empty()) std::cerr << fmt::format(", walked key {:.2f} s", Median(walked));
  std::cerr << " (medians of 3)\n";
  if (Wanted({"sync_diff_rows_per_s"})) {
    PrintFigure("sync_diff_rows_per_s", n / Median(ours), "rows/s", n / Median(checksum), "rows/s");
  }
  if (Wanted({"sync_diff_vs_full_compare_rows_per_s"})) {
    PrintFigure("sync_diff_vs_full_compare_rows_per_s", n / Median(ours), "rows/s",
                n / Median(full), "rows/s");
  }
  if (!chunked.empty()) {
    PrintFigure("sync_diff_chunked_rows_per_s", n / Median(chunked), "rows/s", n / Median(full),
                "rows/s");
  }
  if (!walked.empty()) {
    PrintFigure("sync_diff_walk_rows_per_s", n / Median(walked), "rows/s", n / Median(full),
                "rows/s");
  }
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  using namespace binlog::bench;
  InitBench(&argc, argv);
  if (Wanted({"sync_diff_rows_per_s", "sync_diff_vs_full_compare_rows_per_s",
              "sync_diff_chunked_rows_per_s", "sync_diff_walk_rows_per_s"})) {
    Run();
  }
  return 0;
}
