#include "replay/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>

#include "common/text.h"
#include "replay/sql.h"

namespace binlog::replay {

const char kCreateProgressTables[] =
    "CREATE DATABASE IF NOT EXISTS tidb_binlog; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_progress ("
    "task VARCHAR(128) NOT NULL PRIMARY KEY, "
    "low_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "ddl_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, "
    "updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
    ") ENGINE = InnoDB; "
    "CREATE TABLE IF NOT EXISTS tidb_binlog.replay_applied ("
    "task VARCHAR(128) NOT NULL, commit_ts BIGINT UNSIGNED NOT NULL, below_ts MEDIUMTEXT NOT "
    "NULL, PRIMARY KEY (task, commit_ts)) ENGINE = InnoDB";

namespace {

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
  ASSIGN_OR_RETURN(auto rows, query(fmt::format("SELECT low_ts, ddl_ts FROM "
                                                "tidb_binlog.replay_progress WHERE task = {}",
                                                Literal(task))));
  if (!rows.empty()) {
    ASSIGN_OR_RETURN(p.resume.low_ts, ParseTs("replay_progress", rows[0][0].value_or("")));
    ASSIGN_OR_RETURN(p.ddl_ts, ParseTs("replay_progress", rows[0][1].value_or("")));
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
