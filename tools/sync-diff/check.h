// One chunk checked on both servers: the checksums, and when they differ the rows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mysql/mysql.h"
#include "sync-diff/config.h"
#include "sync-diff/query.h"
#include "sync-diff/table.h"

namespace binlog::syncdiff {

struct ChunkOutcome {
  uint64_t rows = 0;    // source rows checked
  uint64_t chunks = 0;  // checksums compared (a big differing chunk is cut again)
  uint64_t reread = 0;  // chunks whose rows were read and compared
  uint64_t missing = 0, extra = 0, changed = 0;
  // The whole table's CHECKSUM TABLE was equal on both servers: nothing else was read, and
  // its rows are the statistics' estimate.
  bool table_checksum_equal = false;
  uint64_t estimated_rows = 0;
  std::string text;             // AppendDiffText's lines
  std::string deletes, writes;  // AppendFixSql's statements
};

// A connection to a server, or an error that says which of the two it is.
Result<std::unique_ptr<mysql::Connection>> OpenServer(const mysql::ConnectOptions& options,
                                                      const char* side);

// Whether CHECKSUM TABLE of `t` gives the same value on both servers (run on both at once).
// Only meaningful between servers of the same version: the value depends on how the server
// lays out a row.
Result<bool> TableChecksumsEqual(mysql::Connection* source, mysql::Connection* target,
                                 const TablePlan& t);

// One connection to each server; one thread at a time.
class Checker {
 public:
  static Result<std::unique_ptr<Checker>> Open(const SyncDiffConfig& config);
  // Adds what `range` of `t` holds to *out. A differing range of more than twice chunk-size
  // source rows (an integer key's value range over a gap in the statistics) is walked into
  // chunks again and each checked, so rows are read only where they differ.
  Status Check(const TablePlan& t, const KeyRange& range, ChunkOutcome* out);
  mysql::Connection* source() { return source_.get(); }
  mysql::Connection* target() { return target_.get(); }

 private:
  Checker(std::unique_ptr<mysql::Connection> s, std::unique_ptr<mysql::Connection> t,
          uint64_t chunk_size)
      : source_(std::move(s)), target_(std::move(t)), chunk_size_(chunk_size) {}
  Status CheckOne(const TablePlan& t, const KeyRange& range, bool may_cut, ChunkOutcome* out);
  Status CompareRows(const TablePlan& t, const KeyRange& range, ChunkOutcome* out);

  std::unique_ptr<mysql::Connection> source_, target_;
  const uint64_t chunk_size_;
};

}  // namespace binlog::syncdiff
