#include "drainer/merger.h"

#include <algorithm>
#include <limits>

#include "common/logging.h"
#include "common/tso.h"

namespace binlog::drainer {

namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Merger::Merger(uint64_t from_ts, size_t max_queue_bytes, uint64_t horizon)
    : max_queue_bytes_(max_queue_bytes),
      from_ts_(from_ts),
      emitted_ts_(from_ts),
      horizon_(horizon) {}

void Merger::SetHorizon(uint64_t ts) {
  {
    std::lock_guard<std::mutex> g(mu_);
    horizon_ = std::max(horizon_, ts);
  }
  ready_cv_.notify_all();
}

void Merger::AddPump(const std::string& node_id) {
  std::lock_guard<std::mutex> g(mu_);
  Feed& f = feeds_[node_id];
  f.watermark = std::max(f.watermark, from_ts_);
  f.draining = f.finished = false;
}

void Merger::Drain(const std::string& node_id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = feeds_.find(node_id);
  if (it != feeds_.end()) it->second.draining = true;
}

void Merger::Finished(const std::string& node_id) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = feeds_.find(node_id);
    if (it == feeds_.end()) return;
    it->second.finished = true;
  }
  ready_cv_.notify_all();
}

bool Merger::Has(const std::string& node_id) const {
  std::lock_guard<std::mutex> g(mu_);
  return feeds_.count(node_id) > 0;
}

bool Merger::Push(const std::string& node_id, pb::Binlog binlog, segment::PartTag part) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = feeds_.find(node_id);
  if (it == feeds_.end() || stopped_) return !stopped_;
  Feed& f = it->second;
  const uint64_t ts = static_cast<uint64_t>(binlog.commit_ts());
  if (binlog.tp() != pb::FAKE) {
    space_cv_.wait(lock, [&] { return stopped_ || f.queue.empty() || f.bytes < max_queue_bytes_; });
    if (stopped_) return false;
    f.sizes.push_back(binlog.ByteSizeLong());
    f.bytes += f.sizes.back();
    f.queue.push_back(MergedBinlog{std::move(binlog), part});
  }
  f.watermark = std::max(f.watermark, ts);
  lock.unlock();
  ready_cv_.notify_one();
  return true;
}

// The smallest watermark of the pumps still waited on, and whose it is.
uint64_t Merger::MinWatermarkLocked(std::string* holder) const {
  uint64_t min = std::numeric_limits<uint64_t>::max();
  holder->clear();
  for (const auto& [id, f] : feeds_) {
    if (f.finished && f.queue.empty()) continue;
    if (f.watermark < min) {
      min = f.watermark;
      *holder = id;
    }
  }
  if (holder->empty()) return 0;
  if (horizon_ < min) {
    *holder = "registry";
    return horizon_;
  }
  return min;
}

std::map<std::string, Merger::Feed>::iterator Merger::SmallestHeadLocked() {
  auto best = feeds_.end();
  for (auto it = feeds_.begin(); it != feeds_.end(); ++it) {
    if (it->second.queue.empty()) continue;
    if (best == feeds_.end() || it->second.queue.front().binlog.commit_ts() <
                                    best->second.queue.front().binlog.commit_ts()) {
      best = it;
    }
  }
  return best;
}

