// loadgen: a synthetic producer that appends committed transactions to a journal directory.
#include <fmt/format.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/config.h"
#include "common/logging.h"
#include "journal/journal.h"
#include "loadgen/committer.h"
#include "loadgen/workload.h"

namespace po = boost::program_options;

namespace binlog::loadgen {
namespace {

constexpr int kExitBadArgs = 2;
constexpr const char* kUsage = "usage: loadgen --dir DIR [options]  (loadgen --help for all)";
constexpr auto kProgressInterval = std::chrono::seconds(5);

struct Options {
  std::string dir;
  int64_t count = 100000;
  double rate = 0;
  int threads = 1;
  int batch = 64;
  uint64_t max_file_size = 512ull << 20;
  bool sync_log = true;
  std::string ack_log;
  std::string log_level = "info";
  workload::WorkloadOptions workload;
};

// Spreads transactions evenly over time for --rate; shared by all threads.
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate) {}
  void Acquire(int64_t n) {
    if (rate_ <= 0) return;
    auto step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(n) / rate_));
    Clock::time_point at;
    {
      std::lock_guard<std::mutex> lock(mu_);
      at = std::max(Clock::now(), next_);
      next_ = at + step;
    }
    std::this_thread::sleep_until(at);
  }

 private:
  using Clock = std::chrono::steady_clock;
  double rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

