// The MariaDB/MySQL destination: each group of transactions is one downstream transaction that
// also records them in tidb_binlog.replay_applied; replay_progress keeps the low ts below which
// everything is applied (and the DDL under way), so a restart skips exactly what committed.
#include <errmsg.h>
#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <mutex>

#include "common/logging.h"
#include "common/text.h"
#include "replay/replay.h"
#include "replay/schema.h"
#include "replay/sql.h"

namespace binlog::replay {

namespace {

constexpr char kCreateProgress[] =
    "CREATE DATABASE IF NOT EXISTS tidb_binlog; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_progress ("
    "task VARCHAR(128) NOT NULL PRIMARY KEY, "
    "low_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "ddl_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
    ") ENGINE = InnoDB; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_applied ("
    "task VARCHAR(128) NOT NULL, commit_ts BIGINT UNSIGNED NOT NULL, "
    "PRIMARY KEY (task, commit_ts)) ENGINE = InnoDB";

// Statements of one group sent as one multi-statement query up to this size (one round trip);
// a larger group goes statement by statement.
constexpr size_t kOneQueryBytes = 4 << 20;

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

bool ConnectionGone(unsigned err) {
  return err == CR_SERVER_LOST || err == CR_SERVER_GONE_ERROR || err == CR_CONNECTION_ERROR ||
         err == CR_CONN_HOST_ERROR || err == ER_SERVER_SHUTDOWN || err == ER_CONNECTION_KILLED ||
         err == CR_COMMANDS_OUT_OF_SYNC;
}

std::string Literal(std::string_view text) {
  std::string out;
  pb::Value v;
  v.set_string_value(std::string(text));
  AppendLiteral(v, &out).IgnoreError();
  return out;
}

class MysqlSink;

class MysqlWorker : public SinkWorker {
 public:
  explicit MysqlWorker(MysqlSink* sink) : sink_(sink) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override;
  Status ApplyDdl(const pb::Binlog& binlog) override;

 private:
  // What each statement of a group applies, for messages.
  struct Origin {
    uint64_t commit_ts = 0;
    std::string table;  // "db.table"; empty for the progress record
  };
  Status Connected();
  Status Plan(std::span<const pb::Binlog* const> txns, std::vector<std::string>* sql,
              std::vector<Origin>* origins);
  Status Run(const std::vector<std::string>& sql, bool begun);
  Result<bool> RecordedBefore(const std::string& record);
  Status Diagnose(const std::vector<std::string>& sql, const std::vector<Origin>& origins,
                  const Status& first);
  Status Failed(const Status& s);

  MysqlSink* sink_;
  std::unique_ptr<mysql::Connection> conn_;
  // The last Apply failed transiently, perhaps after its COMMIT ran: the answer may be all that
  // was lost.
  bool answer_lost_ = false;
  // The DDL whose last attempt failed transiently (0: none): it may have run.
  uint64_t ddl_answer_lost_ts_ = 0;
};

class MysqlSink : public Sink {
 public:
  explicit MysqlSink(const MysqlSinkOptions& options)
      : options_(options), schemas_([this](std::string_view sql) { return MetaQuery(sql); }) {
    options_.connect.init_statements.insert(
        options_.connect.init_statements.begin(),
        {"SET SESSION time_zone = '+00:00'",
         "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
         "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"});
  }

  Status Open() {
    ASSIGN_OR_RETURN(meta_, mysql::Connection::Open(options_.connect));
    if (options_.track_progress) RETURN_IF_ERROR(meta_->Execute(kCreateProgress));
    return Status::OK();
  }

  int MaxWorkers() const override { return options_.max_workers; }

  Result<std::unique_ptr<SinkWorker>> NewWorker() override {
    auto w = std::make_unique<MysqlWorker>(this);
    return std::unique_ptr<SinkWorker>(std::move(w));
  }

  Status ConflictKeys(const pb::Binlog& binlog, std::vector<ConflictKey>* out) override {
    for (const pb::TableChanges& t : binlog.tables()) {
      Result<std::shared_ptr<const TableSchema>> table = Table(t);
      RETURN_IF_ERROR(table.status());
      replay::ConflictKeys(t, **table, out);
    }
    std::sort(out->begin(), out->end(), [](const ConflictKey& a, const ConflictKey& b) {
      return a.key != b.key ? a.key < b.key : a.exclusive > b.exclusive;
    });
    out->erase(
        std::unique(out->begin(), out->end(),
                    [](const ConflictKey& a, const ConflictKey& b) { return a.key == b.key; }),
        out->end());
    return Status::OK();
  }

