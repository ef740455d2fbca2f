// drainer_lag_p50, drainer_lag_p99: end-to-end lag of the replication path under a steady load,
// against a native MariaDB replica of the same upstream under the same load, at the same time.
//
//   upstream MariaDB ──syncer ([to] type = "pump")──▶ pump-0 ─┐
//                                           pump-1, pump-2 (idle) ├─▶ drainer ──▶ MariaDB (2)
//                 └──────────── native replica (one SQL thread) ──────────────▶ MariaDB (3)
//
// Load: 5,000 single-row sysbench changes a second (SbChanges, sent every 10 ms) for
// BENCH_DRAINER_LAG_SECONDS (30), after 10,000 rows were inserted and replicated. A probe every
// 50 ms from a second connection: INSERT INTO bench.probe (id, now(6) in µs). A poller on each
// downstream reads bench.probe every 5 ms; a probe's lag is when its poller first saw it minus
// its upstream now(6) (one machine, one clock). The pumps are the real binary (tools/pump) with
// gen-binlog-interval 0.2 s, so the two idle ones move the merge's watermark; the drainer reads
// their binlog/ from disk, detect-interval 0.2 s. Both downstreams must end equal to the
// upstream (CHECKSUM TABLE), or the binary aborts.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench_util.h"
#include "drainer_bench_util.h"
#include "pump_bench_util.h"
#include "syncer_bench_util.h"

