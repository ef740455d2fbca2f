// Pump::GroupCheck and Pump::Round, shared by the writer (writer.cc), the checks (checks.cc) and
// the completion of rounds (completion.cc). Internal.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pump/pump.h"

namespace binlog::pump {

// What the binlogs checked but not yet applied will do once applied, so that later ones are
// checked against that rather than against the sorter alone. It spans the rounds in flight (written
// to the wal, not yet durable and applied): each round takes the entries it added (TakeRound) and
// forgets them once applied or failed. Within a round, an undo log per request makes a refused
// request leave no trace.
struct Pump::GroupCheck {
  // An entry a request added: to one of the sets, or (set null) to `parts`, with what it
  // replaced there, so that Abort can put it back.
  struct Entry {
    std::unordered_set<uint64_t>* set;
    uint64_t ts;
    uint32_t part_state = 0;
    uint32_t replaced = 0;  // kNoPartState when there was none
  };
  using Entries = std::vector<Entry>;
  static constexpr uint32_t kNoPartState = 0;
  std::unordered_set<uint64_t> prewrites;  // start_ts prewritten in flight
  std::unordered_set<uint64_t> resolved;   // start_ts committed or rolled back in flight
  std::unordered_set<uint64_t> commits;    // commit_ts taken in flight
  // Transactions in parts with a part in flight, by the ts their parts are filed under:
  // PartState(parts received, complete). Grows with each part, so Forget only drops a state a
  // later round did not advance.
  std::unordered_map<uint64_t, uint32_t> parts;

  static uint32_t PartState(uint32_t received, bool complete) {
    return received << 1 | (complete ? 1 : 0);
  }
  void Begin() { mark_ = added_.size(); }
  void Abort() {
    for (size_t i = added_.size(); i > mark_; --i) Undo(added_[i - 1]);
    added_.resize(mark_);
  }
  Entries TakeRound() {
    Entries round = std::move(added_);
    added_.clear();
    mark_ = 0;
    return round;
  }
  void Forget(const Entries& round) {
    for (const Entry& e : round) {
      if (e.set != nullptr) {
        e.set->erase(e.ts);
      } else if (auto it = parts.find(e.ts); it != parts.end() && it->second == e.part_state) {
        parts.erase(it);
      }
    }
  }
  bool AddPrewrite(uint64_t start_ts) { return Insert(&prewrites, start_ts); }
  void Resolve(uint64_t start_ts) { Insert(&resolved, start_ts); }
  bool Resolved(uint64_t start_ts) const { return resolved.count(start_ts) > 0; }
  bool TakeCommitTs(uint64_t commit_ts) { return Insert(&commits, commit_ts); }
  // The in-flight state of the transaction in parts filed under wal_ts (kNoPartState: none).
  uint32_t Part(uint64_t wal_ts) const {
    auto it = parts.find(wal_ts);
    return it == parts.end() ? kNoPartState : it->second;
  }
  void SetPart(uint64_t wal_ts, uint32_t state) {
    uint32_t& slot = parts[wal_ts];
    added_.push_back(Entry{nullptr, wal_ts, state, slot});
    slot = state;
  }

 private:
  bool Insert(std::unordered_set<uint64_t>* set, uint64_t ts) {
    if (!set->insert(ts).second) return false;
    added_.push_back(Entry{set, ts});
    return true;
  }
  void Undo(const Entry& e) {
    if (e.set != nullptr) {
      e.set->erase(e.ts);
    } else if (e.replaced == kNoPartState) {
      parts.erase(e.ts);
    } else {
      parts[e.ts] = e.replaced;
    }
  }
  Entries added_;    // by the current round, in order
  size_t mark_ = 0;  // where the current request's entries begin
};

// A round of requests: checked and written to the wal by the writer thread, then made durable
// and applied by the durability thread (FinishRound), then answered by the completer.
struct Pump::Round {
  uint64_t seq = 0;  // rounds are applied in this order
  std::vector<std::unique_ptr<WriteRequest>> group;
  std::vector<WriteRequest*> accepted;
  GroupCheck::Entries checked;  // what the accepted ones added to in_flight_
  std::vector<uint64_t> holds;  // one-shot commit ts held in the sorter (HoldOneShots)
  uint64_t floor = 0;           // in in_flight_floors_ while the round is in flight
  size_t records = 0;           // written to the wal
  uint64_t bytes = 0;
  journal::Journal::WriteTicket ticket;
  Status written;
  bool wal_failed = false;  // the wal refused the write or its sync (not an encoding error)
};

}  // namespace binlog::pump
