// Pump: open and recovery, PullBinlogs, node-state switches, stats (the write path is in
// writer.cc, the background work in emitter.cc).
#include "pump/pump.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"
#include "common/thread_name.h"
#include "common/tso.h"
#include "pump/group_check.h"
#include "segment/format.h"

namespace binlog::pump {

namespace {

// Zeros written ahead of the data of wal/ and binlog/ (journal::Preallocator): every
// acknowledgement waits for a wal fdatasync, which then flushes data only instead of also
// committing ext4's journal.
// A wal sync that comes while a chunk of zeros is being written and synced waits for that
// (the file's size is changing), so chunks are large and rare: one per 16 MiB of wal, about one
// call in 256 of 64 KiB. Measured, one producer writing 64 KiB calls: ack p99 704-798 us with
// 16 MiB chunks, 745-788 us with 256 KiB (and four times as many syncs that commit metadata),
// 1.07-1.29 ms with 1 and 4 MiB.
constexpr uint64_t kPreallocateBytes = 16 << 20;

// wal/ segments are sealed at this size at most (or max-file-size when smaller): the wal is
// dropped by whole segments once everything in one is resolved, and what is left is replayed at
// every start, so a short wal is a quick start.
constexpr uint64_t kWalSegmentBytes = 64 << 20;

// Threads waiting for wal syncs: two, so that a round written while another syncs starts its own
// sync at once (journal::Journal::SyncThrough runs two at a time).
constexpr int kDurableThreads = 2;

uint64_t SegmentSequence(const std::string& name) {
  auto parsed = journal::ParseSegmentName(name);
  return parsed ? parsed->ts : 0;
}

}  // namespace

Pump::Pump(const PumpOptions& options)
    : options_(options), in_flight_(std::make_unique<GroupCheck>()) {}

Pump::~Pump() { Close().IgnoreError(); }

Result<std::unique_ptr<Pump>> Pump::Open(const PumpOptions& options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("pump: data-dir is empty");
  std::unique_ptr<Pump> p(new Pump(options));
  journal::JournalOptions jo;
  jo.env = options.env;
  jo.max_file_size = std::min(options.max_file_size, kWalSegmentBytes);
  jo.sync = options.sync_log;
  jo.segment.kind = segment::SegmentKind::kArrival;
  // wal/ holds a write only until it is resolved and in binlog/ (compressed there). Measured
  // with 1 KiB binlogs, one producer writing 64 transactions a call: 105-110k transactions/s
  // uncompressed, 81-98k with zstd at level -7.
  jo.segment.compression = segment::Compression::kNone;
  jo.preallocate_bytes = kPreallocateBytes;
  ASSIGN_OR_RETURN(p->wal_, journal::Journal::Open(JoinPath(options.data_dir, "wal"), jo));
  jo.segment.kind = segment::SegmentKind::kOrdered;
  jo.segment.compression = segment::Compression::kZstd;
  jo.segment.zstd_level = 1;
  // binlog/ is off the acknowledgement path, but its syncs share the disk with the wal's: an
  // fdatasync that grows the file commits ext4's journal, and the wal syncs that come meanwhile
  // wait behind it. Written ahead, the archive is written twice (compressed, ~0.45 KiB a
  // transaction) and its syncs flush data only. Measured, one producer writing 64 transactions
  // a call, six alternated runs: 91-127k transactions/s (mean 107k) against 86-105k (mean 96k);
  // in three of them binlog/ sync mean 0.21-0.28 ms against 0.39-0.44 ms, wal sync mean
  // 0.15-0.21 ms against 0.19-0.23 ms.
  jo.preallocate_bytes = kPreallocateBytes;
  jo.max_file_size = options.max_file_size;
  ASSIGN_OR_RETURN(p->binlog_, journal::Journal::Open(JoinPath(options.data_dir, "binlog"), jo));
  RETURN_IF_ERROR(p->Recover());
  p->CheckDiskSpace();
  p->last_write_micros_ = options.env->NowMicros();
  p->emitter_ = std::thread([raw = p.get()] {
    NameThisThread("pump-emitter");
    raw->EmitterLoop();
  });
  p->writer_ = std::thread([raw = p.get()] {
    NameThisThread("pump-writer");
    raw->WriterLoop();
  });
  p->durable_running_ = kDurableThreads;
  for (int i = 0; i < kDurableThreads; ++i) {
    p->durable_.emplace_back([raw = p.get()] {
      NameThisThread("pump-durable");
      raw->DurableLoop();
    });
  }
  p->completer_ = std::thread([raw = p.get()] {
    NameThisThread("pump-completer");
    raw->CompleterLoop();
  });
  return p;
}

// Replays the wal into the sorter. Records whose commit is already in binlog/ are dropped by
// the sorter (at or below emitted); a commit or rollback whose prewrite's segment was already
// removed had been resolved before, so it is skipped.
//
// A prewrite arrived about when the clock mark before it was written (WriteRoundToWal), so
// max-txn-timeout counts from there, not from this start: a prewrite whose producer died is
// rolled back once, whatever the restarts in between. Prewrites before the first mark replayed
// had theirs in a segment already dropped: their segment's creation stands in for it. A wal
// with no mark at all (written before marks existed) counts from now.
Status Pump::Recover() {
  sorter_.SetEmitted(binlog_->last_ts());
  durable_emitted_ = binlog_->last_ts();
  RETURN_IF_ERROR(LoadSources());
  journal::ReadOptions ro;
  ro.arrival_order = true;
  ASSIGN_OR_RETURN(auto reader,
                   journal::JournalReader::Open(options_.env, JoinPath(data_dir(), "wal"), ro));
  const int64_t now = options_.env->NowMicros();
  int64_t mark = -1;                                   // of the last clock mark replayed
  std::vector<std::pair<uint64_t, int64_t>> unmarked;  // start_ts, its segment's creation
  size_t replayed = 0;
  journal::Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) break;
    BinlogHead head;
    if (!ParseBinlogPayload(r.payload, SIZE_MAX, &head, r.part).ok()) {
      return Status::Corruption(fmt::format("{}: wal record with ts {} is not a binlog",
                                            reader->current_segment(), r.ts));
    }
    uint64_t seg = SegmentSequence(reader->current_segment());
    if (head.tp == pb::FAKE) {
      mark = TSPhysicalMs(static_cast<uint64_t>(head.start_ts)) * 1000;  // a clock mark
    } else {
      if (mark < 0 && (head.tp == pb::PREWRITE || segment::IsPart(head.part))) {
        unmarked.emplace_back(r.ts, reader->current_segment_created_micros());
      }
      Replay(head, r.payload, seg, mark >= 0 ? mark : now);
    }
    ++replayed;
  }
  counters_.wal_records_replayed = replayed;
  if (mark >= 0) {
    for (const auto& [start, created] : unmarked) sorter_.SetArrived(start, created);
  }
  LOG_INFO("pump recovered from its wal", KV("data-dir", data_dir()), KV("records", replayed),
           KV("pending-prewrites", sorter_.pending()), KV("emitted-ts", sorter_.emitted()));
  if (std::string hint = FutureHint(); !hint.empty()) {
    LOG_ERROR(
        "binlog/ holds a ts ahead of this pump's clock: every commit at or below it will be "
        "refused until the clock passes it",
        KV("emitted-ts", sorter_.emitted()), KV("detail", hint));
  }
  RETURN_IF_ERROR(EmitReady());
  // What was replayed is in the sorter now: a new wal segment lets the old one go once it holds
  // nothing pending, instead of being replayed again at every start.
  if (replayed > 0) RETURN_IF_ERROR(wal_->Rotate());
  DropResolvedWal();
  return Status::OK();
}

