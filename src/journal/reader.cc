// Journal reader: seek by ts over segment names, then read on, optionally following the writer.
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>

#include "common/logging.h"
#include "journal/journal.h"

namespace binlog::journal {

using segment::SegmentIterator;
using segment::SegmentReader;

// inotify on the directory (it reports writes to the files in it, creates and renames) plus an
// eventfd that Wake() signals. The watch exists from Open on, so a write that lands between a
// read reaching the end and the wait still leaves an event behind: no lost wake-up.
struct JournalReader::Tail {
  int inotify_fd = -1;
  int wake_fd = -1;
  ~Tail() {
    if (inotify_fd >= 0) close(inotify_fd);
    if (wake_fd >= 0) close(wake_fd);
  }
  Status Init(const std::string& dir) {
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd < 0) return Status::FromErrno(errno, "inotify_init1");
    uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE;
    if (inotify_add_watch(inotify_fd, dir.c_str(), mask) < 0) {
      return Status::FromErrno(errno, "inotify_add_watch " + dir);
    }
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) return Status::FromErrno(errno, "eventfd");
    return Status::OK();
  }
  // Returns true when the directory changed, false on timeout or Wake().
  bool Wait(std::chrono::milliseconds wait) {
    pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(wait.count()));
    if (n <= 0) return false;
    char buf[4096];
    while (read(inotify_fd, buf, sizeof(buf)) > 0) {
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      while (read(wake_fd, &v, sizeof(v)) > 0) {
      }
      return false;
    }
    return true;
  }
};

JournalReader::JournalReader(Env* env, std::string dir, const ReadOptions& options)
    : env_(env), dir_(std::move(dir)), options_(options) {}

JournalReader::~JournalReader() = default;

Result<std::unique_ptr<JournalReader>> JournalReader::Open(Env* env, const std::string& dir,
                                                           const ReadOptions& options) {
  std::unique_ptr<JournalReader> r(new JournalReader(env, dir, options));
  if (options.follow) {
    r->tail_ = std::make_unique<Tail>();
    RETURN_IF_ERROR(r->tail_->Init(dir));
  }
  ASSIGN_OR_RETURN(r->segments_, ListSegments(env, dir));
  r->Seek();
  return r;
}

void JournalReader::Seek() {
  current_ = 0;
  if (options_.arrival_order || segments_.empty()) return;
  // The last segment whose first ts is below start_ts: every earlier one ends before it.
  auto it = std::lower_bound(segments_.begin(), segments_.end(), options_.start_ts,
                             [](const SegmentName& s, uint64_t ts) { return s.ts < ts; });
  current_ = it == segments_.begin() ? 0 : (it - segments_.begin()) - 1;
}

namespace {

bool SortsBefore(const SegmentName& a, const SegmentName& b) {
  return a.ts != b.ts ? a.ts < b.ts : a.created < b.created;
}

}  // namespace

// Segments come and go while we read (rotation, GC, a restarted writer removing what a crash
// left), so our place is kept by name and found again in each new listing, not by index.
Status JournalReader::RefreshList() {
  ASSIGN_OR_RETURN(std::vector<SegmentName> fresh, ListSegments(env_, dir_, false));
  if (segments_.empty()) {
    segments_ = std::move(fresh);
    Seek();  // the first listing with anything in it: seek now, as Open would have
    return Status::OK();
  }
  const bool past_end = current_ >= segments_.size();
  const SegmentName anchor = past_end ? segments_.back() : segments_[current_];
  auto it = std::upper_bound(fresh.begin(), fresh.end(), anchor, SortsBefore);
  if (!past_end) {
    if (it != fresh.begin() && std::prev(it)->name == anchor.name) {
      --it;
    } else if (reader_) {
      // Removed (GC) while we hold it open: it is read to its end, in its place.
      it = fresh.insert(it, anchor);
    }
    // Removed before we opened it: what it held is gone, the next one takes its place.
  }
  current_ = static_cast<size_t>(it - fresh.begin());
  segments_ = std::move(fresh);
  return Status::OK();
}

Result<bool> JournalReader::OpenSegmentAt(size_t index) {
  current_ = index;
  iter_.reset();
  reader_.reset();
  final_pass_ = false;
  std::string path = JoinPath(dir_, segments_[index].name);
  if (index + 1 == segments_.size()) {
    // The writer creates the file, then writes its header: a short newest segment is one
    // being created, not a damaged one.
    ASSIGN_OR_RETURN(uint64_t size, env_->GetFileSize(path));
    if (size < segment::kHeaderSize) return false;
  }
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(env_, path));
  if (reader->header().kind == segment::SegmentKind::kArrival && !options_.arrival_order) {
    // A wal's names are sequence numbers, not ts: a seek by name would skip segments.
    return Status::InvalidArgument(fmt::format(
        "{}: an arrival-order segment (a wal); read its journal with arrival_order", path));
  }
  reader_ = std::move(reader);
  iter_ = std::make_unique<SegmentIterator>(reader_.get(), options_.start_ts, options_.stop_ts);
  WatchDamage(path);
  return true;
}

