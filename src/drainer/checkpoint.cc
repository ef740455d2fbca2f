#include "drainer/checkpoint.h"

#include <fmt/format.h>

#include <mutex>
#include <nlohmann/json.hpp>

namespace binlog::drainer {

const char kCreateCheckpointTable[] =
    "CREATE DATABASE IF NOT EXISTS tidb_binlog; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.checkpoint (clusterID BIGINT UNSIGNED PRIMARY KEY, "
    "checkPoint MEDIUMTEXT)";

std::string EncodeCheckpoint(const Checkpoint& c) {
  // Field order as TiDB-Binlog prints it.
  return fmt::format(R"({{"consistent":{},"commitTS":{},"ts-map":{{}}}})",
                     c.consistent ? "true" : "false", c.commit_ts);
}

Result<Checkpoint> DecodeCheckpoint(std::string_view json, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption(fmt::format("{}: the checkpoint is not a JSON object", where));
  }
  Checkpoint c;
  auto ts = j.find("commitTS");
  if (ts == j.end() || !ts->is_number_integer()) {
    return Status::Corruption(fmt::format("{}: the checkpoint has no integer commitTS", where));
  }
  c.commit_ts = ts->get<uint64_t>();
  auto consistent = j.find("consistent");
  if (consistent != j.end()) {
    if (!consistent->is_boolean()) {
      return Status::Corruption(fmt::format("{}: the checkpoint's consistent is not a bool", where));
    }
    c.consistent = consistent->get<bool>();
  }
  return c;
}

Result<std::optional<Checkpoint>> ReadSavepoint(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return std::optional<Checkpoint>();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, path));
  ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(text, path));
  return std::optional<Checkpoint>(c);
}

Status WriteSavepoint(Env* env, const std::string& path, const Checkpoint& c) {
  return WriteFileAtomic(env, path, EncodeCheckpoint(c) + "\n");
}

Result<std::optional<Checkpoint>> ReadCheckpointTable(mysql::Connection* conn,
                                                      uint64_t cluster_id) {
  ASSIGN_OR_RETURN(auto rows, conn->Query(fmt::format(
                                  "SELECT checkPoint FROM tidb_binlog.checkpoint WHERE clusterID = {}",
                                  cluster_id)));
  if (rows.empty() || !rows[0][0]) return std::optional<Checkpoint>();
  ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(*rows[0][0], "tidb_binlog.checkpoint"));
  return std::optional<Checkpoint>(c);
}

std::string UpsertCheckpointSql(uint64_t cluster_id, const Checkpoint& c) {
  return fmt::format(
      "INSERT INTO tidb_binlog.checkpoint (clusterID, checkPoint) VALUES ({}, '{}') "
      "ON DUPLICATE KEY UPDATE checkPoint = VALUES(checkPoint);",
      cluster_id, EncodeCheckpoint(c));
}

namespace {

class SavepointSink final : public replay::Sink {
 public:
  SavepointSink(std::unique_ptr<replay::Sink> inner, Env* env, std::string path)
      : inner_(std::move(inner)), env_(env), path_(std::move(path)) {}

  int MaxWorkers() const override { return inner_->MaxWorkers(); }
  Status ConflictKeys(const pb::Binlog& b, std::vector<replay::ConflictKey>* out) override {
    return inner_->ConflictKeys(b, out);
  }
  Result<std::unique_ptr<replay::SinkWorker>> NewWorker() override { return inner_->NewWorker(); }
  Result<replay::ResumeState> LoadResume() override {
    ASSIGN_OR_RETURN(replay::ResumeState state, inner_->LoadResume());
    ASSIGN_OR_RETURN(std::optional<Checkpoint> saved, ReadSavepoint(env_, path_));
    if (saved) state.low_ts = std::max(state.low_ts, saved->commit_ts);
    return state;
  }
  Status AdvanceLow(uint64_t ts) override {
    RETURN_IF_ERROR(inner_->AdvanceLow(ts));
    std::lock_guard<std::mutex> g(mu_);
    if (ts <= written_) return Status::OK();
    RETURN_IF_ERROR(WriteSavepoint(env_, path_, Checkpoint{false, ts}));
    written_ = ts;
    return Status::OK();
  }

 private:
  std::unique_ptr<replay::Sink> inner_;
  Env* env_;
  std::string path_;
  std::mutex mu_;
  uint64_t written_ = 0;
};

}  // namespace

std::unique_ptr<replay::Sink> WithSavepoint(std::unique_ptr<replay::Sink> sink, Env* env,
                                            std::string path) {
  return std::make_unique<SavepointSink>(std::move(sink), env, std::move(path));
}

}  // namespace binlog::drainer
