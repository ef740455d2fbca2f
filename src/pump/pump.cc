// Pump: open and recovery, the write path (validate, wal, sorter).
#include "pump/pump.h"

#include <fmt/format.h>

#include "common/logging.h"
#include "common/tso.h"

namespace binlog::pump {

namespace {

bool HasChanges(const pb::Binlog& b) { return b.tables_size() > 0 || !b.ddl_query().empty(); }

const char* TypeName(pb::BinlogType t) {
  return pb::BinlogType_IsValid(t) ? pb::BinlogType_Name(t).c_str() : "UNKNOWN";
}

// The ts a binlog is filed under in the wal (arrival order; for reading it back only).
uint64_t WalTs(const pb::Binlog& b) {
  return static_cast<uint64_t>(b.tp() == pb::PREWRITE || b.tp() == pb::ROLLBACK ? b.start_ts()
                                                                                : b.commit_ts());
}

uint64_t SegmentSequence(const std::string& name) {
  auto parsed = journal::ParseSegmentName(name);
  return parsed ? parsed->ts : 0;
}

}  // namespace

Pump::Pump(const PumpOptions& options) : options_(options) {}

Pump::~Pump() { Close().IgnoreError(); }

Result<std::unique_ptr<Pump>> Pump::Open(const PumpOptions& options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("pump: data-dir is empty");
  std::unique_ptr<Pump> p(new Pump(options));
  journal::JournalOptions jo;
  jo.env = options.env;
  jo.max_file_size = options.max_file_size;
  jo.sync = options.sync_log;
  jo.segment.kind = segment::SegmentKind::kArrival;
  ASSIGN_OR_RETURN(p->wal_, journal::Journal::Open(JoinPath(options.data_dir, "wal"), jo));
  jo.segment.kind = segment::SegmentKind::kOrdered;
  ASSIGN_OR_RETURN(p->binlog_, journal::Journal::Open(JoinPath(options.data_dir, "binlog"), jo));
  RETURN_IF_ERROR(p->Recover());
  p->CheckDiskSpace();
  p->last_write_micros_ = options.env->NowMicros();
  p->emitter_ = std::thread([raw = p.get()] { raw->EmitterLoop(); });
  return p;
}

// Replays the wal into the sorter. Records whose commit is already in binlog/ are dropped by
// the sorter (at or below emitted); a commit or rollback whose prewrite's segment was already
// removed had been resolved before, so it is skipped.
Status Pump::Recover() {
  sorter_.SetEmitted(binlog_->last_ts());
  durable_emitted_ = binlog_->last_ts();
  journal::ReadOptions ro;
  ro.arrival_order = true;
  ASSIGN_OR_RETURN(auto reader,
                   journal::JournalReader::Open(options_.env, JoinPath(data_dir(), "wal"), ro));
  int64_t now = options_.env->NowMicros();
  size_t replayed = 0;
  journal::Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) break;
    pb::Binlog b;
    if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      return Status::Corruption(fmt::format("{}: wal record with ts {} is not a binlog",
                                            reader->current_segment(), r.ts));
    }
    uint64_t seg = SegmentSequence(reader->current_segment());
    auto start = static_cast<uint64_t>(b.start_ts());
    auto commit = static_cast<uint64_t>(b.commit_ts());
    if (b.tp() == pb::PREWRITE) {
      if (!sorter_.is_pending(start)) sorter_.AddPrewrite(start, std::string(r.payload), seg, now);
    } else if (b.tp() == pb::COMMIT && sorter_.is_pending(start) && commit > start) {
      sorter_.AddCommit(start, commit, seg);
    } else if (b.tp() == pb::COMMIT && HasChanges(b) && commit > sorter_.emitted()) {
      sorter_.AddCommitted(commit, std::string(r.payload), seg);
    } else if (b.tp() == pb::ROLLBACK) {
      sorter_.AddRollback(start);
    }
    ++replayed;
  }
  LOG_INFO("pump recovered from its wal", KV("data-dir", data_dir()), KV("records", replayed),
           KV("pending-prewrites", sorter_.pending()), KV("emitted-ts", sorter_.emitted()));
  RETURN_IF_ERROR(EmitReady());
  DropResolvedWal();
  return Status::OK();
}

