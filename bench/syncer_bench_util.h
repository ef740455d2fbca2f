// Pieces of syncer_bench: sysbench-shaped rows, our syncer run on a thread with the time of each
// durable batch, and mariadb-binlog (the server's own client) as the baseline reader.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "syncer/syncer.h"
#include "testutil/mariadb_server.h"

namespace binlog::bench {

// $name as an integer, fallback when unset.
int EnvInt(const char* name, int fallback);
// The same of another process (the MariaDB server: it shares the machine's cores with us).
double CpuSecondsOf(pid_t pid);
// User + system CPU seconds of this process's waited-for children (mariadb-binlog) so far.
double ChildrenCpuSeconds();

// sysbench's columns: k random, c and pad groups of 11 random digits joined by '-'.
class SbRows {
 public:
  explicit SbRows(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  // Appends "<prefix>k, 'c', 'pad')".
  void Append(std::string_view prefix, std::string* sql);

 private:
  uint64_t Next();
  void Digits(int groups, std::string* sql);
  uint64_t state_;
};

// The binlogs of syncer_{oltp,bulk}_rows_per_s (syncer_workload.cc); each returns the row changes
// written and sets *first to where they start. Bulk: transactions of 10,000 rows inserted in
// multi-row INSERTs, then 1,900 rows of the previous transaction UPDATEd and 600 DELETEd (one rows
// event per 1,000 or so rows).
uint64_t LoadBulk(testing::MariaDBServer* server, uint64_t target, syncer::BinlogPosition* first);
// OLTP: sysbench oltp_write_only's transaction (UPDATE of an indexed column, UPDATE of c,
// DELETE, INSERT of the deleted id: four statements, a table map and a rows event each) on a
// 100,000-row table, from two client connections.
uint64_t LoadOltp(testing::MariaDBServer* server, uint64_t target, syncer::BinlogPosition* first);

// Where the server's binlog ends now (SHOW MASTER STATUS); its first file (SHOW BINARY LOGS).
syncer::BinlogPosition EndOfBinlog(testing::MariaDBServer* server);
syncer::BinlogPosition StartOfBinlog(testing::MariaDBServer* server);
// at is at or past target in the same binlog.
bool Reached(const syncer::BinlogPosition& at, const syncer::BinlogPosition& target);

// Our syncer on a thread, archiving into dir/archive from `from` as the replication user, or,
// given pump addresses, writing to those pumps ([to] type = "pump"). The setup exits the binary
// on failure.
class SyncerRun {
 public:
  SyncerRun(testing::MariaDBServer* server, const std::string& dir,
            const syncer::BinlogPosition& from, const std::vector<std::string>& pump_addrs = {});
  ~SyncerRun() { Stop(); }
  void Stop();

  // Waits until `target` is durable; returns when that happened (NowSeconds).
  double WaitDurable(const syncer::BinlogPosition& target, double timeout);
  // From now on every durable batch is logged: (NowSeconds, position after it).
  void StartLog();
  std::vector<std::pair<double, syncer::BinlogPosition>> Log();
  double start() const { return start_; }  // when Run was called
  const std::string& archive() const { return archive_; }
  syncer::SyncerStats Stats() const { return syncer_->Stats(); }

 private:
  void OnDurable(const syncer::BinlogPosition& p);

  std::string archive_;
  std::unique_ptr<syncer::Syncer> syncer_;
  std::thread thread_;
  Status result_;
  double start_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  syncer::BinlogPosition durable_;
  double durable_time_ = 0;
  bool logging_ = false;
  std::vector<std::pair<double, syncer::BinlogPosition>> log_;
};

// mariadb-binlog --read-from-remote-server --base64-output=DECODE-ROWS --verbose as the
// replication user (its password goes in MYSQL_PWD).
std::vector<std::string> MariadbBinlogArgs(testing::MariaDBServer* server);

// The floor of any replica on this machine: the server streaming [from, to) to our connection
// (syncer::Upstream, the syncer's own receive path), which only reads the events' headers.
// Returns the wall seconds; *cpu gets this process's CPU seconds meanwhile, *bytes the events'.
double FetchOnly(testing::MariaDBServer* server, const syncer::BinlogPosition& from,
                 const syncer::BinlogPosition& to, double* cpu, uint64_t* bytes);

// mariadb-binlog following the stream from `from` (--stop-never), noting when it prints the
// COMMIT of each transaction of `bench`.`lag` (a transaction's number is its first column).
class BinlogTail {
 public:
  BinlogTail(testing::MariaDBServer* server, const syncer::BinlogPosition& from, int transactions);
  ~BinlogTail() { Stop(); }

  // Waits until it printed something (it is connected and reading).
  void WaitStarted(double timeout);
  // Waits until transaction n's COMMIT was printed (false at the timeout).
  bool WaitFor(int n, double timeout);
  void Stop();
  // NowSeconds of each transaction's COMMIT, -1 when never seen. Call after Stop.
  const std::vector<double>& seen() const { return seen_; }

 private:
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<double> seen_;
  bool started_ = false;
  bool eof_ = false;
};

}  // namespace binlog::bench
