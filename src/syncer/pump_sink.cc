// The pump sink: each batch goes to one pump of pump-addrs as WriteBinlogs calls, answered
// once durable. docs/SYNCER_PUMP.md says why each rule holds:
//   - dedupe: before (re)sending after a failure, the sink asks the pump what it holds from
//     this upstream server (GetSourceState) and drops the prefix already there: a call is one
//     wal write, so what landed of a batch is a prefix;
//   - ts: commit ts are raised above the newest ts the pump has seen (its own idle
//     heartbeats run on the wall clock, ahead of upstream event times during a catch-up), and
//     a batch refused as "ts-behind" (nothing stored) is re-stamped and sent again;
//   - failover: any other failure moves to the next address after a backoff, up to max-retry
//     failures in a row.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "common/logging.h"
#include "pump_client/pump_client.h"
#include "syncer/sink.h"

namespace binlog::syncer {

namespace {

// Re-stamps in a row before a "ts-behind" is treated as a failure: each one goes above what
// the pump reported, so only producers racing for the same ts can make it repeat.
constexpr int kMaxRestamps = 20;

uint64_t Ts(const pb::Binlog* b) { return static_cast<uint64_t>(b->commit_ts()); }

// Raises commit ts to keep them strictly increasing above `above`; start_ts follows when it
// equals commit_ts (the syncer's one-shot commits and heartbeats).
void Stamp(std::span<pb::Binlog* const> binlogs, uint64_t above) {
  uint64_t prev = above;
  for (pb::Binlog* b : binlogs) {
    uint64_t ts = std::max(Ts(b), prev + 1);
    if (b->start_ts() == b->commit_ts()) b->set_start_ts(static_cast<int64_t>(ts));
    b->set_commit_ts(static_cast<int64_t>(ts));
    prev = ts;
  }
}

class PumpSink : public Sink {
 public:
  explicit PumpSink(PumpSinkOptions options)
      : options_(std::move(options)), clients_(options_.addrs.size()) {}

  // Parsed here: the ts may have to be raised, and calls are cut by size.
  Status Write(std::span<const EncodedBinlog> encoded) override {
    parsed_.resize(encoded.size());
    std::vector<pb::Binlog*> binlogs(encoded.size());
    for (size_t i = 0; i < encoded.size(); ++i) {
      const std::string_view p = encoded[i].payload;
      if (!parsed_[i].ParseFromArray(p.data(), static_cast<int>(p.size()))) {
        return Status::InvalidArgument(
            fmt::format("the record of {}:{} is not a binlog", encoded[i].file, encoded[i].pos));
      }
      binlogs[i] = &parsed_[i];
    }
    size_t begin = 0;
    while (begin < binlogs.size()) {
      size_t end = begin, bytes = 0;
      while (end < binlogs.size()) {
        size_t size = binlogs[end]->ByteSizeLong();
        if (end > begin && bytes + size > options_.max_call_bytes) break;
        bytes += size;
        ++end;
      }
      RETURN_IF_ERROR(WriteCall(std::span(binlogs).subspan(begin, end - begin)));
      begin = end;
    }
    return Status::OK();
  }

  uint64_t LastTS() const override { return last_ts_.load(); }

  Result<std::optional<pb::SourcePosition>> LastSource(uint32_t server_id) override;

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

  Status Close() override { return Status::OK(); }

 private:
  Status WriteCall(std::span<pb::Binlog* const> call);
  Result<pump::PumpClient*> Client(size_t i);
  Status Sync();
  Status Send(std::span<pb::Binlog* const> call);
  Status NextPump(const Status& why, int* failures);
  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  PumpSinkOptions options_;
  std::vector<std::unique_ptr<pump::PumpClient>> clients_;  // made on first use
  std::vector<pb::Binlog> parsed_;                          // of the Write under way
  size_t current_ = 0;
  uint32_t server_id_ = 0;
  bool synced_ = false;   // held_ts_ and floor_ are the current pump's
  uint64_t held_ts_ = 0;  // newest commit ts the current pump holds from server_id_
  uint64_t floor_ = 0;    // the newest ts the current pump had seen when asked
  // Newest ts known durable on any pump: every new ts goes above. Atomic: the syncer's
  // durability thread reads it (LastTS) while a Write runs.
  std::atomic<uint64_t> last_ts_{0};

