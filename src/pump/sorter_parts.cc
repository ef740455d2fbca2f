// The sorter's side of transactions in parts: what it keeps of them is where they lie in the wal
// and how far they have arrived, never their payloads (docs/PUMP.md, "Transactions in parts").
#include <algorithm>

#include "pump/sorter.h"
#include "segment/format.h"

namespace binlog::pump {

namespace {

void AddPart(WalParts* parts, uint64_t bytes) {
  ++parts->count;
  parts->bytes += bytes;
}

}  // namespace

void Sorter::NotePartKey(uint64_t wal_ts, uint64_t last_segment) {
  uint64_t& newest = part_keys_[wal_ts];
  newest = std::max(newest, last_segment);
}

void Sorter::ForgetPartKeysBefore(uint64_t segment) {
  std::erase_if(part_keys_, [&](const auto& key) { return key.second < segment; });
}

// The first part holds the wal segment it is in, and with it every later one (the wal is
// dropped oldest first), until the transaction is resolved and written to binlog/.
void Sorter::AddPrewritePart(uint64_t start_ts, uint32_t tag, uint64_t bytes, uint64_t wal_segment,
                             uint64_t last_segment, int64_t arrived_micros) {
  NotePartKey(start_ts, last_segment);
  if (segment::PartIndex(tag) == 0) {
    See(start_ts);
    Hold(wal_segment);
    Pending p{std::string(), wal_segment, arrived_micros, WalParts{start_ts, wal_segment, 0, 0},
              false};
    pending_.emplace(start_ts, std::move(p));
  }
  auto it = pending_.find(start_ts);
  if (it == pending_.end()) return;
  AddPart(&it->second.parts, bytes);
  it->second.complete = segment::IsLastPart(tag);
  // A producer still sending parts is alive: max-txn-timeout counts from its newest part.
  it->second.arrived_micros = arrived_micros;
}

void Sorter::AddCommittedPart(uint64_t commit_ts, uint64_t start_ts, uint32_t tag, uint64_t bytes,
                              uint64_t wal_segment, uint64_t last_segment, int64_t arrived_micros,
                              std::optional<uint32_t> server_id) {
  NotePartKey(commit_ts, last_segment);
  if (segment::PartIndex(tag) == 0) {
    See(commit_ts);
    Hold(wal_segment);
    open_[commit_ts] =
        Open{start_ts, arrived_micros, WalParts{commit_ts, wal_segment, 0, 0}, server_id};
  }
  auto it = open_.find(commit_ts);
  if (it == open_.end()) return;
  AddPart(&it->second.parts, bytes);
  it->second.arrived_micros = arrived_micros;
  if (!segment::IsLastPart(tag)) return;
  const Open& o = it->second;
  // Its first part's segment is held already (as the prewrite segment of a committed one).
  committed_[commit_ts] =
      Committed{o.start_ts, std::string(), o.parts.first_segment, kNoSegment, false, o.parts};
  open_.erase(it);
}

void Sorter::AbandonOpen(uint64_t commit_ts) {
  auto it = open_.find(commit_ts);
  if (it == open_.end()) return;
  Release(it->second.parts.first_segment);
  open_.erase(it);
}

std::optional<PartProgress> Sorter::PrewriteParts(uint64_t start_ts) const {
  auto it = pending_.find(start_ts);
  if (it == pending_.end() || it->second.parts.count == 0) return std::nullopt;
  return PartProgress{it->second.parts.count, it->second.complete};
}

std::optional<PartProgress> Sorter::OpenParts(uint64_t commit_ts) const {
  auto it = open_.find(commit_ts);
  if (it == open_.end()) return std::nullopt;
  return PartProgress{it->second.parts.count, false};
}

std::optional<uint64_t> Sorter::OpenStart(uint64_t commit_ts) const {
  auto it = open_.find(commit_ts);
  if (it == open_.end()) return std::nullopt;
  return it->second.start_ts;
}

std::optional<uint64_t> Sorter::OpenFrom(uint32_t server_id) const {
  for (const auto& [commit_ts, o] : open_) {
    if (o.server_id == server_id) return commit_ts;
  }
  return std::nullopt;
}

std::vector<ExpiredTxn> Sorter::ExpiredOpen(int64_t before_micros) const {
  std::vector<ExpiredTxn> out;
  for (const auto& [commit_ts, o] : open_) {
    if (o.arrived_micros < before_micros) out.push_back(ExpiredTxn{o.start_ts, commit_ts});
  }
  return out;
}

}  // namespace binlog::pump
