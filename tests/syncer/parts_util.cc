#include "syncer/parts_util.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/env.h"
#include "journal/journal.h"

namespace binlog::syncer::testing {

namespace {

Status Visit(const std::string& dir, uint64_t start_ts, bool parse,
             const std::function<void(ArchivedRecord&)>& fn) {
  journal::ReadOptions ro;
  ro.start_ts = start_ts;
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(Env::Posix(), dir, ro));
  journal::Record rec;
  ArchivedRecord r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&rec));
    if (!more) return Status::OK();
    r.ts = rec.ts;
    r.part = rec.part;
    r.bytes = rec.payload.size();
    if (parse &&
        !r.binlog.ParseFromArray(rec.payload.data(), static_cast<int>(rec.payload.size()))) {
      return Status::Corruption(fmt::format("record ts {} is not a binlog", rec.ts));
    }
    fn(r);
  }
}

uint64_t GtidSeq(const std::string& gtid) {
  size_t dash = gtid.rfind('-');
  return dash == std::string::npos ? 0 : std::stoull(gtid.substr(dash + 1));
}

}  // namespace

Status ForEachRecord(const std::string& dir, const std::function<void(ArchivedRecord&)>& fn) {
  return Visit(dir, 0, /*parse=*/true, fn);
}

void ArchiveChecker::Add(const ArchivedRecord& r) {
  records_++;
  const pb::Binlog& b = r.binlog;
  const std::string where = fmt::format("record {} (ts {}, part tag {})", records_, r.ts, r.part);
  EXPECT_EQ(static_cast<uint64_t>(b.commit_ts()), r.ts) << where;
  if (b.tp() == pb::FAKE && !open_) {
    EXPECT_EQ(r.part, segment::kWholeTransaction) << where;
    EXPECT_GT(r.ts, last_ts_) << where << ": ts must grow";
    last_ts_ = r.ts;
    heartbeats_++;
    return;
  }
  const bool first = segment::PartIndex(r.part) == 0;
  if (open_) {
    Transaction& t = txns_.back();
    EXPECT_TRUE(segment::IsPart(r.part)) << where << ": a whole record inside transaction "
                                         << t.gtid << " after " << t.parts << " parts";
    EXPECT_EQ(segment::PartIndex(r.part), t.parts) << where << " in " << t.gtid;
    EXPECT_EQ(r.ts, t.ts) << where << ": parts of one transaction share its ts";
    EXPECT_EQ(b.source().gtid(), t.gtid) << where;
  } else {
    EXPECT_TRUE(first) << where << ": a part after the end of a transaction";
    EXPECT_GT(r.ts, last_ts_) << where << ": ts must grow from one transaction to the next";
    Transaction& t = txns_.emplace_back();
    t.ts = r.ts;
    t.gtid = b.source().gtid();
    if (!t.gtid.empty()) {
      uint64_t seq = GtidSeq(t.gtid);
      if (last_seq_ != 0) {
        EXPECT_EQ(seq, last_seq_ + 1) << "GTID " << t.gtid << " after seq " << last_seq_
                                      << (seq <= last_seq_ ? ": a duplicate" : ": a gap");
      }
      last_seq_ = seq;
    }
  }
  Transaction& t = txns_.back();
  last_ts_ = r.ts;
  if (segment::IsPart(r.part)) {
    t.parts++;
    EXPECT_TRUE(b.ddl_query().empty()) << where << ": a DDL transaction is never cut";
  }
  EXPECT_EQ(b.tp(), pb::COMMIT) << where;
  EXPECT_EQ(b.start_ts(), b.commit_ts()) << where;
  for (const pb::TableChanges& tc : b.tables()) {
    EXPECT_FALSE(tc.schema_name().empty()) << where;
    EXPECT_FALSE(tc.table_name().empty()) << where;
    EXPECT_GT(tc.columns_size(), 0) << where << ": a part names its table's columns";
    for (const pb::TableMutation& m : tc.mutations()) {
      EXPECT_EQ(m.row().columns_size(), tc.columns_size()) << where;
    }
    t.rows += static_cast<uint64_t>(tc.mutations_size());
  }
  t.largest_record = std::max(t.largest_record, r.bytes);
  t.source = b.source();
  open_ = !segment::IsLastPart(r.part);
  if (replicate_) replica_.Apply(b);
}

void ArchiveChecker::Finish() {
  EXPECT_FALSE(open_) << "the archive ends inside transaction " << txns_.back().gtid << " after "
                      << txns_.back().parts << " parts";
}

Result<ArchiveChecker> CheckArchive(const std::string& dir, bool replicate) {
  ArchiveChecker checker(replicate);
  RETURN_IF_ERROR(ForEachRecord(dir, [&](ArchivedRecord& r) { checker.Add(r); }));
  checker.Finish();
  return checker;
}

Result<ArchivedRecord> NewestRecord(const std::string& dir) {
  ArchivedRecord newest;
  ASSIGN_OR_RETURN(auto segments, journal::ListSegments(Env::Posix(), dir, false));
  if (segments.empty()) return newest;
  RETURN_IF_ERROR(Visit(dir, segments.back().ts, /*parse=*/false, [&](ArchivedRecord& r) {
    newest.ts = r.ts;
    newest.part = r.part;
    newest.bytes = r.bytes;
  }));
  return newest;
}

Result<uint64_t> PeakRss(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  }
  return Status::NotFound(fmt::format("no VmHWM in /proc/{}/status", pid));
}

}  // namespace binlog::syncer::testing
