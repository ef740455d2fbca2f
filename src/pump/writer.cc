// The pump's write path, first half: one writer thread takes every request queued since its last
// round, checks them against the sorter and the rounds still in flight, and writes the accepted
// ones to the wal in one write. It then goes on to the next round while a durability thread
// waits for this one's fdatasync, applies it to the sorter and hands it to the completer, which
// answers each request (completion.cc). The writer's checks and writes overlap the sync. A
// round with nothing else under way is finished by the writer itself (Pump::FinishAlone).
//
// Why one thread rather than the callers themselves (as the journal's group commit does): a
// request's validation and its effect on the sorter must not be split by another write. With
// callers leading, a heartbeat could be applied while a one-shot commit's wal write was in
// flight, and a commit could meet the timeout rollback of its prewrite halfway. Here rounds are
// checked, written and applied in one order, and each is checked against what the rounds before
// it will do (in_flight_); the emitter may still release entries applied before a round, which
// the one-shot holds cover (HoldOneShots). It is also cheaper: callers that wake up do not fight
// over the pump's mutex, and a gRPC callback does not hold a thread while it waits.
#include <fmt/format.h>
#include <google/protobuf/arena.h>

#include <utility>

#include "common/logging.h"
#include "common/semaphore.h"
#include "common/tso.h"
#include "pump/group_check.h"
#include "pump/pump.h"
#include "segment/format.h"

namespace binlog::pump {

namespace {

// See WriterLoop: how often a busy pump tries a round alone again.
constexpr uint32_t kAloneProbeRounds = 64;

bool AllBlocking(const auto& round) {
  for (const auto& r : round.group) {
    if (!r->blocking) return false;
  }
  return !round.group.empty();
}

// The ts a binlog is filed under in the wal (arrival order; for reading it back only).
uint64_t WalTs(const BinlogHead& b) {
  return static_cast<uint64_t>(b.tp == pb::PREWRITE || b.tp == pb::ROLLBACK ? b.start_ts
                                                                            : b.commit_ts);
}

// A request with at least this many payload bytes is compressed for the wal by its caller, in
// the caller's thread, so that the writer thread only checks and writes it. Smaller ones are
// compressed by the writer, together: a ~1 KiB binlog compressed alone costs several times the
// CPU per byte of one in a run of dozens (see journal.cc, kLeaderEncodeBytes).
constexpr size_t kCallerEncodeBytes = 8 << 10;

// What a request puts in the wal: its binlogs that carry something, a heartbeat being only a
// watermark (a probe, an empty payload, is answered without being stored).
void AppendWalRecords(const std::vector<BinlogHead>& heads,
                      const std::vector<std::string>& payloads,
                      std::vector<journal::Record>* records) {
  for (size_t i = 0; i < heads.size(); ++i) {
    if (payloads[i].empty() || heads[i].tp == pb::FAKE) continue;
    records->push_back(journal::Record{WalTs(heads[i]), payloads[i], heads[i].part});
  }
}

// What the callers of the synchronous API wait on (a semaphore: common/semaphore.h says why).
struct Waiter {
  Semaphore answered;
  Status status;

