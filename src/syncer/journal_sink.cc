// The embedded sink: a journal directory written by this syncer alone.
#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <vector>

#include "journal/journal.h"
#include "syncer/sink.h"

namespace binlog::syncer {

namespace {

// A journal record holds at most half a block (segment/format.h); refuse larger transactions
// here with the transaction named, rather than deep in the segment writer.
constexpr size_t kMaxRecordBytes = 32u << 20;

class JournalSink : public Sink {
 public:
  JournalSink(const JournalSinkOptions& options, std::unique_ptr<journal::Journal> journal)
      : options_(options), journal_(std::move(journal)) {}

  // The payloads go to the journal as they are: no copy before the block encoder's.
  Status Write(std::span<const EncodedBinlog> binlogs) override {
    records_.resize(binlogs.size());
    for (size_t i = 0; i < binlogs.size(); ++i) {
      const EncodedBinlog& b = binlogs[i];
      if (b.payload.size() > kMaxRecordBytes) {
        return Status::Unsupported(fmt::format(
            "the transaction at {}:{} (gtid {}) is {} MiB encoded; a journal record holds at "
            "most {} MiB: split such transactions upstream",
            b.file, b.pos, b.gtid, b.payload.size() >> 20, kMaxRecordBytes >> 20));
      }
      records_[i] = journal::Record{b.commit_ts, b.payload};
    }
    journal::Journal::WriteTicket ticket;
    RETURN_IF_ERROR(journal_->Write(records_, &ticket));
    std::lock_guard<std::mutex> lock(mu_);
    last_ = ticket;
    return Status::OK();
  }

  // The journal's two halves of Append: Write returns once written, so one batch's fdatasync
  // runs while the writer compresses the next. Waiting for the newest write covers the earlier.
  Status WaitDurable() override {
    std::optional<journal::Journal::WriteTicket> last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = last_;
    }
    return last ? journal_->WaitDurable(*last) : Status::OK();
  }

  uint64_t LastTS() const override { return journal_->last_ts(); }

  // The journal is this syncer's alone: its newest record is the answer whatever server_id.
  Result<std::optional<pb::SourcePosition>> LastSource(uint32_t) override {
    uint64_t last = journal_->last_ts();
    if (last == 0) return std::optional<pb::SourcePosition>();
    journal::ReadOptions ro;
    ro.start_ts = last;
    ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(options_.env, options_.dir, ro));
    journal::Record rec;
    std::optional<pb::SourcePosition> out;
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&rec));
      if (!more) break;
      pb::Binlog b;
      if (!b.ParseFromArray(rec.payload.data(), static_cast<int>(rec.payload.size()))) {
        return Status::Corruption(
            fmt::format("the newest record of {} (ts {}) is not a binlog", options_.dir, rec.ts));
      }
      if (b.has_source()) out = b.source();
    }
    return out;
  }

  Status Close() override { return journal_->Close(); }

 private:
  JournalSinkOptions options_;
  std::unique_ptr<journal::Journal> journal_;
  std::vector<journal::Record> records_;
  std::mutex mu_;  // Write and WaitDurable run on different threads
  std::optional<journal::Journal::WriteTicket> last_;  // of the newest Write
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenJournalSink(const JournalSinkOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("[to] dir: the journal directory");
  journal::JournalOptions jo;
  jo.env = options.env;
  jo.max_file_size = options.max_file_size;
  jo.segment.zstd_level = options.zstd_level;
  Result<std::unique_ptr<journal::Journal>> j = journal::Journal::Open(options.dir, jo);
  if (!j.ok()) return j.status().WithContext(fmt::format("open the journal {}", options.dir));
  return std::unique_ptr<Sink>(new JournalSink(options, std::move(*j)));
}

}  // namespace binlog::syncer
