#include "pump_bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <latch>
#include <mutex>
#include <sstream>
#include <thread>

namespace binlog::bench {

double LoadSeconds() {
  const char* env = std::getenv("BENCH_PUMP_SECONDS");
  double s = env && *env ? std::atof(env) : 0;
  return s > 0 ? s : 2.0;
}

LoadResult RunLoad(const std::string& what, int threads, double seconds,
                   const std::function<Step(int thread)>& make_step) {
  std::vector<Step> steps;
  std::vector<Worker> workers(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    steps.push_back(make_step(i));
    workers[static_cast<size_t>(i)].index = i;
    workers[static_cast<size_t>(i)].latencies_us.reserve(1 << 14);
  }
  std::latch start(threads + 1);
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status failure;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      Worker& w = workers[static_cast<size_t>(i)];
      Step& step = steps[static_cast<size_t>(i)];
      start.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        Status s = step(w);
        if (!s.ok()) {
          std::lock_guard<std::mutex> g(mu);
          if (failure.ok()) failure = s;
          stop = true;
        }
      }
    });
  }
  start.arrive_and_wait();
  double begin = NowSeconds();
  double cpu_begin = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  LoadResult r;
  r.seconds = NowSeconds() - begin;
  r.cpu_seconds = CpuSeconds() - cpu_begin;
  Check(failure, what);
  for (Worker& w : workers) {
    r.items += w.items;
    r.max_ts = std::max(r.max_ts, w.max_ts);
    r.latencies_us.insert(r.latencies_us.end(), w.latencies_us.begin(), w.latencies_us.end());
  }
  std::cerr << what << ": " << threads << " threads, " << r.items << " items in " << r.seconds
            << " s, " << r.latencies_us.size() << " calls, " << r.cpu_seconds << " s CPU ("
            << r.cpu_seconds * 1e6 / static_cast<double>(std::max<uint64_t>(r.items, 1))
            << " us per item)\n";
  return r;
}

std::vector<pb::Binlog> MakePrewrites(size_t n, uint64_t seed) {
  workload::WorkloadOptions o;
  o.seed = seed;
  o.txn_rows = kTxnRows;
  workload::Workload w(o);
  std::vector<pb::Binlog> out(n);
  for (pb::Binlog& b : out) {
    w.Next(&b);
    b.set_tp(pb::PREWRITE);
  }
  return out;
}

ClosedLoopProducer::ClosedLoopProducer(workload::TsSequencer* ts, double deadline, uint64_t seed,
                                       std::function<void()> finished)
    : ts_(ts), deadline_(deadline), pool_(MakePrewrites(4, seed)), finished_(std::move(finished)) {
  latencies_us_.reserve(1 << 14);
}

void ClosedLoopProducer::Collect(LoadResult* r) const {
  r->items += items_;
  r->max_ts = std::max(r->max_ts, max_ts_);
  r->latencies_us.insert(r->latencies_us.end(), latencies_us_.begin(), latencies_us_.end());
}

void ClosedLoopProducer::Prewrite() {
  pb::Binlog& pre = pool_[next_++ % pool_.size()];
  start_ts_ = ts_->Next();
  pre.set_start_ts(static_cast<int64_t>(start_ts_));
  committing_ = false;
  sent_at_ = NowSeconds();
  Send(pre);
}

void ClosedLoopProducer::Commit() {
  pb::Binlog c;
  c.set_tp(pb::COMMIT);
  c.set_start_ts(static_cast<int64_t>(start_ts_));
  commit_ts_ = ts_->Next();
  c.set_commit_ts(static_cast<int64_t>(commit_ts_));
  committing_ = true;
  sent_at_ = NowSeconds();
  Send(c);
}