struct Progress {
  std::atomic<int64_t> remaining{0};
  std::atomic<uint64_t> txns{0};
  std::atomic<uint64_t> rows{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  Status error;
};

po::options_description Describe() {
  po::options_description d(
      "loadgen: appends synthetic committed transactions to a journal\n"
      "Options (-flag and --flag are the same)",
      100, 50);
  auto add = d.add_options();
  add("help,h", "print this help and exit");
  add("dir", po::value<std::string>(), "journal directory to append to (required)");
  add("count", po::value<int64_t>()->default_value(100000), "transactions to write");
  add("rate", po::value<double>()->default_value(0), "transactions per second; 0 = unlimited");
  add("txn-rows", po::value<double>()->default_value(4),
      "average row changes per transaction (uniform over 1 .. 2*N-1)");
  add("ddl-ratio", po::value<double>()->default_value(0.001, "0.001"),
      "share of transactions that are one DDL (ALTER TABLE ADD COLUMN / CREATE INDEX)");
  add("tables", po::value<int>()->default_value(4), "sysbench-shaped tables sbtest.sbtest1..N");
  add("table-size", po::value<int64_t>()->default_value(10000),
      "rows each table holds before the run, as after sysbench prepare");
  add("typed-table", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
      "also write shop.orders (bigint unsigned, decimal, double, datetime(6), utf8mb4 "
      "varchar, enum, blob, nullable columns)");
  add("seed", po::value<int64_t>()->default_value(1),
      "random seed: the same seed and --threads give the same row contents (timestamps come "
      "from the clock)");
  add("batch", po::value<int>()->default_value(64),
      "transactions per Journal::Append call (group commit: one write and one fdatasync "
      "for the whole batch)");
  add("threads", po::value<int>()->default_value(1),
      "generator threads; each owns a share of the row ids. They share one ts sequencer: "
      "batches that wait together get their commit ts in queue order and go into a single "
      "Append, so the journal sees increasing ts and one fdatasync serves them all");
  add("max-file-size", po::value<std::string>()->default_value("512MiB"),
      "rotate segments at this size (e.g. 64MiB, 1GiB, 65536)");
  add("sync-log", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
      "fdatasync before an append is acknowledged (-sync-log=false: faster, a crash can lose "
      "acknowledged transactions)");
  add("ack-log", po::value<std::string>(),
      "after each acknowledged append, add its commit ts to this file, one per line");
  add("log-level", po::value<std::string>()->default_value("info"), "debug, info, warn, error");
  return d;
}

void UsageError(const std::string& message) {
  std::cerr << "loadgen: " << message << "\n" << kUsage << "\n";
}

// Returns an exit code when the program should stop now (help or bad arguments).
std::optional<int> ParseArgs(int argc, char** argv, Options* o) {
  po::options_description desc = Describe();
  po::variables_map vm;
  try {
    auto style = (po::command_line_style::default_style & ~po::command_line_style::allow_guessing) |
                 po::command_line_style::allow_long_disguise;
    // No positional arguments: an empty description makes a stray word an error.
    po::positional_options_description none;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(none).style(style).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    UsageError(e.what());
    return kExitBadArgs;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  auto bad = [](const std::string& m) {
    UsageError(m);
    return std::optional<int>(kExitBadArgs);
  };
  if (!vm.count("dir")) return bad("--dir is required");
  o->dir = vm["dir"].as<std::string>();
  o->count = vm["count"].as<int64_t>();
  o->rate = vm["rate"].as<double>();
  o->threads = vm["threads"].as<int>();
  o->batch = vm["batch"].as<int>();
  o->sync_log = vm["sync-log"].as<bool>();
  o->log_level = vm["log-level"].as<std::string>();
  if (vm.count("ack-log")) o->ack_log = vm["ack-log"].as<std::string>();
  auto& w = o->workload;
  w.txn_rows = vm["txn-rows"].as<double>();
  w.ddl_ratio = vm["ddl-ratio"].as<double>();
  w.tables = vm["tables"].as<int>();
  w.typed_table = vm["typed-table"].as<bool>();
  int64_t table_size = vm["table-size"].as<int64_t>();
  int64_t seed = vm["seed"].as<int64_t>();
  if (o->count < 0) return bad("--count must be >= 0");
  if (o->rate < 0) return bad("--rate must be >= 0");
  if (o->threads < 1 || o->threads > 1024) return bad("--threads must be in 1..1024");
  if (o->batch < 1) return bad("--batch must be >= 1");
  if (!(w.txn_rows >= 1 && w.txn_rows <= 100000)) return bad("--txn-rows must be in 1..100000");
  if (!(w.ddl_ratio >= 0 && w.ddl_ratio <= 1)) return bad("--ddl-ratio must be in 0..1");
  if (w.tables < 0 || (w.tables == 0 && !w.typed_table)) {
    return bad("--tables must be >= 0, and > 0 when --typed-table=false");
  }
  if (table_size < 0) return bad("--table-size must be >= 0");
  if (seed < 0) return bad("--seed must be >= 0");
  w.table_size = static_cast<uint64_t>(table_size);
  w.seed = static_cast<uint64_t>(seed);
  auto size = ParseSize(vm["max-file-size"].as<std::string>());
  if (!size.ok()) return bad("--max-file-size: " + size.status().message());
  if (*size == 0) return bad("--max-file-size must be > 0");
  o->max_file_size = *size;
  if (!ParseLogLevel(o->log_level).ok()) return bad("--log-level: unknown level " + o->log_level);
  return std::nullopt;
}

void RunWorker(int shard, const Options& o, Committer* committer, workload::TsSequencer* sequencer,
               Pacer* pacer, Progress* progress) {
  workload::WorkloadOptions wo = o.workload;
  wo.shard = shard;
  wo.shards = o.threads;
  workload::Workload gen(wo);
  pb::Binlog binlog;
  Batch batch;
  while (!progress->failed.load()) {
    int64_t left = progress->remaining.fetch_sub(o.batch);
    if (left <= 0) break;
    size_t n = static_cast<size_t>(std::min<int64_t>(left, o.batch));
    pacer->Acquire(static_cast<int64_t>(n));
    batch.payloads.resize(n);
    // Start ts come from the same clock before the work, as a TiDB transaction takes its
    // start ts first; commit ts are given at the append, so start_ts < commit_ts always.
    uint64_t start_ts = sequencer->NextN(n);
    uint64_t rows = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      rows += gen.Next(&binlog);
      binlog.set_start_ts(static_cast<int64_t>(start_ts + i));
      binlog.SerializeToString(&batch.payloads[i]);
    }
    Status s = committer->Commit(&batch);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(progress->mu);
      if (progress->error.ok()) progress->error = s;
      progress->failed = true;
      break;
    }
    for (const std::string& p : batch.payloads) bytes += p.size();
    progress->txns += n;
    progress->rows += rows;
    progress->bytes += bytes;
  }
  std::lock_guard<std::mutex> lock(progress->mu);
  --progress->running;
  progress->cv.notify_all();
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Waits for the workers, logging progress every few seconds.
void Monitor(Progress* progress, std::chrono::steady_clock::time_point start) {
  uint64_t last_txns = 0;
  auto last = start;
  std::unique_lock<std::mutex> lock(progress->mu);
  while (!progress->cv.wait_for(lock, kProgressInterval, [&] { return progress->running == 0; })) {
    auto now = std::chrono::steady_clock::now();
    uint64_t txns = progress->txns.load();
    LOG_INFO("progress", KV("txns", txns), KV("rows", progress->rows.load()),
             KV("bytes", progress->bytes.load()),
             KV("txn/s", fmt::format("{:.0f}", (txns - last_txns) / Seconds(now - last))),
             KV("elapsed", fmt::format("{:.1f}s", Seconds(now - start))));
    last_txns = txns;
    last = now;
  }
}

int Run(const Options& o) {
  Status s = InitLogging(LogOptions{o.log_level, "", "none"});
  if (!s.ok()) {
    std::cerr << "loadgen: " << s.ToString() << "\n";
    return 1;
  }
  journal::JournalOptions jo;
  jo.max_file_size = o.max_file_size;
  jo.sync = o.sync_log;
  auto journal = journal::Journal::Open(o.dir, jo);
  if (!journal.ok()) {
    LOG_ERROR("cannot open the journal", KV("dir", o.dir), KV("error", journal.status()));
    return 1;
  }
  std::unique_ptr<AckLog> ack;
  if (!o.ack_log.empty()) {
    auto opened = AckLog::Open(Env::Posix(), o.ack_log);
    if (!opened.ok()) {
      LOG_ERROR("cannot open the ack log", KV("file", o.ack_log), KV("error", opened.status()));
      return 1;
    }
    ack = std::move(*opened);
  }
  LOG_INFO("loadgen starting", KV("dir", o.dir), KV("count", o.count), KV("threads", o.threads),
           KV("batch", o.batch), KV("rate", o.rate), KV("sync-log", o.sync_log),
           KV("max-file-size", o.max_file_size), KV("seed", o.workload.seed));

  workload::TsSequencer sequencer;
  Committer committer(journal->get(), &sequencer, ack.get());
  Pacer pacer(o.rate);
  Progress progress;
  progress.remaining = o.count;
  progress.running = o.threads;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) {
    threads.emplace_back(RunWorker, i, std::cref(o), &committer, &sequencer, &pacer, &progress);
  }
  Monitor(&progress, start);
  for (auto& t : threads) t.join();
  double secs = Seconds(std::chrono::steady_clock::now() - start);

