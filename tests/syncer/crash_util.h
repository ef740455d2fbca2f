// Pieces of the kill -9 tests of the syncer binary (crash_test.cc, pump_crash_test.cc): an
// upstream workload that runs through the kills, the kill loop, and the last clean run.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "syncer/meta.h"
#include "testutil/mariadb_server.h"

namespace binlog::syncer::testing {

// Transactions on tables <db>.a (id, v) and <db>.b (id, n), which it creates, on a connection of
// its own until Stop: 1-20 inserted rows in a, one in b, and an update of an earlier b row each.
class CrashWorkload {
 public:
  CrashWorkload(binlog::testing::MariaDBServer* server, std::string db, uint32_t seed);
  ~CrashWorkload() { Stop().IgnoreError(); }
  // Creates the tables; then Start runs the workload in its thread.
  Status CreateTables();
  void Start();
  // Stops it; the status of its statements (OK unless one failed).
  Status Stop();
  int transactions() const { return txns_.load(); }

 private:
  binlog::testing::MariaDBServer* server_;
  std::string db_;
  uint32_t seed_;
  std::atomic<bool> stop_{false};
  std::atomic<int> txns_{0};
  Status status_;
  std::thread thread_;
};

// Writes dir/syncer.toml for the syncer binary: the server's replication user, server-id 777,
// syncer.meta and the journal (archive/) in dir, no status service, 200 ms heartbeats. `top`
// is added to the top-level keys, `to` to the [to] table (TOML lines). Returns its path.
std::string WriteJournalConfig(binlog::testing::MariaDBServer* server, const std::string& dir,
                               const std::string& top, const std::string& to);

// Runs args (the syncer binary) `kills` times, each killed with SIGKILL after min_ms plus up to
// 400 ms; fails the test if one exits by itself.
void KillRepeatedly(const std::vector<std::string>& args, const std::string& log, uint32_t seed,
                    int kills, int min_ms);

// Runs args once more until syncer.meta at meta_path reaches `end`, then SIGTERM: fails the test
// unless it caught up within `timeout_seconds` and exited 0.
void RunUntilCaughtUp(const std::vector<std::string>& args, const std::string& log,
                      const std::string& meta_path, const BinlogPosition& end, int timeout_seconds);

}  // namespace binlog::syncer::testing
