// The run: tables planned on one connection pair, chunks cut by one producer and checked by
// `threads` workers, each with its own pair, the report kept in order.
#include "sync-diff/run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/text.h"
#include "sync-diff/chunk.h"
#include "sync-diff/diff.h"

namespace binlog::syncdiff {

namespace {

using Clock = std::chrono::steady_clock;

struct Task {
  size_t table;
  uint64_t seq;
  KeyRange range;
};

// Bounded, so the producer's walk stays a little ahead of the checks, not a table ahead.
class TaskQueue {
 public:
  explicit TaskQueue(size_t capacity) : capacity_(capacity) {}
  bool Push(Task t) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return tasks_.size() < capacity_ || aborted_; });
    if (aborted_) return false;
    tasks_.push_back(std::move(t));
    cv_.notify_all();
    return true;
  }
  bool Pop(Task* t) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !tasks_.empty() || closed_ || aborted_; });
    if (aborted_ || tasks_.empty()) return false;
    *t = std::move(tasks_.front());
    tasks_.pop_front();
    cv_.notify_all();
    return true;
  }
  void Close() { Set(&closed_); }
  void Abort() { Set(&aborted_); }

 private:
  void Set(bool* flag) {
    std::lock_guard<std::mutex> g(mu_);
    *flag = true;
    cv_.notify_all();
  }
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool closed_ = false, aborted_ = false;
};

struct Counters {
  std::atomic<uint64_t> rows{0}, chunks{0}, reread{0};
  std::atomic<size_t> table{0};  // the table being cut into chunks
};

// Once a second on a terminal (one line, rewritten), every progress_seconds as a log line
// otherwise; nothing for a run shorter than that.
class Progress {
 public:
  Progress(const std::vector<TablePlan>& plans, const Counters& c, const Report& report,
           double log_seconds)
      : plans_(plans), c_(c), report_(report), log_seconds_(log_seconds), tty_(isatty(2) == 1) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (tty_ && printed_) std::cerr << "\n";
  }

 private:
  void Loop() {
    const auto begin = Clock::now();
    auto last_log = begin;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; })) {
      const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
      if (plans_.empty()) continue;
      const size_t at = std::min(c_.table.load(), plans_.size() - 1);
      const std::string line = fmt::format(
          "sync-diff: {}/{} tables, {} rows in {} chunks ({} re-read), {:.0f} rows/s, at {}",
          report_.tables_done(), plans_.size(), c_.rows.load(), c_.chunks.load(), c_.reread.load(),
          c_.rows.load() / std::max(seconds, 0.001), Printable(plans_[at].Name(), 200));
      if (tty_) {
        std::cerr << "\r" << line << "\x1b[K" << std::flush;
        printed_ = true;
      } else if (Clock::now() - last_log >= std::chrono::duration<double>(log_seconds_)) {
        LOG_INFO("comparing", KV("tables-done", report_.tables_done()), KV("tables", plans_.size()),
                 KV("rows", c_.rows.load()), KV("chunks", c_.chunks.load()),
                 KV("reread", c_.reread.load()), KV("table", plans_[at].Name()));
        last_log = Clock::now();
      }
    }
  }

  const std::vector<TablePlan>& plans_;
  const Counters& c_;
  const Report& report_;
  const double log_seconds_;
  const bool tty_;
  bool printed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The first error of any thread.
class FirstError {
 public:
  void Set(Status s) {
    std::lock_guard<std::mutex> g(mu_);
    if (status_.ok()) status_ = std::move(s);
  }
  Status Get() const {
    std::lock_guard<std::mutex> g(mu_);
    return status_;
  }

 private:
  mutable std::mutex mu_;
  Status status_;
};

// Cuts every compared table into chunks for the workers, and orders the report's events.
Status Produce(const std::vector<TablePlan>& plans, mysql::Connection* source,
               mysql::Connection* target, const SyncDiffConfig& config, TaskQueue* queue,
               Report* report, Counters* counters) {
  bool whole_first = config.checksum_table;
  if (whole_first && source->server_version() != target->server_version()) {
    LOG_INFO(
        "the servers' versions differ: CHECKSUM TABLE values are not comparable, every "
        "table is chunked",
        KV("source", source->server_version()), KV("target", target->server_version()));
    whole_first = false;
  }
  uint64_t seq = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    counters->table = i;
    if (plans[i].state != TablePlan::State::kCompare) {
      report->TableEnd(seq++, i);
      continue;
    }
    report->TableStart(seq++, i);
    if (whole_first) {
      Result<bool> equal = TableChecksumsEqual(source, target, plans[i]);
      if (!equal.ok()) return equal.status().WithContext("check " + plans[i].Name());
      if (*equal) {
        ChunkOutcome o;
        o.table_checksum_equal = true;
        o.estimated_rows = plans[i].estimated_rows;
        report->Chunk(seq++, i, std::move(o));
        report->TableEnd(seq++, i);
        continue;
      }
    }
    Result<std::unique_ptr<Chunker>> chunker =
        Chunker::Make(plans[i], source, target, config.chunk_size);
    if (!chunker.ok()) return chunker.status().WithContext("cut " + plans[i].Name());
    KeyRange range;
    for (;;) {
      Result<bool> more = (*chunker)->Next(&range);
      if (!more.ok()) return more.status().WithContext("cut " + plans[i].Name());
      if (!*more) break;
      if (!queue->Push(Task{i, seq++, std::move(range)})) return Status::OK();
    }
    report->TableEnd(seq++, i);
  }
  return Status::OK();
}

