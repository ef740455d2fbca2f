// The journal's active segment: creating it, syncing it (several syncs at once), sealing and
// closing it, and spreading a group over segments. Which groups to write is journal.cc's.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "journal/journal.h"

namespace binlog::journal {

using segment::SegmentKind;

namespace {

// Syncs of the active segment under way at once (see SyncThrough).
constexpr size_t kMaxSyncs = 2;

}  // namespace

// Makes every group up to `group` durable. An fdatasync covers every group written before it
// began, so a caller often finds its group synced, or waits for a sync under way that covers it;
// otherwise it starts one of its own beside those under way (up to kMaxSyncs): on this kind of
// virtual disk two concurrent syncs take about as long as one, so a group written while another
// syncs need not wait for it. active_ holds every group after durable_group_: sealing or closing
// a segment waits for its syncs, syncs it, and moves durable_group_ on.
Status Journal::SyncThrough(uint64_t group) {
  std::unique_lock<std::mutex> sync_lock(sync_mu_);
  while (true) {
    uint64_t target;
    uint64_t max_ts;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (durable_group_ >= group) return Status::OK();
      if (!sticky_.ok()) {
        return Status::Aborted(fmt::format("journal {}: an earlier write or sync failed: {}", dir_,
                                           sticky_.ToString()));
      }
      target = written_group_;
      max_ts = last_written_ts_;
    }
    bool covered = !syncs_in_flight_.empty() && *syncs_in_flight_.rbegin() >= group;
    if (covered || syncs_in_flight_.size() >= kMaxSyncs) {
      sync_cv_.wait(sync_lock);
      continue;
    }
    if (!active_) return Status::Aborted(fmt::format("journal {} is closed", dir_));
    std::unique_ptr<WritableFile> handle;
    if (sync_handles_.empty()) {
      ASSIGN_OR_RETURN(handle, options_.env->ReopenWritableFile(active_->path()));
    } else {
      handle = std::move(sync_handles_.back());
      sync_handles_.pop_back();
    }
    auto in_flight = syncs_in_flight_.insert(target);
    sync_lock.unlock();
    auto start = std::chrono::steady_clock::now();
    Status s = handle->Sync();
    auto micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - start)
                                            .count());
    sync_lock.lock();
    syncs_in_flight_.erase(in_flight);
    sync_handles_.push_back(std::move(handle));
    {
      std::lock_guard<std::mutex> g(mu_);
      // A sync under way beside one that failed may succeed, yet what the failed one lost lies
      // before this one's groups: nothing counts as durable after a failure.
      if (s.ok() && !sticky_.ok()) {
        s = Status::Aborted(fmt::format("journal {}: an earlier write or sync failed: {}", dir_,
                                        sticky_.ToString()));
      } else if (s.ok()) {
        durable_group_ = std::max(durable_group_, target);
        last_durable_ts_ = std::max(last_durable_ts_, max_ts);
        stats_.syncs += 1;
        stats_.sync_latency.Observe(micros);
      } else if (sticky_.ok()) {
        Fail(s).IgnoreError();
      }
    }
    sync_cv_.notify_all();
    if (!s.ok()) return s;
  }
}

// Called by the leader only, without the lock.
Status Journal::EnsureActiveSegment(uint64_t first_ts) {
  if (active_ && active_->size() >= options_.max_file_size && !active_ends_open_) {
    RETURN_IF_ERROR(SealActive());
  }
  if (active_) return Status::OK();
  Env* env = options_.env;
  bool ordered = options_.segment.kind == SegmentKind::kOrdered;
  int64_t now = env->NowMicros();
  std::string name = MakeSegmentName(ordered ? first_ts : next_sequence_, now);
  std::string path = JoinPath(dir_, name);
  if (env->FileExists(path)) {
    return Status::IOError(fmt::format("{}: segment already exists", path));
  }
  ASSIGN_OR_RETURN(auto created, segment::SegmentWriter::Create(env, path, options_.segment, now));
  // The new name must be durable before any acknowledged record lives only in it.
  RETURN_IF_ERROR(env->SyncDir(dir_));
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  active_ = std::move(created);
  if (preallocator_) preallocator_->Attach(path, active_->size());
  std::lock_guard<std::mutex> g(mu_);
  active_name_ts_ = ordered ? first_ts : next_sequence_;
  active_name_ = name;
  if (!ordered) ++next_sequence_;
  ++stats_.segments_created;
  return Status::OK();
}

// Whether a block leaves an ordered journal inside a transaction. An arrival journal (a wal/)
// interleaves the parts of many transactions: they may span segments there.
bool Journal::EndsOpen(const segment::EncodedBlock& block) const {
  return options_.segment.kind == SegmentKind::kOrdered && block.header.continues();
}

// Called by the leader only, without the lock. A segment is sealed once it reaches
// max_file_size, also in the middle of a group: however large one append is, no segment grows
// past max_file_size by more than one block, or by the rest of a transaction in parts, which
// never spans two segments (a reader, recovery and GC then never see half of one).
// *first_segment is the name ts of the segment the blocks start in.
Status Journal::AppendRotating(std::span<const segment::EncodedBlock* const> blocks,
                               uint64_t* first_segment) {
  for (size_t i = 0; i < blocks.size();) {
    RETURN_IF_ERROR(EnsureActiveSegment(blocks[i]->header.first_ts));
    if (i == 0) {
      std::lock_guard<std::mutex> g(mu_);
      *first_segment = active_name_ts_;
    }
    size_t end = i;
    uint64_t bytes = 0;
    do {
      bytes += blocks[end++]->bytes.size();
    } while (end < blocks.size() &&
             (active_->size() + bytes < options_.max_file_size || EndsOpen(*blocks[end - 1])));
    if (preallocator_) preallocator_->Reserve(active_->size() + bytes);
    RETURN_IF_ERROR(active_->Append(blocks.subspan(i, end - i)));
    active_ends_open_ = EndsOpen(*blocks[end - 1]);
    i = end;
  }
  return Status::OK();
}

// Sealing and closing sync the segment: every group written so far is then durable, unless an
// earlier sync failed (a later one can succeed without covering what that one lost).
Status Journal::SealActive() {
  std::unique_lock<std::mutex> sync_lock(sync_mu_);
  WaitForSyncs(sync_lock);
  if (!active_) return Status::OK();
  if (preallocator_) preallocator_->Detach();
  RETURN_IF_ERROR(active_->Seal());
  active_.reset();
  std::lock_guard<std::mutex> g(mu_);
  active_name_.clear();
  if (sticky_.ok()) MarkAllDurable();
  return Status::OK();
}

Status Journal::CloseActive() {
  std::unique_lock<std::mutex> sync_lock(sync_mu_);
  WaitForSyncs(sync_lock);
  if (preallocator_ && active_) preallocator_->Detach();
  Status s = active_ ? active_->Close() : Status::OK();
  active_.reset();
  std::lock_guard<std::mutex> g(mu_);
  if (s.ok() && sticky_.ok()) MarkAllDurable();
  return s;
}

// Waits until no sync of the active segment is under way, and closes the idle handles.
void Journal::WaitForSyncs(std::unique_lock<std::mutex>& sync_lock) {
  sync_cv_.wait(sync_lock, [&] { return syncs_in_flight_.empty(); });
  sync_handles_.clear();
}

// REQUIRES: mu_ held, after a sync that covered every group written.
void Journal::MarkAllDurable() {
  durable_group_ = written_group_;
  last_durable_ts_ = std::max(last_durable_ts_, last_written_ts_);
}

}  // namespace binlog::journal
