// The MariaDB/MySQL sink's classes (replay.h, NewMysqlSink), shared by mysql_sink.cc (whole
// transactions, DDL) and mysql_steps.cc (transactions in parts). Internal to src/replay.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "replay/conflict.h"
#include "replay/group.h"
#include "replay/progress.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

// Statements sent as one multi-statement query up to this size (one round trip); a larger
// group goes in several.
inline constexpr size_t kOneQueryBytes = 4 << 20;

// Errors that mean the connection is gone (its open transaction with it).
bool ConnectionGone(unsigned err);

class MysqlSink;

class MysqlWorker : public SinkWorker {
 public:
  explicit MysqlWorker(MysqlSink* sink) : sink_(sink) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override;
  Status ApplyDdl(const pb::Binlog& binlog) override;
  Status ApplyStep(const pb::Binlog& changes, const Step& step) override;  // mysql_steps.cc
  void RollbackSteps() override;

 private:
  Status Connected();
  // The group's statements and its progress record (table ""), merged or one by one.
  Status Plan(std::span<const pb::Binlog* const> txns, bool merge,
              std::vector<PlannedStatement>* plan);
  Status Run(const std::vector<PlannedStatement>& plan, bool begun);
  Result<bool> RecordedBefore(const std::string& record);
  Status Diagnose(std::span<const pb::Binlog* const> txns, const Status& first);
  Status Failed(const Status& s);
  // mysql_steps.cc
  Status RunSteps(const std::vector<PlannedStatement>& plan, bool begin, bool commit);
  Result<bool> StepCommitted(uint64_t commit_ts, const Step& step);

  MysqlSink* sink_;
  std::unique_ptr<mysql::Connection> conn_;
  // The last Apply failed transiently, perhaps after its COMMIT ran: the answer may be all that
  // was lost.
  bool answer_lost_ = false;
  // The DDL whose last attempt failed transiently (0: none): it may have run.
  uint64_t ddl_answer_lost_ts_ = 0;
  // Steps of a transaction in parts in the open downstream transaction.
  size_t open_steps_ = 0;
  // How the last ApplyStep failed transiently, for its retry: it opened its transaction (a
  // retry may go on), or it was to commit earlier steps too (only the record says whether it
  // did; if not, they are gone with the connection).
  enum class StepLost : uint8_t { kNo, kFresh, kWithEarlier };
  StepLost step_lost_ = StepLost::kNo;
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
    if (options_.track_progress) RETURN_IF_ERROR(EnsureProgressTables(meta_.get()));
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
    if (!options_.track_progress) return ResumeState{};
    std::lock_guard<std::mutex> g(meta_mu_);
    ASSIGN_OR_RETURN(Progress p, ReadProgress(options_.task, [this](std::string_view sql) {
                       return MetaQueryLocked(sql);
                     }));
    resumed_ddl_ts_ = p.ddl_ts;
    return std::move(p.resume);
  }

  Status AdvanceLow(uint64_t ts) override {
    if (!options_.track_progress) return Status::OK();
    std::lock_guard<std::mutex> g(meta_mu_);
    RETURN_IF_ERROR(MetaConnected());
    std::string extra = options_.on_advance ? options_.on_advance(ts) : std::string();
    return MetaFailed(meta_->Execute(AdvanceLowSql(options_.task, ts, extra)));
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

}  // namespace binlog::replay
