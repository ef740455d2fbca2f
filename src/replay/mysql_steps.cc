// A transaction in parts in the MariaDB/MySQL destination (SinkWorker::ApplyStep): each step's
// statements run in the downstream transaction the worker keeps open until a step commits it,
// with the record of how far the transaction is (split mode) or that it is applied (its end).
// Nothing of a step is held after it returns, so a lost connection with earlier steps in the
// transaction cannot be retried here: the step is Aborted and the transaction is applied again
// from its first part by the next run, which its records say where to start.
#include <fmt/format.h>

#include "common/logging.h"
#include "common/text.h"
#include "mysql/mysql.h"
#include "replay/mysql_sink.h"

namespace binlog::replay {

namespace {

Status RowsMissed(const PlannedStatement& p, uint64_t got) {
  return Status::InvalidArgument(fmt::format(
      "the destination has {} of the {} rows this statement changes: it is not what the source "
      "was when the binlog was written (-safe-mode applies the change regardless) in: {}",
      got, p.statement.rows, mysql::ElideStatement(p.statement.sql)));
}

Status Named(const Status& s, const PlannedStatement& p) {
  return s.WithContext(p.table.empty() ? std::string("recording the transaction's progress")
                                       : fmt::format("table {}", Printable(p.table)));
}

}  // namespace

// The plan in queries of up to kOneQueryBytes (START TRANSACTION first with `begin`, COMMIT
// last with `commit`), each UPDATE and DELETE checked to match its rows before anything after
// it commits.
Status MysqlWorker::RunSteps(const std::vector<PlannedStatement>& plan, bool begin, bool commit) {
  size_t i = 0;
  bool first = true;
  do {
    const bool begins = first && begin;
    std::string query = begins ? "START TRANSACTION" : "";
    const size_t from = i;
    bool counted = false;
    while (i < plan.size() &&
           (i == from || query.size() + plan[i].statement.sql.size() + 2 <= kOneQueryBytes)) {
      if (!query.empty()) query += "; ";
      query += plan[i].statement.sql;
      counted |= plan[i].statement.rows != 0;
      ++i;
    }
    const bool commits = commit && i == plan.size() && !counted;
    if (commits) query += query.empty() ? "COMMIT" : "; COMMIT";
    if (query.empty()) return Status::OK();
    std::vector<uint64_t> affected;
    Status s = conn_->Execute(query, &affected);
    const size_t skip = begins ? 1 : 0;
    if (!s.ok()) {
      const size_t failed = from + (affected.size() > skip ? affected.size() - skip : 0);
      return failed < i && !s.IsIOError() ? Named(s, plan[failed]) : s;
    }
    for (size_t k = from; k < i; ++k) {
      const uint64_t want = plan[k].statement.rows;
      const size_t at = skip + (k - from);
      const uint64_t got = at < affected.size() ? affected[at] : 0;
      if (want != 0 && got != want) return Named(RowsMissed(plan[k], got), plan[k]);
    }
    if (commits) return Status::OK();
    first = false;
  } while (i < plan.size());
  return commit ? conn_->Execute("COMMIT") : Status::OK();
}

// After a transient failure of this step: whether it committed before the answer was lost. A
// locking read waits for an attempt the server is still running. When it did not, the
// transaction the read opened stays open for the step.
Result<bool> MysqlWorker::StepCommitted(uint64_t commit_ts, const Step& step) {
  const std::string& task = sink_->options().task;
  RETURN_IF_ERROR(conn_->Execute("START TRANSACTION"));
  bool committed = false;
  if (step.end == StepEnd::kApplied) {
    ASSIGN_OR_RETURN(auto rows, conn_->Query(ReadAppliedSql(task, commit_ts)));
    committed = !rows.empty();
  } else {
    ASSIGN_OR_RETURN(auto rows, conn_->Query(ReadInsideSql(task)));
    ASSIGN_OR_RETURN(PartPosition at, ParseInside(rows));
    committed =
        at.commit_ts == commit_ts && (at.part > step.reached.part ||
                                      (at.part == step.reached.part && at.row >= step.reached.row));
  }
  if (committed) RETURN_IF_ERROR(conn_->Execute("ROLLBACK"));
  return committed;
}

Status MysqlWorker::ApplyStep(const pb::Binlog& changes, const Step& step) {
  const auto ts = static_cast<uint64_t>(changes.commit_ts());
  const MysqlSinkOptions& options = sink_->options();
  std::vector<PlannedStatement> plan;
  const pb::Binlog* one[] = {&changes};
  SqlOptions sql;
  sql.safe_mode = options.safe_mode;
  RETURN_IF_ERROR(PlanGroup(
      one, [this](const pb::TableChanges& t) { return sink_->Table(t); }, sql, true, &plan));
  if (options.track_progress && step.end != StepEnd::kOpen) {
    auto record = [&](std::string text) {
      PlannedStatement p;
      p.statement.sql = std::move(text);
      p.commit_ts = ts;
      plan.push_back(std::move(p));
    };
    if (step.end == StepEnd::kProgress) record(InsideSql(options.task, step.reached));
    if (step.end == StepEnd::kApplied) {
      record(AppliedRecordSql(options.task, one));
      if (step.clears_inside) record(ClearInsideSql(options.task, ts));
    }
  }
  const StepLost lost = std::exchange(step_lost_, StepLost::kNo);
  bool begun = open_steps_ > 0;
  if (lost != StepLost::kNo) {
    RETURN_IF_ERROR(Connected());
    const bool checkable = options.track_progress && step.end != StepEnd::kOpen;
    Result<bool> committed = checkable ? StepCommitted(ts, step) : false;
    if (!committed.ok()) {
      if (committed.status().IsIOError()) step_lost_ = lost;
      return Failed(committed.status());
    }
    if (*committed) {
      LOG_INFO("a step of a transaction in parts whose answer was lost had committed",
               KV("commit-ts", ts), KV("part", step.part));
      return Status::OK();
    }
    if (lost == StepLost::kWithEarlier) {
      Failed(Status::OK()).IgnoreError();
      return Status::Aborted(fmt::format(
          "the connection was lost as part {} was to commit the transaction, and it did not: "
          "the server rolled back its earlier parts, which are not held; the transaction is "
          "applied again from its first part by the next run",
          step.part));
    }
    begun = checkable;
  }
  RETURN_IF_ERROR(Connected());
  const bool commit = step.end != StepEnd::kOpen;
  Status s = RunSteps(plan, !begun, commit);
  if (s.ok()) {
    open_steps_ = commit ? 0 : open_steps_ + 1;
    return s;
  }
  const bool earlier = open_steps_ > 0;
  open_steps_ = 0;
  Failed(s).IgnoreError();
  if (!s.IsIOError()) return s;
  if (!earlier) {
    step_lost_ = StepLost::kFresh;
    return s;
  }
  if (commit && options.track_progress) {
    step_lost_ = StepLost::kWithEarlier;
    return s;
  }
  return Status::Aborted(fmt::format(
      "the connection was lost in part {} of the transaction, with its earlier parts: the "
      "server rolled them back, and they are not held; the transaction is applied again from "
      "its first part by the next run ({})",
      step.part, s.message()));
}

void MysqlWorker::RollbackSteps() {
  if (conn_ && open_steps_ > 0) conn_->Execute("ROLLBACK").IgnoreError();
  open_steps_ = 0;
  step_lost_ = StepLost::kNo;
}

}  // namespace binlog::replay
