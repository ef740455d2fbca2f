// Reading an archive record by record, with the part tags the journal keeps, and checking the
// shape of big transactions as their parts stream past (docs/SYNCER.md "Big transactions"),
// without holding a transaction whole.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "segment/format.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {

// One record of an archive: its ts and part tag in the journal, the binlog it holds.
struct ArchivedRecord {
  uint64_t ts = 0;
  segment::PartTag part = segment::kWholeTransaction;
  size_t bytes = 0;  // of the payload
  pb::Binlog binlog;
};

// Every record of the journal in dir, in order.
Status ForEachRecord(const std::string& dir, const std::function<void(ArchivedRecord&)>& fn);

// Checks the records of an archive in order: each record's ts is its binlog's; heartbeats (FAKE)
// are counted apart from the transactions (COMMIT); the parts of a
// transaction are consecutive records of one ts tagged 0, 1, ..., n-1 (the last flagged),
// nothing between them, each a complete COMMIT with the transaction's GTID whose tables name
// their schema, table and columns; ts grow from one transaction to the next; GTIDs of domain 0
// are consecutive, each transaction once. The rows go to a Replica unless `replicate` is false
// (a transaction too big to keep in the test).
class ArchiveChecker {
 public:
  explicit ArchiveChecker(bool replicate = true) : replicate_(replicate) {}

  struct Transaction {
    uint64_t ts = 0;
    uint32_t parts = 0;  // 0: one whole record
    uint64_t rows = 0;
    size_t largest_record = 0;
    std::string gtid;
    pb::SourcePosition source;  // the last record's
  };

  void Add(const ArchivedRecord& r);
  // Fails the test when the archive ended inside a transaction.
  void Finish();

  const std::vector<Transaction>& transactions() const { return txns_; }
  const Replica& replica() const { return replica_; }
  uint64_t records() const { return records_; }
  uint64_t heartbeats() const { return heartbeats_; }

 private:
  bool replicate_;
  std::vector<Transaction> txns_;
  Replica replica_;
  bool open_ = false;  // inside a transaction in parts
  uint64_t last_ts_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t records_ = 0;
  uint64_t heartbeats_ = 0;
};

// ForEachRecord into an ArchiveChecker, then Finish.
Result<ArchiveChecker> CheckArchive(const std::string& dir, bool replicate = true);

// The newest record of the journal in dir (reading its newest segment only), or ts 0 when it
// holds none: a test polls it to catch a writer inside a transaction.
Result<ArchivedRecord> NewestRecord(const std::string& dir);

// The peak resident set (VmHWM) of a process in bytes, from /proc/<pid>/status.
Result<uint64_t> PeakRss(pid_t pid);

}  // namespace binlog::syncer::testing