void ClosedLoopProducer::Answered(const Status& s) {
  latencies_us_.push_back((NowSeconds() - sent_at_) * 1e6);
  if (!s.ok()) {
    std::cerr << "closed-loop producer: the pump refused a write: " << s.ToString() << "\n";
    std::exit(1);
  }
  if (!committing_) return Commit();
  ++items_;
  max_ts_ = commit_ts_;
  if (NowSeconds() < deadline_) return Prewrite();
  Stop();
}

void ClosedLoopProducer::Finished(Status s) {
  status_ = std::move(s);
  finished_();
}

WriteFn ClientWriter(std::shared_ptr<pump::PumpClient> client) {
  return [client](std::span<const pb::Binlog> b, bool batched) {
    return batched ? client->WriteBinlogs(b) : client->WriteBinlog(b[0]);
  };
}

Step ProducerStep(WriteFn write, uint64_t seed, size_t batch, workload::TsSequencer* ts) {
  // Single writes cycle through a pool of distinct transactions; a batch reuses its own.
  constexpr size_t kPool = 64;
  auto prewrites =
      std::make_shared<std::vector<pb::Binlog>>(MakePrewrites(std::max(batch, kPool), seed));
  auto commits = std::make_shared<std::vector<pb::Binlog>>(batch);
  for (pb::Binlog& c : *commits) c.set_tp(pb::COMMIT);
  auto next = std::make_shared<size_t>(0);
  return [=](Worker& w) -> Status {
    size_t first = batch > 1 ? 0 : (*next)++ % kPool;
    std::span<pb::Binlog> pre = std::span<pb::Binlog>(*prewrites).subspan(first, batch);
    std::span<pb::Binlog> com(*commits);
    uint64_t start = ts->NextN(batch);
    for (size_t i = 0; i < batch; ++i) pre[i].set_start_ts(static_cast<int64_t>(start + i));
    RETURN_IF_ERROR(w.Timed([&] { return write(pre, batch > 1); }));
    uint64_t commit = ts->NextN(batch);
    for (size_t i = 0; i < batch; ++i) {
      com[i].set_start_ts(static_cast<int64_t>(start + i));
      com[i].set_commit_ts(static_cast<int64_t>(commit + i));
    }
    RETURN_IF_ERROR(w.Timed([&] { return write(com, batch > 1); }));
    w.items += batch;
    w.max_ts = commit + batch - 1;
    return Status::OK();
  };
}

Step JournalAppendStep(journal::Journal* journal, uint64_t seed, size_t batch) {
  constexpr size_t kPool = 64;
  auto payloads = std::make_shared<std::vector<std::string>>();
  for (const pb::Binlog& b : MakePrewrites(std::max(batch, kPool), seed)) {
    payloads->push_back(b.SerializeAsString());
  }
  auto records = std::make_shared<std::vector<journal::Record>>(batch);
  auto next = std::make_shared<uint64_t>(0);
  return [=](Worker& w) -> Status {
    for (size_t i = 0; i < batch; ++i) {
      uint64_t n = (*next)++;
      (*records)[i] = {(seed << 32) + n, (*payloads)[n % payloads->size()]};
    }
    RETURN_IF_ERROR(w.Timed([&] { return journal->Append(*records); }));
    w.items += batch;
    return Status::OK();
  };
}

