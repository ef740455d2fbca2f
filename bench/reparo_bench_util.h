// Pieces of reparo_bench: child processes with their own peak RSS, the sysbench-shaped change
// workload, and the destinations' baselines (mariadb-binlog | mariadb, LOAD DATA, a native
// replica).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "syncer/meta.h"
#include "testutil/mariadb_server.h"

namespace binlog::bench {

struct ChildRun {
  double seconds = 0;
  double peak_rss_mb = 0;  // of the process itself (wait4)
  int status = -1;         // exit code, -1 when killed or not started
};

// Runs args[0] with args; stdin/stdout from/to the files given ("" for /dev/null), stderr to
// the log. The run's wall time and the process's own peak RSS.
ChildRun RunChild(const std::vector<std::string>& args, const std::string& in,
                  const std::string& out);
// producer | consumer, each measured on its own.
std::pair<ChildRun, ChildRun> RunPipe(const std::vector<std::string>& producer,
                                      const std::vector<std::string>& consumer);
// Starts args with stdout on a pipe and returns when a line containing `marker` was read: the
// seconds it took (-1 when the process ended first). The process is killed then.
double TimeToFirst(const std::vector<std::string>& args, const std::string& marker);

// bench.sbtest, sysbench's table (id, k, c CHAR(120), pad CHAR(60)), created on the server.
void CreateSbtest(testing::MariaDBServer* server);
// `changes` single-row transactions on bench.sbtest (inserts until 10,000 rows live, then 40%
// inserts, 40% updates of k and c by id, 20% deletes by id), from one connection in
// multi-statement batches. Deterministic for the seed.
void WriteChanges(testing::MariaDBServer* server, uint64_t changes, uint64_t seed);
// CHECKSUM TABLE bench.sbtest; the bench aborts when two destinations disagree with the source.
std::string Checksum(testing::MariaDBServer* server);
void ExpectSameChecksum(testing::MariaDBServer* source, testing::MariaDBServer* dest,
                        const std::string& what);

// The destination with bench.sbtest empty again, as before the changes.
void ResetDestination(testing::MariaDBServer* dest);

// A native replica: `dest` replicates `source` from `from` until `to`, with
// slave_parallel_threads = threads (optimistic). The wall seconds from START SLAVE.
double ReplicaApply(testing::MariaDBServer* source, testing::MariaDBServer* dest,
                    const syncer::BinlogPosition& from, const syncer::BinlogPosition& to,
                    int threads);

// The args of mariadb-binlog reading `source`'s binlog from `from` to `to` (remote, rows as
// the statements mariadb executes: base64 row events, as one pipes into mariadb).
std::vector<std::string> MariadbBinlogReplay(testing::MariaDBServer* source,
                                             const syncer::BinlogPosition& from,
                                             const syncer::BinlogPosition& to);
// The args of the mariadb client applying stdin to `dest` as root.
std::vector<std::string> MariadbClient(testing::MariaDBServer* dest);

}  // namespace binlog::bench
