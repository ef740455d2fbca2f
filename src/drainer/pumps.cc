#include "drainer/pumps.h"

#include <algorithm>
#include <chrono>

#include "common/logging.h"
#include "common/thread_name.h"
#include "common/tso.h"
#include "drainer/source.h"

namespace binlog::drainer {

using registry::NodeState;

namespace {
// The merge hands out nothing newer than the last read of the registry (Merger::SetHorizon), so
// the registry is read this often whatever detect-interval says: it bounds the lag this adds.
constexpr double kHorizonSeconds = 0.2;
}  // namespace

PumpWatcher::PumpWatcher(Env* env, registry::Registry* registry, Merger* merger, PumpAccess access,
                         uint64_t from_ts, double detect_interval_seconds)
    : env_(env),
      registry_(registry),
      merger_(merger),
      access_(access),
      from_ts_(from_ts),
      detect_interval_(detect_interval_seconds) {}

PumpWatcher::~PumpWatcher() { Stop(); }

Status PumpWatcher::Start() {
  RETURN_IF_ERROR(Poll());
  thread_ = std::thread([this] {
    NameThisThread("drainer-pumps");
    // While the registry is away (etcd restarting) every poll fails: said every 10 s, not 5
    // times a second.
    std::chrono::steady_clock::time_point next_warning{};
    bool failing = false;
    while (Sleep(std::min(detect_interval_, kHorizonSeconds))) {
      Status s = Poll();
      auto now = std::chrono::steady_clock::now();
      if (s.ok() && failing) LOG_INFO("the pumps can be read from the registry again");
      if (!s.ok() && now >= next_warning) {
        LOG_WARN("cannot read the pumps from the registry; the merge waits", KV("error", s));
        next_warning = now + std::chrono::seconds(10);
      }
      failing = !s.ok();
    }
  });
  return Status::OK();
}

// False once stopping.
bool PumpWatcher::Sleep(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                       [&] { return stopping_.load(); });
}

void PumpWatcher::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The owner stopped the merger first, so no Push blocks; a waiting Next is woken here.
  for (auto& [id, feed] : feeds_) {
    {
      std::lock_guard<std::mutex> g(feed->mu);
      if (feed->reader) feed->reader->Wake();
    }
    if (feed->thread.joinable()) feed->thread.join();
  }
}

