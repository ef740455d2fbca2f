#include "common/fault_env.h"

#include <errno.h>
#include <gmock/gmock.h>

#include <memory>
#include <string>

#include "testutil/testutil.h"

namespace binlog {
namespace {

class FaultEnvTest : public ::testing::Test {
 protected:
  // Creates path through the fault env with `synced` made durable, then `unsynced` appended.
  void Write(const std::string& path, std::string_view synced, std::string_view unsynced = {}) {
    ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
    ASSERT_OK(file->Append(synced));
    ASSERT_OK(file->Sync());
    if (!unsynced.empty()) ASSERT_OK(file->Append(unsynced));
    ASSERT_OK(file->Close());
  }
  std::string Read(const std::string& path) {
    Result<std::string> data = ReadFileToString(Env::Posix(), path);
    return data.ok() ? *data : "<" + data.status().ToString() + ">";
  }
  bool Exists(const std::string& path) { return Env::Posix()->FileExists(path); }
  // A durable file of "head" and 8 zeros written ahead (as the Preallocator leaves a segment),
  // open for appending after "head".
  std::unique_ptr<WritableFile> HeadAndZeros(const std::string& path) {
    auto file = env_.NewWritableFile(path);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) return nullptr;
    EXPECT_OK((*file)->Append("head"));
    EXPECT_OK((*file)->WriteAt(4, std::string(8, '\0')));
    EXPECT_OK((*file)->Sync());
    EXPECT_OK(env_.SyncDir(dir_.path()));
    return std::move(*file);
  }

  testing::TempDir dir_;
  FaultInjectionEnv env_{Env::Posix()};
};

TEST_F(FaultEnvTest, CrashDropsUnsyncedBytes) {
  const std::string path = dir_.Sub("seg");
  Write(path, "durable", "-lost");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  EXPECT_EQ(Read(path), "durable-lost");
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "durable");
}

// Zeros written ahead and synced, then data appended over them: a crash before the data's
// sync gives the zeros back, as a disk would; synced overwrites stay.
TEST_F(FaultEnvTest, CrashUndoesUnsyncedOverwrites) {
  const std::string path = dir_.Sub("seg");
  auto file = HeadAndZeros(path);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->Size(), 4u) << "WriteAt does not move the append position";
  ASSERT_OK(file->Append("ab"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Append("cd"));
  ASSERT_OK(file->WriteAt(10, "ef"));
  ASSERT_OK(file->Close());
  EXPECT_EQ(Read(path), std::string("headabcd\0\0ef", 12));
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), std::string("headab") + std::string(6, '\0'));
}

// Starting the write-back is not a sync: a crash still gives the zeros back.
TEST_F(FaultEnvTest, StartWriteBackIsNotDurability) {
  const std::string path = dir_.Sub("seg");
  auto file = HeadAndZeros(path);
  ASSERT_NE(file, nullptr);
  ASSERT_OK(file->Append("abcd"));
  ASSERT_OK(file->StartWriteBack(4, 4));
  ASSERT_OK(file->Close());
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), std::string("head") + std::string(8, '\0'));
}

TEST_F(FaultEnvTest, UnsyncedCreateVanishes) {
  const std::string path = dir_.Sub("new");
  ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
  ASSERT_OK(file->Append("abc"));
  file.reset();
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(path));
}

TEST_F(FaultEnvTest, SyncedButNotDirSyncedCreateVanishes) {
  const std::string path = dir_.Sub("new");
  Write(path, "synced bytes");
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(path));
}

TEST_F(FaultEnvTest, DirSyncedFileSurvivesWithSyncedLength) {
  const std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
  ASSERT_OK(file->Append("one"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(file->Append("two"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Append("three"));
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "onetwo");
}

TEST_F(FaultEnvTest, TruncateLowersTheSyncedLength) {
  const std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
  ASSERT_OK(file->Append("0123456789"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(file->Truncate(4));
  ASSERT_OK(file->Append("xy"));
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "0123");
}

TEST_F(FaultEnvTest, PreexistingFileReopenedKeepsItsBytes) {
  const std::string path = dir_.Sub("old");
  ASSERT_OK(WriteFileAtomic(Env::Posix(), path, "before"));
  ASSERT_OK_AND_ASSIGN(auto file, env_.ReopenWritableFile(path));
  ASSERT_OK(file->Append("+after"));
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "before");
}

TEST_F(FaultEnvTest, RenameOverTargetUndoneWithoutSyncDir) {
  const std::string target = dir_.Sub("meta"), tmp = dir_.Sub("meta.tmp");
  Write(target, "old");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  Write(tmp, "new");
  ASSERT_OK(env_.RenameFile(tmp, target));
  EXPECT_EQ(Read(target), "new");
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(target), "old");
  EXPECT_FALSE(Exists(tmp));
}

TEST_F(FaultEnvTest, RenameOverTargetKeptAfterSyncDir) {
  const std::string target = dir_.Sub("meta");
  Write(target, "old");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(WriteFileAtomic(&env_, target, "new"));  // tmp, sync, rename, SyncDir
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(target), "new");
  EXPECT_FALSE(Exists(target + ".tmp"));
}