Result<std::unique_ptr<journal::JournalReader>> Pump::PullBinlogs(uint64_t from_ts, bool follow) {
  journal::ReadOptions ro;
  ro.start_ts = from_ts + 1;
  ro.follow = follow;
  return journal::JournalReader::Open(options_.env, JoinPath(data_dir(), "binlog"), ro);
}

void Pump::SetAcceptWrites(bool accept, std::string reason) {
  std::lock_guard<std::mutex> g(mu_);
  accept_writes_ = accept;
  refuse_reason_ = std::move(reason);
}

uint64_t Pump::MaxCommitTS() const {
  std::lock_guard<std::mutex> g(mu_);
  return sorter_.Watermark();
}

PumpStats Pump::Stats() const {
  std::lock_guard<std::mutex> g(mu_);
  PumpStats s = counters_;
  s.max_commit_ts = sorter_.Watermark();
  s.emitted_ts = durable_emitted_;
  s.pending_prewrites = sorter_.pending();
  s.committed_waiting = sorter_.committed();
  s.writable = accept_writes_ && !low_space_ && wal_error_.ok();
  if (!accept_writes_) {
    s.not_writable_because = refuse_reason_;
  } else if (!wal_error_.ok()) {
    s.not_writable_because = "writing to wal/ failed: " + wal_error_.ToString();
  } else if (low_space_) {
    s.not_writable_because =
        fmt::format("{} bytes available in {}, below stop-write-at-available-space ({} bytes)",
                    available_bytes_, data_dir(), options_.stop_write_at_available_space);
  }
  s.available_bytes = available_bytes_;
  {
    std::lock_guard<std::mutex> answered(answered_mu_);
    s.write_latency = write_latency_;
  }
  // Close sets stopping_ under mu_ before it releases the journals.
  if (!stopping_) {
    s.wal_sync_latency = wal_->stats().sync_latency;
    s.binlog_sync_latency = binlog_->stats().sync_latency;
  }
  return s;
}

}  // namespace binlog::pump