  std::mutex mu_;  // for Cancel, from another thread
  std::condition_variable cv_;
  bool cancelled_ = false;
};

Result<pump::PumpClient*> PumpSink::Client(size_t i) {
  if (!clients_[i]) {
    pump::ClientOptions co;
    co.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(options_.call_timeout_seconds * 1000));
    ASSIGN_OR_RETURN(clients_[i], pump::PumpClient::Connect(options_.addrs[i], co));
  }
  return clients_[i].get();
}

// Every reachable pump is asked, not only the first: after a failover the newest records of
// this source may be on any of them, and new ts must go above all they have seen.
Result<std::optional<pb::SourcePosition>> PumpSink::LastSource(uint32_t server_id) {
  server_id_ = server_id;
  int failures = 0;
  while (true) {
    std::optional<pump::PumpSourceState> newest;
    size_t reached = 0;
    Status error;
    for (size_t i = 0; i < options_.addrs.size(); ++i) {
      Result<pump::PumpClient*> c = Client(i);
      Result<pump::PumpSourceState> st = c.ok() ? (*c)->GetSourceState(server_id) : c.status();
      if (!st.ok()) {
        LOG_WARN("pump unreachable while resuming: what it holds from this source is not known",
                 KV("pump", options_.addrs[i]), KV("error", st.status()));
        error = st.status();
        continue;
      }
      ++reached;
      last_ts_ = std::max({last_ts_.load(), st->max_ts, st->found ? st->commit_ts : 0});
      if (st->found && (!newest || st->commit_ts > newest->commit_ts)) newest = *st;
    }
    if (reached > 0) {
      synced_ = false;
      LOG_INFO("pumps asked what they hold from this source", KV("server-id", server_id),
               KV("reached", reached), KV("of", options_.addrs.size()),
               KV("last-ts", last_ts_.load()),
               KV("newest", newest ? fmt::format("{}:{} gtid {} ts {}", newest->source.file(),
                                                 newest->source.pos(), newest->source.gtid(),
                                                 newest->commit_ts)
                                   : std::string("(none)")));
      if (!newest) return std::optional<pb::SourcePosition>();
      return std::optional<pb::SourcePosition>(newest->source);
    }
    RETURN_IF_ERROR(NextPump(error, &failures));
  }
}

Status PumpSink::Sync() {
  ASSIGN_OR_RETURN(pump::PumpClient * c, Client(current_));
  ASSIGN_OR_RETURN(pump::PumpSourceState st, c->GetSourceState(server_id_));
  held_ts_ = st.found ? st.commit_ts : 0;
  floor_ = st.max_ts;
  synced_ = true;
  return Status::OK();
}

Status PumpSink::Send(std::span<pb::Binlog* const> call) {
  std::vector<std::string> payloads(call.size());
  for (size_t i = 0; i < call.size(); ++i) {
    if (!call[i]->SerializeToString(&payloads[i])) {
      return Status::InvalidArgument("a binlog that protobuf cannot serialize");
    }
  }
  ASSIGN_OR_RETURN(pump::PumpClient * c, Client(current_));
  return c->WritePayloads(std::move(payloads));
}

Status PumpSink::WriteCall(std::span<pb::Binlog* const> call) {
  int failures = 0, restamps = 0;
  Stamp(call, std::max(last_ts_.load(), floor_));
  while (true) {
    if (cancelled()) return Status::Aborted("the syncer is stopping");
    Status s;
    if (!synced_) {
      s = Sync();
      // What an earlier attempt of this call left on this pump: a prefix, each call being one
      // wal write (records of the same source are in ts order).
      while (s.ok() && !call.empty() && Ts(call.front()) <= held_ts_) call = call.subspan(1);
      if (s.ok() && call.empty()) return Status::OK();
      if (s.ok() && Ts(call.front()) <= std::max(last_ts_.load(), floor_)) {
        Stamp(call, std::max(last_ts_.load(), floor_));
      }
    }
    if (s.ok()) s = Send(call);
    if (s.ok()) {
      last_ts_ = Ts(call.back());
      return Status::OK();
    }
    synced_ = false;
    if (s.IsOutOfRange() && ++restamps <= kMaxRestamps) {
      // Nothing was stored: the pump's own heartbeat (or another producer) went past these ts.
      LOG_INFO("pump refused the batch's commit ts as behind; re-stamping above its newest ts",
               KV("pump", options_.addrs[current_]), KV("first-ts", Ts(call.front())),
               KV("count", call.size()));
      continue;
    }
    if (s.IsInvalidArgument() || s.IsUnsupported()) {
      return s.WithContext("the pump refused the transactions themselves");
    }
    RETURN_IF_ERROR(NextPump(s, &failures));
  }
}

Status PumpSink::NextPump(const Status& why, int* failures) {
  if (++*failures > options_.max_retry) {
    return why.WithContext(
        fmt::format("gave up after {} failed pump calls in a row (max-retry)", options_.max_retry));
  }
  size_t from = current_;
  current_ = (current_ + 1) % options_.addrs.size();
  // A fresh channel next time: gRPC's own reconnect backoff would otherwise keep a pump that
  // is back refused for up to its backoff (seconds to minutes).
  clients_[from].reset();
  double seconds =
      std::min(options_.retry_max_seconds,
               options_.retry_base_seconds * std::pow(2.0, std::min(*failures, 20) - 1));
  LOG_WARN("pump call failed; retrying on the next pump of pump-addrs",
           KV("pump", options_.addrs[from]), KV("next", options_.addrs[current_]), KV("error", why),
           KV("attempt", *failures), KV("max-retry", options_.max_retry),
           KV("backoff-seconds", seconds));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return cancelled_; });
  if (cancelled_) return Status::Aborted("the syncer is stopping");
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Sink>> OpenPumpSink(const PumpSinkOptions& options) {
  if (options.addrs.empty()) {
    return Status::InvalidArgument("[to] pump-addrs: at least one pump address (host:port)");
  }
  for (const std::string& addr : options.addrs) {
    // Checks the address form now, so a typo fails at start rather than at the first write.
    RETURN_IF_ERROR(pump::PumpClient::Connect(addr).status().WithContext("[to] pump-addrs"));
  }
  return std::unique_ptr<Sink>(new PumpSink(options));
}

}  // namespace binlog::syncer
