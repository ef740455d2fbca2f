#include "replay/progress.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <charconv>
#include <iterator>

#include "common/logging.h"
#include "common/text.h"
#include "replay/sql.h"

namespace binlog::replay {

const char kCreateProgressTables[] =
    "CREATE DATABASE IF NOT EXISTS tidb_binlog; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_progress ("
    "task VARCHAR(128) NOT NULL PRIMARY KEY, "
    "low_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "ddl_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "part_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "part_index INT UNSIGNED NOT NULL DEFAULT 0, "
    "part_row BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
    ") ENGINE = InnoDB; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_applied ("
    "task VARCHAR(128) NOT NULL, commit_ts BIGINT UNSIGNED NOT NULL, below_ts MEDIUMTEXT NOT "
    "NULL, PRIMARY KEY (task, commit_ts)) ENGINE = InnoDB";

namespace {

// The columns added after the table's first layout, and how.
constexpr const char* kPartColumns[] = {"part_ts", "part_index", "part_row"};
constexpr const char kAddPartColumns[] =
    "ALTER TABLE tidb_binlog.replay_progress "
    "ADD COLUMN part_ts BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER ddl_ts, "
    "ADD COLUMN part_index INT UNSIGNED NOT NULL DEFAULT 0 AFTER part_ts, "
    "ADD COLUMN part_row BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER part_index";

std::string Literal(std::string_view text) {
  std::string out;
  pb::Value v;
  v.set_string_value(std::string(text));
  AppendLiteral(v, &out).IgnoreError();
  return out;
}

Result<uint64_t> ParseTs(std::string_view table, std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::Corruption(fmt::format("tidb_binlog.{} holds \"{}\" where a commit ts should be",
                                          table, Printable(text)));
  }
  return v;
}

}  // namespace

Status EnsureProgressTables(mysql::Connection* conn) {
  RETURN_IF_ERROR(conn->Execute(kCreateProgressTables));
  ASSIGN_OR_RETURN(auto rows,
                   conn->Query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = 'tidb_binlog' AND TABLE_NAME = 'replay_progress' "
                               "AND COLUMN_NAME IN ('part_ts', 'part_index', 'part_row')"));
  size_t found = 0;
  for (const auto& row : rows) {
    for (const char* c : kPartColumns) found += row[0].value_or("") == c ? 1 : 0;
  }
  if (found == std::size(kPartColumns)) return Status::OK();
  if (found != 0) {
    return Status::Corruption(
        "tidb_binlog.replay_progress has some of the columns part_ts, part_index, part_row, not "
        "all: it was edited");
  }
  Status s = conn->Execute(kAddPartColumns);
  if (!s.ok() && conn->last_errno() == ER_DUP_FIELDNAME) return Status::OK();  // a run beside
  RETURN_IF_ERROR(s.WithContext("adding the part_* columns to tidb_binlog.replay_progress"));
  LOG_INFO(
      "tidb_binlog.replay_progress upgraded: part_ts, part_index, part_row added (where a "
      "transaction in parts is applied up to, split-big-txn)");
  return Status::OK();
}

std::string InsideSql(std::string_view task, const PartPosition& at) {
  return fmt::format(
      "INSERT INTO tidb_binlog.replay_progress (task, part_ts, part_index, part_row) VALUES ({}, "
      "{}, {}, {}) ON DUPLICATE KEY UPDATE part_ts = VALUES(part_ts), part_index = "
      "VALUES(part_index), part_row = VALUES(part_row)",
      Literal(task), at.commit_ts, at.part, at.row);
}

std::string ClearInsideSql(std::string_view task, uint64_t commit_ts) {
  return fmt::format(
      "UPDATE tidb_binlog.replay_progress SET part_ts = 0, part_index = 0, part_row = 0 WHERE "
      "task = {} AND part_ts = {}",
      Literal(task), commit_ts);
}

std::string ReadInsideSql(std::string_view task) {
  return fmt::format(
      "SELECT part_ts, part_index, part_row FROM tidb_binlog.replay_progress WHERE task = {} "
      "LOCK IN SHARE MODE",
      Literal(task));
}

std::string ReadAppliedSql(std::string_view task, uint64_t commit_ts) {
  return fmt::format(
      "SELECT commit_ts FROM tidb_binlog.replay_applied WHERE task = {} AND commit_ts = {} LOCK "
      "IN SHARE MODE",
      Literal(task), commit_ts);
}