// At the end of the current segment's data: read on if it grew or was sealed since, else move
// to a newer segment. Returns true when there is more to read (or a place to look again).
Result<bool> JournalReader::AdvanceSegment() {
  const std::string path = JoinPath(dir_, segments_[current_].name);
  // List first, look again second: the writer creates a segment only after sealing the one
  // before, so once a newer one is listed a reopen sees all the current one will ever hold. In
  // the other order, blocks appended and sealed between the look and the listing were skipped.
  RETURN_IF_ERROR(RefreshList());
  const bool newer = current_ + 1 < segments_.size();
  if (!reader_->sealed() && !final_pass_) {
    uint64_t offset = iter_->offset();
    auto fresh = SegmentReader::Open(env_, path);
    if (fresh.ok()) {
      iter_.reset();
      reader_ = std::move(*fresh);
      iter_ = std::make_unique<SegmentIterator>(reader_.get(), options_.start_ts, options_.stop_ts,
                                                offset);
      WatchDamage(path);
      if (reader_->sealed()) {
        if (offset < reader_->trailer()->index_offset) return true;
      } else if (newer) {
        final_pass_ = true;  // unsealed with a newer one: read what is there, then move on
        return true;
      } else {
        return false;
      }
    }
  }
  if (!newer) return false;
  if (!reader_->sealed()) {
    LOG_WARN("segment ends in a torn tail and a newer segment exists; going on with the newer",
             KV("file", path), KV("offset", iter_->offset()));
  }
  auto opened = OpenSegmentAt(current_ + 1);
  // Removed before we got to it: Next finds what took its place.
  if (!opened.ok() && opened.status().IsNotFound()) return true;
  return opened;
}

Result<bool> JournalReader::Next(Record* out, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (!done_) {
    if (!iter_) {
      if (current_ >= segments_.size()) RETURN_IF_ERROR(RefreshList());
      if (current_ < segments_.size()) {
        // false: not yet readable, wait below like at the end of data.
        auto opened = OpenSegmentAt(current_);
        if (!opened.ok()) {
          // Removed before we opened it (GC, or a crash's leftover that the restarted writer
          // removed): the listing finds what takes its place.
          if (!opened.status().IsNotFound()) return opened.status();
          const std::string gone = segments_[current_].name;
          RETURN_IF_ERROR(RefreshList());
          // Still listed (a dangling link?): an error, not a loop.
          if (current_ < segments_.size() && segments_[current_].name == gone) {
            return opened.status();
          }
          continue;
        }
      }
    }
    if (iter_) {
      ASSIGN_OR_RETURN(SegmentIterator::State state, iter_->Next(out));
      if (state == SegmentIterator::State::kRecord) {
        // In ts order nothing after the stop_ts record can qualify: a follower ends here
        // instead of waiting for a record past it that may never come. The parts of a
        // transaction share its ts: the end comes after its last part.
        if (out->ts >= options_.stop_ts && segment::IsLastPart(out->part) &&
            reader_->header().kind == segment::SegmentKind::kOrdered) {
          done_ = true;
        }
        return true;
      }
      if (state == SegmentIterator::State::kPastStop) {
        done_ = true;
        return false;
      }
      ASSIGN_OR_RETURN(bool moved, AdvanceSegment());
      if (moved) continue;
    }
    if (!tail_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !tail_->Wait(left)) return false;
  }
  return false;
}

void JournalReader::Wake() {
  if (tail_) {
    uint64_t one = 1;
    ssize_t n = write(tail_->wake_fd, &one, sizeof(one));
    (void)n;
  }
}

void JournalReader::WatchDamage(const std::string& path) {
  if (!options_.on_damage) return;
  iter_->SkipDamage([this, path](const segment::Damage& d) { options_.on_damage(path, d); });
}

int64_t JournalReader::current_segment_created_micros() const {
  return reader_ ? reader_->header().created_micros : 0;
}

std::string JournalReader::current_segment() const {
  return iter_ && current_ < segments_.size() ? segments_[current_].name : std::string();
}

}  // namespace binlog::journal
