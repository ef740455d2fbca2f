// Cutting a table into chunks of about chunk-size source rows, in key order.
//
// Any key: the source's key is walked, each bound the key of the chunk-size-th row after the
// last (one index range scan per chunk, which leaves the rows cached for the checksum). An
// integer key, when the source's statistics know its row count: the span between the key's
// MIN and MAX on both servers is cut into equal value ranges, one per chunk-size estimated
// rows, with nothing read. Both leave the first chunk open below and the last open above, so
// rows only the target has are inside a chunk too.
#pragma once

#include <cstdint>
#include <memory>

#include "mysql/mysql.h"
#include "sync-diff/query.h"
#include "sync-diff/table.h"

namespace binlog::syncdiff {

class Chunker {
 public:
  // Chunks of `within` (the whole table by default). `target` is read for an integer key's
  // MIN and MAX only; null: walk. The connections must outlive the chunker.
  static Result<std::unique_ptr<Chunker>> Make(const TablePlan& t, mysql::Connection* source,
                                               mysql::Connection* target, uint64_t chunk_size,
                                               const KeyRange& within = {});
  // The next chunk; false once the table (or `within`) is covered.
  Result<bool> Next(KeyRange* out);

 private:
  Chunker(const TablePlan& t, mysql::Connection* source, uint64_t chunk_size, KeyRange within)
      : table_(t), source_(source), chunk_size_(chunk_size), within_(std::move(within)) {}
  Status InitValueRanges(mysql::Connection* target);

  const TablePlan& table_;
  mysql::Connection* source_;
  const uint64_t chunk_size_;
  const KeyRange within_;
  bool done_ = false;
  std::optional<std::vector<std::string>> lo_;  // walk: the last chunk's upper bound
  // Value ranges: chunk i of `count_` is (min_ - 1 + i * step_, min_ - 1 + (i + 1) * step_].
  bool by_value_ = false;
  __int128 min_ = 0, step_ = 1;
  uint64_t count_ = 0, next_ = 0;
};

}  // namespace binlog::syncdiff
