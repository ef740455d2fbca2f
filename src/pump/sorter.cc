#include "pump/sorter.h"

#include <fmt/format.h>

#include <algorithm>

namespace binlog::pump {

namespace {

bool ReadVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

bool CommittedRecord(std::string_view prewrite, uint64_t commit_ts, std::string* out) {
  // Binlog fields 1 (tp), 2 (start_ts) and 3 (commit_ts) are varints; canonical serialization
  // writes fields by number, each once, zero values omitted.
  constexpr uint64_t kTp = 1 << 3, kStartTs = 2 << 3, kCommitTs = 3 << 3;
  size_t pos = 0;
  uint64_t tag = 0, start_ts = 0, ignored = 0;
  size_t rest = 0;
  int last_field = 0;
  while (true) {
    rest = pos;
    if (pos == prewrite.size()) break;
    if (!ReadVarint(prewrite, &pos, &tag)) return false;
    auto field = static_cast<int>(tag >> 3);
    if (field > 3) break;  // the rest is copied as it is
    if ((tag & 7) != 0 || field <= last_field || field == 0) return false;
    last_field = field;
    if (!ReadVarint(prewrite, &pos, tag == kStartTs ? &start_ts : &ignored)) return false;
  }
  // The rest must not set fields 1-3 again (it would override what is written here): walk its
  // top-level fields, a handful in a Binlog.
  for (size_t at = rest; at < prewrite.size();) {
    uint64_t length = 0;
    if (!ReadVarint(prewrite, &at, &tag) || (tag >> 3) <= 3) return false;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(prewrite, &at, &ignored)) return false;
        break;
      case 1:
        at += 8;
        break;
      case 2:
        if (!ReadVarint(prewrite, &at, &length) || length > prewrite.size() - at) return false;
        at += length;
        break;
      case 5:
        at += 4;
        break;
      default:
        return false;
    }
    if (at > prewrite.size()) return false;
  }
  std::string r;
  r.reserve(prewrite.size() - rest + 24);
  PutVarint(&r, kTp);
  PutVarint(&r, 1);  // COMMIT
  if (start_ts != 0) {
    PutVarint(&r, kStartTs);
    PutVarint(&r, start_ts);
  }
  if (commit_ts != 0) {
    PutVarint(&r, kCommitTs);
    PutVarint(&r, commit_ts);
  }
  r.append(prewrite.substr(rest));
  *out = std::move(r);
  return true;
}

Status Sorter::CheckPrewrite(uint64_t start_ts) const {
  if (start_ts == 0) return Status::InvalidArgument("prewrite has no start_ts");
  if (pending_.count(start_ts)) {
    return Status::InvalidArgument(
        fmt::format("duplicate prewrite: start_ts {} is already pending", start_ts));
  }
  // A start_ts below what was already emitted is fine: its commit ts is taken after this
  // prewrite is acknowledged, so it will still be above everything emitted.
  return Status::OK();
}

Status Sorter::CheckCommit(uint64_t start_ts, uint64_t commit_ts) const {
  if (pending_.count(start_ts) == 0) {
    return Status::InvalidArgument(
        fmt::format("commit without prewrite: no pending prewrite has start_ts {}", start_ts));
  }
  if (commit_ts <= start_ts) {
    return Status::InvalidArgument(
        fmt::format("commit_ts {} is not after start_ts {}", commit_ts, start_ts));
  }
  return CheckCommitted(commit_ts);
}

Status Sorter::CheckRollback(uint64_t start_ts) const {
  if (pending_.count(start_ts) == 0) {
    return Status::InvalidArgument(
        fmt::format("rollback without prewrite: no pending prewrite has start_ts {}", start_ts));
  }
  return Status::OK();
}

Status Sorter::CheckCommitted(uint64_t commit_ts) const {
  if (commit_ts == 0) return Status::InvalidArgument("commit has no commit_ts");
  if (commit_ts <= emitted_) {
    return Status::InvalidArgument(fmt::format(
        "commit_ts {} is at or below ts {} already written in commit order; producers must "
        "take commit ts from the same clock, after their prewrite was acknowledged",
        commit_ts, emitted_));
  }
  auto it = committed_.find(commit_ts);
  if (it != committed_.end() && !it->second.heartbeat) {
    return Status::InvalidArgument(
        fmt::format("commit_ts {} is already taken by the transaction with start_ts {}", commit_ts,
                    it->second.start_ts));
  }
  if (auto open = open_.find(commit_ts); open != open_.end()) {
    return Status::InvalidArgument(
        fmt::format("commit_ts {} is already taken by the transaction in parts with start_ts {}",
                    commit_ts, open->second.start_ts));
  }
  return Status::OK();
}

