// The report's lines and the fix SQL, in order.
#include "sync-diff/report.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace binlog::syncdiff {

void Report::TableStart(uint64_t seq, size_t table) { Add(seq, Event{Kind::kStart, table, {}}); }

void Report::Chunk(uint64_t seq, size_t table, ChunkOutcome outcome) {
  Add(seq, Event{Kind::kChunk, table, std::move(outcome)});
}

void Report::TableEnd(uint64_t seq, size_t table) { Add(seq, Event{Kind::kEnd, table, {}}); }

Summary Report::summary() const {
  std::lock_guard<std::mutex> g(mu_);
  return summary_;
}

uint64_t Report::tables_done() const {
  std::lock_guard<std::mutex> g(mu_);
  return summary_.tables;
}

void Report::Add(uint64_t seq, Event e) {
  std::lock_guard<std::mutex> g(mu_);
  waiting_.emplace(seq, std::move(e));
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_;
       it = waiting_.erase(it), ++next_) {
    Write(it->second);
  }
  out_->flush();
}

void Report::Write(const Event& e) {
  const TablePlan& t = (*plans_)[e.table];
  switch (e.kind) {
    case Kind::kStart:
      table_ = ChunkOutcome{};
      return;
    case Kind::kChunk:
      if (t.key.empty() && !e.outcome.table_checksum_equal) {
        *out_ << t.Name()
              << ": no primary key or unique key on NOT NULL columns: compared whole, ordered "
                 "by every column\n";
      }
      table_.table_checksum_equal |= e.outcome.table_checksum_equal;
      table_.estimated_rows += e.outcome.estimated_rows;
      *out_ << e.outcome.text;
      if (fix_ != nullptr) *fix_ << e.outcome.deletes << e.outcome.writes;
      table_.rows += e.outcome.rows;
      table_.chunks += e.outcome.chunks;
      table_.reread += e.outcome.reread;
      table_.missing += e.outcome.missing;
      table_.extra += e.outcome.extra;
      table_.changed += e.outcome.changed;
      return;
    case Kind::kEnd:
      WriteEnd(t, table_);
      table_ = ChunkOutcome{};
      return;
  }
}

void Report::WriteEnd(const TablePlan& t, const ChunkOutcome& sum) {
  Summary& s = summary_;
  s.tables++;
  std::string line;
  switch (t.state) {
    case TablePlan::State::kOnlySource:
      s.only_source++;
      line = "only in the source (missing in the target)";
      break;
    case TablePlan::State::kOnlyTarget:
      s.only_target++;
      line = "only in the target (extra in the target)";
      break;
    case TablePlan::State::kColumnsDiffer:
      s.other_columns++;
      line = "the definitions differ, rows not compared: " + t.detail;
      break;
    case TablePlan::State::kCompare:
      if (sum.table_checksum_equal) {
        s.equal++;
        s.whole++;
        s.whole_rows += sum.estimated_rows;
        line = fmt::format("equal (CHECKSUM TABLE, about {} rows)", sum.estimated_rows);
        break;
      }
      s.rows += sum.rows;
      s.chunks += sum.chunks;
      s.reread += sum.reread;
      s.missing += sum.missing;
      s.extra += sum.extra;
      s.changed += sum.changed;
      const uint64_t differ = sum.missing + sum.extra + sum.changed;
      (differ == 0 ? s.equal : s.other_rows)++;
      line = differ == 0 ? "equal"
                         : fmt::format("differs: {} missing in the target, {} extra, {} changed",
                                       sum.missing, sum.extra, sum.changed);
      line += fmt::format(" ({} rows in {} chunks, {} re-read)", sum.rows, sum.chunks, sum.reread);
      break;
  }
  *out_ << t.Name() << ": " << line << "\n";
  if (t.state != TablePlan::State::kCompare) {
    if (fix_ != nullptr) *fix_ << "-- " << t.Name() << ": " << line << ": not fixed\n";
    LOG_WARN("table differs", KV("table", t.Name()), KV("how", line));
  } else if (sum.missing + sum.extra + sum.changed > 0) {
    LOG_WARN("table differs", KV("table", t.Name()), KV("missing", sum.missing),
             KV("extra", sum.extra), KV("changed", sum.changed));
  }
}

}  // namespace binlog::syncdiff
