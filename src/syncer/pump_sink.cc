// The pump sink: each batch goes to one pump of pump-addrs as WriteBinlogs calls, answered
// once durable. docs/SYNCER_PUMP.md says why each rule holds:
//   - dedupe: before (re)sending after a failure, the sink asks the pump what it holds from
//     this upstream server (GetSourceState) and drops the prefix already there: a call is one
//     wal write, so what landed of a batch is a prefix;
//   - ts: commit ts are raised above the newest ts the pump has seen (its own idle
//     heartbeats run on the wall clock, ahead of upstream event times during a catch-up), and
//     a batch refused as "ts-behind" (nothing stored) is re-stamped and sent again;
//   - failover: any other failure moves to the next address after a backoff, up to max-retry
//     failures in a row;
//   - big transactions: their parts go with their tags, in calls of max_call_bytes like the
//     rest, all at the ts of the first; after a failed call the pump says how many parts of
//     the transaction it holds (GetSourceState's open_parts) and the rest follow.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "common/logging.h"
#include "pump_client/pump_client.h"
#include "segment/format.h"
#include "syncer/sink.h"

namespace binlog::syncer {

namespace {

// Re-stamps in a row before a "ts-behind" is treated as a failure: each one goes above what
// the pump reported, so only producers racing for the same ts can make it repeat.
constexpr int kMaxRestamps = 20;

// A binlog of the call under way, parsed (its ts may be raised) with its PartTag.
struct Entry {
  pb::Binlog binlog;
  segment::PartTag part = segment::kWholeTransaction;
};

uint64_t Ts(const Entry& e) { return static_cast<uint64_t>(e.binlog.commit_ts()); }

// A part after the first of its transaction: it has the ts its first part was given.
bool Continues(const Entry& e) { return segment::PartIndex(e.part) > 0; }

// Raises commit ts to keep them strictly increasing above `above`, one per transaction: a next
// part takes its first part's ts (`open_ts` when the call begins inside a transaction); start_ts
// follows when it equals commit_ts (the syncer's one-shot commits and heartbeats).
void Stamp(std::span<Entry> call, uint64_t above, uint64_t open_ts) {
  uint64_t prev = above;
  for (size_t i = 0; i < call.size(); ++i) {
    pb::Binlog& b = call[i].binlog;
    uint64_t ts = !Continues(call[i]) ? std::max(Ts(call[i]), prev + 1)
                  : i == 0            ? open_ts
                                      : Ts(call[i - 1]);
    if (b.start_ts() == b.commit_ts()) b.set_start_ts(static_cast<int64_t>(ts));
    b.set_commit_ts(static_cast<int64_t>(ts));
    prev = std::max(prev, ts);
  }
}

class PumpSink : public Sink {
 public:
  explicit PumpSink(PumpSinkOptions options)
      : options_(std::move(options)), clients_(options_.addrs.size()) {}