// REQUIRES: mu_ held.
bool Pump::OpensTransaction(const pb::Binlog& b) const {
  switch (b.tp()) {
    case pb::PREWRITE:
      return true;
    case pb::COMMIT:
      return !sorter_.is_pending(static_cast<uint64_t>(b.start_ts()));
    default:
      return false;
  }
}

// REQUIRES: mu_ held.
Status Pump::Validate(const pb::Binlog& b, size_t index) const {
  auto fail = [&](const Status& s) {
    return Status::InvalidArgument(fmt::format("binlog {} ({}, start_ts {}, commit_ts {}): {}",
                                               index, TypeName(b.tp()), b.start_ts(), b.commit_ts(),
                                               s.message()));
  };
  if (b.start_ts() < 0 || b.commit_ts() < 0) return fail(Status::InvalidArgument("negative ts"));
  auto start = static_cast<uint64_t>(b.start_ts());
  auto commit = static_cast<uint64_t>(b.commit_ts());
  switch (b.tp()) {
    case pb::PREWRITE: {
      if (commit != 0) return fail(Status::InvalidArgument("a prewrite carries no commit_ts"));
      if (in_flight_prewrites_.count(start)) {
        return fail(
            Status::InvalidArgument("duplicate prewrite: the same start_ts is being "
                                    "written right now"));
      }
      Status s = sorter_.CheckPrewrite(start);
      return s.ok() ? s : fail(s);
    }
    case pb::COMMIT: {
      Status s = sorter_.is_pending(start) ? sorter_.CheckCommit(start, commit)
                 : HasChanges(b)           ? sorter_.CheckCommitted(commit)
                                           : sorter_.CheckCommit(start, commit);
      return s.ok() ? s : fail(s);
    }
    case pb::ROLLBACK: {
      Status s = sorter_.CheckRollback(start);
      return s.ok() ? s : fail(s);
    }
    case pb::FAKE:
      if (commit == 0 || HasChanges(b)) {
        return fail(Status::InvalidArgument("a heartbeat has a commit_ts and no changes"));
      }
      return Status::OK();
    default:
      return fail(Status::InvalidArgument("unknown binlog type"));
  }
}

Status Pump::WriteBinlog(const pb::Binlog& binlog) {
  return WriteBinlogs(std::span<const pb::Binlog>(&binlog, 1));
}

Status Pump::WritePayload(std::string_view payload) {
  if (payload.size() > options_.max_binlog_bytes) {
    return Status::InvalidArgument(
        fmt::format("binlog of {} bytes is larger than the {} bytes "
                    "a pump accepts",
                    payload.size(), options_.max_binlog_bytes));
  }
  pb::Binlog b;
  if (!b.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument(
        fmt::format("payload of {} bytes is not a serialized binlog", payload.size()));
  }
  return WriteBinlog(b);
}

