// Dropping the newest records of an ordered journal: a repair an operator asks for (a pump that
// accepted a ts far ahead of its clock), never done by the journal itself.
#include <fmt/format.h>

#include "common/logging.h"
#include "journal/journal.h"

namespace binlog::journal {

namespace {

constexpr char kDroppedSuffix[] = ".dropped";
constexpr size_t kCopyBatchBytes = 4 << 20;

// Checks every record after ts with `check` before anything is changed.
Result<size_t> CountAfter(Env* env, const std::string& dir, uint64_t ts,
                          const std::function<Status(const Record&)>& check) {
  ReadOptions ro;
  ro.start_ts = ts + 1;
  ASSIGN_OR_RETURN(auto reader, JournalReader::Open(env, dir, ro));
  size_t count = 0;
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) return count;
    RETURN_IF_ERROR(check(r).WithContext(
        fmt::format("{}: record with ts {} after {}", reader->current_segment(), r.ts, ts)));
    ++count;
  }
}

// Writes path's records up to ts to a new file and puts it in path's place, unsealed (it is the
// newest segment left); the original is kept as path.dropped first.
Status RewriteUpTo(Env* env, const std::string& dir, const std::string& name, uint64_t ts) {
  const std::string path = JoinPath(dir, name);
  ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(env, path));
  segment::SegmentOptions options;
  options.compression = reader->header().compression;
  options.kind = reader->header().kind;
  RETURN_IF_ERROR(env->CopyFile(path, path + kDroppedSuffix));
  const std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(auto writer, segment::SegmentWriter::Create(env, tmp, options,
                                                               reader->header().created_micros));
  // Copied in batches of a few MiB: a segment may be as large as max-file-size.
  segment::BlockEncoder encoder(options);
  std::vector<std::string> payloads;
  std::vector<Record> stamps;  // ts and part tag; the payload is in payloads
  size_t batch_bytes = 0;
  auto flush = [&]() -> Status {
    std::vector<Record> batch;
    for (size_t i = 0; i < payloads.size(); ++i)
      batch.push_back(Record{stamps[i].ts, payloads[i], stamps[i].part});
    std::vector<segment::EncodedBlock> blocks;
    RETURN_IF_ERROR(encoder.Encode(batch, &blocks));
    payloads.clear();
    stamps.clear();
    batch_bytes = 0;
    return writer->Append(blocks);
  };
  segment::SegmentIterator it(reader.get(), 0, ts);
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(auto state, it.Next(&r));
    if (state != segment::SegmentIterator::State::kRecord) break;
    payloads.emplace_back(r.payload);
    stamps.push_back(Record{r.ts, {}, r.part});
    batch_bytes += r.payload.size();
    if (batch_bytes >= kCopyBatchBytes) RETURN_IF_ERROR(flush());
  }
  if (!payloads.empty()) RETURN_IF_ERROR(flush());
  RETURN_IF_ERROR(writer->Close());
  RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(dir);
}

}  // namespace

Result<DropReport> DropRecordsAfter(Env* env, const std::string& dir, uint64_t ts,
                                    const std::function<Status(const Record&)>& check) {
  ASSIGN_OR_RETURN(auto lock, env->LockFile(JoinPath(dir, "LOCK")));
  // A GC deleting old segments while the newest are renamed and rewritten could take one this
  // reads or recreate one it deleted: not both at once (docs/GC.md).
  auto gc_lock = env->LockFile(JoinPath(dir, kGcLockName));
  if (!gc_lock.ok()) {
    return gc_lock.status().WithContext(
        fmt::format("a GC is running on {}; retry when it is done", dir));
  }
  DropReport report;
  ASSIGN_OR_RETURN(report.records, CountAfter(env, dir, ts, check));
  if (report.records == 0) return report;
  ASSIGN_OR_RETURN(std::vector<SegmentName> segments, ListSegments(env, dir));
  // Newest first: a crash part way leaves a journal that ends earlier, never one with a hole.
  for (auto seg = segments.rbegin(); seg != segments.rend(); ++seg) {
    const std::string path = JoinPath(dir, seg->name);
    if (seg->ts > ts) {
      RETURN_IF_ERROR(env->RenameFile(path, path + kDroppedSuffix));
      RETURN_IF_ERROR(env->SyncDir(dir));
    } else {
      RETURN_IF_ERROR(RewriteUpTo(env, dir, seg->name, ts));
    }
    report.kept_as.push_back(path + kDroppedSuffix);
    if (seg->ts <= ts) break;
  }
  LOG_WARN("dropped the newest records of a journal", KV("dir", dir), KV("after-ts", ts),
           KV("records", report.records),
           KV("kept-as", fmt::format("{}", fmt::join(report.kept_as, ","))));
  return report;
}

}  // namespace binlog::journal