  // Cut in calls by size, each parsed only when it goes (the ts may have to be raised), so a
  // batch holding a big transaction's parts is never parsed whole.
  Status Write(std::span<const EncodedBinlog> encoded) override {
    size_t begin = 0;
    while (begin < encoded.size()) {
      size_t end = begin, bytes = 0;
      while (end < encoded.size()) {
        size_t size = encoded[end].payload.size();
        if (end > begin && bytes + size > options_.max_call_bytes) break;
        bytes += size;
        ++end;
      }
      call_.resize(end - begin);
      for (size_t i = begin; i < end; ++i) {
        const std::string_view p = encoded[i].payload;
        Entry& e = call_[i - begin];
        e.part = encoded[i].part;
        if (!e.binlog.ParseFromArray(p.data(), static_cast<int>(p.size()))) {
          return Status::InvalidArgument(
              fmt::format("the record of {}:{} is not a binlog", encoded[i].file, encoded[i].pos));
        }
      }
      RETURN_IF_ERROR(WriteCall(call_));
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
  Status WriteCall(std::span<Entry> call);
  Status DropHeld(std::span<Entry>* call) const;
  void Sent(std::span<const Entry> call);
  Result<pump::PumpClient*> Client(size_t i);
  Status Sync();
  Status Send(std::span<const Entry> call);
  Status NextPump(const Status& why, int* failures);
  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  PumpSinkOptions options_;
  std::vector<std::unique_ptr<pump::PumpClient>> clients_;  // made on first use
  std::vector<Entry> call_;                                 // the call under way
  size_t current_ = 0;
  uint32_t server_id_ = 0;
  bool synced_ = false;   // held_ts_, floor_ and open_* are the current pump's
  uint64_t held_ts_ = 0;  // newest commit ts the current pump holds from server_id_
  uint64_t floor_ = 0;    // the newest ts the current pump had seen when asked
  // The transaction in parts of server_id_ the current pump holds a beginning of: its ts and
  // how many of its parts it holds.
  uint64_t open_ts_ = 0;
  uint32_t open_parts_ = 0;
  // The ts of the transaction in parts whose last part has not been sent yet (0: none): the
  // next call goes on with it.
  uint64_t txn_ts_ = 0;
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
  open_ts_ = st.open_commit_ts;
  open_parts_ = st.open_parts;
  synced_ = true;
  return Status::OK();
}

Status PumpSink::Send(std::span<const Entry> call) {
  std::vector<std::string> payloads(call.size());
  std::vector<uint32_t> parts(call.size());
  for (size_t i = 0; i < call.size(); ++i) {
    if (!call[i].binlog.SerializeToString(&payloads[i])) {
      return Status::InvalidArgument("a binlog that protobuf cannot serialize");
    }
    parts[i] = call[i].part;
  }
  ASSIGN_OR_RETURN(pump::PumpClient * c, Client(current_));
  return c->WritePayloads(std::move(payloads), std::move(parts));
}

// What an earlier attempt of this call left on this pump: whole transactions up to held_ts_ (a
// prefix, each call being one wal write; records of the same source are in ts order), then the
// parts it holds of the transaction in parts it has open. A call that goes on with a
// transaction whose earlier parts this pump does not hold (another pump, or one that rolled it
// back) cannot be finished from here: the syncer must read it again from its first part.
Status PumpSink::DropHeld(std::span<Entry>* call) const {
  while (!call->empty() && Ts(call->front()) <= held_ts_) *call = call->subspan(1);
  while (!call->empty() && segment::IsPart(call->front().part) && Ts(call->front()) == open_ts_ &&
         segment::PartIndex(call->front().part) < open_parts_) {
    *call = call->subspan(1);
  }
  if (call->empty() || !Continues(call->front())) return Status::OK();
  if (Ts(call->front()) == open_ts_ && segment::PartIndex(call->front().part) == open_parts_) {
    return Status::OK();
  }
  return Status::Aborted(fmt::format(
      "pump {} does not hold the parts before part {} of the transaction at ts {} (it holds {} "
      "parts of the one at ts {}): the syncer has to read that transaction again from its "
      "beginning",
      options_.addrs[current_], segment::PartIndex(call->front().part), Ts(call->front()),
      open_parts_, open_ts_));
}

// The call is durable: its ts are the newest, and a call that ended inside a transaction in
// parts leaves the next to go on with it.
void PumpSink::Sent(std::span<const Entry> call) {
  if (call.empty()) return;
  const Entry& last = call.back();
  last_ts_ = std::max(last_ts_.load(), Ts(last));
  txn_ts_ = segment::IsPart(last.part) && !segment::IsLastPart(last.part) ? Ts(last) : 0;
}

Status PumpSink::WriteCall(std::span<Entry> call) {
  if (!call.empty() && Continues(call.front()) && txn_ts_ == 0) {
    return Status::InvalidArgument(
        "a next part of a transaction whose first part this sink did not send");
  }
  const std::span<Entry> whole = call;
  int failures = 0, restamps = 0;
  Stamp(call, std::max(last_ts_.load(), floor_), txn_ts_);
  while (true) {
    if (cancelled()) return Status::Aborted("the syncer is stopping");
    Status s;
    if (!synced_) {
      s = Sync();
      if (s.ok()) {
        // Fatal when the call cannot go on here: the pump holds no beginning to continue.
        RETURN_IF_ERROR(DropHeld(&call));
        if (call.empty()) {
          Sent(whole);
          return Status::OK();
        }
        if (Ts(call.front()) <= std::max(last_ts_.load(), floor_)) {
          // A leading next part keeps its transaction's ts (the pump holds its first part).
          Stamp(call, std::max(last_ts_.load(), floor_), Ts(call.front()));
        }
      }
    }
    if (s.ok()) s = Send(call);
    if (s.ok()) {
      Sent(whole);
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