void PrintSummary(const Summary& s, double seconds, std::ostream* out) {
  *out << fmt::format(
      "sync-diff: {} tables: {} equal, {} differ ({} only in the source, {} only in the target, "
      "{} with other columns, {} with other rows)\n"
      "sync-diff: {} rows checked in {} chunks, {} chunks re-read; {} tables equal by CHECKSUM "
      "TABLE (about {} rows)\n"
      "sync-diff: rows: {} missing in the target, {} extra, {} changed ({:.1f} s)\n",
      s.tables, s.equal, s.tables - s.equal, s.only_source, s.only_target, s.other_columns,
      s.other_rows, s.rows, s.chunks, s.reread, s.whole, s.whole_rows, s.missing, s.extra,
      s.changed, seconds);
}

// The workers, each with its own pair of connections, checking what the producer cuts.
Status CheckAll(const SyncDiffConfig& config, const std::vector<TablePlan>& plans,
                mysql::Connection* source, mysql::Connection* target, Report* report) {
  std::vector<std::unique_ptr<Checker>> checkers;
  for (int i = 0; i < config.threads; ++i) {
    ASSIGN_OR_RETURN(auto c, Checker::Open(config));
    checkers.push_back(std::move(c));
  }
  Counters counters;
  TaskQueue queue(static_cast<size_t>(config.threads) * 4);
  FirstError error;
  std::vector<std::thread> workers;
  for (auto& checker : checkers) {
    workers.emplace_back([&, c = checker.get()] {
      Task task;
      while (queue.Pop(&task)) {
        ChunkOutcome outcome;
        Status st = c->Check(plans[task.table], task.range, &outcome);
        if (!st.ok()) {
          error.Set(st.WithContext("check " + plans[task.table].Name()));
          queue.Abort();
          return;
        }
        counters.rows += outcome.rows;
        counters.chunks += outcome.chunks;
        counters.reread += outcome.reread;
        report->Chunk(task.seq, task.table, std::move(outcome));
      }
    });
  }
  Progress progress(plans, counters, *report, config.progress_seconds);
  Status st = Produce(plans, source, target, config, &queue, report, &counters);
  if (st.ok()) {
    queue.Close();
  } else {
    error.Set(st);
    queue.Abort();
  }
  for (std::thread& w : workers) w.join();
  return error.Get();
}

std::string Endpoint(const mysql::ConnectOptions& o) {
  return fmt::format("{}:{}", o.host, o.port);
}

}  // namespace

Result<Summary> Run(const SyncDiffConfig& config, std::ostream* out) {
  const auto begin = Clock::now();
  ASSIGN_OR_RETURN(replay::Filter filter, replay::Filter::Make(config.filter));
  ASSIGN_OR_RETURN(auto source, OpenServer(config.source, "source"));
  ASSIGN_OR_RETURN(auto target, OpenServer(config.target, "target"));
  LOG_INFO("comparing", KV("source", Endpoint(config.source)),
           KV("target", Endpoint(config.target)), KV("chunk-size", config.chunk_size),
           KV("threads", config.threads));
  ASSIGN_OR_RETURN(const std::vector<TablePlan> plans,
                   PlanTables(source.get(), target.get(), filter));
  if (plans.empty()) LOG_WARN("no table on either server passes the filters");

  // Written aside and renamed at the end: a run that stops half way leaves no fix to apply.
  const std::string fix_tmp = config.fix_sql + ".tmp";
  std::ofstream fix;
  if (!config.fix_sql.empty()) {
    fix.open(fix_tmp, std::ios::trunc);
    if (!fix) {
      return Status::InvalidArgument(
          fmt::format("cannot write the fix SQL file {}: {}", fix_tmp, std::strerror(errno)));
    }
    fix << FixSqlHeader(Endpoint(config.source), Endpoint(config.target));
  }
  Report report(&plans, out, fix.is_open() ? &fix : nullptr);
  if (Status st = CheckAll(config, plans, source.get(), target.get(), &report); !st.ok()) {
    if (fix.is_open()) {
      fix.close();
      std::remove(fix_tmp.c_str());
    }
    return st;
  }
  if (fix.is_open()) {
    fix.close();
    if (!fix || std::rename(fix_tmp.c_str(), config.fix_sql.c_str()) != 0) {
      return Status::IOError(fmt::format("cannot write the fix SQL file {}: {}", config.fix_sql,
                                         std::strerror(errno)));
    }
  }
  const Summary s = report.summary();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  PrintSummary(s, seconds, out);
  LOG_INFO("sync-diff finished", KV("tables", s.tables), KV("equal", s.equal), KV("rows", s.rows),
           KV("chunks", s.chunks), KV("reread", s.reread), KV("whole-table", s.whole),
           KV("seconds", seconds));
  return s;
}

int ExitCode(const Result<Summary>& result) {
  if (!result.ok()) return 2;
  return result->equal_all() ? 0 : 1;
}

}  // namespace binlog::syncdiff
