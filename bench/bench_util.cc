#include "bench_util.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "binlog.pb.h"
#include "common/logging.h"
#include "common/tso.h"
#include "loadgen/workload.h"

namespace binlog::bench {

// ---------------------------------------------------------------------------------------------
// Payloads

struct PayloadGenerator::Impl {
  static workload::WorkloadOptions Options(uint64_t seed, double txn_rows) {
    workload::WorkloadOptions o;
    o.seed = seed;
    o.txn_rows = txn_rows;
    return o;
  }
  Impl(uint64_t seed, double txn_rows) : workload(Options(seed, txn_rows)) {}

  std::string Next(uint64_t ts) {
    workload.Next(&binlog);
    binlog.set_start_ts(static_cast<int64_t>(ts - (uint64_t{5} << kLogicalBits)));
    binlog.set_commit_ts(static_cast<int64_t>(ts));
    return binlog.SerializeAsString();
  }

  workload::Workload workload;
  pb::Binlog binlog;
};

PayloadGenerator::PayloadGenerator(uint64_t seed, double txn_rows)
    : impl_(std::make_unique<Impl>(seed, txn_rows)) {}
PayloadGenerator::~PayloadGenerator() = default;
std::string PayloadGenerator::Next(uint64_t ts) { return impl_->Next(ts); }

uint64_t RecordTS(uint64_t index) {
  // 2024-01-01 00:00:00 UTC, one record per millisecond.
  return ComposeTS(1704067200000 + static_cast<int64_t>(index), 0);
}

// ---------------------------------------------------------------------------------------------
// NoSyncEnv

namespace {

class NoSyncFile : public WritableFile {
 public:
  explicit NoSyncFile(std::unique_ptr<WritableFile> f) : f_(std::move(f)) {}
  Status Append(std::string_view data) override { return f_->Append(data); }
  Status Sync() override { return Status::OK(); }
  Status Truncate(uint64_t size) override { return f_->Truncate(size); }
  Status Close() override { return f_->Close(); }
  uint64_t Size() const override { return f_->Size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<WritableFile> f_;
};

class NoSync : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return Wrap(base_->NewWritableFile(path));
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override {
    return Wrap(base_->ReopenWritableFile(path));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    return base_->NewRandomAccessFile(p);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<uint64_t> GetFileSize(const std::string& p) override { return base_->GetFileSize(p); }
  Result<std::vector<std::string>> GetChildren(const std::string& d) override {
    return base_->GetChildren(d);
  }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status DeleteFile(const std::string& p) override { return base_->DeleteFile(p); }
  Status RenameFile(const std::string& a, const std::string& b) override {
    return base_->RenameFile(a, b);
  }
  Status CopyFile(const std::string& a, const std::string& b) override {
    return base_->CopyFile(a, b);
  }
  Status SyncDir(const std::string&) override { return Status::OK(); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return base_->LockFile(p);
  }
  Result<uint64_t> GetFreeSpace(const std::string& p) override { return base_->GetFreeSpace(p); }
  int64_t NowMicros() override { return base_->NowMicros(); }

 private:
  static Result<std::unique_ptr<WritableFile>> Wrap(Result<std::unique_ptr<WritableFile>> f) {
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(std::make_unique<NoSyncFile>(std::move(*f)));
  }
  Env* base_ = Env::Posix();
};

}  // namespace

Env* NoSyncEnv() {
  static NoSync env;
  return &env;
}

// ---------------------------------------------------------------------------------------------
// Files

const std::string& BenchRoot() {
  static const std::string root = [] {
    const char* env = std::getenv("BENCH_DIR");
    std::filesystem::path p = env && *env ? env : "bench-tmp";
    std::filesystem::create_directories(p);
    p = std::filesystem::absolute(p);
    struct statfs fs;
    if (statfs(p.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
      std::cerr << "WARNING: " << p << " is on tmpfs: durability figures mean nothing there\n";
    }
    return p.string();
  }();
  return root;
}

std::string FreshDir(std::string_view name) {
  std::string dir = JoinPath(BenchRoot(), name);
  RemoveAll(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  // Freeing hundreds of megabytes is journal work the file system does later, in the next
  // measurement's time: done now, each load starts on a quiet disk.
  ::sync();
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

uint64_t FileBytes(const std::string& path) { return std::filesystem::file_size(path); }

int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  if (status != 0) std::cerr << "command failed (" << status << "): " << command << "\n";
  return status;
}

void Check(const Status& s, std::string_view what) {
  if (s.ok()) return;
  std::cerr << "bench setup failed: " << what << ": " << s.ToString() << "\n";
  std::exit(2);
}

double Percentile(std::vector<double>* samples, double p) {
  if (samples->empty()) return 0;
  std::sort(samples->begin(), samples->end());
  double rank = std::ceil(p / 100.0 * static_cast<double>(samples->size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return (*samples)[std::min(index, samples->size() - 1)];
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    Check(Status::IOError("cannot find a free port"), "free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------------------------
// Figures

namespace {

std::vector<std::string>& Filters() {
  static std::vector<std::string> filters;
  return filters;
}

// Three significant digits, never an exponent.
std::string FormatValue(double v) {
  if (v == 0 || !std::isfinite(v)) return fmt::format("{}", v);
  int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  int decimals = std::clamp(2 - magnitude, 0, 9);
  return fmt::format("{:.{}f}", v, decimals);
}

}  // namespace

void InitBench(int* argc, char** argv) {
  benchmark::Initialize(argc, argv);
  for (int i = 1; i < *argc; ++i) Filters().emplace_back(argv[i]);
  LogOptions log;
  log.level = "warn";
  Check(InitLogging(log), "logging");
}

bool Wanted(std::initializer_list<std::string_view> figure_names) {
  if (Filters().empty()) return true;
  for (std::string_view name : figure_names) {
    for (const std::string& f : Filters()) {
      if (name.find(f) != std::string_view::npos) return true;
    }
  }
  return false;
}

void PrintFigure(std::string_view name, double value, std::string_view unit, double baseline,
                 std::string_view baseline_unit) {
  double ratio = baseline != 0 ? value / baseline : 0;
  std::printf("%s\n",
              fmt::format("{}: {} {} (baseline: {} {}, ratio: {})", name, FormatValue(value), unit,
                          FormatValue(baseline), baseline_unit, FormatValue(ratio))
                  .c_str());
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Running Google Benchmark

double RunResult::counter(const std::string& key) const {
  auto it = counters.find(key);
  return it == counters.end() ? 0 : it->second;
}

namespace {

// The console table goes to stderr; the measured runs are kept for the caller.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  CollectingReporter() : ConsoleReporter(OO_None) {
    SetOutputStream(&std::cerr);
    SetErrorStream(&std::cerr);
  }
  void ReportRuns(const std::vector<Run>& reports) override {
    for (const Run& r : reports) {
      if (r.run_type == Run::RT_Iteration) runs.push_back(r);
    }
    ConsoleReporter::ReportRuns(reports);
  }
  std::vector<Run> runs;
};

}  // namespace

RunResult RunBenchmark(const std::string& name, std::function<void(benchmark::State&)> fn,
                       const std::function<void(benchmark::internal::Benchmark*)>& configure) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(name.c_str(), std::move(fn));
  if (configure) configure(b);
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter, ".");
  benchmark::ClearRegisteredBenchmarks();
  if (reporter.runs.empty()) {
    std::cerr << "benchmark " << name << " did not run\n";
    std::exit(2);
  }
  const auto& run = reporter.runs.back();
  if (run.error_occurred) {
    std::cerr << "benchmark " << name << " failed: " << run.error_message << "\n";
    std::exit(2);
  }
  RunResult result;
  result.real_seconds = run.real_accumulated_time;
  result.iterations = run.iterations;
  for (const auto& [key, counter] : run.counters) result.counters[key] = counter.value;
  return result;
}

}  // namespace binlog::bench