  Pump::WriteDone Callback() {
    return [this](Status s) {
      status = std::move(s);
      answered.Post();
    };
  }
  Status Wait() {
    answered.Wait();
    return status;
  }
};

}  // namespace

BinlogHead BinlogHead::Of(const pb::Binlog& b, uint32_t part) {
  BinlogHead h;
  h.tp = b.tp();
  h.start_ts = b.start_ts();
  h.commit_ts = b.commit_ts();
  h.ddl = !b.ddl_query().empty();
  h.has_changes = b.tables_size() > 0 || h.ddl;
  h.part = part;
  if (b.tp() == pb::COMMIT && b.has_source()) h.source = b.source();
  return h;
}

Status ParseBinlogPayload(std::string_view payload, size_t max_bytes, BinlogHead* head,
                          uint32_t part) {
  if (payload.size() > max_bytes) {
    return Status::InvalidArgument(
        fmt::format("binlog of {} bytes is larger than the {} bytes a pump accepts", payload.size(),
                    max_bytes));
  }
  // Parsed only to check it and read its head, then dropped: in an arena, whose blocks are
  // freed at once, rather than an allocation per row value (measured: malloc and free were a
  // quarter of the pump's CPU under gRPC load with per-message allocation).
  alignas(8) char initial[16 << 10];
  google::protobuf::ArenaOptions options;
  options.initial_block = initial;
  options.initial_block_size = sizeof(initial);
  google::protobuf::Arena arena(options);
  auto* b = google::protobuf::Arena::CreateMessage<pb::Binlog>(&arena);
  if (!b->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument(
        fmt::format("payload of {} bytes is not a serialized binlog", payload.size()));
  }
  *head = BinlogHead::Of(*b, part);
  return Status::OK();
}

Status Pump::WriteBinlog(const pb::Binlog& binlog, uint32_t part) {
  return WriteBinlogs(std::span<const pb::Binlog>(&binlog, 1), std::span<const uint32_t>(&part, 1));
}

Status Pump::WritePayload(std::string_view payload, uint32_t part) {
  BinlogHead head;
  RETURN_IF_ERROR(ParseBinlogPayload(payload, options_.max_binlog_bytes, &head, part));
  Waiter w;
  Submit({head}, {std::string(payload)}, w.Callback(), /*blocking=*/true);
  return w.Wait();
}

Status Pump::WriteBinlogs(std::span<const pb::Binlog> binlogs, std::span<const uint32_t> parts) {
  if (!parts.empty() && parts.size() != binlogs.size()) {
    return Status::InvalidArgument(
        fmt::format("{} part tags for {} binlogs", parts.size(), binlogs.size()));
  }
  std::vector<BinlogHead> heads;
  std::vector<std::string> payloads;
  heads.reserve(binlogs.size());
  payloads.reserve(binlogs.size());
  for (size_t i = 0; i < binlogs.size(); ++i) {
    heads.push_back(BinlogHead::Of(binlogs[i], parts.empty() ? 0 : parts[i]));
    payloads.push_back(binlogs[i].SerializeAsString());  // empty: a probe (every field is zero)
  }
  Waiter w;
  Submit(std::move(heads), std::move(payloads), w.Callback(), /*blocking=*/true);
  return w.Wait();
}

void Pump::WriteAsync(std::vector<BinlogHead> heads, std::vector<std::string> payloads,
                      WriteDone done) {
  Submit(std::move(heads), std::move(payloads), std::move(done), /*blocking=*/false);
}

void Pump::Submit(std::vector<BinlogHead> heads, std::vector<std::string> payloads, WriteDone done,
                  bool blocking) {
  auto r = std::make_unique<WriteRequest>();
  r->heads = std::move(heads);
  r->payloads = std::move(payloads);
  r->done = std::move(done);
  r->blocking = blocking;
  r->received = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (const std::string& p : r->payloads) bytes += p.size();
  std::unique_lock<std::mutex> lock(mu_);
  if (!stopping_ && bytes >= kCallerEncodeBytes) {
    ++encoding_;
    lock.unlock();
    EncodeForWal(*r);
    lock.lock();
    if (--encoding_ == 0) encoding_cv_.notify_all();
  }
  if (stopping_) {
    lock.unlock();
    r->done(Status::Aborted(fmt::format("pump {} is closed", data_dir())));
    return;
  }
  bool wake = requests_.empty();
  requests_.push_back(std::move(r));
  lock.unlock();
  if (wake) writer_cv_.notify_one();
}

// A failure (a binlog too large for a block) leaves the request to the writer, whose own
// encoding reports it.
void Pump::EncodeForWal(WriteRequest& r) {
  std::vector<journal::Record> records;
  AppendWalRecords(r.heads, r.payloads, &records);
  if (records.empty()) return;
  if (!wal_->Encode(records, &r.wal_blocks).ok()) {
    r.wal_blocks.clear();
    return;
  }
  r.wal_records = records.size();
  for (const journal::Record& rec : records) r.wal_bytes += rec.payload.size();
}

void Pump::WriterLoop() {
  int64_t next_expiry_check = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    writer_cv_.wait_for(lock, std::chrono::milliseconds(200),
                        [&] { return !requests_.empty() || stopping_; });
    if (stopping_) break;
    if (int64_t now = options_.env->NowMicros(); now >= next_expiry_check) {
      lock.unlock();
      ResolveExpired();
      lock.lock();
      next_expiry_check = now + 1000000;
    }
    if (requests_.empty()) continue;
    auto round = std::make_unique<Round>();
    round->group.swap(requests_);
    WriteRound(*round, lock);
    // Alone only for the in-process callers that wait (gRPC's arrive in bursts a sync would
    // hold up), and only while no write came during the last round finished alone (a lone
    // producer), or once in kAloneProbeRounds to find out whether that is so again.
    const bool alone = requests_.empty() && AllBlocking(*round) &&
                       (lone_producer_ || ++rounds_since_alone_ >= kAloneProbeRounds);
    lock.unlock();
    if (!alone || !FinishAlone(round)) PassOn(std::move(round));
    lock.lock();
  }
  auto rest = std::make_unique<Round>();
  rest->group.swap(requests_);
  lock.unlock();
  for (auto& r : rest->group) {
    r->status = Status::Aborted(fmt::format("pump {} is closing", data_dir()));
  }
  PassOn(std::move(rest));
  {
    std::lock_guard<std::mutex> g(round_mu_);
    writer_exited_ = true;
  }
  round_cv_.notify_all();
}

