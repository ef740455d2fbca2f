// Commit timestamps and group commit for loadgen's appender threads.
//
// An ordered journal refuses a ts that is not above every ts it has queued, and Journal::Append
// compresses a call's records before it queues them. So threads that each take a ts and then
// call Append race: the later ts can reach the queue first and the earlier one is refused. The
// Committer closes that window: threads queue their serialized batches here, and one leader at
// a time gives every waiting batch its commit ts, in queue order, and appends them together in
// one Journal::Append (one write and one fdatasync for all of them).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "journal/journal.h"
#include "loadgen/workload.h"

namespace binlog::loadgen {

// Appends "<ts>\n" lines to a file, each write reaching the kernel before Write returns, so a
// crash test can compare what was acknowledged with what the journal kept.
class AckLog {
 public:
  static Result<std::unique_ptr<AckLog>> Open(Env* env, const std::string& path);
  Status Write(std::span<const uint64_t> ts);
  Status Close() { return file_->Close(); }

 private:
  explicit AckLog(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}
  std::unique_ptr<WritableFile> file_;
  std::string buffer_;
};

// Serialized transactions of one thread, waiting for their commit ts and the append.
struct Batch {
  // Serialized binlog.pb.Binlog messages without commit_ts; Commit adds it.
  std::vector<std::string> payloads;
  std::vector<uint64_t> commit_ts;  // set by Commit, one per payload

 private:
  friend class Committer;
  Status status;
  bool done = false;
  std::condition_variable cv;
};

// Adds commit_ts (field 3) to a serialized Binlog. Protobuf parsers accept fields in any order,
// so this costs a few bytes instead of serializing the message again under the leader role.
void AppendCommitTs(uint64_t commit_ts, std::string* payload);

class Committer {
 public:
  // ack may be null. Neither is owned; both must outlive the Committer.
  Committer(journal::Journal* journal, workload::TsSequencer* sequencer, AckLog* ack);
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Gives the batch's payloads consecutive commit ts and appends them, with the batches other
  // threads queued meanwhile, in one Journal::Append; writes the ack log after it succeeds.
  // Returns once the batch is acknowledged or failed. Thread-safe.
  Status Commit(Batch* batch);

 private:
  Status AppendGroup(std::span<Batch* const> group);

  journal::Journal* journal_;
  workload::TsSequencer* sequencer_;
  AckLog* ack_;
  std::mutex mu_;
  std::deque<Batch*> queue_;
  // Bounds one group's payload bytes so a burst cannot build a huge single write.
  static constexpr size_t kMaxGroupBytes = 8 << 20;
};

}  // namespace binlog::loadgen