void Merger::TakeHeadLocked(std::map<std::string, Feed>::iterator it,
                            std::vector<MergedBinlog>* out) {
  Feed& f = it->second;
  MergedBinlog item = std::move(f.queue.front());
  f.queue.pop_front();
  f.bytes -= std::min<size_t>(f.bytes, f.sizes.front());
  f.sizes.pop_front();
  const pb::Binlog& b = item.binlog;
  const uint64_t ts = static_cast<uint64_t>(b.commit_ts());
  const bool continues = open_feed_ == it->first;
  // Counted and logged once per transaction: at its first part.
  const bool first = segment::PartIndex(item.part) == 0;
  if (continues && (ts != emitted_ts_ || !segment::IsPart(item.part) ||
                    segment::PartIndex(item.part) != open_next_part_)) {
    ++disorder_;
    LOG_ERROR("a pump broke off a transaction in parts: the rest of it is not applied",
              KV("pump", it->first), KV("commit-ts", emitted_ts_), KV("part", open_next_part_),
              KV("got-commit-ts", ts), KV("got-part", segment::PartIndex(item.part)));
    return;
  }
  if (!continues && ts == emitted_ts_) {
    if (!first) return;
    ++duplicates_;
    LOG_WARN("the same commit ts came from a second pump: applied once", KV("pump", it->first),
             KV("commit-ts", ts));
    return;
  }
  if (!continues && ts < emitted_ts_) {
    if (!first) return;
    ++disorder_;
    LOG_ERROR("binlog out of commit-ts order: below what was already applied; not applied",
              KV("pump", it->first), KV("commit-ts", ts), KV("applied-ts", emitted_ts_),
              KV("start-ts", b.start_ts()));
    return;
  }
  emitted_ts_ = ts;
  if (first) ++binlogs_;
  if (segment::IsLastPart(item.part)) {
    open_feed_.clear();
  } else {
    open_feed_ = it->first;
    open_next_part_ = segment::PartIndex(item.part) + 1;
  }
  out->push_back(std::move(item));
}

void Merger::Pop(std::vector<MergedBinlog>* out, size_t max, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const size_t start = out->size();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    // Not one inside a transaction in parts: the merge then waits on it, and /status says so.
    std::erase_if(feeds_, [&](const auto& kv) {
      return kv.second.finished && kv.second.queue.empty() && kv.second.draining &&
             kv.first != open_feed_;
    });
    std::string holder;
    const uint64_t min_wm = MinWatermarkLocked(&holder);
    bool blocked = false;
    while (out->size() - start < max) {
      // Inside a transaction in parts only its pump's next part may follow.
      auto it = open_feed_.empty() ? SmallestHeadLocked() : feeds_.find(open_feed_);
      if (it == feeds_.end()) break;
      if (it->second.queue.empty()) {
        blocked = true;
        holder = open_feed_;
        break;
      }
      if (static_cast<uint64_t>(it->second.queue.front().binlog.commit_ts()) > min_wm) {
        blocked = true;
        break;
      }
      TakeHeadLocked(it, out);
    }
    if (out->size() > start || (min_wm > emitted_ts_ && !blocked && open_feed_.empty())) {
      if (out->size() == start) {
        pb::Binlog fake;
        fake.set_tp(pb::FAKE);
        fake.set_commit_ts(static_cast<int64_t>(min_wm));
        emitted_ts_ = min_wm;
        out->push_back(MergedBinlog{std::move(fake)});
      }
      lock.unlock();
      space_cv_.notify_all();
      return;
    }
    if (!blocked) {
      waiting_on_.clear();
    } else if (waiting_on_ != holder) {
      waiting_on_ = holder;
      waiting_since_micros_ = NowMicros();
    }
    space_cv_.notify_all();
    if (ready_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return;
  }
}

void Merger::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopped_ = true;
  }
  ready_cv_.notify_all();
  space_cv_.notify_all();
}

MergeStatus Merger::Status() const {
  std::lock_guard<std::mutex> g(mu_);
  MergeStatus s;
  s.emitted_ts = emitted_ts_;
  s.binlogs = binlogs_;
  s.duplicates = duplicates_;
  s.disorder = disorder_;
  s.waiting_on = waiting_on_;
  s.waiting_since_micros = waiting_since_micros_;
  for (const auto& [id, f] : feeds_) {
    s.pumps.push_back(PumpFeedStatus{id, f.watermark, f.queue.size(), f.bytes, f.draining});
  }
  return s;
}

}  // namespace binlog::drainer
