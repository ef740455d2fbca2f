// The order an ordered journal's appends must keep, transactions in parts included
// (docs/FORMAT.md, "Transactions in parts").
#include <fmt/format.h>

#include "journal/journal.h"

namespace binlog::journal {

Journal::AppendOrder Journal::AppendOrder::StartingAt(uint64_t ts, segment::PartTag part) {
  return AppendOrder{ts, !segment::IsLastPart(part), segment::PartIndex(part) + 1};
}

Status Journal::AppendOrder::Accept(uint64_t ts, segment::PartTag part) {
  using segment::IsPart;
  using segment::PartIndex;
  if (open) {
    if (ts != last_ts || !IsPart(part) || PartIndex(part) != next_part) {
      return Status::InvalidArgument(fmt::format(
          "the transaction at ts {} is open: its part {} must come next, not ts {} ({})", last_ts,
          next_part, ts,
          IsPart(part) ? fmt::format("part {}", PartIndex(part))
                       : std::string("a whole transaction")));
    }
    ++next_part;
    open = !segment::IsLastPart(part);
    return Status::OK();
  }
  if (ts <= last_ts) {
    return Status::InvalidArgument(
        fmt::format("ts {} is not after the last appended ts {}", ts, last_ts));
  }
  if (IsPart(part) && PartIndex(part) != 0) {
    return Status::InvalidArgument(fmt::format(
        "the transaction at ts {} starts with part {}; its first part is 0", ts, PartIndex(part)));
  }
  *this = StartingAt(ts, part);
  return Status::OK();
}

}  // namespace binlog::journal
