// Where the syncer is in the upstream's binlog: syncer.meta, and the backup records that start
// it (--meta-from).
//
// syncer.meta is TOML, as TiDB-Binlog's syncer writes it:
//   binlog-name = "mariadb-bin.000012"
//   binlog-pos = 4711
//   binlog-gtid = "0-1-1234"
// It is replaced atomically (write, fsync, rename, fsync the directory) and only after what it
// points past is durable in the archive.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace binlog::syncer {

struct BinlogPosition {
  std::string name;  // file; empty: start from `gtid` (or, with no gtid either, unknown)
  uint64_t pos = 0;
  // The GTID state: one "domain-server-seq" per replication domain, comma-separated, as
  // @@gtid_binlog_pos prints it. MySQL's "uuid:1-5" sets are kept as text.
  std::string gtid;

  bool empty() const { return name.empty() && gtid.empty(); }
  std::string ToString() const;  // "mariadb-bin.000012:4711 (gtid 0-1-1234)"
};

// Orders positions in the same binlog (file names with the same base and a numeric suffix).
// nullopt when they cannot be compared (different bases, or either has no file).
std::optional<int> ComparePositions(const BinlogPosition& a, const BinlogPosition& b);

// Reads syncer.meta; nullopt when the file does not exist. Errors name the file and key.
Result<std::optional<BinlogPosition>> LoadMeta(Env* env, const std::string& path);
// Writes syncer.meta atomically.
Status SaveMeta(Env* env, const std::string& path, const BinlogPosition& position);
std::string FormatMeta(const BinlogPosition& position);

// The end position of a full backup, from the record the backup tool wrote:
// - mydumper's `metadata`: "SHOW MASTER STATUS:" with "Log:", "Pos:" and "GTID:" lines (older
//   versions), or a "[master]" section with "File =", "Position =", "Executed_Gtid_Set ="
//   (0.12 and later);
// - mariadb-dump / mysqldump with --master-data (=1 or =2): its
//   "CHANGE MASTER TO MASTER_LOG_FILE='…', MASTER_LOG_POS=…;" line, and with --gtid the
//   "SET GLOBAL gtid_slave_pos='…';" line;
// - mariadb-backup / xtrabackup's `xtrabackup_binlog_info`: "file<TAB>pos[<TAB>gtid]".
// The format is recognised from the content. Only the head of a dump is read (the position is
// written before the data).
Result<BinlogPosition> ReadBackupPosition(const std::string& path);
// The same over text already read; `origin` names it in errors.
Result<BinlogPosition> ParseBackupPosition(std::string_view text, const std::string& origin);

// A GTID state as a map from domain to "domain-server-seq", for updating per transaction.
std::map<uint32_t, std::string> ParseGtidState(std::string_view state);
std::string FormatGtidState(const std::map<uint32_t, std::string>& state);

}  // namespace binlog::syncer
