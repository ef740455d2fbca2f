#include "loadgen/committer.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>

namespace binlog::loadgen {

Result<std::unique_ptr<AckLog>> AckLog::Open(Env* env, const std::string& path) {
  // Appends to an existing log: a crash test may restart the producer on the same file.
  auto file = env->FileExists(path) ? env->ReopenWritableFile(path) : env->NewWritableFile(path);
  if (!file.ok()) return file.status().WithContext("ack log");
  return std::unique_ptr<AckLog>(new AckLog(std::move(*file)));
}

Status AckLog::Write(std::span<const uint64_t> ts) {
  buffer_.clear();
  for (uint64_t t : ts) fmt::format_to(std::back_inserter(buffer_), "{}\n", t);
  return file_->Append(buffer_);
}

void AppendCommitTs(uint64_t commit_ts, std::string* payload) {
  using google::protobuf::io::CodedOutputStream;
  constexpr uint8_t kCommitTsTag = (3 << 3) | 0;  // field 3, varint
  uint8_t buf[1 + 10];
  buf[0] = kCommitTsTag;
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(commit_ts, buf + 1);
  payload->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

Committer::Committer(journal::Journal* journal, workload::TsSequencer* sequencer, AckLog* ack)
    : journal_(journal), sequencer_(sequencer), ack_(ack) {}

// LevelDB's writer queue: the batch at the front leads, takes everyone queued behind it,
// appends without holding the lock, then hands the lead to the next one waiting.
Status Committer::Commit(Batch* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  batch->done = false;
  queue_.push_back(batch);
  while (!batch->done && queue_.front() != batch) batch->cv.wait(lock);
  if (batch->done) return batch->status;

  std::vector<Batch*> group;
  size_t bytes = 0;
  for (Batch* b : queue_) {
    size_t b_bytes = 0;
    for (const std::string& p : b->payloads) b_bytes += p.size();
    if (!group.empty() && bytes + b_bytes > kMaxGroupBytes) break;
    group.push_back(b);
    bytes += b_bytes;
  }
  lock.unlock();
  Status s = AppendGroup(group);
  lock.lock();
  for (Batch* b : group) {
    queue_.pop_front();
    b->status = s;
    b->done = true;
    if (b != batch) b->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  return s;
}

Status Committer::AppendGroup(std::span<Batch* const> group) {
  size_t n = 0;
  for (const Batch* b : group) n += b->payloads.size();
  if (n == 0) return Status::OK();
  // Taken here, by the only thread appending, so ts order is queue order is journal order.
  uint64_t ts = sequencer_->NextN(n);
  std::vector<journal::Record> records;
  std::vector<uint64_t> acked;
  records.reserve(n);
  acked.reserve(n);
  for (Batch* b : group) {
    b->commit_ts.clear();
    for (std::string& payload : b->payloads) {
      AppendCommitTs(ts, &payload);
      b->commit_ts.push_back(ts);
      records.push_back(journal::Record{ts, payload});
      acked.push_back(ts);
      ++ts;
    }
  }
  RETURN_IF_ERROR(journal_->Append(records));
  if (ack_ != nullptr) {
    Status s = ack_->Write(acked);
    if (!s.ok()) return s.WithContext("appended, but writing the ack log failed");
  }
  return Status::OK();
}

}  // namespace binlog::loadgen
