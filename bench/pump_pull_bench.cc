// PullBinlogs: committed binlogs streamed to one reader from the start of binlog/.
//
//   pump_pull_binlogs_per_s        Pump::PullBinlogs (the in-process reader a drainer embedding
//       the pump gets) reading every committed binlog from ts 0. Baseline: a JournalReader
//       scanning the same binlog/ directly (checksums, decompression, no parsing).
//   pump_pull_grpc_binlogs_per_s   the same over gRPC from the pump process: PumpClient::Pull,
//       each binlog parsed by the client (a drainer needs it parsed). Baseline: the same scan.
//
// The fixture: $BENCH_PULL_BINLOGS (default 500000) ~1 KiB COMMIT binlogs of loadgen's
// workload written in commit-ts order straight to a pump's binlog/ (64 MiB segments, without
// syncs: it is read, not written, here), so the page cache holds it for every reader alike.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "pump/pump.h"
#include "pump_bench_util.h"

namespace binlog::bench {
namespace {

size_t PullCount() {
  const char* env = std::getenv("BENCH_PULL_BINLOGS");
  long n = env && *env ? std::atol(env) : 0;
  return n > 0 ? static_cast<size_t>(n) : 500000;
}

// Writes the fixture under data_dir/binlog; returns the payload bytes.
uint64_t PrepareBinlogs(const std::string& data_dir, size_t count) {
  double start = NowSeconds();
  journal::JournalOptions o;
  o.env = NoSyncEnv();
  o.segment.kind = segment::SegmentKind::kOrdered;
  o.max_file_size = 64 << 20;
  auto j = Check(journal::Journal::Open(data_dir + "/binlog", o), "open binlog/");
  PayloadGenerator gen(11);
  uint64_t bytes = 0;
  std::vector<std::string> payloads;
  std::vector<journal::Record> records;
  for (size_t i = 0; i < count;) {
    payloads.clear();
    records.clear();
    for (; i < count && payloads.size() < 1024; ++i) payloads.push_back(gen.Next(RecordTS(i)));
    for (size_t k = 0; k < payloads.size(); ++k) {
      records.push_back({RecordTS(i - payloads.size() + k), payloads[k]});
      bytes += payloads[k].size();
    }
    Check(j->Append(records), "append fixture");
  }
  Check(j->Close(), "close binlog/");
  ::sync();
  std::cerr << "pull fixture: " << count << " binlogs, " << bytes / 1e6 << " MB of payload in "
            << NowSeconds() - start << " s\n";
  return bytes;
}

// Reads r to its end; returns records per second.
double Drain(journal::JournalReader* r, size_t expect, const char* what) {
  double start = NowSeconds();
  journal::Record rec;
  size_t n = 0;
  while (Check(r->Next(&rec), what)) ++n;
  double seconds = NowSeconds() - start;
  if (n < expect) Check(Status::Corruption(fmt::format("{} read {} of {}", what, n, expect)), what);
  std::cerr << what << ": " << n << " binlogs in " << seconds << " s\n";
  return static_cast<double>(n) / seconds;
}

double JournalScan(const std::string& data_dir, size_t count) {
  auto r = Check(journal::JournalReader::Open(Env::Posix(), data_dir + "/binlog", {}), "reader");
  return Drain(r.get(), count, "journal scan");
}

double InprocPull(const std::string& data_dir, size_t count) {
  pump::PumpOptions o;
  o.data_dir = data_dir;
  o.gen_binlog_interval_seconds = 0;
  auto p = Check(pump::Pump::Open(o), "open pump");
  auto r = Check(p->PullBinlogs(0, /*follow=*/false), "PullBinlogs");
  double rate = Drain(r.get(), count, "pump PullBinlogs in-process");
  r.reset();
  Check(p->Close(), "close pump");
  return rate;
}

double GrpcPull(const std::string& data_dir, size_t count) {
  // gc 0: the fixture's ts are from 2024, which the default gc (7 days) would delete at start.
  auto server = PumpProcess::Start(data_dir, {"-gc", "0"});
  auto client = ConnectClient(server->addr());
  double start = NowSeconds();
  double cpu = CpuSeconds(), server_cpu = server->CpuSeconds();
  auto stream = Check(client->Pull(0), "Pull");
  pb::Binlog b;
  size_t n = 0;
  while (n < count && Check(stream->Next(&b), "pull over gRPC")) ++n;
  double seconds = NowSeconds() - start;
  if (n < count) Check(Status::IOError(fmt::format("stream ended at {}", n)), "pull over gRPC");
  std::cerr << "pump PullBinlogs over gRPC: " << n << " binlogs in " << seconds << " s, CPU "
            << CpuSeconds() - cpu << " s here and " << server->CpuSeconds() - server_cpu
            << " s in the pump\n";
  stream.reset();
  return static_cast<double>(n) / seconds;
}

}  // namespace

void PullFigures() {
  bool inproc = Wanted({"pump_pull_binlogs_per_s"});
  bool grpc = Wanted({"pump_pull_grpc_binlogs_per_s"});
  if (!inproc && !grpc) return;
  const size_t count = PullCount();
  std::string dir = FreshDir("pump-pull");
  PrepareBinlogs(dir, count);
  // A first pass warms the page cache (the fixture was just written), then the measured one.
  JournalScan(dir, count);
  double scan = JournalScan(dir, count);
  if (inproc) {
    PrintFigure("pump_pull_binlogs_per_s", InprocPull(dir, count), "binlogs/s", scan, "binlogs/s");
  }
  if (grpc) {
    double rate = GrpcPull(dir, count);
    PrintFigure("pump_pull_grpc_binlogs_per_s", rate, "binlogs/s", scan, "binlogs/s");
  }
  RemoveAll(dir);
  RemoveAll(dir + "-registry");
  RemoveAll(dir + "-pump.log");
}

}  // namespace binlog::bench