  journal::JournalStats stats = (*journal)->stats();
  Status closed = (*journal)->Close();
  if (ack) {
    Status a = ack->Close();
    if (closed.ok()) closed = a;
  }
  if (!progress.error.ok() || !closed.ok()) {
    LOG_ERROR("loadgen failed", KV("error", progress.error.ok() ? closed : progress.error),
              KV("acknowledged-txns", progress.txns.load()), KV("dir", o.dir));
    return 1;
  }
  LOG_INFO("loadgen finished", KV("transactions", progress.txns.load()),
           KV("rows", progress.rows.load()), KV("bytes", progress.bytes.load()),
           KV("seconds", fmt::format("{:.3f}", secs)),
           KV("txn/s", fmt::format("{:.0f}", secs > 0 ? progress.txns.load() / secs : 0.0)),
           KV("appends", stats.appends), KV("syncs", stats.syncs),
           KV("segments-created", stats.segments_created));
  return 0;
}

}  // namespace
}  // namespace binlog::loadgen

int main(int argc, char** argv) {
  try {
    binlog::loadgen::Options options;
    if (auto code = binlog::loadgen::ParseArgs(argc, argv, &options)) return *code;
    return binlog::loadgen::Run(options);
  } catch (const std::exception& e) {
    std::cerr << "loadgen: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
