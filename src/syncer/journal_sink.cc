// The embedded sink: a journal directory written by this syncer alone.
#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "journal/journal.h"
#include "syncer/sink.h"

namespace binlog::syncer {

namespace {

// A journal record holds at most half a block (segment/format.h); refuse larger transactions
// here with the transaction named, rather than deep in the segment writer.
constexpr size_t kMaxRecordBytes = 32u << 20;
// A batch of at least this many bytes is compressed on two threads.
constexpr size_t kSplitBytes = 1u << 20;

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
    std::vector<segment::EncodedBlock> blocks;
    RETURN_IF_ERROR(Encode(records_, &blocks));
    journal::Journal::WriteTicket ticket;
    RETURN_IF_ERROR(journal_->WriteEncoded(std::move(blocks), records_.size(), &ticket));
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
  // Compression is most of the writer's CPU, and the writer the syncer's slowest stage: a batch
  // of several transactions (a catch-up) is compressed in two halves at once, one on a helper
  // thread, while the reader decodes on. A small batch is not worth a thread.
  Status Encode(std::span<const journal::Record> records, std::vector<segment::EncodedBlock>* out) {
    size_t bytes = 0;
    for (const journal::Record& r : records) bytes += r.payload.size();
    if (records.size() < 2 || bytes < kSplitBytes) return journal_->Encode(records, out);
    size_t split = 0;
    for (size_t half = 0; split < records.size() - 1 && half < bytes / 2; ++split) {
      half += records[split].payload.size();
    }
    Status first_status;
    std::thread helper([&] { first_status = journal_->Encode(records.first(split), out); });
    std::vector<segment::EncodedBlock> second;
    Status s = journal_->Encode(records.subspan(split), &second);
    helper.join();
    RETURN_IF_ERROR(first_status);
    RETURN_IF_ERROR(s);
    for (segment::EncodedBlock& b : second) out->push_back(std::move(b));
    return Status::OK();
  }

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
