// Emitting a transaction in parts: its parts are read back from wal/, where they arrived
// (interleaved with other writes), one at a time, and each is appended to binlog/ under the
// commit ts with its tag, so memory holds one part, never the transaction.
//
// The wal segment of the first part and every later one are kept until this is done: the
// sorter held them until TakeReady, and only this thread drops wal segments, after EmitReady.
// What is read under the transaction's wal ts is its own: no other transaction in parts may use
// that ts while its parts can be in the wal (Pump::ValidatePart).
#include <fmt/format.h>

#include "common/logging.h"
#include "pump/pump.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace binlog::pump {

namespace {

// Calls `emit` with the parts filed under parts.wal_ts from segment `path`, starting at part
// *next; true once the last part was emitted.
Result<bool> EmitFromSegment(Env* env, const std::string& path, const WalParts& parts,
                             uint32_t* next,
                             const std::function<Status(const segment::Record&)>& emit) {
  ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(env, path));
  ASSIGN_OR_RETURN(uint64_t limit, reader->DataLimit());
  uint64_t offset = reader->SeekHint(0);
  std::vector<segment::Record> records;
  while (true) {
    segment::BlockRef block;
    std::string why;
    ASSIGN_OR_RETURN(segment::ProbeResult probe, reader->Probe(offset, limit, &block, &why));
    if (probe == segment::ProbeResult::kBad) {
      return Status::Corruption(fmt::format("{}: block at offset {}: {}", path, offset, why));
    }
    // The end of the data (zeros written ahead of it, or a write under way, in the active one).
    if (probe != segment::ProbeResult::kBlock) return false;
    offset = block.next_offset();
    // An arrival block's header bounds the ts it holds: the others are passed over unread.
    if (parts.wal_ts < block.header.first_ts || parts.wal_ts > block.header.last_ts) continue;
    RETURN_IF_ERROR(reader->ReadBlock(block, &records));
    for (const segment::Record& r : records) {
      if (r.ts != parts.wal_ts || !segment::IsPart(r.part)) continue;
      if (segment::PartIndex(r.part) != *next) {
        return Status::Corruption(fmt::format(
            "{}: part {} of the transaction in parts under ts {} where part {} was expected", path,
            segment::PartIndex(r.part), parts.wal_ts, *next));
      }
      RETURN_IF_ERROR(emit(r));
      ++*next;
      if (segment::IsLastPart(r.part)) return true;
    }
  }
}

}  // namespace

Status Pump::EmitParts(const ReadyTxn& t) {
  const std::string dir = JoinPath(data_dir(), "wal");
  // A prewrite's parts are filed under its start_ts, below its commit ts; a one-shot's under it.
  const bool prewrite = t.parts.wal_ts != t.commit_ts;
  std::string committed;
  auto emit = [&](const segment::Record& r) -> Status {
    std::string_view payload = r.payload;  // a one-shot commit's part is already what binlog/ holds
    if (prewrite) {
      if (!CommittedRecord(r.payload, t.commit_ts, &committed)) {
        pb::Binlog b;
        if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
          return Status::Corruption(
              fmt::format("part {} of the prewrite of start_ts {} no longer "
                          "parses",
                          segment::PartIndex(r.part), t.start_ts));
        }
        b.set_tp(pb::COMMIT);
        b.set_commit_ts(static_cast<int64_t>(t.commit_ts));
        committed = b.SerializeAsString();
      }
      payload = committed;
    }
    return binlog_->Append(journal::Record{t.commit_ts, payload, r.part});
  };
  ASSIGN_OR_RETURN(std::vector<journal::SegmentName> segments,
                   journal::ListSegments(options_.env, dir, /*warn_unknown=*/false));
  uint32_t next = 0;
  for (const journal::SegmentName& seg : segments) {
    if (seg.ts < t.parts.first_segment) continue;
    ASSIGN_OR_RETURN(bool done,
                     EmitFromSegment(options_.env, JoinPath(dir, seg.name), t.parts, &next, emit));
    if (!done) continue;
    if (next != t.parts.count) {
      LOG_WARN("a transaction in parts had more parts in wal/ than the pump counted",
               KV("commit-ts", t.commit_ts), KV("counted", t.parts.count), KV("read", next));
    }
    std::lock_guard<std::mutex> g(mu_);
    durable_emitted_ = t.commit_ts;
    return Status::OK();
  }
  return Status::Corruption(fmt::format(
      "{}: only parts 0 to {} of the transaction with commit ts {} (start ts {}) are left; its "
      "last part is missing",
      dir, static_cast<int64_t>(next) - 1, t.commit_ts, t.start_ts));
}

}  // namespace binlog::pump
