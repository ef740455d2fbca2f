#include "drainer_bench_util.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench_util.h"
#include "binlog.pb.h"
#include "common/tso.h"
#include "registry/registry.h"

namespace binlog::bench {

namespace {

// The pump's emitter appends what the watermark released in writes of at most this much.
constexpr size_t kPumpAppendBytes = 4 << 20;

}  // namespace

struct PumpDirs::Pump {
  std::string data_dir;
  std::unique_ptr<journal::Journal> binlog;
  std::vector<uint64_t> ts;
  std::vector<std::string> payloads;
  size_t pending_bytes = 0;
};

PumpDirs::PumpDirs(const std::string& root, int pumps, uint64_t seed)
    : root_(root), registry_(root + "/registry"), rng_(seed) {
  journal::JournalOptions o;  // the pump's binlog/: ordered, zstd level 1, 512 MiB segments
  o.env = NoSyncEnv();
  o.sync = false;
  o.warn_unsynced = false;
  for (int i = 0; i < pumps; ++i) {
    auto p = std::make_unique<Pump>();
    p->data_dir = fmt::format("{}/pump-{}", root, i);
    p->binlog = Check(journal::Journal::Open(p->data_dir + "/binlog", o), "open a pump's binlog/");
    pumps_.push_back(std::move(p));
  }
}

PumpDirs::~PumpDirs() = default;

void PumpDirs::Append(uint64_t ts, std::string payload) {
  Pump& p = *pumps_[rng_() % pumps_.size()];
  p.pending_bytes += payload.size();
  p.ts.push_back(ts);
  p.payloads.push_back(std::move(payload));
  ++records_;
  if (p.pending_bytes >= kPumpAppendBytes) Flush(p);
}

void PumpDirs::Flush(Pump& p) {
  if (p.ts.empty()) return;
  std::vector<journal::Record> records;
  records.reserve(p.ts.size());
  for (size_t i = 0; i < p.ts.size(); ++i) records.push_back({p.ts[i], p.payloads[i]});
  Check(p.binlog->Append(records), "append to a pump's binlog/");
  p.ts.clear();
  p.payloads.clear();
  p.pending_bytes = 0;
}

void PumpDirs::Finish(uint64_t ts) {
  pb::Binlog fake;
  fake.set_tp(pb::FAKE);
  fake.set_start_ts(static_cast<int64_t>(ts));
  fake.set_commit_ts(static_cast<int64_t>(ts));
  auto registry = registry::NewFileRegistry(Env::Posix(), registry_);
  for (size_t i = 0; i < pumps_.size(); ++i) {
    Pump& p = *pumps_[i];
    Flush(p);
    if (p.binlog->last_ts() < ts) {
      Check(p.binlog->Append(journal::Record{ts, fake.SerializeAsString()}), "append a FAKE");
    }
    Check(p.binlog->Close(), "close a pump's binlog/");
    registry::NodeStatus rec;
    rec.node_id = fmt::format("pump-{}", i);
    rec.addr = fmt::format("127.0.0.1:{}", 8250 + i);  // not dialled: binlog/ is read from disk
    rec.state = registry::NodeState::kOnline;
    rec.max_commit_ts = static_cast<int64_t>(ts);
    rec.update_ts = static_cast<int64_t>(ComposeTS(Env::Posix()->NowMicros() / 1000, 0));
    rec.host = registry::ThisHostName();
    rec.data_dir = std::filesystem::absolute(p.data_dir).string();
    Check(registry->Put(registry::NodeKind::kPump, rec), "register a pump");
  }
  ::sync();
}

std::vector<std::string> PumpDirs::binlog_dirs() const {
  std::vector<std::string> dirs;
  for (const auto& p : pumps_) dirs.push_back(p->data_dir + "/binlog");
  return dirs;
}

uint64_t PumpDirs::bytes() const {
  uint64_t total = 0;
  for (const std::string& d : binlog_dirs()) total += DirBytes(d);
  return total;
}

uint64_t CopyArchive(const std::string& archive, PumpDirs* pumps) {
  auto reader = Check(journal::JournalReader::Open(Env::Posix(), archive, {}), "open the archive");
  journal::Record r;
  uint64_t last = 0;
  while (Check(reader->Next(&r), "read the archive")) {
    pumps->Append(r.ts, std::string(r.payload));
    last = r.ts;
  }
  return last;
}

ScanResult ScanBinlogDirs(const std::vector<std::string>& dirs) {
  ScanResult out;
  pb::Binlog b;
  journal::Record r;
  for (const std::string& dir : dirs) {
    auto reader = Check(journal::JournalReader::Open(Env::Posix(), dir, {}), "open " + dir);
    uint64_t prev = 0;
    while (Check(reader->Next(&r), "read " + dir)) {
      if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        Check(Status::Corruption(fmt::format("{}: the record at ts {} is not a binlog", dir, r.ts)),
              "scan");
      }
      if (b.tp() == pb::FAKE) {
        ++out.fakes;
      } else {
        ++out.binlogs;
      }
      if (r.ts <= prev) out.ordered = false;
      prev = r.ts;
      out.last_ts = std::max(out.last_ts, r.ts);
    }
  }
  return out;
}

