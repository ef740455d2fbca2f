// The keys a transaction's changes touch, for the engine's dependency graph. Internal to
// src/replay.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "binlog.pb.h"
#include "replay/replay.h"
#include "replay/schema.h"

namespace binlog::replay {

// The keys a change touches, for conflict detection: the table's, shared; one per unique key of
// the table for the row before and after, exclusive, values normalized by the column's
// collation (a case-insensitive key ignores case and trailing spaces). A table without a usable
// key, a row with NULL in every unique key, or a value that cannot be normalized exactly here,
// takes the table's key exclusive.
// Tables linked by foreign keys take each other's link keys exclusive: their changes keep their
// order.
void ConflictKeys(const pb::TableChanges& changes, const TableSchema& table,
                  std::vector<ConflictKey>* out);

// The keys pending transactions hold, by worker: whom a new transaction has to wait for.
class KeyHolders {
 public:
  // The workers holding one of `keys` in a conflicting way (exclusive against anything).
  std::vector<int> Conflicts(const std::vector<ConflictKey>& keys) const;
  void Hold(const std::vector<ConflictKey>& keys, int worker);
  void Release(const std::vector<ConflictKey>& keys, int worker);

 private:
  // A key's pending users on one worker. Counts, not a list of transactions: a table's shared
  // key is held by every pending change to the table, thousands of them.
  struct KeyUse {
    int worker;
    uint32_t shared = 0;
    uint32_t exclusive = 0;
  };
  std::unordered_map<std::string, std::vector<KeyUse>> holders_;  // at most one per worker
};

}  // namespace binlog::replay
