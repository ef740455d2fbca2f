// What sync-diff prints (stdout) and writes (the fix SQL), in table and chunk order whatever
// order the chunks finish in: each event waits for the ones before it, so only the chunks
// still in flight are held.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "sync-diff/check.h"
#include "sync-diff/table.h"

namespace binlog::syncdiff {

struct Summary {
  uint64_t tables = 0, equal = 0;
  uint64_t only_source = 0, only_target = 0, other_columns = 0, other_rows = 0;
  uint64_t rows = 0, chunks = 0, reread = 0;
  uint64_t whole = 0, whole_rows = 0;  // tables equal by CHECKSUM TABLE, their estimated rows
  uint64_t missing = 0, extra = 0, changed = 0;
  bool equal_all() const { return tables == equal; }
};

// Thread-safe. `fix` may be null (no fix SQL asked for).
class Report {
 public:
  Report(const std::vector<TablePlan>* plans, std::ostream* out, std::ostream* fix)
      : plans_(plans), out_(out), fix_(fix) {}
  // Events of the sequence numbers 0, 1, 2, ... (each once, any thread, any order).
  void TableStart(uint64_t seq, size_t table);
  void Chunk(uint64_t seq, size_t table, ChunkOutcome outcome);
  void TableEnd(uint64_t seq, size_t table);
  // What the events so far added up to (all of them once every one is in).
  Summary summary() const;
  // Events written, for the progress line.
  uint64_t tables_done() const;

 private:
  enum class Kind { kStart, kChunk, kEnd };
  struct Event {
    Kind kind;
    size_t table;
    ChunkOutcome outcome;
  };
  void Add(uint64_t seq, Event e);
  void Write(const Event& e);  // mu_ held
  void WriteEnd(const TablePlan& t, const ChunkOutcome& sum);

  const std::vector<TablePlan>* plans_;
  std::ostream* out_;
  std::ostream* fix_;
  mutable std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, Event> waiting_;
  ChunkOutcome table_;  // the current table's chunks so far
  Summary summary_;
};

}  // namespace binlog::syncdiff
