// Pump::GroupCheck and Pump::Round, shared by the writer (writer.cc), the checks (checks.cc) and
// the completion of rounds (completion.cc). Internal.
#pragma once

#include <cstdint>
#include <memory>
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
  using Entries = std::vector<std::pair<std::unordered_set<uint64_t>*, uint64_t>>;
  std::unordered_set<uint64_t> prewrites;  // start_ts prewritten in flight
  std::unordered_set<uint64_t> resolved;   // start_ts committed or rolled back in flight
  std::unordered_set<uint64_t> commits;    // commit_ts taken in flight

  void Begin() { mark_ = added_.size(); }
  void Abort() {
    for (size_t i = mark_; i < added_.size(); ++i) added_[i].first->erase(added_[i].second);
    added_.resize(mark_);
  }
  Entries TakeRound() {
    Entries round = std::move(added_);
    added_.clear();
    mark_ = 0;
    return round;
  }
  static void Forget(const Entries& round) {
    for (const auto& [set, ts] : round) set->erase(ts);
  }
  bool AddPrewrite(uint64_t start_ts) { return Insert(&prewrites, start_ts); }
  void Resolve(uint64_t start_ts) { Insert(&resolved, start_ts); }
  bool Resolved(uint64_t start_ts) const { return resolved.count(start_ts) > 0; }
  bool TakeCommitTs(uint64_t commit_ts) { return Insert(&commits, commit_ts); }

 private:
  bool Insert(std::unordered_set<uint64_t>* set, uint64_t ts) {
    if (!set->insert(ts).second) return false;
    added_.emplace_back(set, ts);
    return true;
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