namespace {

// write() (or pwrite over zeros written and synced beforehand) of `bytes`, then fdatasync().
Step RawStep(const std::string& dir, size_t bytes, bool over_zeros) {
  struct Raw {
    int fd = -1;
    std::string buffer;
    uint64_t offset = 0;
    ~Raw() {
      if (fd >= 0) ::close(fd);
    }
  };
  constexpr uint64_t kZeroed = 256ull << 20;  // written over again from the start when reached
  auto raw = std::make_shared<Raw>();
  for (const pb::Binlog& b : MakePrewrites(64, 7)) raw->buffer += b.SerializeAsString();
  while (raw->buffer.size() < bytes) raw->buffer += raw->buffer;
  raw->buffer.resize(bytes);
  std::string path = dir + (over_zeros ? "/raw-zeroed.log" : "/raw.log");
  raw->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (raw->fd < 0) Check(Status::IOError("open " + path), "raw sync file");
  if (over_zeros) {
    const std::string zeros(1 << 20, '\0');
    for (uint64_t at = 0; at < kZeroed; at += zeros.size()) {
      if (::pwrite(raw->fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) !=
          static_cast<ssize_t>(zeros.size())) {
        Check(Status::IOError("zero " + path), "raw sync file");
      }
    }
    if (::fsync(raw->fd) != 0) Check(Status::IOError("fsync " + path), "raw sync file");
  }
  return [raw, over_zeros](Worker& w) -> Status {
    RETURN_IF_ERROR(w.Timed([&] {
      bool ok =
          ::pwrite(raw->fd, raw->buffer.data(), raw->buffer.size(),
                   static_cast<off_t>(raw->offset)) == static_cast<ssize_t>(raw->buffer.size()) &&
          ::fdatasync(raw->fd) == 0;
      raw->offset += raw->buffer.size();
      if (over_zeros) raw->offset %= kZeroed;
      return ok ? Status::OK() : Status::IOError("write or fdatasync failed");
    }));
    w.items += 1;
    return Status::OK();
  };
}

}  // namespace

Step RawSyncStep(const std::string& dir, size_t bytes) { return RawStep(dir, bytes, false); }

Step RawOverwriteSyncStep(const std::string& dir, size_t bytes) {
  return RawStep(dir, bytes, true);
}

std::unique_ptr<journal::Journal> OpenWalJournal(const std::string& name) {
  journal::JournalOptions o;
  o.segment.kind = segment::SegmentKind::kArrival;
  o.sync = true;
  return Check(journal::Journal::Open(FreshDir(name), o), "open journal");
}

// ---------------------------------------------------------------------------------------------
// The daemon


std::shared_ptr<pump::PumpClient> ConnectClient(const std::string& addr) {
  return Check(pump::PumpClient::Connect(addr), "pump client");
}

std::unique_ptr<PumpProcess> PumpProcess::Start(const std::string& data_dir,
                                                const std::vector<std::string>& flags,
                                                const std::string& registry_dir) {
  std::unique_ptr<PumpProcess> p(new PumpProcess());
  p->addr_ = "127.0.0.1:" + std::to_string(FreePort());
  std::string registry = registry_dir.empty() ? data_dir + "-registry" : registry_dir;
  std::string log = data_dir + "-pump.log";
  const char* binary = std::getenv("BENCH_PUMP_BINARY");
  std::vector<std::string> args = {binary && *binary ? binary : BINLOG_PUMP_BINARY,
                                   "-addr",
                                   p->addr_,
                                   "-status-addr",
                                   "127.0.0.1:0",
                                   "-data-dir",
                                   data_dir,
                                   "-registry-dir",
                                   registry,
                                   "-L",
                                   "warn",
                                   "-log-file",
                                   log};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  p->pid_ = ::fork();
  if (p->pid_ < 0) Check(Status::IOError("fork"), "start pump");
  if (p->pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the benchmark
    ::execv(argv[0], argv.data());
    std::perror("exec pump");
    ::_exit(127);
  }
  auto client = ConnectClient(p->addr_);
  for (int i = 0; i < 750; ++i) {  // 15 s
    if (client->Probe().ok()) return p;
    int status = 0;
    if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      Shell("tail -n 20 " + log + " >&2");
      Check(Status::IOError("the pump exited at start"), "start pump");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Check(Status::IOError("the pump did not come online in 15 s"), "start pump");
  return nullptr;
}

PumpProcess::~PumpProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 1000; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

double PumpProcess::CpuSeconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t PumpProcess::StatusKb(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(field.size() + 1));
    uint64_t kb = 0;
    fields >> kb;
    return kb;
  }
  return 0;
}

}  // namespace binlog::bench
