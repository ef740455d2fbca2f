// Sealed segments deleted by a GC in another process (binlog-gc, docs/GC.md) between the
// journal's listing and its next look at them: opening (recovery), removing sealed segments and
// the disk usage pass over them; the newest segment is never taken that way.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>

#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using testing::PayloadFor;
using testing::ReadAll;

// The real file system, except that the first look at `victim` (its size, or opening it to
// read; or, with at_delete, deleting it) finds it deleted by "another process" just before.
class VanishingEnv : public Env {
 public:
  void Arm(const std::string& victim, bool at_delete = false) {
    std::lock_guard<std::mutex> g(mu_);
    victim_ = victim;
    at_delete_ = at_delete;
    fired_ = false;
  }
  bool fired() const {
    std::lock_guard<std::mutex> g(mu_);
    return fired_;
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return base_->NewWritableFile(p);
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& p) override {
    return base_->ReopenWritableFile(p);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    MaybeVanish(p, false);
    return base_->NewRandomAccessFile(p);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<uint64_t> GetFileSize(const std::string& p) override {
    MaybeVanish(p, false);
    return base_->GetFileSize(p);
  }
  Result<std::vector<std::string>> GetChildren(const std::string& d) override {
    return base_->GetChildren(d);
  }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status DeleteFile(const std::string& p) override {
    MaybeVanish(p, true);
    return base_->DeleteFile(p);
  }
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
  void MaybeVanish(const std::string& path, bool deleting) {
    std::lock_guard<std::mutex> g(mu_);
    if (fired_ || path != victim_ || deleting != at_delete_) return;
    fired_ = true;
    base_->DeleteFile(path).IgnoreError();
  }
  Env* base_ = Env::Posix();
  mutable std::mutex mu_;
  std::string victim_;
  bool at_delete_ = false;
  bool fired_ = false;
};

JournalOptions Options(Env* env) {
  JournalOptions o;
  o.env = env;
  o.max_file_size = kMinMaxFileSize;
  o.segment.block_bytes = 1 << 10;
  return o;
}

// Six sealed segments of ten records each (ts 1..60) and an active one (61..65).
void Fill(Env* env, const std::string& dir) {
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir, Options(env)));
  for (uint64_t ts = 1; ts <= 65; ++ts) {
    const std::string payload = PayloadFor(ts, 100);
    ASSERT_OK(j->Append(Record{ts, payload}));
    if (ts % 10 == 0 && ts <= 60) ASSERT_OK(j->Rotate());
  }
  ASSERT_OK(j->Close());
}

std::string PathOf(const std::string& dir, size_t index) {
  auto segs = ListSegments(Env::Posix(), dir);
  return segs.ok() && index < segs->size() ? JoinPath(dir, (*segs)[index].name) : "";
}

TEST(JournalVanishTest, OpenPassesOverASealedSegmentDeletedWhileItRecovers) {
  binlog::testing::TempDir dir;
  VanishingEnv env;
  Fill(&env, dir.path());
  env.Arm(PathOf(dir.path(), 2));
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options(&env)));
  EXPECT_TRUE(env.fired());
  EXPECT_EQ(j->last_ts(), 65u);
  ASSERT_OK(j->Append(Record{66, PayloadFor(66, 100)}));
  ASSERT_OK(j->Close());
  auto back = ReadAll(&env, dir.path());
  ASSERT_OK(back.status);
  EXPECT_EQ(back.ts.size(), 56u);  // 66 less the ten of the vanished segment
}

TEST(JournalVanishTest, TheNewestSegmentVanishingIsStillAnError) {
  binlog::testing::TempDir dir;
  VanishingEnv env;
  Fill(&env, dir.path());
  env.Arm(PathOf(dir.path(), 6));  // no GC takes it: something else is wrong
  Result<std::unique_ptr<Journal>> j = Journal::Open(dir.path(), Options(&env));
  EXPECT_TRUE(j.status().IsNotFound()) << j.status().ToString();
}

TEST(JournalVanishTest, RemovingSealedSegmentsPassesOverOnesAnotherGcDeleted) {
  binlog::testing::TempDir dir;
  VanishingEnv env;
  Fill(&env, dir.path());
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Options(&env)));
  // Gone before it is read: ts 1..10 is removed, 11..20 was already.
  env.Arm(PathOf(dir.path(), 1));
  ASSERT_OK_AND_ASSIGN(size_t removed,
                       j->RemoveSealedSegments([](const SegmentName& s, const segment::Trailer&) {
                         return s.ts <= 20;
                       }));
  EXPECT_TRUE(env.fired());
  EXPECT_EQ(removed, 1u);
  // Gone between being read and being deleted.
  env.Arm(PathOf(dir.path(), 0), /*at_delete=*/true);
  ASSERT_OK_AND_ASSIGN(
      removed, j->RemoveSealedSegments(
                   [](const SegmentName& s, const segment::Trailer&) { return s.ts <= 30; }));
  EXPECT_TRUE(env.fired());
  EXPECT_EQ(removed, 0u);
  ASSERT_OK_AND_ASSIGN(uint64_t usage, j->DiskUsage());
  EXPECT_GT(usage, 0u);
  ASSERT_OK(j->Close());
  EXPECT_EQ(ListSegments(Env::Posix(), dir.path())->size(), 4u);
}

// -drop-future-heartbeats renames and rewrites the newest segments: never while a GC runs.
TEST(JournalVanishTest, DroppingRecordsIsRefusedWhileAGcRuns) {
  binlog::testing::TempDir dir;
  Fill(Env::Posix(), dir.path());
  ASSERT_OK_AND_ASSIGN(auto gc, Env::Posix()->LockFile(JoinPath(dir.path(), kGcLockName)));
  auto refused =
      DropRecordsAfter(Env::Posix(), dir.path(), 30, [](const Record&) { return Status::OK(); });
  ASSERT_TRUE(refused.status().IsBusy()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("a GC is running"), std::string::npos);
  EXPECT_EQ(ReadAll(Env::Posix(), dir.path()).ts.size(), 65u);
  gc.reset();
  ASSERT_OK_AND_ASSIGN(
      DropReport dropped,
      DropRecordsAfter(Env::Posix(), dir.path(), 30, [](const Record&) { return Status::OK(); }));
  EXPECT_EQ(dropped.records, 35u);
}

}  // namespace
}  // namespace binlog::journal
