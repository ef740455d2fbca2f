#include "reparo/run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/logging.h"
#include "common/text.h"
#include "common/tso.h"
#include "reparo/window.h"
#include "replay/replay.h"
#include "segment/format.h"

namespace binlog::reparo {

namespace {

using Clock = std::chrono::steady_clock;

std::string When(uint64_t ts) {
  if (ts == 0) return "the beginning";
  if (ts == UINT64_MAX) return "the end";
  Result<std::string> text = FormatTSDatetime(ts);
  return text.ok() ? fmt::format("{} ({})", *text, ts) : std::to_string(ts);
}

// A flashback undoes a transaction: its tables and changes in reverse, each inverted.
void Invert(pb::Binlog* b) {
  auto* tables = b->mutable_tables();
  std::reverse(tables->begin(), tables->end());
  for (pb::TableChanges& t : *tables) {
    auto* mutations = t.mutable_mutations();
    std::reverse(mutations->begin(), mutations->end());
    for (pb::TableMutation& m : *mutations) {
      if (m.type() == pb::INSERT) {
        m.set_type(pb::DELETE);
      } else if (m.type() == pb::DELETE) {
        m.set_type(pb::INSERT);
      } else {
        m.mutable_row()->Swap(m.mutable_before());
      }
    }
  }
}

// Prints where the run is, once a second on a terminal (one line, rewritten), every ten seconds
// as a log line otherwise. "At" is what is applied, not what is read: reading runs ahead by up
// to the engine's pending limit.
class Progress {
 public:
  Progress(const replay::Engine* engine, uint64_t from, uint64_t to, bool backward)
      : engine_(engine), from_(from), to_(to), backward_(backward), tty_(isatty(2) == 1) {
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
      replay::EngineStats st = engine_->Stats();
      double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
      const uint64_t at = st.applied_through_ts;
      double done = 0;
      if (to_ > from_ && at != 0) {
        double span = static_cast<double>(to_ - from_);
        double gone = backward_ ? static_cast<double>(to_ - std::min(at, to_))
                                : static_cast<double>(std::max(at, from_) - from_);
        done = std::clamp(gone / span, 0.0, 1.0);
      }
      std::string eta = done > 0.01 ? fmt::format("{:.0f} s", seconds * (1 - done) / done) : "?";
      std::string line = fmt::format(
          "reparo: {} transactions, {} rows, at {}, {:.0f}% of the window, {:.0f} rows/s, ETA {}",
          st.transactions, st.rows, When(at), done * 100, st.rows / std::max(seconds, 0.001), eta);
      if (tty_) {
        std::cerr << "\r" << line << "\x1b[K" << std::flush;
        printed_ = true;
      } else if (Clock::now() - last_log >= std::chrono::seconds(10)) {
        LOG_INFO("replaying", KV("transactions", st.transactions), KV("rows", st.rows),
                 KV("at-ts", at), KV("percent", static_cast<int>(done * 100)), KV("eta", eta));
        last_log = Clock::now();
      }
    }
  }

