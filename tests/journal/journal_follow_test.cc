// JournalReader edge cases: a reader racing the writer's rotation, segments that vanish before
// they are opened, a wal read without arrival_order, stop_ts while following.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>

#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using testing::PayloadFor;
using testing::ReadAll;

// Forwards to the real file system and runs a one-shot hook inside the next directory listing,
// so a test can put the writer's work exactly between two steps of the reader.
class ListHookEnv : public Env {
 public:
  std::function<void()> on_list;

  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    if (on_list) std::exchange(on_list, nullptr)();
    return base_->GetChildren(dir);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return base_->NewWritableFile(p);
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& p) override {
    return base_->ReopenWritableFile(p);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    return base_->NewRandomAccessFile(p);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<uint64_t> GetFileSize(const std::string& p) override { return base_->GetFileSize(p); }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status DeleteFile(const std::string& p) override { return base_->DeleteFile(p); }
  Status RenameFile(const std::string& f, const std::string& t) override {
    return base_->RenameFile(f, t);
  }
  Status CopyFile(const std::string& f, const std::string& t) override {
    return base_->CopyFile(f, t);
  }
  Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return base_->LockFile(p);
  }
  Result<uint64_t> GetFreeSpace(const std::string& p) override { return base_->GetFreeSpace(p); }
  int64_t NowMicros() override { return base_->NowMicros(); }

 private:
  Env* base_ = Env::Posix();
};

JournalOptions Options() {
  JournalOptions o;
  o.segment.block_bytes = 4 << 10;
  return o;
}

Status AppendRange(Journal* j, uint64_t first, uint64_t last) {
  for (uint64_t ts = first; ts <= last; ++ts)
    RETURN_IF_ERROR(j->Append(Record{ts, PayloadFor(ts)}));
  return Status::OK();
}

// Reads until `count` records came or a wait of `wait` found nothing new.
std::vector<uint64_t> Drain(JournalReader* reader, size_t count, std::chrono::milliseconds wait) {
  std::vector<uint64_t> seen;
  Record r;
  while (seen.size() < count) {
    auto more = reader->Next(&r, wait);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    EXPECT_EQ(r.payload, PayloadFor(r.ts));
    seen.push_back(r.ts);
  }
  return seen;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t ts = first; ts <= last; ++ts) out.push_back(ts);
  return out;
}

// The writer appends to the segment the reader has drained, seals it and starts the next one,
// all while the reader looks for what comes next: the reader must not skip to the new segment
// before it has read the old one to its footer.
TEST(JournalFollowTest, RecordsWrittenJustBeforeARotationAreNotSkipped) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
  ASSERT_OK(AppendRange(j.get(), 1, 10));
  ListHookEnv env;
  ReadOptions ro;
  ro.follow = true;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(&env, dir.path(), ro));
  EXPECT_EQ(Drain(reader.get(), 10, std::chrono::milliseconds(0)), Range(1, 10));

  env.on_list = [&] {
    ASSERT_OK(AppendRange(j.get(), 11, 20));
    ASSERT_OK(j->Rotate());
    ASSERT_OK(AppendRange(j.get(), 21, 21));
  };
  EXPECT_EQ(Drain(reader.get(), 11, std::chrono::milliseconds(2000)), Range(11, 21));
  ASSERT_OK(j->Close());
}

// A crashed writer leaves a segment without a whole header; its restart removes it. A reader
// that was waiting for that segment's header goes on with what the writer creates next.
TEST(JournalFollowTest, ASegmentRemovedBeforeItWasOpenedIsPassedOver) {
  binlog::testing::TempDir dir;
  segment::SegmentHeader h;
  std::string header = segment::EncodeSegmentHeader(h);
  std::ofstream(dir.Sub(MakeSegmentName(5, 0)), std::ios::binary) << header.substr(0, 10);
  ReadOptions ro;
  ro.follow = true;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), ro));
  EXPECT_TRUE(Drain(reader.get(), 1, std::chrono::milliseconds(20)).empty());

  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
  ASSERT_OK(AppendRange(j.get(), 6, 10));
  EXPECT_EQ(Drain(reader.get(), 5, std::chrono::milliseconds(2000)), Range(6, 10));
  ASSERT_OK(j->Close());
}

// A wal's segments are named by sequence number, not ts: seeking by name would skip them.
TEST(JournalFollowTest, ReadingAWalWithoutArrivalOrderIsRefused) {
  binlog::testing::TempDir dir;
  JournalOptions o = Options();
  o.segment.kind = segment::SegmentKind::kArrival;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
  for (uint64_t ts : {5000, 1000, 3000}) {
    ASSERT_OK(AppendRange(j.get(), ts, ts + 9));
    ASSERT_OK(j->Rotate());
  }
  ASSERT_OK(j->Close());
  auto back = ReadAll(Env::Posix(), dir.path(), /*start_ts=*/2000);
  EXPECT_TRUE(back.status.IsInvalidArgument()) << back.status.ToString();
  EXPECT_TRUE(back.ts.empty());
  back = ReadAll(Env::Posix(), dir.path(), 0, UINT64_MAX, /*arrival=*/true);
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 30u);
}

// Once the record at stop_ts was returned nothing later can qualify in an ordered journal: a
// follower ends there instead of waiting for a record past it that may never come.
TEST(JournalFollowTest, FollowingEndsAtARecordWithTheStopTs) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options()));
  ASSERT_OK(AppendRange(j.get(), 1, 10));
  ReadOptions ro;
  ro.follow = true;
  ro.start_ts = 4;
  ro.stop_ts = 10;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), ro));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Drain(reader.get(), 100, std::chrono::milliseconds(3000)), Range(4, 10));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  ASSERT_OK(j->Close());
}

// A reader that starts before the first segment exists still reads from start_ts on.
TEST(JournalFollowTest, AReaderStartedOnAnEmptyDirectorySeesEverythingFromStartTs) {
  binlog::testing::TempDir dir;
  ReadOptions ro;
  ro.follow = true;
  ro.start_ts = 150;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), ro));
  EXPECT_TRUE(Drain(reader.get(), 1, std::chrono::milliseconds(20)).empty());
  JournalOptions o = Options();
  o.max_file_size = 4 << 10;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
  ASSERT_OK(AppendRange(j.get(), 1, 200));
  EXPECT_EQ(Drain(reader.get(), 51, std::chrono::milliseconds(2000)), Range(150, 200));
  ASSERT_OK(j->Close());
}

}  // namespace
}  // namespace binlog::journal
