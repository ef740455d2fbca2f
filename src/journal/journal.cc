// Journal writer: group commit and control requests (the active segment's syncs, creation and
// sealing are in active_segment.cc, recovery in recovery.cc).
#include "journal/journal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "common/logging.h"

namespace binlog::journal {

using segment::EncodedBlock;
using segment::SegmentKind;

// One Append (or a control request) waiting in the queue. The front writer is the leader.
//
// A waiting writer sleeps on its own mutex and condition variable, not on the journal's: when a
// leader finishes a group of dozens, the members it wakes do not all pile onto mu_ (measured:
// that herd cost more CPU than the group's write and sync). The leader sets the state with the
// writer's mutex held, so the writer cannot return and destroy itself before the notify is done.
struct Journal::Writer {
  using Kind = WriterKind;
  enum class State { kWaiting, kLeader, kDone };
  Kind kind = Kind::kData;
  bool durable = true;               // done once synced (Append), not once written (Write)
  std::vector<EncodedBlock> blocks;  // encoded by the caller
  std::span<const Record> small;     // or left to the leader (see kLeaderEncodeBytes)
  size_t records = 0;
  size_t bytes = 0;
  Status status;       // set by the leader before kDone
  WriteTicket ticket;  // set by the leader before kDone

  void Set(State s) {
    std::lock_guard<std::mutex> g(state_mu);
    state = s;
    state_cv.notify_one();
  }
  State Await() {
    std::unique_lock<std::mutex> l(state_mu);
    state_cv.wait(l, [&] { return state != State::kWaiting; });
    return state;
  }

