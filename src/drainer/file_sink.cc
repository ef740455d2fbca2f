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
  return seconds > 0 && static_cast<double>(now_ms - TSPhysicalMs(ts)) > seconds * 1000;
}

class FileSink;
journal::JournalOptions Options(Env* env, uint64_t max_file_size, bool sync);

class FileWorker final : public replay::SinkWorker {
 public:
  explicit FileWorker(FileSink* sink) : sink_(sink) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override;
  Status ApplyDdl(const pb::Binlog& binlog) override;
  Status ApplyStep(const pb::Binlog& changes, const Step& step) override;
  void RollbackSteps() override;

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
    if (s.ok() && journal_) s = journal_->Close();
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
    if (!journal_) return broken_;
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

  // A step of a transaction in parts is a part of the output, appended at once (a part may be
  // megabytes): the output holds the transaction as parts too, numbered from 0, the last one
  // flagged, whatever the input's parts were.
  Status WriteStep(const pb::Binlog& changes, bool last) {
    std::lock_guard<std::mutex> g(mu_);
    const auto ts = static_cast<uint64_t>(changes.commit_ts());
    RETURN_IF_ERROR(FlushLocked());
    if (ts < last_ts_ || (ts == last_ts_ && next_part_ == 0)) return Status::OK();  // written
    const std::string payload = changes.SerializeAsString();
    RETURN_IF_ERROR(
        journal_->Append(journal::Record{ts, payload, segment::MakePartTag(next_part_, last)}));
    last_ts_ = ts;
    next_part_ = last ? 0 : next_part_ + 1;
    return Status::OK();
  }
  // The transaction was abandoned: its parts written so far go, as a crash's would. Reopening
  // the journal cuts them (docs/FORMAT.md, "Transactions in parts").
  Status DropOpenTransaction() {
    std::lock_guard<std::mutex> g(mu_);
    if (next_part_ == 0) return Status::OK();
    RETURN_IF_ERROR(FlushLocked());
    RETURN_IF_ERROR(journal_->Close());
    journal_.reset();
    auto reopened =
        journal::Journal::Open(options_.dir, Options(options_.env, options_.max_file_size, false));
    if (!reopened.ok()) {
      broken_ = reopened.status().WithContext("reopening the file sink's directory");
      return broken_;
    }
    journal_ = std::move(*reopened);
    last_ts_ = journal_->last_ts();
    next_part_ = 0;
    return Status::OK();
  }

 private:
  Status FlushLocked() {
    if (!journal_) return broken_;
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
  uint32_t next_part_ = 0;
  Status broken_;  // why journal_ is gone (it could not be reopened)  // > 0: the transaction at
                   // last_ts_ is open, this part comes next
  uint64_t next_gc_ts_ = 0;
};

Status FileWorker::Apply(std::span<const pb::Binlog* const> txns) { return sink_->Write(txns); }
Status FileWorker::ApplyDdl(const pb::Binlog& binlog) {
  const pb::Binlog* one = &binlog;
  return sink_->Write(std::span<const pb::Binlog* const>(&one, 1));
}
Status FileWorker::ApplyStep(const pb::Binlog& changes, const Step& step) {
  return sink_->WriteStep(changes, step.end == StepEnd::kApplied);
}
void FileWorker::RollbackSteps() {
  Status s = sink_->DropOpenTransaction();
  if (!s.ok()) LOG_ERROR("file sink: cannot drop an abandoned transaction", KV("error", s));
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
  if (!j.ok())
    return j.status().WithContext("cannot open the file sink's directory " + options.dir);
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

Status RelayLog::Append(std::span<const MergedBinlog> batch) {
  std::vector<std::string> payloads;
  std::vector<journal::Record> records;
  uint64_t last = journal_->last_ts();
  for (const MergedBinlog& item : batch) {
    const auto ts = static_cast<uint64_t>(item.binlog.commit_ts());
    // The next part of the transaction at `last` is new; anything else at or below it is not.
    const bool next_part = ts == last && segment::PartIndex(item.part) > 0;
    if (item.binlog.tp() == pb::FAKE || (ts <= last && !next_part)) continue;
    payloads.push_back(item.binlog.SerializeAsString());
    records.push_back({ts, {}, item.part});
    last = ts;
  }
  if (payloads.empty()) return Status::OK();
  for (size_t i = 0; i < payloads.size(); ++i) records[i].payload = payloads[i];
  return journal_->Append(records);
}

Status RelayLog::ReadAfter(uint64_t ts, const std::function<Status(MergedBinlog)>& fn) {
  journal::ReadOptions o;
  o.start_ts = ts + 1;
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(env_, dir_, o));
  journal::Record r;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) return Status::OK();
    MergedBinlog item;
    item.part = r.part;
    if (!item.binlog.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      return Status::Corruption(
          fmt::format("{}: the record at ts {} is not a binlog", reader->current_segment(), r.ts));
    }
    RETURN_IF_ERROR(fn(std::move(item)));
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
