// Registry heartbeats per second, on both backends.
//
//   registry_heartbeats_per_s_etcd  Registry::Put of a node's record with a lease, as a node's
//       heartbeat does, back to back from one thread, on a private one-member etcd
//       (/usr/bin/etcd on loopback, its data under BENCH_DIR): a lease keepalive and one
//       transaction (the record and the alive key), two round trips through the JSON gateway.
//   registry_heartbeats_per_s_file  the same Put on the embedded directory under BENCH_DIR (the
//       lock, a temp file, fsync, rename, fsync of the directory).
//   Baseline of both: `etcdctl put` of the same record in a shell loop on the same etcd, what a
//       script (or a tool that runs a client per write) gets.
#include <stdlib.h>

#include <iostream>

#include "bench_util.h"
#include "common/tso.h"
#include "registry/registry.h"
#include "testutil/etcd_server.h"

namespace binlog::bench {
namespace {

using registry::NodeKind;
using registry::NodeStatus;

constexpr int kEtcdctlPuts = 200;

NodeStatus Heartbeat(int64_t n) {
  NodeStatus s;
  s.node_id = "10.0.1.17:8250";
  s.addr = s.node_id;
  s.status_addr = "10.0.1.17:8251";
  s.max_commit_ts = static_cast<int64_t>(ComposeTS(1'700'000'000'000 + n, 0));
  s.update_ts = s.max_commit_ts;
  s.host = "db-17";
  s.data_dir = "/var/lib/binlog/pump";
  s.lease_seconds = 6;
  return s;
}

// Heartbeats per second of `reg`, back to back for about two seconds.
double HeartbeatsPerSecond(registry::Registry* reg, const std::string& name) {
  int64_t n = 0;
  auto run = [&](benchmark::State& state) {
    for (auto _ : state) {
      if (!reg->Put(NodeKind::kPump, Heartbeat(++n)).ok()) {
        state.SkipWithError("a heartbeat failed");
        return;
      }
    }
  };
  RunResult r = RunBenchmark(
      name, run, [](auto* b) { b->UseRealTime()->MinTime(2.0)->Unit(benchmark::kMicrosecond); });
  return static_cast<double>(r.iterations) / r.real_seconds;
}

// `etcdctl put` of a heartbeat-sized record in a shell loop.
double EtcdctlPutsPerSecond(const std::string& url) {
  std::string value = registry::EncodeNodeStatus(Heartbeat(0));
  value.pop_back();  // the newline
  std::string quoted = "'" + value + "'";
  double start = NowSeconds();
  int rc = Shell("for i in $(seq " + std::to_string(kEtcdctlPuts) +
                 "); do ETCDCTL_API=3 etcdctl --endpoints=" + url +
                 " put /tidb-binlog/v1/pumps/etcdctl " + quoted + " >/dev/null || exit 1; done");
  if (rc != 0) {
    std::cerr << "etcdctl put failed (scripts/setup.sh installs etcd-client)\n";
    exit(1);
  }
  return kEtcdctlPuts / (NowSeconds() - start);
}

void Heartbeats() {
  if (!Wanted({"registry_heartbeats_per_s_etcd", "registry_heartbeats_per_s_file"})) return;
  // etcd keeps its data (and fsyncs its WAL) where the other benchmarks keep theirs.
  setenv("TMPDIR", BenchRoot().c_str(), 1);
  auto etcd = Check(testing::EtcdCluster::Start(1), "start etcd");
  const double etcdctl = EtcdctlPutsPerSecond(etcd->url(0));

  if (Wanted({"registry_heartbeats_per_s_etcd"})) {
    auto reg = Check(registry::NewEtcdRegistry(etcd->urls()), "open the etcd registry");
    const double rate = HeartbeatsPerSecond(reg.get(), "registry_put_lease_etcd");
    PrintFigure("registry_heartbeats_per_s_etcd", rate, "puts/s", etcdctl, "puts/s");
  }
  if (Wanted({"registry_heartbeats_per_s_file"})) {
    const std::string dir = FreshDir("registry");
    auto reg = registry::NewFileRegistry(Env::Posix(), dir);
    const double rate = HeartbeatsPerSecond(reg.get(), "registry_put_lease_file");
    PrintFigure("registry_heartbeats_per_s_file", rate, "puts/s", etcdctl, "puts/s");
    RemoveAll(dir);
  }
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  binlog::bench::InitBench(&argc, argv);
  binlog::bench::Heartbeats();
  return 0;
}