// REQUIRES: mu_ held on entry and on return; released during the wal write. Checks each request
// against the sorter and the rounds in flight (a refused one gets its status here) and writes
// the accepted ones to the wal, without waiting for the sync: FinishRound does the rest.
void Pump::WriteRound(Round& round, std::unique_lock<std::mutex>& lock) {
  for (auto& r : round.group) {
    bool from_future = false;
    r->status = CheckRequest(*r, in_flight_.get(), &from_future);
    if (!r->status.ok()) {
      in_flight_->Abort();
      ++counters_.refused;
      counters_.refused_future_ts += from_future;
      continue;
    }
    round.accepted.push_back(r.get());
  }
  round.checked = in_flight_->TakeRound();
  if (round.accepted.empty()) return;
  round.holds = HoldOneShots(round.accepted);
  round.floor = wal_->active_segment_ts();
  in_flight_floors_.insert(round.floor);
  lock.unlock();
  round.written = WriteRoundToWal(round);
  lock.lock();
}

// The accepted requests' wal records in one write, in request order: the blocks their callers
// compressed, and each run of small requests compressed here together. The first round of each
// second starts with a clock mark (a FAKE binlog whose start_ts is the pump's clock): every
// record after it arrived at or after that time, which recovery needs to time prewrites out
// across restarts (Recover).
Status Pump::WriteRoundToWal(Round& round) {
  std::vector<segment::EncodedBlock> blocks;
  std::vector<journal::Record> run;
  const int64_t now_ms = options_.env->NowMicros() / 1000;
  bool mark = now_ms / 1000 != last_mark_second_;
  // Before the round's first record, when the round has any.
  auto add_mark = [&] {
    if (!mark) return;
    pb::Binlog fake;
    fake.set_tp(pb::FAKE);
    fake.set_start_ts(static_cast<int64_t>(ComposeTS(now_ms, 0)));
    mark_payload_ = fake.SerializeAsString();
    run.insert(run.begin(), journal::Record{static_cast<uint64_t>(fake.start_ts()), mark_payload_});
    last_mark_second_ = now_ms / 1000;
    mark = false;
  };
  auto flush_run = [&] {
    Status s = run.empty() ? Status::OK() : wal_->Encode(run, &blocks);
    run.clear();
    return s;
  };
  for (WriteRequest* r : round.accepted) {
    if (!r->wal_blocks.empty()) {  // compressed by the caller
      add_mark();
      RETURN_IF_ERROR(flush_run());
      for (auto& b : r->wal_blocks) blocks.push_back(std::move(b));
      round.records += r->wal_records;
      round.bytes += r->wal_bytes;
      continue;
    }
    size_t before = run.size();
    AppendWalRecords(r->heads, r->payloads, &run);
    round.records += run.size() - before;
    for (size_t i = before; i < run.size(); ++i) round.bytes += run[i].payload.size();
    if (run.size() > before) add_mark();
  }
  RETURN_IF_ERROR(flush_run());
  if (blocks.empty()) return Status::OK();
  Status s = wal_->WriteEncoded(std::move(blocks), round.records, &round.ticket);
  round.wal_failed = !s.ok();
  return s;
}

// REQUIRES: mu_ held. The emitter may release applied entries during a round's wal write: a
// one-shot commit validated below one of them (a heartbeat not yet emitted) would be released
// after it, at or below the emitted ts, and dropped as a replay. Its hold keeps the watermark
// below it until it is applied; the caller unholds what this returns.
std::vector<uint64_t> Pump::HoldOneShots(const std::vector<WriteRequest*>& accepted) {
  std::vector<uint64_t> holds;
  for (WriteRequest* r : accepted) {
    for (const BinlogHead& h : r->heads) {
      auto start = static_cast<uint64_t>(h.start_ts);
      if (h.tp == pb::COMMIT && h.has_changes && !sorter_.is_pending(start)) {
        holds.push_back(static_cast<uint64_t>(h.commit_ts));
        sorter_.HoldBelow(holds.back());
      }
    }
  }
  return holds;
}

// REQUIRES: mu_ held; b passed Validate and is durable in wal segment `wal_segment` (where its
// round's write began) or a later one up to `last_segment`.
void Pump::Apply(const BinlogHead& b, std::string payload, uint64_t wal_segment,
                 uint64_t last_segment, int64_t now) {
  if (segment::IsPart(b.part)) {
    // The payload stays in the wal.
    ApplyPart(b, payload.size(), wal_segment, last_segment, now, /*replayed=*/false);
    return;
  }
  auto start = static_cast<uint64_t>(b.start_ts);
  auto commit = static_cast<uint64_t>(b.commit_ts);
  switch (b.tp) {
    case pb::PREWRITE:
      sorter_.AddPrewrite(start, std::move(payload), wal_segment, now);
      break;
    case pb::COMMIT:
      if (sorter_.is_pending(start)) {
        sorter_.AddCommit(start, commit, wal_segment);
      } else {
        if (b.source) sources_.Note(commit, *b.source);
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

Status Pump::Heartbeat() {
  pb::Binlog fake;
  fake.set_tp(pb::FAKE);
  fake.set_commit_ts(static_cast<int64_t>(ComposeTS(options_.env->NowMicros() / 1000, 0)));
  return WriteBinlog(fake);
}

}  // namespace binlog::pump