TEST_F(FaultEnvTest, RenameOfDurableFileUndone) {
  const std::string a = dir_.Sub("a"), b = dir_.Sub("b");
  Write(a, "content", "-unsynced");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(env_.RenameFile(a, b));
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(b));
  EXPECT_EQ(Read(a), "content");
}

TEST_F(FaultEnvTest, UnsyncedDeleteIsUndone) {
  const std::string path = dir_.Sub("seg");
  Write(path, "keep me", "-not me");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(env_.DeleteFile(path));
  EXPECT_FALSE(Exists(path));
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "keep me");
}

TEST_F(FaultEnvTest, DeleteFollowedBySyncDirStays) {
  const std::string path = dir_.Sub("seg");
  Write(path, "x");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(env_.DeleteFile(path));
  ASSERT_OK(env_.SyncDir(dir_.path()));
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(path));
}

TEST_F(FaultEnvTest, SyncDirOfAnotherDirectoryDoesNotHelp) {
  const std::string other = dir_.Sub("other");
  ASSERT_OK(env_.CreateDirs(other));
  const std::string path = dir_.Sub("seg");
  Write(path, "x");
  ASSERT_OK(env_.SyncDir(other));
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(path));
}

TEST_F(FaultEnvTest, FailNthWriteWithEnospcWritesNothing) {
  const std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
  env_.FailNth(FaultInjectionEnv::Op::kWrite, 2, ENOSPC);
  ASSERT_OK(file->Append("first"));
  Status second = file->Append("second");
  EXPECT_TRUE(second.IsNoSpace()) << second.ToString();
  EXPECT_TRUE(file->Append("third").IsNoSpace());  // sticky until cleared
  EXPECT_EQ(file->Size(), 5u);
  EXPECT_EQ(Read(path), "first");
  EXPECT_OK(file->Sync());  // syncs are not affected
  env_.ClearFaults();
  ASSERT_OK(file->Append("-ok"));
  EXPECT_EQ(Read(path), "first-ok");
}

TEST_F(FaultEnvTest, FailNthSyncWithEioKeepsBytesUndurable) {
  const std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto file, env_.NewWritableFile(path));
  ASSERT_OK(file->Append("a"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(env_.SyncDir(dir_.path()));
  env_.FailNth(FaultInjectionEnv::Op::kSync, 1, EIO);
  ASSERT_OK(file->Append("b"));
  Status sync = file->Sync();
  EXPECT_TRUE(sync.IsIOError()) << sync.ToString();
  EXPECT_THAT(sync.message(), ::testing::HasSubstr(path));
  EXPECT_TRUE(env_.SyncDir(dir_.path()).IsIOError());  // SyncDir counts as a sync
  ASSERT_OK(env_.Crash());
  EXPECT_EQ(Read(path), "a");
}

TEST_F(FaultEnvTest, CountersAndClock) {
  const std::string path = dir_.Sub("seg");
  const int64_t writes = env_.write_count(), syncs = env_.sync_count();
  Write(path, "a", "b");
  ASSERT_OK(env_.SyncDir(dir_.path()));
  EXPECT_EQ(env_.write_count() - writes, 2);
  EXPECT_EQ(env_.sync_count() - syncs, 2);
  const int64_t real = env_.NowMicros();
  EXPECT_GT(real, 1'600'000'000'000'000);
  env_.SetNowMicros(42);
  EXPECT_EQ(env_.NowMicros(), 42);
}

TEST_F(FaultEnvTest, PassThroughOperations) {
  ASSERT_OK(env_.CreateDirs(dir_.Sub("d")));
  Write(dir_.Sub("d/f"), "xyz");
  EXPECT_TRUE(env_.FileExists(dir_.Sub("d/f")));
  ASSERT_OK_AND_ASSIGN(uint64_t size, env_.GetFileSize(dir_.Sub("d/f")));
  EXPECT_EQ(size, 3u);
  ASSERT_OK_AND_ASSIGN(auto names, env_.GetChildren(dir_.Sub("d")));
  EXPECT_EQ(names, std::vector<std::string>{"f"});
  ASSERT_OK(env_.CopyFile(dir_.Sub("d/f"), dir_.Sub("d/g")));
  ASSERT_OK_AND_ASSIGN(auto lock, env_.LockFile(dir_.Sub("LOCK")));
  EXPECT_TRUE(env_.LockFile(dir_.Sub("LOCK")).status().IsBusy());
  ASSERT_OK_AND_ASSIGN(uint64_t free_bytes, env_.GetFreeSpace(dir_.path()));
  EXPECT_GT(free_bytes, 0u);
  // The copy's name was never made durable.
  ASSERT_OK(env_.Crash());
  EXPECT_FALSE(Exists(dir_.Sub("d/g")));
}

}  // namespace
}  // namespace binlog