Result<PartPosition> ParseInside(const std::vector<mysql::Row>& rows) {
  PartPosition at;
  if (rows.empty()) return at;
  if (rows[0].size() < 3)
    return Status::Corruption("tidb_binlog.replay_progress: no part_* columns");
  ASSIGN_OR_RETURN(at.commit_ts, ParseTs("replay_progress", rows[0][0].value_or("")));
  if (at.commit_ts == 0) return PartPosition{};
  ASSIGN_OR_RETURN(uint64_t part, ParseTs("replay_progress", rows[0][1].value_or("")));
  ASSIGN_OR_RETURN(at.row, ParseTs("replay_progress", rows[0][2].value_or("")));
  if (part > UINT32_MAX) {
    return Status::Corruption("tidb_binlog.replay_progress holds a part_index past 2^32");
  }
  at.part = static_cast<uint32_t>(part);
  return at;
}

std::string AppliedRecordSql(std::string_view task, std::span<const pb::Binlog* const> txns) {
  uint64_t top = 0;
  for (const pb::Binlog* b : txns) top = std::max(top, static_cast<uint64_t>(b->commit_ts()));
  std::string below;
  for (const pb::Binlog* b : txns) {
    const auto ts = static_cast<uint64_t>(b->commit_ts());
    if (ts == top) continue;
    fmt::format_to(std::back_inserter(below), "{}{}", below.empty() ? "" : ",", top - ts);
  }
  return fmt::format(
      "INSERT INTO tidb_binlog.replay_applied (task, commit_ts, below_ts) VALUES ({}, {}, '{}')",
      Literal(task), top, below);
}

std::string DdlUnderWaySql(std::string_view task, uint64_t ts) {
  return fmt::format(
      "INSERT INTO tidb_binlog.replay_progress (task, ddl_ts) VALUES ({0}, {1}) "
      "ON DUPLICATE KEY UPDATE ddl_ts = {1}",
      Literal(task), ts);
}

std::string AdvanceLowSql(std::string_view task, uint64_t low_ts, std::string_view extra) {
  return fmt::format(
      "START TRANSACTION; "
      "INSERT INTO tidb_binlog.replay_progress (task, low_ts) VALUES ({0}, {1}) "
      "ON DUPLICATE KEY UPDATE low_ts = GREATEST(low_ts, VALUES(low_ts)); "
      "DELETE FROM tidb_binlog.replay_applied WHERE task = {0} AND commit_ts <= {1}; {2}COMMIT",
      Literal(task), low_ts, extra.empty() ? std::string() : std::string(extra) + " ");
}

Result<Progress> ReadProgress(std::string_view task, const QueryFn& query) {
  Progress p;
  ASSIGN_OR_RETURN(auto rows,
                   query(fmt::format("SELECT low_ts, ddl_ts, part_ts, part_index, part_row FROM "
                                     "tidb_binlog.replay_progress WHERE task = {}",
                                     Literal(task))));
  if (!rows.empty()) {
    ASSIGN_OR_RETURN(p.resume.low_ts, ParseTs("replay_progress", rows[0][0].value_or("")));
    ASSIGN_OR_RETURN(p.ddl_ts, ParseTs("replay_progress", rows[0][1].value_or("")));
    std::vector<mysql::Row> inside{mysql::Row(rows[0].begin() + 2, rows[0].end())};
    ASSIGN_OR_RETURN(p.resume.inside, ParseInside(inside));
  }
  ASSIGN_OR_RETURN(auto applied, query(fmt::format("SELECT commit_ts, below_ts FROM "
                                                   "tidb_binlog.replay_applied WHERE task = {} "
                                                   "AND commit_ts > {}",
                                                   Literal(task), p.resume.low_ts)));
  for (const auto& row : applied) {
    ASSIGN_OR_RETURN(uint64_t top, ParseTs("replay_applied", row[0].value_or("")));
    p.resume.applied.insert(top);
    const std::string below_text = row[1].value_or("");
    std::string_view below = below_text;
    while (!below.empty()) {
      const size_t comma = std::min(below.find(','), below.size());
      ASSIGN_OR_RETURN(uint64_t offset, ParseTs("replay_applied", below.substr(0, comma)));
      if (offset > top) {
        return Status::Corruption(fmt::format(
            "tidb_binlog.replay_applied: below_ts reaches under zero at commit ts {}", top));
      }
      p.resume.applied.insert(top - offset);
      below.remove_prefix(std::min(comma + 1, below.size()));
    }
  }
  return p;
}

}  // namespace binlog::replay
