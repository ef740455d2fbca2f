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
  if (!options.arrival_order && !r->segments_.empty()) {
    // The last segment whose first ts is below start_ts: every earlier one ends before it.
    auto it = std::lower_bound(
        r->segments_.begin(), r->segments_.end(), options.start_ts,
        [](const SegmentName& s, uint64_t ts) { return s.ts < ts; });
    r->current_ = it == r->segments_.begin() ? 0 : (it - r->segments_.begin()) - 1;
  }
  return r;
}

Status JournalReader::RefreshList() {
  ASSIGN_OR_RETURN(std::vector<SegmentName> fresh, ListSegments(env_, dir_, false));
  if (current_ < segments_.size()) {
    const SegmentName current = segments_[current_];
    auto it = std::find_if(fresh.begin(), fresh.end(),
                           [&](const SegmentName& s) { return s.name == current.name; });
    if (it == fresh.end()) {
      // Removed (GC) while we hold it open: keep our place among the others.
      it = std::upper_bound(fresh.begin(), fresh.end(), current.ts,
                            [](uint64_t ts, const SegmentName& s) { return ts < s.ts; });
      it = fresh.insert(it, current);
    }
    current_ = static_cast<size_t>(it - fresh.begin());
  }
  segments_ = std::move(fresh);
  return Status::OK();
}

Result<bool> JournalReader::OpenSegmentAt(size_t index) {
  current_ = index;
  std::string path = JoinPath(dir_, segments_[index].name);
  if (index + 1 == segments_.size()) {
    // The writer creates the file, then writes its header: a short newest segment is one
    // being created, not a damaged one.
    ASSIGN_OR_RETURN(uint64_t size, env_->GetFileSize(path));
    if (size < segment::kHeaderSize) return false;
  }
  ASSIGN_OR_RETURN(reader_, SegmentReader::Open(env_, path));
  iter_ = std::make_unique<SegmentIterator>(reader_.get(), options_.start_ts, options_.stop_ts);
  return true;
}

// At the end of the current segment's data: if it has since been sealed, or a newer segment
// exists, move on. Returns true when positioned on another segment (or more data to read).
Result<bool> JournalReader::AdvanceSegment() {
  std::string path = JoinPath(dir_, segments_[current_].name);
  if (!reader_->sealed()) {
    // Reopen to see a footer written since; resume where the old iterator stopped.
    uint64_t offset = iter_->offset();
    auto fresh = SegmentReader::Open(env_, path);
    if (fresh.ok()) {
      reader_ = std::move(*fresh);
      iter_ = std::make_unique<SegmentIterator>(reader_.get(), options_.start_ts,
                                                options_.stop_ts, offset);
      if (reader_->sealed() && offset < reader_->trailer()->index_offset) return true;
    }
  }
  RETURN_IF_ERROR(RefreshList());
  if (current_ + 1 >= segments_.size()) return false;
  if (!reader_->sealed()) {
    LOG_WARN("segment ends in a torn tail and a newer segment exists; going on with the newer",
             KV("file", path), KV("offset", iter_->offset()));
  }
  ASSIGN_OR_RETURN(bool opened, OpenSegmentAt(current_ + 1));
  if (!opened) {
    iter_.reset();
    reader_.reset();
  }
  return opened;
}

Result<bool> JournalReader::Next(Record* out, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (!done_) {
    if (!iter_) {
      if (current_ >= segments_.size()) RETURN_IF_ERROR(RefreshList());
      if (current_ < segments_.size()) {
        ASSIGN_OR_RETURN(bool opened, OpenSegmentAt(current_));
        (void)opened;  // not yet readable: wait below like at the end of data
      }
    }
    if (iter_) {
      ASSIGN_OR_RETURN(SegmentIterator::State state, iter_->Next(out));
      if (state == SegmentIterator::State::kRecord) return true;
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

std::string JournalReader::current_segment() const {
  return iter_ && current_ < segments_.size() ? segments_[current_].name : std::string();
}

}  // namespace binlog::journal
