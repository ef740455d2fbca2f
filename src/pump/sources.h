// What a pump holds from each upstream server: the newest one-shot COMMIT (a transaction that
// committed before it reached the pump, as the syncer sends them) carrying a SourcePosition,
// per SourcePosition.server_id. A producer asks for it (GetSourceState) to resume after its own
// crash, a pump restart or a failover without sending a transaction twice.
//
// Durability: the wal holds every acknowledged record until its segment is dropped, and the
// pump replays it at start; before dropping wal segments the pump saves this table to
// data-dir/sources (docs/PUMP.md, "Sources"), so table file + wal replay cover everything ever
// acknowledged. Newest-wins per server makes replaying a record twice harmless. Not
// thread-safe: the pump guards it with its mutex.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"

namespace binlog::pump {

struct SourceEntry {
  uint64_t commit_ts = 0;
  pb::SourcePosition source;
};

class SourceTable {
 public:
  // Keeps `source` for its server_id when commit_ts is the newest seen from that server.
  void Note(uint64_t commit_ts, const pb::SourcePosition& source);
  std::optional<SourceEntry> Get(uint32_t server_id) const;
  // Grows with every change: the pump saves a copy only when it moved since the last save.
  uint64_t version() const { return version_; }
  size_t size() const { return entries_.size(); }

  // Reads the file written by Save; a missing file is an empty table. Merges into this table
  // (newest wins), so it may be called after records were noted.
  Status Load(Env* env, const std::string& path);
  // Replaces the file atomically (write, fsync, rename, fsync the directory).
  Status Save(Env* env, const std::string& path) const;

  // The file's text (JSON, docs/PUMP.md) and its parser, for Load/Save and tests.
  std::string Encode() const;
  Status Decode(std::string_view text, const std::string& origin);

 private:
  std::map<uint32_t, SourceEntry> entries_;
  uint64_t version_ = 0;
};

}  // namespace binlog::pump