  const replay::Engine* engine_;
  const uint64_t from_, to_;
  const bool backward_, tty_;
  bool printed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

void PrintSummary(const ReparoConfig& c, const replay::EngineStats& st, uint64_t records,
                  const WindowReader& reader, double seconds) {
  std::string out = fmt::format(
      "reparo: {} {} transactions ({} rows, {} DDL{}) in {:.1f} s, {:.0f} rows/s; {} records read "
      "from {} between {} and {}\n",
      c.flashback ? "undid" : "applied", st.transactions, st.rows, st.ddl,
      st.in_parts > 0 ? fmt::format(", {} in parts", st.in_parts) : "", seconds,
      st.rows / std::max(seconds, 0.001), records, c.data_dir, When(c.start_ts), When(c.stop_ts));
  out += fmt::format("  skipped: {} by the filters, {} applied by an earlier run\n", st.filtered,
                     st.already);
  if (reader.damaged_regions() > 0) {
    out += fmt::format("  damaged input skipped (-skip-corrupt): {} regions, {} bytes\n",
                       reader.damaged_regions(), reader.damaged_bytes());
  }
  if (!st.rows_by_table.empty()) out += "  rows by table:\n";
  for (const auto& [table, rows] : st.rows_by_table) {
    out += fmt::format("    {}  {}\n", Printable(table), rows);
  }
  std::cerr << out;
  LOG_INFO("reparo finished", KV("transactions", st.transactions), KV("rows", st.rows),
           KV("ddl", st.ddl), KV("filtered", st.filtered), KV("already", st.already),
           KV("seconds", seconds), KV("progress-ts", st.progress_ts));
}

// The archive ends inside a transaction (copied while it was written): none of it is applied.
void WarnCut(const CutTransaction& cut) {
  LOG_WARN(
      "the archive ends inside a transaction: it is not applied (the archive was copied "
      "while it was written?)",
      KV("commit-ts", cut.commit_ts), KV("at", When(cut.commit_ts)), KV("parts-present", cut.parts),
      KV("segment", cut.segment));
  std::cerr << fmt::format(
      "reparo: warning: the archive ends inside the transaction at {}: {} of its parts are in "
      "{}, not its last; it is not applied\n",
      When(cut.commit_ts), cut.parts, cut.segment);
}

RunResult Bad(Status s) { return RunResult{Outcome::kBadInput, std::move(s)}; }
RunResult Failed(Status s) { return RunResult{Outcome::kFailed, std::move(s)}; }

// The engine's error: a change the destination refuses for good is the input's fault.
RunResult FromApply(Status s) {
  return s.IsInvalidArgument() ? Bad(std::move(s)) : Failed(std::move(s));
}

// A flashback undoes row changes only, and cannot know the rows a cascading foreign key
// changed: a DDL in the window refuses it, cascades are warned about.
Status CheckFlashback(const ReparoConfig& c, const replay::Filter& filter) {
  ASSIGN_OR_RETURN(auto reader, ReadForward(c.data_dir, c.start_ts, c.stop_ts, false));
  std::set<std::pair<std::string, std::string>> tables;
  pb::Binlog b;
  segment::PartTag part = segment::kWholeTransaction;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&b, &part));
    if (!more) break;
    if (!b.ddl_query().empty()) {
      return Status::InvalidArgument(fmt::format(
          "-flashback cannot undo DDL, and the window holds one at commit ts {}: \"{}\"; choose "
          "a window after it",
          b.commit_ts(), Printable(b.ddl_query())));
    }
    for (const auto& t : b.tables()) {
      if (filter.Accepts(t.schema_name(), t.table_name())) {
        tables.emplace(t.schema_name(), t.table_name());
      }
    }
  }
  if (c.dest_type != "mysql" || tables.empty()) return Status::OK();
  ASSIGN_OR_RETURN(auto conn, mysql::Connection::Open(c.dest));
  for (const auto& [db, table] : tables) {
    std::string db_lit = "'" + conn->Escape(db) + "'";
    std::string table_lit = "'" + conn->Escape(table) + "'";
    ASSIGN_OR_RETURN(auto rows, conn->Query(fmt::format(
                                    "SELECT CONSTRAINT_NAME, TABLE_NAME FROM "
                                    "information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                                    "UNIQUE_CONSTRAINT_SCHEMA = {} AND REFERENCED_TABLE_NAME = {} "
                                    "AND (DELETE_RULE <> 'RESTRICT' AND DELETE_RULE <> 'NO ACTION' "
                                    "OR UPDATE_RULE <> 'RESTRICT' AND UPDATE_RULE <> 'NO ACTION')",
                                    db_lit, table_lit)));
    for (const auto& row : rows) {
      std::string msg = fmt::format(
          "table {}.{} is referenced by {} with ON DELETE/UPDATE actions (constraint {}): rows "
          "a cascade changed are in no binlog, and the flashback does not restore them",
          Printable(db), Printable(table), Printable(row[1].value_or("?")),
          Printable(row[0].value_or("?")));
      LOG_WARN("flashback and a cascading foreign key", KV("detail", msg));
      std::cerr << "reparo: warning: " << msg << "\n";
    }
  }
  return Status::OK();
}

}  // namespace

