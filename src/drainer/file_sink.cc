// The file sink and the relay log.
#include <fmt/format.h>

#include <mutex>

#include "common/logging.h"
#include "common/tso.h"
#include "drainer/sinks.h"
#include "gc/gc.h"

namespace binlog::drainer {

namespace {

bool OlderThan(Env* env, uint64_t ts, double seconds) {
  const int64_t now_ms = env->NowMicros() / 1000;
  return seconds > 0 && static_cast<double>(now_ms - TSPhysicalMs(ts)) >
                            seconds * 1000;
}

class FileSink;

class FileWorker final : public replay::SinkWorker {
 public:
  explicit FileWorker(FileSink* sink) : sink_(sink) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override;
  Status ApplyDdl(const pb::Binlog& binlog) override;

 private:
  FileSink* sink_;
};

class FileSink final : public replay::Sink {
 public:
  FileSink(const FileSinkOptions& options, std::unique_ptr<journal::Journal> journal)
      : options_(options), journal_(std::move(journal)), last_ts_(journal_->last_ts()) {}
  ~FileSink() override {
    Status s;
    {
      std::lock_guard<std::mutex> g(mu_);
      s = FlushLocked();
    }
    if (s.ok()) s = journal_->Close();
    if (!s.ok()) LOG_ERROR("cannot close the file sink", KV("dir", options_.dir), KV("error", s));
  }

  int MaxWorkers() const override { return 1; }
  Status ConflictKeys(const pb::Binlog&, std::vector<replay::ConflictKey>*) override {
    return Status::OK();
  }
  Result<std::unique_ptr<replay::SinkWorker>> NewWorker() override {
    return std::unique_ptr<replay::SinkWorker>(std::make_unique<FileWorker>(this));
  }
  Result<replay::ResumeState> LoadResume() override {
    replay::ResumeState state;
    state.low_ts = journal_->last_ts();
    return state;
  }
  Status AdvanceLow(uint64_t ts) override {
    {
      std::lock_guard<std::mutex> g(mu_);
      RETURN_IF_ERROR(FlushLocked());
    }
    RETURN_IF_ERROR(journal_->Sync());
    if (options_.retention_seconds > 0 && ts >= next_gc_ts_) {
      next_gc_ts_ = ComposeTS(TSPhysicalMs(ts) + 60 * 1000, 0);  // once a minute at most
      // The one GC, so a binlog-gc from cron on the same directory takes turns with this one.
      gc::Options o;
      o.env = options_.env;
      o.retention_seconds = options_.retention_seconds;
      ASSIGN_OR_RETURN(gc::Report report, gc::CollectGarbage(options_.dir, o));
      if (!report.deleted.empty()) {
        LOG_INFO("file sink: removed segments past retention-time",
                 KV("segments", report.deleted.size()), KV("bytes", report.bytes_freed),
                 KV("dir", options_.dir));
      }
    }
    return Status::OK();
  }

  // Records above what was written; a DDL binlog with rows comes twice (ApplyDdl, then Apply) and
  // is written once. Buffered up to kFlushBytes, so that blocks are large and compress well.
  Status Write(std::span<const pb::Binlog* const> txns) {
    std::lock_guard<std::mutex> g(mu_);
    for (const pb::Binlog* b : txns) {
      const uint64_t ts = static_cast<uint64_t>(b->commit_ts());
      if (ts <= last_ts_) continue;
      payloads_.push_back(b->SerializeAsString());
      pending_ts_.push_back(last_ts_ = ts);
      pending_bytes_ += payloads_.back().size();
    }
    return pending_bytes_ >= kFlushBytes ? FlushLocked() : Status::OK();
  }

 private:
  Status FlushLocked() {
    if (payloads_.empty()) return Status::OK();
    std::vector<journal::Record> records;
    records.reserve(payloads_.size());
    for (size_t i = 0; i < payloads_.size(); ++i) records.push_back({pending_ts_[i], payloads_[i]});
    Status s = journal_->Append(records);
    payloads_.clear();
    pending_ts_.clear();
    pending_bytes_ = 0;
    return s;
  }