 private:
  std::mutex state_mu;
  std::condition_variable state_cv;
  State state = State::kWaiting;
};

// Compression contexts reused across appends: a caller with more than kLeaderEncodeBytes
// compresses its own records in its own thread, so that compression never sits on the leader's
// write+sync path.
struct Journal::EncoderPool {
  explicit EncoderPool(const segment::SegmentOptions& o) : options(o) {}
  std::unique_ptr<segment::BlockEncoder> Get() {
    std::lock_guard<std::mutex> g(mu);
    if (free.empty()) return std::make_unique<segment::BlockEncoder>(options);
    auto e = std::move(free.back());
    free.pop_back();
    return e;
  }
  void Put(std::unique_ptr<segment::BlockEncoder> e) {
    std::lock_guard<std::mutex> g(mu);
    free.push_back(std::move(e));
  }
  segment::SegmentOptions options;
  std::mutex mu;
  std::vector<std::unique_ptr<segment::BlockEncoder>> free;
};

namespace {

// An Append of at most this many bytes (payloads plus framing) is not encoded by its caller: the
// group's leader encodes the small appends of a group together. A ~1 KiB record compressed on
// its own costs about five times the CPU per byte of one in a block of dozens, and compresses
// worse (measured on loadgen's binlogs: 7 us and ratio 1.5, against 1.4 us and 2.2), while the
// leader spends ~1.5 us per KiB before its write. Larger appends are compressed by their
// callers, in parallel, off the leader's path.
constexpr size_t kLeaderEncodeBytes = 8 << 10;
// Framing of a record in a block: ts and length varints (10 bytes each), the part tag's (5).
constexpr size_t kMaxFraming = 25;

}  // namespace

Journal::Journal(std::string dir, const JournalOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      encoders_(std::make_unique<EncoderPool>(options.segment)),
      leader_encoder_(std::make_unique<segment::BlockEncoder>(options.segment)) {}

Journal::~Journal() {
  if (!closed_) Close().IgnoreError();
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& dir,
                                               const JournalOptions& options) {
  Env* env = options.env;
  if (options.max_file_size < kMinMaxFileSize) {
    return Status::InvalidArgument(fmt::format("journal {}: max-file-size {} is below {} bytes",
                                               dir, options.max_file_size, kMinMaxFileSize));
  }
  RETURN_IF_ERROR(env->CreateDirs(dir));
  auto lock = env->LockFile(JoinPath(dir, "LOCK"));
  if (!lock.ok()) {
    if (lock.status().IsBusy()) {
      return Status::Busy(
          fmt::format("journal {} is already open for writing by another process ({})", dir,
                      lock.status().message()));
    }
    return lock.status();
  }
  std::unique_ptr<Journal> j(new Journal(dir, options));
  j->lock_file_ = std::move(*lock);
  RETURN_IF_ERROR(j->Recover());
  if (options.preallocate_bytes > 0 && options.sync) {
    j->preallocator_ =
        std::make_unique<Preallocator>(env, options.preallocate_bytes, options.max_file_size);
    if (j->active_) j->preallocator_->Attach(j->active_->path(), j->active_->size());
  }
  if (!options.sync && options.warn_unsynced) {
    LOG_WARN(
        "sync-log is false: appends are acknowledged before they are durable, a crash "
        "or power loss can lose the latest ones",
        KV("dir", dir));
  }
  return j;
}

Status Journal::Append(std::span<const Record> records, uint64_t* segment_ts) {
  WriteTicket ticket;
  Status s = Submit(records, /*durable=*/true, &ticket);
  if (segment_ts) *segment_ts = ticket.segment_ts;
  return s;
}

Status Journal::Write(std::span<const Record> records, WriteTicket* ticket) {
  return Submit(records, /*durable=*/false, ticket);
}

Status Journal::WaitDurable(const WriteTicket& ticket) {
  return options_.sync ? SyncThrough(ticket.group) : Status::OK();
}

Status Journal::Encode(std::span<const Record> records, std::vector<EncodedBlock>* out) {
  auto encoder = encoders_->Get();
  Status s = encoder->Encode(records, out);
  encoders_->Put(std::move(encoder));
  return s;
}

Status Journal::WriteEncoded(std::vector<EncodedBlock> blocks, size_t records,
                             WriteTicket* ticket) {
  if (blocks.empty()) return Status::OK();
  const bool ordered = options_.segment.kind == SegmentKind::kOrdered;
  ASSIGN_OR_RETURN(AppendOrder end, AppendOrder::Through(blocks, ordered));
  const EncodedBlock& first = blocks.front();
  Writer w;
  w.durable = false;
  w.records = records;
  for (const auto& b : blocks) w.bytes += b.bytes.size();
  const uint64_t first_ts = first.header.first_ts;
  const segment::PartTag first_part = first.part;
  w.blocks = std::move(blocks);
  return Enqueue(w, first_ts, first_part, end, ticket);
}

Status Journal::Submit(std::span<const Record> records, bool durable, WriteTicket* ticket) {
  if (records.empty()) return Status::OK();
  const bool ordered = options_.segment.kind == SegmentKind::kOrdered;
  ASSIGN_OR_RETURN(AppendOrder end, AppendOrder::Through(records, ordered));
  Writer w;
  w.durable = durable && options_.sync;
  w.records = records.size();
  for (const Record& r : records) w.bytes += r.payload.size() + kMaxFraming;
  if (w.bytes <= kLeaderEncodeBytes) {
    // No record this small can be too large for a block: the leader's Encode cannot refuse it.
    w.small = records;
  } else {
    RETURN_IF_ERROR(Encode(records, &w.blocks));
    w.bytes = 0;
    for (const auto& b : w.blocks) w.bytes += b.bytes.size();
  }
  return Enqueue(w, records.front().ts, records.front().part, end, ticket);
}

Status Journal::Enqueue(Writer& w, uint64_t first_ts, segment::PartTag first_part,
                        const AppendOrder& end, WriteTicket* ticket) {
  bool ordered = options_.segment.kind == SegmentKind::kOrdered;
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return Status::Aborted(fmt::format("journal {} is closed", dir_));
  if (!sticky_.ok()) {
    return Status::Aborted(fmt::format("journal {} refuses writes after an earlier failure: {}",
                                       dir_, sticky_.ToString()));
  }
  if (ordered) {
    AppendOrder check = enqueued_;
    RETURN_IF_ERROR(check.Accept(first_ts, first_part));
    enqueued_ = end;
  } else {
    enqueued_.last_ts = std::max(enqueued_.last_ts, end.last_ts);
  }
  queue_.push_back(&w);
  if (queue_.front() != &w) {
    lock.unlock();
    if (w.Await() == Writer::State::kDone) {
      *ticket = w.ticket;
      return w.status;
    }
    lock.lock();
  }
  Status s = LeadGroup(&w, lock);
  *ticket = w.ticket;
  return s;
}

// REQUIRES: lock held, `leader` at the queue's front; returns without the lock. The leader takes
// the writers queued behind it, up to a size bound (control requests travel alone), writes them
// together, hands the lead on, and then syncs while the next leader writes.
Status Journal::LeadGroup(Writer* leader, std::unique_lock<std::mutex>& lock) {
  std::vector<Writer*> group{leader};
  size_t bytes = leader->bytes;
  for (size_t i = 1; i < queue_.size(); ++i) {
    Writer* next = queue_[i];
    if (next->kind != Writer::Kind::kData || bytes + next->bytes > options_.max_group_bytes) break;
    group.push_back(next);
    bytes += next->bytes;
  }
  Status s = WriteGroup(group, lock);
  uint64_t seq = s.ok() ? written_group_ : 0;
  bool sync = false;
  for (Writer* member : group) {
    queue_.pop_front();
    member->status = s;
    member->ticket = WriteTicket{seq, group_segment_ts_};
    sync |= s.ok() && member->durable;
  }
  Writer* next = queue_.empty() ? nullptr : queue_.front();
  lock.unlock();
  // The next leader first, so its write overlaps this group's sync and wake-ups.
  if (next) next->Set(Writer::State::kLeader);
  for (size_t i = 1; i < group.size(); ++i) {
    if (!group[i]->durable || !sync) group[i]->Set(Writer::State::kDone);
  }
  if (!sync) return leader->status;
  Status synced = SyncThrough(seq);
  for (Writer* member : group) {
    if (member->durable) member->status = synced;
  }
  for (size_t i = 1; i < group.size(); ++i) {
    if (group[i]->durable) group[i]->Set(Writer::State::kDone);
  }
  return leader->status;
}

// REQUIRES: lock held on entry and on return; released during encoding and I/O. Writes the
// group without syncing it.
Status Journal::WriteGroup(std::vector<Writer*>& group, std::unique_lock<std::mutex>& lock) {
  if (closed_) return Status::Aborted(fmt::format("journal {} is closed", dir_));
  if (!sticky_.ok()) {
    return Status::Aborted(fmt::format("journal {} refuses writes after an earlier failure: {}",
                                       dir_, sticky_.ToString()));
  }
  lock.unlock();
  // The group's blocks in queue order (an ordered journal's ts order): the callers' own, and
  // each run of consecutive small appends encoded together.
  std::vector<const EncodedBlock*> blocks;
  std::deque<EncodedBlock> merged;  // stable addresses
  std::vector<Record> run;
  std::vector<EncodedBlock> encoded;
  Status s;
  auto flush_run = [&] {
    if (run.empty() || !s.ok()) return;
    encoded.clear();
    s = leader_encoder_->Encode(run, &encoded);
    for (EncodedBlock& b : encoded) blocks.push_back(&merged.emplace_back(std::move(b)));
    run.clear();
  };
  size_t records = 0;
  for (Writer* member : group) {
    records += member->records;
    if (!member->small.empty()) {
      run.insert(run.end(), member->small.begin(), member->small.end());
      continue;
    }
    flush_run();
    for (const EncodedBlock& b : member->blocks) blocks.push_back(&b);
  }
  flush_run();
  uint64_t max_ts = 0;
  for (const EncodedBlock* b : blocks) max_ts = std::max(max_ts, b->header.last_ts);
  uint64_t first_segment = 0;
  if (s.ok()) s = AppendRotating(blocks, &first_segment);
  lock.lock();
  group_segment_ts_ = first_segment;
  if (!s.ok()) return Fail(s);
  stats_.appends += group.size();
  stats_.records += records;
  stats_.groups += 1;
  ++written_group_;
  last_written_ts_ = std::max(last_written_ts_, max_ts);
  // Without sync-log a written record counts as durable (Append has always returned then).
  if (!options_.sync) last_durable_ts_ = last_written_ts_;
  return Status::OK();
}

Status Journal::Rotate() { return RunControl(Writer::Kind::kRotate); }
Status Journal::Sync() { return RunControl(Writer::Kind::kSync); }
Status Journal::Close() { return RunControl(Writer::Kind::kClose); }

// Control requests queue like appends, so only the current leader ever touches the segment.
Status Journal::RunControl(WriterKind kind) {
  Writer w;
  w.kind = kind;
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) {
    return kind == Writer::Kind::kClose
               ? Status::OK()
               : Status::Aborted(fmt::format("journal {} is closed", dir_));
  }
  queue_.push_back(&w);
  if (queue_.front() != &w) {
    lock.unlock();
    w.Await();  // a control request is never part of a group: it is woken as the leader
    lock.lock();
  }
  Status sticky = sticky_;
  uint64_t written = written_group_;
  lock.unlock();
  Status s;
  switch (kind) {
    case Writer::Kind::kRotate:
      // Inside a transaction in parts it waits for the transaction's end (and max_file_size).
      s = !sticky.ok() ? sticky : active_ends_open_ ? Status::OK() : SealActive();
      break;
    case Writer::Kind::kSync:
      s = sticky.ok() ? SyncThrough(written) : sticky;
      break;
    case Writer::Kind::kClose:
      s = CloseActive();
      break;
    case Writer::Kind::kData:
      break;
  }
  lock.lock();
  if (kind == Writer::Kind::kClose) {
    closed_ = true;
    lock_file_.reset();
  } else if (!s.ok() && sticky.ok()) {
    Fail(s).IgnoreError();
  }
  queue_.pop_front();
  Writer* next = queue_.empty() ? nullptr : queue_.front();
  lock.unlock();
  if (next) next->Set(Writer::State::kLeader);
  return s;
}

Status Journal::Fail(Status s) {
  if (sticky_.ok()) {
    sticky_ = s;
    LOG_ERROR("journal stops accepting writes", KV("dir", dir_), KV("error", s));
  }
  return s;
}

uint64_t Journal::active_segment_ts() const {
  std::lock_guard<std::mutex> g(mu_);
  return active_name_.empty() ? next_sequence_ : active_name_ts_;
}

uint64_t Journal::last_ts() const {
  std::lock_guard<std::mutex> g(mu_);
  return last_durable_ts_;
}

JournalStats Journal::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  JournalStats st = stats_;
  if (preallocator_) st.bytes_preallocated = preallocator_->bytes_zeroed();
  return st;
}

}  // namespace binlog::journal
