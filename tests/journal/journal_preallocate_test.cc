// Zeros written ahead of the active segment's data (JournalOptions::preallocate_bytes): readers
// stop at them, sealing and closing cut them, a reopen after a crash cuts them quietly.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "journal/journal.h"
#include "journal_test_util.h"
#include "segment/segment.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using testing::PayloadFor;
using testing::ReadAll;

JournalOptions PreallocOptions() {
  JournalOptions o;
  o.max_file_size = 256 << 10;
  o.preallocate_bytes = 32 << 10;
  o.segment.block_bytes = 4 << 10;
  return o;
}

std::string NewestSegment(const std::string& dir) {
  auto segments = ListSegments(Env::Posix(), dir);
  if (!segments.ok() || segments->empty()) return "";
  return JoinPath(dir, segments->back().name);
}

// Waits until the newest segment holds zeros past its data; returns its scan.
segment::ScanResult WaitForZerosAhead(const std::string& dir) {
  segment::ScanResult scan;
  for (int i = 0; i < 500; ++i) {
    auto s = segment::ScanSegment(Env::Posix(), NewestSegment(dir), segment::ScanOptions());
    if (s.ok() && s->torn_tail_at && s->file_size > s->valid_end) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no zeros were written ahead of the data";
  return scan;
}

TEST(JournalPreallocateTest, ReadersStopAtTheZerosAndSealAndCloseCutThem) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), PreallocOptions()));
  uint64_t ts = 0;
  // Past one rotation, so a sealed segment that had zeros ahead exists too.
  while (j->stats().segments_created < 2) {
    ++ts;
    ASSERT_OK(j->Append(Record{ts, PayloadFor(ts)}));
  }
  for (int i = 0; i < 20; ++i, ++ts) ASSERT_OK(j->Append(Record{ts + 1, PayloadFor(ts + 1)}));

  segment::ScanResult active = WaitForZerosAhead(dir.path());
  EXPECT_TRUE(active.tail_unwritten) << "what follows the data is zeros only";
  EXPECT_TRUE(active.damages.empty());
  EXPECT_GT(j->stats().bytes_preallocated, 0u);

  // Every record, in order, and the zeros are the end (a follower waits there, no error).
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.bad_payloads, 0u);
  ASSERT_EQ(back.ts.size(), ts);
  ReadOptions follow;
  follow.follow = true;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), follow));
  Record r;
  for (uint64_t n = 0; n < ts; ++n) {
    auto got = reader->Next(&r);
    ASSERT_TRUE(got.ok() && *got) << n;
  }
  auto at_end = reader->Next(&r, std::chrono::milliseconds(50));
  ASSERT_OK(at_end.status());
  EXPECT_FALSE(*at_end);

  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  for (const SegmentName& seg : segments) {
    std::string path = JoinPath(dir.path(), seg.name);
    ASSERT_OK_AND_ASSIGN(auto scan, segment::ScanSegment(Env::Posix(), path, {}));
    EXPECT_FALSE(scan.torn_tail_at) << path << ": zeros left after seal or close";
    EXPECT_TRUE(scan.damages.empty()) << path;
  }
}

TEST(JournalPreallocateTest, ReopenWithZerosAheadCutsThemAndAppendsGoOn) {
  binlog::testing::TempDir dir;
  uint64_t ts = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), PreallocOptions()));
    for (; ts < 30; ++ts) ASSERT_OK(j->Append(Record{ts + 1, PayloadFor(ts + 1)}));
    WaitForZerosAhead(dir.path());
    // The zeros stay as a crash would leave them: a copy taken now, with the journal open.
    ASSERT_OK(Env::Posix()->CopyFile(NewestSegment(dir.path()), dir.Sub("snapshot")));
    ASSERT_OK(j->Close());
  }
  ASSERT_OK(Env::Posix()->RenameFile(dir.Sub("snapshot"), NewestSegment(dir.path())));
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), PreallocOptions()));
    EXPECT_EQ(j->last_ts(), ts);
    for (; ts < 60; ++ts) ASSERT_OK(j->Append(Record{ts + 1, PayloadFor(ts + 1)}));
    ASSERT_OK(j->Close());
  }
  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.bad_payloads, 0u);
  ASSERT_EQ(back.ts.size(), ts);
  for (uint64_t n = 0; n < ts; ++n) EXPECT_EQ(back.ts[n], n + 1);
}

}  // namespace
}  // namespace binlog::journal