DrainerProcess::DrainerProcess(const DrainerSetup& s)
    : addr_(fmt::format("127.0.0.1:{}", FreePort())),
      output_dir_(s.dir + "/out"),
      log_(s.dir + "/drainer.log") {
  std::string config = s.dir + "/drainer.toml";
  std::string to = s.db_type == "mysql"
                       ? fmt::format("host = \"{}\"\nport = {}\nuser = \"root\"\npassword = \"\"\n",
                                     s.dest->host(), s.dest->port())
                       : fmt::format("dir = \"{}\"\n", output_dir_);
  std::ofstream(config) << fmt::format(
      "addr = \"{}\"\nnode-id = \"drainer-bench\"\ndata-dir = \"{}/data\"\nregistry-dir = \"{}\"\n"
      "initial-commit-ts = 0\ndetect-interval = {}\nheartbeat-interval = 1\nlog-level = \"warn\"\n"
      "log-file = \"{}\"\n[syncer]\ndb-type = \"{}\"\nworker-count = {}\ntxn-batch = {}\n"
      "[syncer.to]\n{}",
      addr_, s.dir, s.registry_dir, s.detect_interval_seconds, log_, s.db_type, s.worker_count,
      s.txn_batch, to);
  std::vector<std::string> args;
  if (s.cpu >= 0) args = {"/usr/bin/taskset", "-c", std::to_string(s.cpu)};
  args.insert(args.end(), {s.binary, "-config", config});
  start_ = NowSeconds();
  pid_ = SpawnChild(args, "", "");
  if (pid_ < 0) Check(Status::IOError("fork"), "start the drainer");
}

DrainerProcess::~DrainerProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool DrainerProcess::Exited() {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid_;
}

std::string DrainerProcess::Metric(const std::string& name) {
  httplib::Client client("http://" + addr_);
  client.set_connection_timeout(std::chrono::seconds(1));
  client.set_read_timeout(std::chrono::seconds(5));
  httplib::Result res = client.Get("/metrics");
  if (!res || res->status != 200) return "";
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return line.substr(name.size() + 1);
    }
  }
  return "";
}

double DrainerProcess::WaitCheckpoint(uint64_t ts, double timeout) {
  const double deadline = NowSeconds() + timeout;
  while (NowSeconds() < deadline) {
    std::string v = Metric("binlog_drainer_checkpoint_ts");
    if (!v.empty() && std::stoull(v) >= ts) return NowSeconds() - start_;
    if (Exited()) {
      Shell("tail -n 20 " + log_ + " >&2");
      Check(Status::IOError("the drainer exited before its checkpoint reached the end"), "drainer");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Shell("tail -n 20 " + log_ + " >&2");
  Check(Status::TimedOut(fmt::format("the drainer's checkpoint is not at {} after {} s", ts,
                                     timeout)),
        "drainer");
  return 0;
}

ChildRun DrainerProcess::Stop() {
  kill(pid_, SIGTERM);
  ChildRun r = WaitChild(pid_, start_);
  pid_ = -1;
  if (r.status != 0) {
    Shell("tail -n 20 " + log_ + " >&2");
    Check(Status::IOError(fmt::format("the drainer exited {}", r.status)), "drainer");
  }
  return r;
}

}  // namespace binlog::bench