Status PumpWatcher::Poll() {
  // Taken before the listing: a pump missing from it registered later, and commits above this.
  const uint64_t listed_at = ComposeTS(env_->NowMicros() / 1000, 0);
  ASSIGN_OR_RETURN(std::vector<registry::NodeStatus> pumps,
                   registry_->List(registry::NodeKind::kPump));
  struct Horizon {
    Merger* merger;
    uint64_t ts;
    ~Horizon() { merger->SetHorizon(ts); }
  } horizon{merger_, listed_at - 1};
  std::lock_guard<std::mutex> g(mu_);
  if (stopping_) return Status::OK();
  for (auto it = feeds_.begin(); it != feeds_.end();) {  // pumps read to their end
    if (!it->second->done) {
      ++it;
      continue;
    }
    if (it->second->thread.joinable()) it->second->thread.join();
    it = feeds_.erase(it);
  }
  // A record removed from the registry (by hand, or binlogctl's delete) counts as offline.
  for (auto& entry : feeds_) {
    const std::string& id = entry.first;
    Feed* feed = entry.second.get();
    const bool listed = std::any_of(pumps.begin(), pumps.end(),
                                    [&](const registry::NodeStatus& r) { return r.node_id == id; });
    if (!listed && !feed->draining) {
      feed->drain_target = feed->record.max_commit_ts;
      feed->draining = true;
      merger_->Drain(id);
      LOG_WARN("pump's record is gone from the registry: reading it to its end, then dropping it",
               KV("pump", id));
    }
  }
  for (const registry::NodeStatus& rec : pumps) {
    const bool offline = rec.state == NodeState::kOffline;
    auto it = feeds_.find(rec.node_id);
    if (it == feeds_.end()) {
      auto r = resume_from_.find(rec.node_id);
      const uint64_t from = r != resume_from_.end() ? r->second : from_ts_;
      if (offline && static_cast<uint64_t>(rec.max_commit_ts) <= from) continue;
      auto feed = std::make_unique<Feed>();
      feed->record = rec;
      merger_->AddPump(rec.node_id);
      if (offline) {
        feed->draining = true;
        feed->drain_target = rec.max_commit_ts;
        merger_->Drain(rec.node_id);
      }
      LOG_INFO("pump added to the merge", KV("pump", rec.node_id),
               KV("state", registry::NodeStateName(rec.state)), KV("from-ts", from));
      Feed* f = feed.get();
      feed->thread = std::thread([this, f, from] { Read(f, from); });
      feeds_.emplace(rec.node_id, std::move(feed));
      continue;
    }
    Feed* f = it->second.get();
    {
      std::lock_guard<std::mutex> fg(f->mu);
      f->record = rec;
    }
    if (offline && !f->draining) {
      f->drain_target = rec.max_commit_ts;
      f->draining = true;
      merger_->Drain(rec.node_id);
      LOG_INFO("pump is offline: reading it to its end, then dropping it", KV("pump", rec.node_id),
               KV("max-commit-ts", rec.max_commit_ts));
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<PumpReader>> PumpWatcher::OpenReader(const registry::NodeStatus& rec,
                                                            uint64_t from) {
  if (access_ != PumpAccess::kGrpc && LocallyReadable(env_, rec.host, rec.data_dir)) {
    return OpenLocalReader(env_, rec.data_dir, from);
  }
  if (access_ == PumpAccess::kLocal) {
    return Status::NotFound(fmt::format(
        "pump-access = \"local\", and pump {}'s binlog/ is not readable here (host \"{}\", "
        "data dir \"{}\")",
        rec.node_id, rec.host, rec.data_dir));
  }
  return OpenGrpcReader(rec.addr, from);
}

namespace {

// Where a pump's stream resumes after a reconnect: past the watermark, or, inside a transaction
// in parts, at its next part (the merge waits for exactly that one).
struct ResumePoint {
  uint64_t watermark = 0;
  uint64_t open_ts = 0;    // the transaction in parts being handed on, if next_part > 0
  uint32_t next_part = 0;  // the part of it that comes next

  uint64_t from() const { return next_part > 0 ? open_ts - 1 : watermark; }
  // A part the merge has already (read again from the start of its transaction).
  bool Seen(const pb::Binlog& b, segment::PartTag part) const {
    return next_part > 0 && segment::IsPart(part) &&
           static_cast<uint64_t>(b.commit_ts()) == open_ts && segment::PartIndex(part) < next_part;
  }
  void Pushed(const pb::Binlog& b, segment::PartTag part) {
    const auto ts = static_cast<uint64_t>(b.commit_ts());
    if (b.tp() != pb::FAKE) {  // a heartbeat may come between parts; it only moves the watermark
      next_part = segment::IsLastPart(part) ? 0 : segment::PartIndex(part) + 1;
      open_ts = ts;
    }
    watermark = std::max(watermark, ts);
  }
};

}  // namespace

void PumpWatcher::Read(Feed* feed, uint64_t from) {
  NameThisThread("drainer-pull");
  const std::string id = feed->record.node_id;
  ResumePoint resume{from};
  const uint64_t& watermark = resume.watermark;
  double backoff = 0.5;
  auto finished = [&] {
    merger_->Finished(id);
    std::lock_guard<std::mutex> g(mu_);
    resume_from_[id] = watermark;
    feed->done = true;
  };
  while (!stopping_) {
    registry::NodeStatus rec;
    {
      std::lock_guard<std::mutex> g(feed->mu);
      rec = feed->record;
    }
    Result<std::unique_ptr<PumpReader>> opened = OpenReader(rec, resume.from());
    if (!opened.ok()) {
      if (feed->draining && watermark >= static_cast<uint64_t>(feed->drain_target.load())) {
        return finished();
      }
      std::lock_guard<std::mutex> g(feed->mu);
      if (feed->error != opened.status().ToString()) {
        feed->error = opened.status().ToString();
        LOG_WARN("cannot read pump: retrying", KV("pump", id), KV("error", opened.status()));
      }
    } else {
      PumpReader* reader = opened->get();
      {
        std::lock_guard<std::mutex> g(feed->mu);
        feed->reader = std::move(*opened);
        feed->via = reader->Describe();
        feed->error.clear();
      }
      if (stopping_) reader->Wake();
      LOG_INFO("reading pump", KV("pump", id), KV("via", reader->Describe()),
               KV("from-ts", watermark));
      for (;;) {
        pb::Binlog b;
        segment::PartTag part = segment::kWholeTransaction;
        Result<bool> more = reader->Next(&b, &part, std::chrono::milliseconds(500));
        if (stopping_) return;
        if (!more.ok()) {
          LOG_WARN("reading pump failed: reconnecting", KV("pump", id),
                   KV("via", reader->Describe()), KV("error", more.status()));
          std::lock_guard<std::mutex> g(feed->mu);
          feed->error = more.status().ToString();
          break;
        }
        if (*more) {
          backoff = 0.5;
          if (resume.Seen(b, part)) continue;
          resume.Pushed(b, part);
          if (!merger_->Push(id, std::move(b), part)) return;
          continue;
        }
        const bool ended = reader->Ended();
        if (feed->draining &&
            (!ended || watermark >= static_cast<uint64_t>(feed->drain_target.load()))) {
          return finished();
        }
        if (ended) break;
      }
      std::lock_guard<std::mutex> g(feed->mu);
      feed->reader.reset();
      feed->via.clear();
    }
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, 5.0);
  }
}

std::vector<PumpView> PumpWatcher::Pumps() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<PumpView> out;
  for (const auto& [id, feed] : feeds_) {
    std::lock_guard<std::mutex> fg(feed->mu);
    out.push_back(PumpView{id, registry::NodeStateName(registry::EffectiveState(feed->record)),
                           feed->via, feed->error, feed->record.max_commit_ts});
  }
  return out;
}

}  // namespace binlog::drainer
