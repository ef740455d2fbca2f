// Sends loadgen's transactions to pumps the way TiDB does: a PREWRITE carrying the changes
// under a start ts, and only once that is acknowledged, a COMMIT under a commit ts taken after
// the acknowledgement (the order the pump's watermark relies on).
#pragma once

#include <mutex>
#include <span>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "loadgen/committer.h"
#include "loadgen/workload.h"
#include "pump_client/pump_client.h"

namespace binlog::loadgen {

class PumpProducer {
 public:
  // Neither the clients, the sequencer nor the ack log (may be null) are owned.
  PumpProducer(std::vector<pump::PumpClient*> pumps, workload::TsSequencer* sequencer, AckLog* ack);

  // Sends the transactions (changes filled in, ts left 0) to pump `pump_index % pumps`: all
  // prewrites in one WriteBinlogs, then all commits in another (or one call per binlog when
  // `batched` is false). The commit ts go to the ack log after the pump acknowledged them.
  // Thread-safe.
  Status Send(std::span<pb::Binlog> txns, size_t pump_index, bool batched);

  size_t pumps() const { return pumps_.size(); }

 private:
  Status Write(pump::PumpClient* pump, std::span<const pb::Binlog> binlogs, bool batched);

  std::vector<pump::PumpClient*> pumps_;
  workload::TsSequencer* sequencer_;
  AckLog* ack_;
  std::mutex ack_mu_;
};

}  // namespace binlog::loadgen