void Sorter::See(uint64_t ts) { max_seen_ = std::max(max_seen_, ts); }

void Sorter::Hold(uint64_t wal_segment) {
  if (wal_segment != kNoSegment) ++wal_refs_[wal_segment];
}

void Sorter::Release(uint64_t wal_segment) {
  auto it = wal_refs_.find(wal_segment);
  if (it != wal_refs_.end() && --it->second == 0) wal_refs_.erase(it);
}

void Sorter::AddPrewrite(uint64_t start_ts, std::string prewrite, uint64_t wal_segment,
                         int64_t arrived_micros) {
  See(start_ts);
  Hold(wal_segment);
  pending_.emplace(start_ts, Pending{std::move(prewrite), wal_segment, arrived_micros, {}, true});
}

void Sorter::AddCommit(uint64_t start_ts, uint64_t commit_ts, uint64_t wal_segment) {
  auto it = pending_.find(start_ts);
  See(commit_ts);
  Hold(wal_segment);
  // A heartbeat at the same ts says less than the commit: the commit takes its place.
  Pending& p = it->second;
  committed_[commit_ts] =
      Committed{start_ts, std::move(p.prewrite), p.wal_segment, wal_segment, false, p.parts};
  pending_.erase(it);
}

void Sorter::AddRollback(uint64_t start_ts) {
  auto it = pending_.find(start_ts);
  if (it == pending_.end()) return;
  Release(it->second.wal_segment);
  pending_.erase(it);
}

void Sorter::AddCommitted(uint64_t commit_ts, std::string txn, uint64_t wal_segment) {
  See(commit_ts);
  Hold(wal_segment);
  committed_[commit_ts] = Committed{commit_ts, std::move(txn), wal_segment, kNoSegment, false, {}};
}

void Sorter::AddHeartbeat(uint64_t ts) {
  if (ts <= emitted_) return;
  See(ts);
  committed_.emplace(ts, Committed{ts, std::string(), kNoSegment, kNoSegment, true, {}});
}

uint64_t Sorter::Watermark() const {
  uint64_t w = max_seen_;
  if (!pending_.empty()) w = std::min(w, pending_.begin()->first - 1);
  if (!holds_.empty()) w = std::min(w, *holds_.begin() - 1);
  if (!open_.empty()) w = std::min(w, open_.begin()->first - 1);
  return std::max(w, emitted_);
}

std::vector<ReadyTxn> Sorter::TakeReady(size_t max_bytes) {
  std::vector<ReadyTxn> out;
  uint64_t w = Watermark();
  size_t bytes = 0;
  auto it = committed_.begin();
  for (; it != committed_.end() && it->first <= w && bytes < max_bytes; ++it) {
    Committed& c = it->second;
    Release(c.prewrite_segment);
    Release(c.commit_segment);
    // At or below what binlog/ already holds: replayed from the wal at recovery.
    if (it->first <= emitted_) continue;
    bytes += c.prewrite.size() + c.parts.bytes;
    out.push_back(ReadyTxn{it->first, c.start_ts, std::move(c.prewrite), c.heartbeat, c.parts});
    emitted_ = it->first;
  }
  committed_.erase(committed_.begin(), it);
  return out;
}

void Sorter::SetArrived(uint64_t ts, int64_t arrived_micros) {
  if (auto it = pending_.find(ts); it != pending_.end()) it->second.arrived_micros = arrived_micros;
  if (auto it = open_.find(ts); it != open_.end()) it->second.arrived_micros = arrived_micros;
}

std::vector<uint64_t> Sorter::Expired(int64_t before_micros) const {
  std::vector<uint64_t> out;
  for (const auto& [start_ts, p] : pending_) {
    if (p.arrived_micros < before_micros) out.push_back(start_ts);
  }
  return out;
}

void Sorter::SetEmitted(uint64_t ts) {
  emitted_ = std::max(emitted_, ts);
  See(ts);
}

uint64_t Sorter::OldestWalSegmentNeeded() const {
  return wal_refs_.empty() ? UINT64_MAX : wal_refs_.begin()->first;
}

}  // namespace binlog::pump
