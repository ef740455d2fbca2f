// Running a Syncer in-process against a test server, and checking what it archived.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "syncer/syncer.h"
#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {

// Opens a Syncer and runs it on a thread until Stop().
class RunningSyncer {
 public:
  static Result<std::unique_ptr<RunningSyncer>> Start(const SyncerConfig& config,
                                                      SyncerOptions options = {});
  ~RunningSyncer();

  // Polls Stats() until pred holds; false at the timeout or when Run ended.
  bool WaitFor(const std::function<bool(const SyncerStats&)>& pred, double seconds = 30);
  // Waits until the durable position is the server's end of binlog.
  bool WaitCaughtUp(MariaDBServer* server, double seconds = 30);
  // Waits for Run to return (without asking it to stop) and returns its status.
  Status Join(double seconds = 30);
  Status StopAndJoin();
  Syncer* syncer() { return syncer_.get(); }
  bool finished() const { return finished_; }

 private:
  std::unique_ptr<Syncer> syncer_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  Status result_;
};

// Checks an archive's transactions: GTIDs of domain 0 consecutive (each once, in order) and
// commit ts strictly increasing. Returns the COMMIT binlogs.
std::vector<pb::Binlog> CheckedTransactions(const std::vector<pb::Binlog>& archive);

// Replays archived row changes onto an in-memory copy of the tables (keyed by schema.table and
// the id column), checking every UPDATE/DELETE before image against the copy.
class Replica {
 public:
  void Apply(const pb::Binlog& binlog);
  // The rows of schema.table ordered by id, each column as ValueText (NULL as "NULL").
  std::vector<std::vector<std::string>> Rows(const std::string& table) const;
  uint64_t applied() const { return applied_; }

 private:
  std::map<std::string, std::map<int64_t, std::vector<std::string>>> tables_;
  uint64_t applied_ = 0;
};

// SELECT * FROM table ORDER BY id as text rows (NULL as "NULL").
std::vector<std::vector<std::string>> SelectAll(MariaDBServer* server, const std::string& table);

}  // namespace binlog::syncer::testing
