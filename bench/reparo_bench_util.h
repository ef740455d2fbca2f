// Pieces of reparo_bench (drainer_bench and sync_diff_bench use them too): child processes with
// their own peak RSS, the sysbench-shaped change workload, the destinations and their baselines
// (mariadb-binlog | mariadb, LOAD DATA, a native replica), and tools/reparo itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "syncer/meta.h"
#include "testutil/mariadb_server.h"

namespace binlog::bench {

struct ChildRun {
  double seconds = 0;
  double peak_rss_mb = 0;  // of the process itself (wait4)
  double cpu_seconds = 0;  // user + system, of the process itself (wait4)
  int status = -1;         // exit code, -1 when killed or not started
};

// Runs args[0] with args; stdin/stdout from/to the files given ("" for /dev/null), stderr to
// the log. The run's wall time and the process's own peak RSS.
ChildRun RunChild(const std::vector<std::string>& args, const std::string& in,
                  const std::string& out);
// The same in two halves, for a caller that watches the process meanwhile: SpawnChild starts it
// (killed when the calling thread ends: call it from the main thread), WaitChild reaps it, its
// wall time counted from `start`.
pid_t SpawnChild(const std::vector<std::string>& args, const std::string& in,
                 const std::string& out);
ChildRun WaitChild(pid_t pid, double start);
// producer | consumer, each measured on its own.
std::pair<ChildRun, ChildRun> RunPipe(const std::vector<std::string>& producer,
                                      const std::vector<std::string>& consumer);
// Starts args with stdout on a pipe and returns when a line containing `marker` was read: the
// seconds it took (-1 when the process ended first). The process is killed then.
double TimeToFirst(const std::vector<std::string>& args, const std::string& marker);

// bench.sbtest, sysbench's table (id, k, c CHAR(120), pad CHAR(60)), created on the server.
void CreateSbtest(testing::MariaDBServer* server);
// Single-row statements on bench.sbtest (inserts until 10,000 rows live, then 40% inserts, 40%
// updates of k and c by id, 20% deletes by id). Deterministic for the seed.
class SbChanges {
 public:
  explicit SbChanges(uint64_t seed) : rng_(seed) {}
  // Appends the next statement, ';' included.
  void Next(std::string* sql);

 private:
  std::mt19937_64 rng_;
  std::vector<int> live_;
  int next_id_ = 1;
};
// `changes` single-row transactions of SbChanges, from one connection in multi-statement
// batches.
void WriteChanges(testing::MariaDBServer* server, uint64_t changes, uint64_t seed);
// CHECKSUM TABLE bench.sbtest; the bench aborts when two destinations disagree with the source.
std::string Checksum(testing::MariaDBServer* server);
void ExpectSameChecksum(testing::MariaDBServer* source, testing::MariaDBServer* dest,
                        const std::string& what);

// The destination with bench.sbtest empty again, as before the changes.
void ResetDestination(testing::MariaDBServer* dest);

// A destination with the room a production server has (512M buffer pool and redo log), logging
// every session's changes to its binlog as a replica's are (--log-slave-updates).
testing::MariaDBOptions DestinationOptions(int server_id);

// A native replica: `dest` replicates `source` from `from` until `to`, with
// slave_parallel_threads = threads (optimistic). The wall seconds from START SLAVE.
double ReplicaApply(testing::MariaDBServer* source, testing::MariaDBServer* dest,
                    const syncer::BinlogPosition& from, const syncer::BinlogPosition& to,
                    int threads);
// The two ends of it: START SLAVE from `from` (threads as above, 0: one SQL thread; returns
// when START SLAVE was sent), and STOP SLAVE with the replica's settings reset.
double StartReplica(testing::MariaDBServer* source, testing::MariaDBServer* dest,
                  const syncer::BinlogPosition& from, int threads);
void StopReplica(testing::MariaDBServer* dest);

// dir/reparo.toml: tools/reparo replaying the segments of `archive` into dest's bench.sbtest
// with `workers` connections (txn-batch 20, the drainer's default too).
std::string WriteReparoConfig(const std::string& dir, const std::string& archive,
                              testing::MariaDBServer* dest, int workers);
// Runs the reparo binary with that config; the bench stops when it fails.
ChildRun RunReparo(const std::string& binary, const std::string& config);

// The args of mariadb-binlog reading `source`'s binlog from `from` to `to` (remote, rows as
// the statements mariadb executes: base64 row events, as one pipes into mariadb).
std::vector<std::string> MariadbBinlogReplay(testing::MariaDBServer* source,
                                             const syncer::BinlogPosition& from,
                                             const syncer::BinlogPosition& to);
// The args of the mariadb client applying stdin to `dest` as root.
std::vector<std::string> MariadbClient(testing::MariaDBServer* dest);

}  // namespace binlog::bench
