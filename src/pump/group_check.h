// Pump::GroupCheck, shared by the writer (writer.cc) and the checks (checks.cc). Internal.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pump/pump.h"

namespace binlog::pump {

// What the binlogs checked so far in a group will do once applied, so that later ones are
// checked against that rather than against the sorter alone; with an undo log, so that a
// refused request leaves no trace.
struct Pump::GroupCheck {
  std::unordered_set<uint64_t> prewrites;  // start_ts prewritten in this group
  std::unordered_set<uint64_t> resolved;   // start_ts committed or rolled back in this group
  std::unordered_set<uint64_t> commits;    // commit_ts taken in this group
  std::vector<std::pair<std::unordered_set<uint64_t>*, uint64_t>> undo;

  void Begin() { undo.clear(); }
  void Abort() {
    for (auto& [set, ts] : undo) set->erase(ts);
    undo.clear();
  }
  bool AddPrewrite(uint64_t start_ts) { return Insert(&prewrites, start_ts); }
  void Resolve(uint64_t start_ts) { Insert(&resolved, start_ts); }
  bool Resolved(uint64_t start_ts) const { return resolved.count(start_ts) > 0; }
  bool TakeCommitTs(uint64_t commit_ts) { return Insert(&commits, commit_ts); }

 private:
  bool Insert(std::unordered_set<uint64_t>* set, uint64_t ts) {
    if (!set->insert(ts).second) return false;
    undo.emplace_back(set, ts);
    return true;
  }
};

}  // namespace binlog::pump
