// Checks that every transaction in parts within one ordered segment is whole: its parts share a
// ts, come in order 0, 1, ..., with nothing between them, and end with the last one
// (docs/FORMAT.md, "Transactions in parts"). The writer never lets a transaction span segments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "segment/format.h"

namespace binlog::segdump {

class PartTracker {
 public:
  // The next record of the segment, in file order; what is wrong with it, if anything.
  std::optional<std::string> Next(uint64_t ts, segment::PartTag part, uint64_t block_offset);
  // The transaction the segment ends inside, if any: "the transaction at ts T (N parts from
  // offset O)". The caller grades it (a live or crashed writer's newest segment, or damage).
  std::optional<std::string> Open() const;
  uint64_t transactions() const { return transactions_; }  // in parts, ended with the last one

 private:
  struct Txn {
    uint64_t ts = 0;
    uint64_t offset = 0;
    uint32_t parts = 0;
  };
  std::optional<Txn> open_;
  uint64_t transactions_ = 0;
};

}  // namespace binlog::segdump
