// The MariaDB/MySQL destination: each group of transactions is one downstream transaction that
// also records them as applied (progress.h), so a restart or a retry skips exactly what
// committed.
#include "replay/mysql_sink.h"

#include <errmsg.h>
#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <mutex>

#include "common/logging.h"
#include "common/text.h"
#include "replay/sql.h"

namespace binlog::replay {

namespace {

// Errors a DDL gives when it already ran (a restart between the DDL and its record).
bool AlreadyDone(unsigned err) {
  switch (err) {
    case ER_TABLE_EXISTS_ERROR:
    case ER_BAD_TABLE_ERROR:
    case ER_DB_CREATE_EXISTS:
    case ER_DB_DROP_EXISTS:
    case ER_DUP_FIELDNAME:
    case ER_DUP_KEYNAME:
    case ER_CANT_DROP_FIELD_OR_KEY:
    case ER_NO_SUCH_TABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool ConnectionGone(unsigned err) {
  return err == CR_SERVER_LOST || err == CR_SERVER_GONE_ERROR || err == CR_CONNECTION_ERROR ||
         err == CR_CONN_HOST_ERROR || err == ER_SERVER_SHUTDOWN || err == ER_CONNECTION_KILLED ||
         err == CR_COMMANDS_OUT_OF_SYNC;
}

Status MysqlWorker::Connected() {
  if (conn_) return Status::OK();
  ASSIGN_OR_RETURN(conn_, mysql::Connection::Open(sink_->options().connect));
  return Status::OK();
}

// A lost connection is opened again at the next call.
Status MysqlWorker::Failed(const Status& s) {
  if (conn_) {
    if (ConnectionGone(conn_->last_errno()) || s.IsIOError()) {
      conn_.reset();
    } else {
      conn_->Execute("ROLLBACK").IgnoreError();
    }
  }
  return s;
}

Status MysqlWorker::Plan(std::span<const pb::Binlog* const> txns, bool merge,
                         std::vector<PlannedStatement>* plan) {
  SqlOptions options;
  options.safe_mode = sink_->options().safe_mode;
  RETURN_IF_ERROR(PlanGroup(
      txns, [this](const pb::TableChanges& t) { return sink_->Table(t); }, options, merge, plan));
  if (sink_->options().track_progress) {
    PlannedStatement record;
    record.statement.sql = AppliedRecordSql(sink_->options().task, txns);
    record.commit_ts = static_cast<uint64_t>(txns.back()->commit_ts());
    plan->push_back(std::move(record));
  }
  return Status::OK();
}

// One downstream transaction, committed only when every UPDATE and DELETE matched its rows (a
// count that does not hold is InvalidArgument, named by Diagnose). One round trip when nothing
// needs counting, two otherwise. `begun`: the transaction is open already.
Status MysqlWorker::Run(const std::vector<PlannedStatement>& plan, bool begun) {
  if (plan.empty()) return conn_->Execute(begun ? "COMMIT" : "START TRANSACTION; COMMIT");
  const bool counted = std::any_of(plan.begin(), plan.end(), [](const PlannedStatement& p) {
    return p.statement.rows != 0;
  });
  size_t total = 0;
  for (const PlannedStatement& p : plan) total += p.statement.sql.size() + 2;
  std::vector<uint64_t> affected;
  if (total <= kOneQueryBytes) {
    std::string all = begun ? "" : "START TRANSACTION";
    for (const PlannedStatement& p : plan) {
      if (!all.empty()) all.append("; ");
      all.append(p.statement.sql);
    }
    if (!counted) return conn_->Execute(all + "; COMMIT");
    RETURN_IF_ERROR(conn_->Execute(all, &affected));
    if (!begun) affected.erase(affected.begin());  // START TRANSACTION's
  } else {
    if (!begun) RETURN_IF_ERROR(conn_->Execute("START TRANSACTION"));
    for (const PlannedStatement& p : plan) {
      RETURN_IF_ERROR(conn_->Execute(p.statement.sql));
      affected.push_back(conn_->affected_rows());
    }
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    const uint64_t want = plan[i].statement.rows;
    if (want != 0 && (i >= affected.size() || affected[i] != want)) {
      return Status::InvalidArgument("a statement did not match the rows it changes");
    }
  }
  return conn_->Execute("COMMIT");
}

// Runs the group again, transaction by transaction and statement by statement, to name the
// statement the server refuses or that misses rows, and rolls back: the group is applied whole
// or not at all.
Status MysqlWorker::Diagnose(std::span<const pb::Binlog* const> txns, const Status& first) {
  std::vector<PlannedStatement> plan;
  if (!Plan(txns, false, &plan).ok() || !conn_ || !conn_->Execute("START TRANSACTION").ok()) {
    return first;
  }
  for (const PlannedStatement& p : plan) {
    std::vector<uint64_t> affected;
    Status s = conn_->Execute(p.statement.sql, &affected);
    const uint64_t want = p.statement.rows;
    if (s.ok() && want != 0 && (affected.empty() || affected[0] != want)) {
      s = Status::InvalidArgument(fmt::format(
          "the destination has {} of the {} rows this statement changes: it is not what the "
          "source was when the binlog was written (-safe-mode applies the change regardless) "
          "in: {}",
          affected.empty() ? 0 : affected[0], want, mysql::ElideStatement(p.statement.sql)));
    }
    if (s.ok()) continue;
    conn_->Execute("ROLLBACK").IgnoreError();
    return s.WithContext(
        p.table.empty()
            ? fmt::format("recording commit ts up to {} as applied", p.commit_ts)
            : fmt::format("commit ts {}, table {}", p.commit_ts, Printable(p.table)));
  }
  conn_->Execute("ROLLBACK").IgnoreError();
  return first;
}

// Opens a transaction with the group's record of what it applies: true (and rolled back) when
// the record is there already, i.e. an attempt whose answer was lost did commit. An attempt
// still running on the server holds the record's row: the insert waits for it.
Result<bool> MysqlWorker::RecordedBefore(const std::string& record) {
  Status s = conn_->Execute("START TRANSACTION; " + record);
  if (s.ok()) return false;
  const bool recorded = conn_->last_errno() == ER_DUP_ENTRY;
  Failed(s).IgnoreError();
  if (recorded) return true;
  return s;
}

Status MysqlWorker::Apply(std::span<const pb::Binlog* const> txns) {
  std::vector<PlannedStatement> plan;
  RETURN_IF_ERROR(Plan(txns, true, &plan));
  RETURN_IF_ERROR(Connected());
  bool begun = false;
  if (answer_lost_ && sink_->options().track_progress) {
    Result<bool> recorded = RecordedBefore(plan.back().statement.sql);
    answer_lost_ = !recorded.ok() && recorded.status().IsIOError();
    RETURN_IF_ERROR(recorded.status());
    if (*recorded) {
      LOG_INFO("a group whose answer was lost had been applied",
               KV("commit-ts-from", txns.front()->commit_ts()),
               KV("commit-ts-to", txns.back()->commit_ts()));
      return Status::OK();
    }
    plan.pop_back();
    begun = true;
  }
  Status s = Run(plan, begun);
  answer_lost_ = s.IsIOError();
  if (s.ok()) return s;
  Failed(s).IgnoreError();
  if (s.IsIOError() || !conn_) return s;
  return Diagnose(txns, s);
}

Status MysqlWorker::ApplyDdl(const pb::Binlog& binlog) {
  RETURN_IF_ERROR(Connected());
  const auto ts = static_cast<uint64_t>(binlog.commit_ts());
  const bool track = sink_->options().track_progress;
  if (track) {
    Status mark = conn_->Execute(DdlUnderWaySql(sink_->options().task, ts));
    if (!mark.ok()) return Failed(mark);
  }
  if (!binlog.ddl_schema().empty()) {
    std::string use = "USE ";
    AppendIdentifier(binlog.ddl_schema(), &use);
    Status s = conn_->Execute(use);
    // CREATE DATABASE of the database it ran in, or one dropped later: the statement names its
    // tables itself then.
    if (!s.ok() && conn_->last_errno() != ER_BAD_DB_ERROR) return Failed(s);
  }
  Status s = conn_->Execute(binlog.ddl_query());
  if (!s.ok()) {
    // Safe mode replays over a backup, which may hold what a DDL makes already; an interrupted
    // run or an attempt whose answer was lost may have run it.
    const bool resumed = ts == sink_->resumed_ddl_ts() || ts == ddl_answer_lost_ts_;
    if (!(resumed || sink_->options().safe_mode) || !AlreadyDone(conn_->last_errno())) {
      if (s.IsIOError()) ddl_answer_lost_ts_ = ts;
      return Failed(s);  // the engine names the commit ts
    }
    LOG_WARN(resumed ? "the DDL an interrupted attempt started had already run; taken as applied"
                     : "safe mode: the destination already holds what the DDL makes; taken as "
                       "applied",
             KV("commit-ts", ts), KV("error", s));
  }
  sink_->schemas().InvalidateAll();
  if (track && binlog.tables_size() == 0) {
    const pb::Binlog* one[] = {&binlog};
    Status r = conn_->Execute("START TRANSACTION; " + AppliedRecordSql(sink_->options().task, one) + "; COMMIT");
    if (!r.ok() && conn_->last_errno() == ER_DUP_ENTRY && ts == ddl_answer_lost_ts_) {
      Failed(r).IgnoreError();  // an attempt whose answer was lost recorded it
    } else if (!r.ok()) {
      if (r.IsIOError()) ddl_answer_lost_ts_ = ts;
      return Failed(r);
    }
  }
  ddl_answer_lost_ts_ = 0;
  return Status::OK();
}

Result<std::unique_ptr<Sink>> NewMysqlSink(const MysqlSinkOptions& options) {
  auto sink = std::make_unique<MysqlSink>(options);
  RETURN_IF_ERROR(sink->Open());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace binlog::replay
