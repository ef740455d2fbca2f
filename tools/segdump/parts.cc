#include "segdump/parts.h"

#include <fmt/format.h>

namespace binlog::segdump {

std::optional<std::string> PartTracker::Next(uint64_t ts, segment::PartTag part,
                                             uint64_t block_offset) {
  using segment::IsLastPart;
  using segment::IsPart;
  using segment::PartIndex;
  std::optional<std::string> problem;
  if (open_ && (ts != open_->ts || !IsPart(part))) {
    problem = fmt::format("{} ends without its last part: ts {} follows", *Open(), ts);
    open_.reset();
  }
  if (!IsPart(part)) return problem;
  if (!open_) {
    if (PartIndex(part) != 0) {
      return fmt::format("part {} of the transaction at ts {} without the parts before it",
                         PartIndex(part), ts);
    }
    open_ = Txn{ts, block_offset, 0};
  }
  if (PartIndex(part) != open_->parts) {
    problem = fmt::format("part {} where part {} of the transaction at ts {} belongs",
                          PartIndex(part), open_->parts, ts);
  }
  ++open_->parts;
  if (IsLastPart(part)) {
    open_.reset();
    ++transactions_;
  }
  return problem;
}

std::optional<std::string> PartTracker::Open() const {
  if (!open_) return std::nullopt;
  return fmt::format("the transaction at ts {} ({} parts from offset {})", open_->ts, open_->parts,
                     open_->offset);
}

}  // namespace binlog::segdump
