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

// A batch of at least this many bytes is compressed on two threads.
constexpr size_t kSplitBytes = 1u << 20;

Result<std::unique_ptr<journal::Journal>> OpenJournal(const JournalSinkOptions& options) {
  journal::JournalOptions jo;
  jo.env = options.env;
  jo.max_file_size = options.max_file_size;
  jo.segment.zstd_level = options.zstd_level;
  Result<std::unique_ptr<journal::Journal>> j = journal::Journal::Open(options.dir, jo);
  if (!j.ok()) return j.status().WithContext(fmt::format("open the journal {}", options.dir));
  return j;
}

// The segment encoder refuses a record larger than half a block. Parts keep a big transaction's
// records near the part size, so only a single row change that large gets here: the error
// names its transaction.
Status RecordTooLarge(std::span<const EncodedBinlog> binlogs, Status s) {
  if (!s.IsInvalidArgument()) return s;
  auto big = std::max_element(binlogs.begin(), binlogs.end(), [](const auto& a, const auto& b) {
    return a.payload.size() < b.payload.size();
  });
  return Status::Unsupported(fmt::format(
      "a record of the transaction at {}:{} (gtid {}) is {} MiB encoded: one row change larger "
      "than a journal record holds ({} MiB) cannot be archived ({})",
      big->file, big->pos, big->gtid, big->payload.size() >> 20, segment::kMaxBlockBytes >> 21,
      s.message()));
}

class JournalSink : public Sink {
 public:
  JournalSink(const JournalSinkOptions& options, std::unique_ptr<journal::Journal> journal)
      : options_(options), journal_(std::move(journal)) {}

  // The payloads go to the journal as they are: no copy before the block encoder's.
  Status Write(std::span<const EncodedBinlog> binlogs) override {
    records_.resize(binlogs.size());
    for (size_t i = 0; i < binlogs.size(); ++i) {
      const EncodedBinlog& b = binlogs[i];
      records_[i] = journal::Record{b.commit_ts, b.payload, b.part};
    }
    std::vector<segment::EncodedBlock> blocks;
    if (Status s = Encode(records_, &blocks); !s.ok()) return RecordTooLarge(binlogs, s);
    journal::Journal::WriteTicket ticket;
    RETURN_IF_ERROR(journal_->WriteEncoded(std::move(blocks), records_.size(), &ticket));
    unfinished_ = !segment::IsLastPart(binlogs.back().part);
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

  // Reopening cuts the open transaction, as after a crash: one way for both.
  Status DropUnfinished() override {
    if (!unfinished_) return Status::OK();
    RETURN_IF_ERROR(journal_->Close());
    journal_.reset();
    ASSIGN_OR_RETURN(journal_, OpenJournal(options_));
    unfinished_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    last_.reset();
    return Status::OK();
  }

  // The journal is this syncer's alone: its newest record is the answer whatever server_id. It
  // never ends inside a transaction (Open cut what a crash left open): the newest record is a
  // transaction's last, the only part whose source is where the transaction ends.
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
      if (!segment::IsLastPart(rec.part)) continue;
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
  bool unfinished_ = false;  // the last record written is a part before the last
  std::mutex mu_;            // Write and WaitDurable run on different threads
  std::optional<journal::Journal::WriteTicket> last_;  // of the newest Write
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenJournalSink(const JournalSinkOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("[to] dir: the journal directory");
  ASSIGN_OR_RETURN(auto journal, OpenJournal(options));
  return std::unique_ptr<Sink>(new JournalSink(options, std::move(journal)));
}

}  // namespace binlog::syncer