Status Pump::WriteBinlogs(std::span<const pb::Binlog> binlogs) {
  std::vector<std::string> payloads(binlogs.size());
  std::vector<journal::Record> records;
  for (size_t i = 0; i < binlogs.size(); ++i) {
    payloads[i] = binlogs[i].SerializeAsString();  // empty: a probe (every field is zero)
    if (payloads[i].size() > options_.max_binlog_bytes) {
      std::lock_guard<std::mutex> g(mu_);
      ++counters_.refused;
      return Status::InvalidArgument(
          fmt::format("binlog {} is {} bytes, larger than the {} bytes a pump accepts", i,
                      payloads[i].size(), options_.max_binlog_bytes));
    }
  }
  uint64_t floor = 0;
  std::vector<uint64_t> reserved;
  {
    std::lock_guard<std::mutex> g(mu_);
    // A pump that is closing or short of space takes no new transactions, but still takes
    // the commits and rollbacks of prewrites it already acknowledged (and heartbeats): refusing
    // those would leave transactions that committed upstream to the max-txn-timeout rollback.
    bool opens_new = false;
    for (size_t i = 0; i < binlogs.size(); ++i) {
      if (!payloads[i].empty()) opens_new |= OpensTransaction(binlogs[i]);
    }
    if (!accept_writes_ && opens_new) {
      ++counters_.refused;
      return Status::Aborted(fmt::format(
          "pump refuses new transactions: {}; write them to another pump", refuse_reason_));
    }
    if (low_space_ && opens_new) {
      ++counters_.refused;
      return Status::NoSpace(fmt::format(
          "{} has {} bytes available, below stop-write-at-available-space ({} bytes); writes "
          "resume when space is freed",
          data_dir(), available_bytes_, options_.stop_write_at_available_space));
    }
    for (size_t i = 0; i < binlogs.size(); ++i) {
      if (payloads[i].empty()) continue;
      // Prewrites reserved earlier in this batch count as in flight: a duplicate is caught.
      Status s = Validate(binlogs[i], i);
      if (!s.ok()) {
        for (uint64_t ts : reserved) in_flight_prewrites_.erase(ts);
        ++counters_.refused;
        return s;
      }
      if (binlogs[i].tp() == pb::PREWRITE) {
        reserved.push_back(binlogs[i].start_ts());
        in_flight_prewrites_.insert(binlogs[i].start_ts());
      }
    }
    floor = wal_->active_segment_ts();
    in_flight_floors_.insert(floor);
  }
  for (size_t i = 0; i < binlogs.size(); ++i) {
    if (payloads[i].empty() || binlogs[i].tp() == pb::FAKE) continue;
    records.push_back(journal::Record{WalTs(binlogs[i]), payloads[i]});
  }
  uint64_t seg = 0;
  Status s = records.empty() ? Status::OK() : wal_->Append(records, &seg);
  bool notify = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (uint64_t ts : reserved) in_flight_prewrites_.erase(ts);
    in_flight_floors_.erase(in_flight_floors_.find(floor));
    if (s.ok()) {
      for (size_t i = 0; i < binlogs.size(); ++i) {
        if (!payloads[i].empty()) Apply(binlogs[i], std::move(payloads[i]), seg);
      }
      counters_.writes += records.size();
      for (const auto& r : records) counters_.write_bytes += r.payload.size();
      last_write_micros_ = options_.env->NowMicros();
    }
    notify = s.ok() && WakeEmitter();
  }
  if (notify) cv_.notify_one();
  return s;
}

// REQUIRES: mu_ held; b passed Validate.
void Pump::Apply(const pb::Binlog& b, std::string payload, uint64_t wal_segment) {
  auto start = static_cast<uint64_t>(b.start_ts());
  auto commit = static_cast<uint64_t>(b.commit_ts());
  switch (b.tp()) {
    case pb::PREWRITE:
      sorter_.AddPrewrite(start, std::move(payload), wal_segment, options_.env->NowMicros());
      break;
    case pb::COMMIT:
      if (sorter_.is_pending(start)) {
        sorter_.AddCommit(start, commit, wal_segment);
      } else {
        sorter_.AddCommitted(commit, std::move(payload), wal_segment);
      }
      break;
    case pb::ROLLBACK:
      sorter_.AddRollback(start);
      break;
    case pb::FAKE:
      sorter_.AddHeartbeat(commit);
      break;
    default:
      break;
  }
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
  s.writable = accept_writes_ && !low_space_;
  s.available_bytes = available_bytes_;
  // Close sets stopping_ under mu_ before it releases the journals.
  if (!stopping_) {
    s.wal_sync_latency = wal_->stats().sync_latency;
    s.binlog_sync_latency = binlog_->stats().sync_latency;
  }
  return s;
}

}  // namespace binlog::pump
