// Pieces of drainer_bench: pumps' data directories written directly (a pump's binlog/ and its
// registry record, as a stopped pump leaves them), tools/drainer/drainer run as a child whose
// checkpoint is read from its /metrics, and reading segment directories back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "reparo_bench_util.h"
#include "testutil/mariadb_server.h"

namespace binlog::bench {

// `pumps` data directories under root (root/pump-<i>), each with a binlog/ in the pump's own
// format (ordered segments, zstd level 1, appended in writes of up to 4 MiB like its emitter),
// and root/registry, where Finish records them online with this host and their data dir: a
// drainer given that registry reads each binlog/ from disk. Written without fdatasync (a
// ::sync() at Finish): their durability is not what is measured.
class PumpDirs {
 public:
  PumpDirs(const std::string& root, int pumps, uint64_t seed);
  ~PumpDirs();

  // To one pump picked at random, so the pumps' commit ts interleave. ts strictly increasing.
  void Append(uint64_t ts, std::string payload);
  // Ends every binlog/ with a FAKE binlog at ts (an idle pump's heartbeat: nothing at or below
  // it can still come from that pump), closes them and writes the registry records.
  void Finish(uint64_t ts);

  const std::string& registry_dir() const { return registry_; }
  std::vector<std::string> binlog_dirs() const;
  uint64_t records() const { return records_; }  // appended, the FAKEs not counted
  uint64_t bytes() const;                         // of the segments, once finished

 private:
  struct Pump;
  void Flush(Pump& p);

  std::string root_, registry_;
  std::vector<std::unique_ptr<Pump>> pumps_;
  std::mt19937_64 rng_;
  uint64_t records_ = 0;
};

// Every record of the journal in `archive` (a syncer's) appended to pumps; returns the last ts.
uint64_t CopyArchive(const std::string& archive, PumpDirs* pumps);

// What reading segment directories found.
struct ScanResult {
  uint64_t binlogs = 0;  // COMMIT binlogs (parsed)
  uint64_t fakes = 0;
  uint64_t last_ts = 0;
  bool ordered = true;  // each directory's ts strictly increasing
};
// Reads each directory with journal::JournalReader, one after another, parsing every record as a
// pb::Binlog; the bench stops at a record that is not one.
ScanResult ScanBinlogDirs(const std::vector<std::string>& dirs);

struct DrainerSetup {
  std::string binary;        // tools/drainer/drainer
  std::string dir;           // data-dir, drainer.toml and the log go here
  std::string registry_dir;  // the pumps'
  std::string db_type = "file";
  testing::MariaDBServer* dest = nullptr;  // db-type mysql
  int worker_count = 16;
  int txn_batch = 20;
  double detect_interval_seconds = 0.2;
  int cpu = -1;  // >= 0: pinned to that CPU (taskset)
};

// The drainer binary on a free loopback port for its status service, from no checkpoint
// (initial-commit-ts 0), logging at warn to <dir>/drainer.log.
class DrainerProcess {
 public:
  explicit DrainerProcess(const DrainerSetup& setup);
  ~DrainerProcess();  // SIGKILL when still running
  DrainerProcess(const DrainerProcess&) = delete;
  DrainerProcess& operator=(const DrainerProcess&) = delete;

  // A sample of its /metrics as printed ("" while it does not answer or has no such line).
  std::string Metric(const std::string& name);
  // Polls binlog_drainer_checkpoint_ts every 5 ms until it reaches ts: the seconds from the
  // start. The bench stops when the drainer exits first or after `timeout` seconds.
  double WaitCheckpoint(uint64_t ts, double timeout);
  // SIGTERM (a clean stop: what was merged is applied, the checkpoint saved) and its run; the
  // bench stops when it exits other than 0.
  ChildRun Stop();
  const std::string& output_dir() const { return output_dir_; }  // the file sink's segments

 private:
  bool Exited();

  std::string addr_, output_dir_, log_;
  pid_t pid_ = -1;
  double start_ = 0;
};

// The figures of drainer_lag_bench.cc.
void Lag();

}  // namespace binlog::bench
