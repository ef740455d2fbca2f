// A synthetic OLTP workload: sysbench-shaped tables plus one table of varied MySQL types, mixed
// inserts/updates/deletes with full before images, and an occasional DDL. Shared by loadgen and
// the benchmarks so both write the same kind of records.
//
// Row contents are a pure function of (seed, table, row id, row version), so the same seed
// gives the same rows no matter how fast or when the generator runs; only timestamps (from the
// clock) differ between runs.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "binlog.pb.h"

namespace binlog::workload {

// splitmix64: tiny, fast and the same on every platform and standard library (the std::
// distributions are not), which reproducible output needs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi);
  bool Chance(double p);

 private:
  uint64_t state_;
};

// One table the workload writes, with the state that picks rows for updates and deletes.
struct TableState {
  std::string schema;
  std::string name;
  bool typed = false;  // shop.orders rather than sbtest-shaped
  std::vector<pb::ColumnInfo> columns;
  // Per local row index: the version of its current contents; 0 means deleted.
  std::vector<uint32_t> versions;
  std::vector<uint64_t> deleted;  // local indexes free for re-insertion
};

struct WorkloadOptions {
  uint64_t seed = 1;
  int tables = 4;               // sbtest1..sbtestN in schema "sbtest"
  uint64_t table_size = 10000;  // rows each table holds before the run (sysbench prepare)
  bool typed_table = true;      // also write shop.orders, a table with varied column types
  double txn_rows = 4;          // average row changes per DML transaction (>= 1)
  double ddl_ratio = 0.001;     // share of transactions that are one DDL statement
  // Generators running side by side each own the row ids with id % shards == shard, so they
  // never touch the same row and need no shared state.
  int shard = 0;
  int shards = 1;
};

// Generates transactions. Not thread-safe: one per thread, with its own shard.
class Workload {
 public:
  explicit Workload(const WorkloadOptions& options);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Fills *out (cleared first) with the next transaction: type COMMIT with row changes or one
  // DDL; start_ts and commit_ts are left 0 for the caller. Returns the number of row changes.
  size_t Next(pb::Binlog* out);

  const std::vector<TableState>& tables() const { return tables_; }

 private:
  size_t PickRowCount();
  void AddChange(size_t table_no, pb::TableChanges* changes);
  void MakeDdl(pb::Binlog* out);
  // A row is a pure function of (seed, table, id, version): see the file comment.
  void FillRow(size_t table_no, uint64_t index, uint32_t version, pb::Row* row) const;
  uint64_t IdOf(uint64_t index) const;

  WorkloadOptions options_;
  Rng rng_;
  std::vector<TableState> tables_;
  uint64_t ddl_count_ = 0;
};

// Hands out strictly increasing TSOs from a millisecond clock: (now_ms << 18) | logical. When
// the clock stands still the logical part counts up; when it goes back, or the logical part
// runs out, the TSO keeps increasing past it, like PD does. Thread-safe.
class TsSequencer {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds
  TsSequencer();                           // the system clock
  explicit TsSequencer(Clock clock);

  uint64_t Next() { return NextN(1); }
  // Reserves n consecutive TSOs and returns the first. REQUIRES: n > 0.
  uint64_t NextN(uint64_t n);

 private:
  Clock clock_;
  std::mutex mu_;
  uint64_t last_ = 0;
};

}  // namespace binlog::workload