  static constexpr size_t kFlushBytes = 1 << 20;
  FileSinkOptions options_;
  std::unique_ptr<journal::Journal> journal_;
  std::mutex mu_;
  std::vector<std::string> payloads_;  // written, not yet appended
  std::vector<uint64_t> pending_ts_;
  size_t pending_bytes_ = 0;
  uint64_t last_ts_;
  uint64_t next_gc_ts_ = 0;
};

Status FileWorker::Apply(std::span<const pb::Binlog* const> txns) { return sink_->Write(txns); }
Status FileWorker::ApplyDdl(const pb::Binlog& binlog) {
  const pb::Binlog* one = &binlog;
  return sink_->Write(std::span<const pb::Binlog* const>(&one, 1));
}

journal::JournalOptions Options(Env* env, uint64_t max_file_size, bool sync) {
  journal::JournalOptions o;
  o.env = env;
  o.max_file_size = max_file_size;
  o.sync = sync;
  o.warn_unsynced = false;  // the file sink syncs before its checkpoint moves
  return o;
}

}  // namespace

Result<std::unique_ptr<replay::Sink>> NewFileSink(const FileSinkOptions& options) {
  RETURN_IF_ERROR(options.env->CreateDirs(options.dir));
  Result<std::unique_ptr<journal::Journal>> j =
      journal::Journal::Open(options.dir, Options(options.env, options.max_file_size, false));
  if (!j.ok()) return j.status().WithContext("cannot open the file sink's directory " + options.dir);
  return std::unique_ptr<replay::Sink>(std::make_unique<FileSink>(options, std::move(*j)));
}

Result<std::unique_ptr<RelayLog>> RelayLog::Open(Env* env, const std::string& dir,
                                                 uint64_t max_file_size, double keep_seconds) {
  RETURN_IF_ERROR(env->CreateDirs(dir));
  Result<std::unique_ptr<journal::Journal>> j =
      journal::Journal::Open(dir, Options(env, max_file_size, true));
  if (!j.ok()) return j.status().WithContext("cannot open the relay log " + dir);
  return std::unique_ptr<RelayLog>(new RelayLog(env, dir, keep_seconds, std::move(*j)));
}

Status RelayLog::Append(std::span<const pb::Binlog> batch) {
  std::vector<std::string> payloads;
  std::vector<uint64_t> ts;
  uint64_t last = journal_->last_ts();
  for (const pb::Binlog& b : batch) {
    if (b.tp() == pb::FAKE || static_cast<uint64_t>(b.commit_ts()) <= last) continue;
    payloads.push_back(b.SerializeAsString());
    ts.push_back(last = static_cast<uint64_t>(b.commit_ts()));
  }
  if (payloads.empty()) return Status::OK();
  std::vector<journal::Record> records;
  records.reserve(payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) records.push_back({ts[i], payloads[i]});
  return journal_->Append(records);
}

Status RelayLog::ReadAfter(uint64_t ts, const std::function<Status(pb::Binlog)>& fn) {
  journal::ReadOptions o;
  o.start_ts = ts + 1;
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(env_, dir_, o));
  journal::Record r;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) return Status::OK();
    pb::Binlog b;
    if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      return Status::Corruption(
          fmt::format("{}: the record at ts {} is not a binlog", reader->current_segment(), r.ts));
    }
    RETURN_IF_ERROR(fn(std::move(b)));
  }
}

Status RelayLog::Purge(uint64_t applied_ts) {
  Env* env = env_;
  const double keep = keep_seconds_;
  ASSIGN_OR_RETURN(size_t removed, journal_->RemoveSealedSegments([&](const auto&, const auto& t) {
    return t.last_ts <= applied_ts && (keep <= 0 || OlderThan(env, t.last_ts, keep));
  }));
  if (removed > 0) LOG_INFO("relay log: removed applied segments", KV("segments", removed));
  return Status::OK();
}

}  // namespace binlog::drainer