namespace binlog::bench {
namespace {

using testing::MariaDBServer;

constexpr int kRowsPerSecond = 5000;
constexpr double kTickSeconds = 0.01;
constexpr double kProbeSeconds = 0.05;
constexpr int kPumps = 3;
constexpr const char* kCreateProbe =
    "CREATE TABLE bench.probe (id INT PRIMARY KEY, ts BIGINT NOT NULL)";

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Notes when each probe first shows on a downstream: its lag in ms (-1 while unseen).
class ProbePoller {
 public:
  ProbePoller(MariaDBServer* server, int probes)
      : conn_(Check(server->Connect("bench"), "connect a poller")),
        lag_ms_(static_cast<size_t>(probes), -1) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ProbePoller() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Until probes [0, n) were all seen; false at the timeout.
  bool WaitAll(int n, double timeout) {
    const double deadline = NowSeconds() + timeout;
    while (NowSeconds() < deadline) {
      {
        std::lock_guard<std::mutex> g(mu_);
        if (seen_below_ >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::vector<double> Lags(int from) {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<double> out;
    for (size_t i = static_cast<size_t>(from); i < lag_ms_.size(); ++i) {
      if (lag_ms_[i] >= 0) out.push_back(lag_ms_[i]);
    }
    return out;
  }

 private:
  // Parallel appliers may commit probes out of order: every id above the first unseen is read.
  void Loop() {
    while (!stop_) {
      int low = 0;
      {
        std::lock_guard<std::mutex> g(mu_);
        low = seen_below_;
      }
      auto rows = conn_->Query(fmt::format("SELECT id, ts FROM probe WHERE id >= {}", low));
      const int64_t now = WallMicros();
      if (rows.ok()) {
        std::lock_guard<std::mutex> g(mu_);
        for (const auto& r : *rows) {
          size_t id = std::stoul(*r[0]);
          if (id < lag_ms_.size() && lag_ms_[id] < 0) {
            lag_ms_[id] = static_cast<double>(now - std::stoll(*r[1])) / 1e3;
          }
        }
        while (seen_below_ < static_cast<int>(lag_ms_.size()) &&
               lag_ms_[static_cast<size_t>(seen_below_)] >= 0) {
          ++seen_below_;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::unique_ptr<testing::MariaDBConnection> conn_;
  std::mutex mu_;
  std::vector<double> lag_ms_;
  int seen_below_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void Probe(testing::MariaDBConnection* conn, int id) {
  Check(conn->Exec(fmt::format(
            "INSERT INTO probe VALUES ({}, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED))", id)),
        "probe");
}

// kRowsPerSecond changes for `seconds`, a batch every tick (late batches catch up), while a
// second connection probes every kProbeSeconds from id 1. Returns the probes written.
int SteadyLoad(MariaDBServer* upstream, SbChanges* gen, double seconds) {
  auto changes = Check(upstream->Connect("bench"), "connect");
  auto probes = Check(upstream->Connect("bench"), "connect");
  std::atomic<bool> done{false};
  int probes_written = 0;
  std::thread prober([&] {
    const double start = NowSeconds();
    for (int id = 1; !done; ++id) {
      const double wait = start + id * kProbeSeconds - NowSeconds();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      Probe(probes.get(), id);
      probes_written = id;
    }
  });
  const double start = NowSeconds();
  const auto total = static_cast<uint64_t>(seconds * kRowsPerSecond);
  uint64_t sent = 0;
  std::string sql;
  for (double now = start; sent < total; now = NowSeconds()) {
    const uint64_t due = static_cast<uint64_t>(std::min(now - start, seconds) * kRowsPerSecond);
    sql.clear();
    for (; sent < due && sql.size() < (256 << 10); ++sent) gen->Next(&sql);
    if (!sql.empty()) Check(changes->Exec(sql), "write the changes");
    const double wait = now + kTickSeconds - NowSeconds();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  done = true;
  prober.join();
  std::cerr << fmt::format("drainer_lag: {} row changes in {:.1f} s ({:.0f}/s), {} probes\n", sent,
                           NowSeconds() - start, static_cast<double>(sent) / (NowSeconds() - start),
                           probes_written);
  return probes_written;
}

void ExpectConverges(MariaDBServer* upstream, MariaDBServer* down, const std::string& what) {
  const std::string want = Checksum(upstream);
  for (int i = 0; i < 600 && Checksum(down) != want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ExpectSameChecksum(upstream, down, what);
}

std::vector<std::unique_ptr<PumpProcess>> StartPumps(const std::string& dir,
                                                     const std::string& registry) {
  const std::string config = dir + "/pump.toml";
  std::ofstream(config) << "gen-binlog-interval = 0.2\nheartbeat-interval = 0.2\n";
  std::vector<std::unique_ptr<PumpProcess>> pumps;
  for (int i = 0; i < kPumps; ++i) {
    pumps.push_back(PumpProcess::Start(fmt::format("{}/pump-{}", dir, i),
                                       {"-config", config, "-node-id", fmt::format("pump-{}", i)},
                                       registry));
  }
  return pumps;
}

}  // namespace

void Lag() {
  const double seconds = EnvInt("BENCH_DRAINER_LAG_SECONDS", 30);
  const int max_probes = static_cast<int>(seconds / kProbeSeconds) + 100;
  auto upstream = Check(MariaDBServer::Start(), "start the upstream");
  auto down = Check(MariaDBServer::Start(DestinationOptions(2)), "start the drainer's downstream");
  auto replica = Check(MariaDBServer::Start(DestinationOptions(3)), "start the replica");
  Check(upstream->Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 0; SET GLOBAL sync_binlog = 0"),
        "upstream settings");
  for (MariaDBServer* s : {upstream.get(), down.get(), replica.get()}) {
    CreateSbtest(s);
    Check(s->Exec(kCreateProbe), "create bench.probe");
  }
  const syncer::BinlogPosition from = EndOfBinlog(upstream.get());

  std::string dir = FreshDir("drainer_lag");
  const std::string registry = dir + "/registry";
  auto pumps = StartPumps(dir, registry);
  DrainerSetup setup;
  setup.binary = BINLOG_DRAINER_BINARY;
  setup.dir = dir + "/drainer";
  setup.registry_dir = registry;
  setup.db_type = "mysql";
  setup.dest = down.get();
  std::filesystem::create_directories(setup.dir);
  DrainerProcess drainer(setup);
  std::filesystem::create_directories(dir + "/syncer");
  SyncerRun syncer(upstream.get(), dir + "/syncer", from, {pumps[0]->addr()});
  StartReplica(upstream.get(), replica.get(), from, 0);
  ProbePoller ours(down.get(), max_probes), theirs(replica.get(), max_probes);

  // 10,000 rows first, so that the steady load updates and deletes as well as it inserts.
  SbChanges gen(42);
  std::string sql;
  for (int i = 0; i < 10000; ++i) gen.Next(&sql);
  auto conn = Check(upstream->Connect("bench"), "connect");
  Check(conn->Exec(sql), "the first rows");
  Probe(conn.get(), 0);
  if (!ours.WaitAll(1, 120) || !theirs.WaitAll(1, 120)) {
    Check(Status::TimedOut("the first rows did not reach both downstreams in 120 s"), "warm-up");
  }

  const int probes = SteadyLoad(upstream.get(), &gen, seconds);
  const bool all_ours = ours.WaitAll(probes + 1, 120);
  const bool all_theirs = theirs.WaitAll(probes + 1, 120);
  ours.Stop();
  theirs.Stop();
  ExpectConverges(upstream.get(), down.get(), "the drainer");
  ExpectConverges(upstream.get(), replica.get(), "the replica");
  std::cerr << fmt::format("drainer_lag: drainer disorder count {}, rows applied {}\n",
                           drainer.Metric("binlog_drainer_disorder_binlog_count"),
                           drainer.Metric("binlog_drainer_rows_applied_total"));
  StopReplica(replica.get());
  syncer.Stop();
  ChildRun run = drainer.Stop();
  std::vector<double> lags = ours.Lags(1), baseline = theirs.Lags(1);
  if (!all_ours || !all_theirs) {
    std::cerr << fmt::format("WARNING: probes seen: drainer {}, replica {} of {}\n", lags.size(),
                             baseline.size(), probes);
  }
  std::cerr << fmt::format(
      "drainer_lag: drainer max {:.1f} ms, peak RSS {:.1f} MiB; replica max {:.1f} ms\n",
      Percentile(&lags, 100), run.peak_rss_mb, Percentile(&baseline, 100));
  PrintFigure("drainer_lag_p50", Percentile(&lags, 50), "ms", Percentile(&baseline, 50), "ms");
  PrintFigure("drainer_lag_p99", Percentile(&lags, 99), "ms", Percentile(&baseline, 99), "ms");
  pumps.clear();
  RemoveAll(dir);
}

}  // namespace binlog::bench