  Result<ResumeState> LoadResume() override {
    ResumeState state;
    if (!options_.track_progress) return state;
    std::lock_guard<std::mutex> g(meta_mu_);
    ASSIGN_OR_RETURN(auto rows, MetaQueryLocked(fmt::format(
                                    "SELECT low_ts, ddl_ts FROM tidb_binlog.replay_progress "
                                    "WHERE task = {}",
                                    Literal(options_.task))));
    if (!rows.empty()) {
      state.low_ts = std::stoull(rows[0][0].value_or("0"));
      resumed_ddl_ts_ = std::stoull(rows[0][1].value_or("0"));
    }
    ASSIGN_OR_RETURN(auto applied,
                     MetaQueryLocked(fmt::format("SELECT commit_ts FROM tidb_binlog.replay_applied "
                                                 "WHERE task = {} AND commit_ts > {}",
                                                 Literal(options_.task), state.low_ts)));
    for (const auto& row : applied) state.applied.insert(std::stoull(row[0].value_or("0")));
    return state;
  }

  Status AdvanceLow(uint64_t ts) override {
    if (!options_.track_progress) return Status::OK();
    std::lock_guard<std::mutex> g(meta_mu_);
    std::string task = Literal(options_.task);
    RETURN_IF_ERROR(MetaConnected());
    return MetaFailed(meta_->Execute(fmt::format(
        "START TRANSACTION; "
        "INSERT INTO tidb_binlog.replay_progress (task, low_ts) VALUES ({0}, {1}) "
        "ON DUPLICATE KEY UPDATE low_ts = GREATEST(low_ts, VALUES(low_ts)); "
        "DELETE FROM tidb_binlog.replay_applied WHERE task = {0} AND commit_ts <= {1}; COMMIT",
        task, ts)));
  }

  Result<std::shared_ptr<const TableSchema>> Table(const pb::TableChanges& t) {
    Result<std::shared_ptr<const TableSchema>> table =
        schemas_.Get(t.schema_name(), t.table_name());
    if (table.status().IsNotFound()) return Status::InvalidArgument(table.status().message());
    return table;
  }

  const MysqlSinkOptions& options() const { return options_; }
  SchemaCache& schemas() { return schemas_; }
  uint64_t resumed_ddl_ts() const { return resumed_ddl_ts_; }
  std::string ProgressRecord(std::span<const pb::Binlog* const> txns) const {
    std::string sql = "INSERT INTO tidb_binlog.replay_applied (task, commit_ts) VALUES ";
    std::string task = Literal(options_.task);
    for (size_t i = 0; i < txns.size(); ++i) {
      fmt::format_to(std::back_inserter(sql), "{}({}, {})", i > 0 ? ", " : "", task,
                     static_cast<uint64_t>(txns[i]->commit_ts()));
    }
    return sql;
  }

 private:
  Result<std::vector<std::vector<std::optional<std::string>>>> MetaQuery(std::string_view sql) {
    std::lock_guard<std::mutex> g(meta_mu_);
    return MetaQueryLocked(sql);
  }

  // The meta connection is opened again after a transient failure (the destination restarted),
  // as the workers' are. REQUIRES: meta_mu_ for these three.
  Status MetaConnected() {
    if (meta_) return Status::OK();
    ASSIGN_OR_RETURN(meta_, mysql::Connection::Open(options_.connect));
    return Status::OK();
  }
  Status MetaFailed(Status s) {
    if (s.IsIOError()) meta_.reset();
    return s;
  }
  Result<std::vector<std::vector<std::optional<std::string>>>> MetaQueryLocked(
      std::string_view sql) {
    RETURN_IF_ERROR(MetaConnected());
    auto rows = meta_->Query(sql);
    if (!rows.ok()) return MetaFailed(rows.status());
    return rows;
  }

