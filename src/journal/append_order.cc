// The order an ordered journal's appends must keep, transactions in parts included
// (docs/FORMAT.md, "Transactions in parts").
#include <fmt/format.h>

#include <algorithm>

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

Result<Journal::AppendOrder> Journal::AppendOrder::Through(std::span<const Record> records,
                                                           bool ordered) {
  AppendOrder end = StartingAt(records.front().ts, records.front().part);
  for (size_t i = 1; i < records.size(); ++i) {
    if (!ordered) {
      end.last_ts = std::max(end.last_ts, records[i].ts);
      continue;
    }
    Status s = end.Accept(records[i].ts, records[i].part);
    if (!s.ok()) return s.WithContext(fmt::format("record {} of {}", i, records.size()));
  }
  return end;
}

Result<Journal::AppendOrder> Journal::AppendOrder::Through(
    const std::vector<segment::EncodedBlock>& blocks, bool ordered) {
  AppendOrder end = StartingAt(blocks.front().header.first_ts, blocks.front().part);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const segment::BlockHeader& h = blocks[i].header;
    if (!ordered) {
      end.last_ts = std::max(end.last_ts, h.last_ts);
      continue;
    }
    Status s = i == 0 ? Status::OK() : end.Accept(h.first_ts, blocks[i].part);
    if (s.ok() && h.last_ts != h.first_ts) s = end.Accept(h.last_ts, segment::kWholeTransaction);
    if (!s.ok()) return s.WithContext(fmt::format("block {} of {}", i, blocks.size()));
  }
  return end;
}

}  // namespace binlog::journal