RunResult Run(const ReparoConfig& c) {
  Result<ArchiveRange> range = DescribeArchive(c.data_dir);
  if (!range.ok()) return Bad(range.status());
  Result<replay::Filter> filter = replay::Filter::Make(c.filter);
  if (!filter.ok()) return Bad(filter.status());
  if (c.flashback) {
    if (Status s = CheckFlashback(c, *filter); !s.ok()) {
      return s.IsInvalidArgument() ? Bad(s) : Failed(s);
    }
  }

  std::unique_ptr<replay::Sink> sink;
  if (c.dest_type == "print") {
    sink = replay::NewPrintSink(&std::cout);
  } else {
    replay::MysqlSinkOptions so;
    so.connect = c.dest;
    so.task = c.task;
    so.safe_mode = c.safe_mode;
    so.track_progress = !c.flashback;
    Result<std::unique_ptr<replay::Sink>> opened = replay::NewMysqlSink(so);
    if (!opened.ok()) return Failed(opened.status().WithContext("the destination ([dest-db])"));
    sink = std::move(*opened);
  }
  replay::EngineOptions eo;
  eo.worker_count = c.worker_count;
  eo.txn_batch = c.txn_batch;
  eo.max_retry = c.max_retry;
  eo.split_big_txn = c.split_big_txn;
  Result<std::unique_ptr<replay::Engine>> engine =
      replay::Engine::Start(sink.get(), std::move(*filter), eo);
  if (!engine.ok()) return Failed(engine.status());
  const replay::ResumeState& earlier = (*engine)->resumed();
  const bool has_earlier =
      earlier.low_ts > 0 || !earlier.applied.empty() || earlier.inside.commit_ts != 0;
  if (has_earlier && !c.resume) {
    return Bad(Status::InvalidArgument(fmt::format(
        "the destination holds the progress of an earlier run of task \"{0}\" (everything up to "
        "{1} applied, {2} more after it): -resume continues it; to start over instead, remove "
        "it: DELETE FROM tidb_binlog.replay_progress WHERE task = '{0}'; DELETE FROM "
        "tidb_binlog.replay_applied WHERE task = '{0}'",
        Printable(c.task), When(earlier.low_ts), earlier.applied.size())));
  }
  uint64_t start = c.start_ts;
  if (c.resume && earlier.low_ts >= start) start = earlier.low_ts + 1;
  LOG_INFO("replaying", KV("data-dir", c.data_dir), KV("segments", range->segments),
           KV("from", When(start)), KV("to", When(c.stop_ts)), KV("dest-type", c.dest_type),
           KV("flashback", c.flashback), KV("resume", c.resume),
           KV("earlier-low-ts", earlier.low_ts));

  Result<std::unique_ptr<WindowReader>> reader =
      c.flashback ? ReadBackward(c.data_dir, start, c.stop_ts)
                  : ReadForward(c.data_dir, start, c.stop_ts, c.skip_corrupt);
  if (!reader.ok()) return Bad(reader.status());
  if (c.resume && earlier.inside.commit_ts != 0) {
    (*reader)->SkipParts(earlier.inside.commit_ts, earlier.inside.part);
    LOG_INFO("resuming inside a transaction in parts (split-big-txn)",
             KV("commit-ts", earlier.inside.commit_ts), KV("part", earlier.inside.part),
             KV("row", earlier.inside.row));
  }
  const auto begin = Clock::now();
  Progress progress(engine->get(), std::max(start, range->first_ts),
                    std::min(c.stop_ts, range->last_ts), c.flashback);
  uint64_t records = 0;
  uint64_t commits = 0;  // heartbeats (FAKE) and a pump's PREWRITE/ROLLBACK are not changes
  Status status;
  bool input_failed = false;
  pb::Binlog b;
  segment::PartTag part = segment::kWholeTransaction;
  while (status.ok()) {
    Result<bool> more = (*reader)->Next(&b, &part);
    if (!more.ok()) {
      status = more.status();
      input_failed = true;
      break;
    }
    if (!*more) break;
    ++records;
    if (b.tp() == pb::COMMIT && segment::IsLastPart(part)) ++commits;
    if (c.flashback) Invert(&b);
    status = (*engine)->Submit(std::move(b), part);
    b.Clear();
  }
  // Input that failed inside a transaction in parts: none of it stays (atomic).
  if (input_failed) (*engine)->AbandonTransaction().IgnoreError();
  if (std::optional<CutTransaction> cut = (*reader)->cut()) WarnCut(*cut);
  Status finished = (*engine)->Finish();
  if (status.ok()) status = finished;
  progress.Stop();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  replay::EngineStats st = (*engine)->Stats();
  PrintSummary(c, st, records, **reader, seconds);
  if (!status.ok()) {
    const bool resumable = c.dest_type == "mysql" && !c.flashback;
    // A statement the destination refused is refused again until its cause is dealt with.
    const char* resume_hint = !resumable                ? ""
                              : status.IsInvalidArgument()
                                  ? ": once the cause is dealt with, -resume continues from there"
                                  : ": -resume continues from there";
    Status s = status.WithContext(
        c.flashback ? fmt::format("stopped; everything back to {} is undone",
                                  When(st.applied_through_ts))
                    : fmt::format("stopped; everything up to {} is applied{}",
                                  When(st.progress_ts), resume_hint));
    return input_failed ? Failed(s) : FromApply(s);
  }
  if (commits == 0 && !(c.resume && has_earlier)) {
    return RunResult{
        Outcome::kEmpty,
        Status::NotFound(fmt::format(
            "the window from {} to {} matches no transaction in {}, which holds {} to {}",
            When(c.start_ts), When(c.stop_ts), c.data_dir, When(range->first_ts),
            When(range->last_ts)))};
  }
  return RunResult{};
}

}  // namespace binlog::reparo
