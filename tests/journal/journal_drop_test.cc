// DropRecordsAfter: the newest records of an ordered journal removed on an operator's request,
// the files as they were kept, nothing changed when the check refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using ::testing::HasSubstr;
using testing::PayloadFor;
using testing::ReadAll;

JournalOptions Small() {
  JournalOptions o;
  o.max_file_size = 8 << 10;
  o.segment.block_bytes = 2 << 10;
  return o;
}

void Fill(const std::string& dir, uint64_t first, uint64_t last) {
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir, Small()));
  for (uint64_t ts = first; ts <= last; ++ts) {
    std::string p = PayloadFor(ts);
    ASSERT_OK(j->Append(Record{ts, p}));
  }
  ASSERT_OK(j->Close());
}

size_t CountFiles(const std::string& dir, std::string_view suffix) {
  auto children = Env::Posix()->GetChildren(dir);
  size_t n = 0;
  for (const std::string& c : *children) {
    n += c.size() >= suffix.size() &&
         c.compare(c.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return n;
}

TEST(JournalDropTest, DropsWhatLiesAfterAndKeepsTheFilesAsTheyWere) {
  binlog::testing::TempDir dir;
  Fill(dir.path(), 1, 300);
  ASSERT_OK_AND_ASSIGN(auto before, ListSegments(Env::Posix(), dir.path()));
  ASSERT_GT(before.size(), 4u);
  const uint64_t cut = before[before.size() - 3].ts + 2;  // inside the third newest segment
  std::vector<uint64_t> seen;
  ASSERT_OK_AND_ASSIGN(DropReport report,
                       DropRecordsAfter(Env::Posix(), dir.path(), cut, [&](const Record& r) {
                         seen.push_back(r.ts);
                         return Status::OK();
                       }));
  EXPECT_EQ(report.records, 300 - cut);
  EXPECT_EQ(seen.size(), 300 - cut);
  EXPECT_EQ(report.kept_as.size(), 3u);
  EXPECT_EQ(CountFiles(dir.path(), ".dropped"), 3u);

  auto back = ReadAll(Env::Posix(), dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.bad_payloads, 0u);
  ASSERT_EQ(back.ts.size(), cut);
  EXPECT_EQ(back.ts.back(), cut);
  // The journal goes on from there: a ts after the cut is taken again.
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small()));
  EXPECT_EQ(j->last_ts(), cut);
  std::string p = PayloadFor(cut + 1);
  ASSERT_OK(j->Append(Record{cut + 1, p}));
  ASSERT_OK(j->Close());
  EXPECT_EQ(ReadAll(Env::Posix(), dir.path()).ts.size(), cut + 1);
}

TEST(JournalDropTest, ARefusedRecordOrAnOpenJournalChangesNothing) {
  binlog::testing::TempDir dir;
  Fill(dir.path(), 1, 200);
  ASSERT_OK_AND_ASSIGN(auto before, ListSegments(Env::Posix(), dir.path()));
  auto refused = DropRecordsAfter(Env::Posix(), dir.path(), 150, [](const Record& r) {
    return r.ts == 180 ? Status::Aborted("carries data") : Status::OK();
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("record with ts 180 after 150"));
  EXPECT_EQ(CountFiles(dir.path(), ".dropped"), 0u);
  EXPECT_EQ(ReadAll(Env::Posix(), dir.path()).ts.size(), 200u);

  ASSERT_OK_AND_ASSIGN(auto open, Journal::Open(dir.path(), Small()));
  auto busy =
      DropRecordsAfter(Env::Posix(), dir.path(), 150, [](const Record&) { return Status::OK(); });
  EXPECT_TRUE(busy.status().IsBusy()) << busy.status().ToString();
  ASSERT_OK(open->Close());

  ASSERT_OK_AND_ASSIGN(
      DropReport none,
      DropRecordsAfter(Env::Posix(), dir.path(), 200, [](const Record&) { return Status::OK(); }));
  EXPECT_EQ(none.records, 0u);
  ASSERT_OK_AND_ASSIGN(auto after, ListSegments(Env::Posix(), dir.path()));
  EXPECT_EQ(after.size(), before.size());
}

}  // namespace
}  // namespace binlog::journal
