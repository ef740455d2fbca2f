#include "loadgen/pump_producer.h"

namespace binlog::loadgen {

PumpProducer::PumpProducer(std::vector<pump::PumpClient*> pumps, workload::TsSequencer* sequencer,
                           AckLog* ack)
    : pumps_(std::move(pumps)), sequencer_(sequencer), ack_(ack) {}

Status PumpProducer::Write(pump::PumpClient* pump, std::span<const pb::Binlog> binlogs,
                           bool batched) {
  if (batched) return pump->WriteBinlogs(binlogs);
  for (const pb::Binlog& b : binlogs) RETURN_IF_ERROR(pump->WriteBinlog(b));
  return Status::OK();
}

Status PumpProducer::Send(std::span<pb::Binlog> txns, size_t pump_index, bool batched) {
  if (txns.empty()) return Status::OK();
  pump::PumpClient* pump = pumps_[pump_index % pumps_.size()];
  uint64_t start = sequencer_->NextN(txns.size());
  for (size_t i = 0; i < txns.size(); ++i) {
    txns[i].set_tp(pb::PREWRITE);
    txns[i].set_start_ts(static_cast<int64_t>(start + i));
    txns[i].set_commit_ts(0);
  }
  RETURN_IF_ERROR(Write(pump, txns, batched));

  uint64_t commit = sequencer_->NextN(txns.size());
  std::vector<pb::Binlog> commits(txns.size());
  std::vector<uint64_t> acked(txns.size());
  for (size_t i = 0; i < txns.size(); ++i) {
    commits[i].set_tp(pb::COMMIT);
    commits[i].set_start_ts(static_cast<int64_t>(start + i));
    commits[i].set_commit_ts(static_cast<int64_t>(commit + i));
    acked[i] = commit + i;
  }
  RETURN_IF_ERROR(Write(pump, commits, batched));
  if (ack_ == nullptr) return Status::OK();
  std::lock_guard<std::mutex> g(ack_mu_);
  return ack_->Write(acked);
}

}  // namespace binlog::loadgen