  MysqlSinkOptions options_;
  std::mutex meta_mu_;  // meta_: information_schema reads and progress writes
  std::unique_ptr<mysql::Connection> meta_;
  SchemaCache schemas_;
  uint64_t resumed_ddl_ts_ = 0;  // a DDL an earlier run started and may not have recorded
};

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

Status MysqlWorker::Plan(std::span<const pb::Binlog* const> txns, std::vector<std::string>* sql,
                         std::vector<Origin>* origins) {
  SqlOptions options;
  options.safe_mode = sink_->options().safe_mode;
  for (const pb::Binlog* b : txns) {
    for (const pb::TableChanges& t : b->tables()) {
      ASSIGN_OR_RETURN(auto table, sink_->Table(t));
      Status s = BuildStatements(t, *table, options, sql);
      if (!s.ok()) {
        return s.WithContext(fmt::format("commit ts {}, table `{}`.`{}`", b->commit_ts(),
                                         Printable(t.schema_name()), Printable(t.table_name())));
      }
      origins->resize(sql->size(), Origin{static_cast<uint64_t>(b->commit_ts()),
                                          t.schema_name() + "." + t.table_name()});
    }
  }
  if (sink_->options().track_progress) {
    sql->push_back(sink_->ProgressRecord(txns));
    origins->push_back(Origin{static_cast<uint64_t>(txns.back()->commit_ts()), ""});
  }
  return Status::OK();
}

// `begun`: the transaction is open already.
Status MysqlWorker::Run(const std::vector<std::string>& sql, bool begun) {
  size_t total = 0;
  for (const std::string& s : sql) total += s.size() + 2;
  if (total <= kOneQueryBytes) {
    std::string all = begun ? "" : "START TRANSACTION; ";
    for (const std::string& s : sql) {
      all.append(s);
      all.append("; ");
    }
    all.append("COMMIT");
    return conn_->Execute(all);
  }
  if (!begun) RETURN_IF_ERROR(conn_->Execute("START TRANSACTION"));
  for (const std::string& s : sql) RETURN_IF_ERROR(conn_->Execute(s));
  return conn_->Execute("COMMIT");
}

// Runs the group again statement by statement to name the one the server refuses, and rolls
// back: the group is applied whole or not at all.
Status MysqlWorker::Diagnose(const std::vector<std::string>& sql,
                             const std::vector<Origin>& origins, const Status& first) {
  if (!conn_ || !conn_->Execute("START TRANSACTION").ok()) return first;
  for (size_t i = 0; i < sql.size(); ++i) {
    Status s = conn_->Execute(sql[i]);
    if (s.ok()) continue;
    conn_->Execute("ROLLBACK").IgnoreError();
    const Origin& o = origins[i];
    std::string what = o.table.empty()
                           ? fmt::format("recording commit ts up to {} as applied", o.commit_ts)
                           : fmt::format("commit ts {}, table {}", o.commit_ts, Printable(o.table));
    return s.WithContext(what);
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
  std::vector<std::string> sql;
  std::vector<Origin> origins;
  RETURN_IF_ERROR(Plan(txns, &sql, &origins));
  RETURN_IF_ERROR(Connected());
  bool begun = false;
  if (answer_lost_ && sink_->options().track_progress) {
    Result<bool> recorded = RecordedBefore(sql.back());
    answer_lost_ = !recorded.ok() && recorded.status().IsIOError();
    RETURN_IF_ERROR(recorded.status());
    if (*recorded) {
      LOG_INFO("a group whose answer was lost had been applied",
               KV("commit-ts-from", txns.front()->commit_ts()),
               KV("commit-ts-to", txns.back()->commit_ts()));
      return Status::OK();
    }
    sql.pop_back();
    origins.pop_back();
    begun = true;
  }
  Status s = Run(sql, begun);
  answer_lost_ = s.IsIOError();
  if (s.ok()) return s;
  Failed(s).IgnoreError();
  if (s.IsIOError() || !conn_) return s;
  return Diagnose(sql, origins, s);
}

Status MysqlWorker::ApplyDdl(const pb::Binlog& binlog) {
  RETURN_IF_ERROR(Connected());
  const auto ts = static_cast<uint64_t>(binlog.commit_ts());
  const bool track = sink_->options().track_progress;
  const std::string task = Literal(sink_->options().task);
  if (track) {
    Status mark = conn_->Execute(
        fmt::format("INSERT INTO tidb_binlog.replay_progress (task, ddl_ts) VALUES ({0}, {1}) "
                    "ON DUPLICATE KEY UPDATE ddl_ts = {1}",
                    task, ts));
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
    const bool maybe_ran = ts == sink_->resumed_ddl_ts() || ts == ddl_answer_lost_ts_;
    if (!maybe_ran || !AlreadyDone(conn_->last_errno())) {
      if (s.IsIOError()) ddl_answer_lost_ts_ = ts;
      return Failed(s.WithContext(fmt::format("DDL at commit ts {}", ts)));
    }
    LOG_WARN("the DDL an interrupted attempt started had already run; taken as applied",
             KV("commit-ts", ts), KV("error", s));
  }
  sink_->schemas().InvalidateAll();
  if (track && binlog.tables_size() == 0) {
    const pb::Binlog* one[] = {&binlog};
    Status r = conn_->Execute("START TRANSACTION; " + sink_->ProgressRecord(one) + "; COMMIT");
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

}  // namespace

Result<std::unique_ptr<Sink>> NewMysqlSink(const MysqlSinkOptions& options) {
  auto sink = std::make_unique<MysqlSink>(options);
  RETURN_IF_ERROR(sink->Open());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace binlog::replay
