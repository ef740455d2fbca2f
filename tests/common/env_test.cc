#include "common/env.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "testutil/testutil.h"

namespace binlog {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class PosixEnvTest : public ::testing::Test {
 protected:
  Env* env_ = Env::Posix();
  testing::TempDir dir_;
};

TEST_F(PosixEnvTest, WriteSyncReadBack) {
  const std::string path = dir_.Sub("a");
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(path));
  ASSERT_OK(file->Append("hello "));
  ASSERT_OK(file->Append("world"));
  EXPECT_EQ(file->Size(), 11u);
  EXPECT_EQ(file->path(), path);
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  EXPECT_FALSE(file->Append("x").ok());

  ASSERT_OK_AND_ASSIGN(auto reader, env_->NewRandomAccessFile(path));
  ASSERT_OK_AND_ASSIGN(uint64_t size, reader->Size());
  EXPECT_EQ(size, 11u);
  char scratch[32];
  ASSERT_OK_AND_ASSIGN(std::string_view mid, reader->Read(6, 3, scratch));
  EXPECT_EQ(mid, "wor");
  ASSERT_OK_AND_ASSIGN(std::string_view tail, reader->Read(6, 32, scratch));
  EXPECT_EQ(tail, "world");  // short read at the end of the file
  ASSERT_OK_AND_ASSIGN(std::string_view past, reader->Read(100, 4, scratch));
  EXPECT_TRUE(past.empty());
  ASSERT_OK_AND_ASSIGN(std::string all, ReadFileToString(env_, path));
  EXPECT_EQ(all, "hello world");
  ASSERT_OK_AND_ASSIGN(uint64_t stat_size, env_->GetFileSize(path));
  EXPECT_EQ(stat_size, 11u);
}

// The Preallocator's zeros: written at an offset past the appends, then sent on to the disk.
TEST_F(PosixEnvTest, WriteAtThenStartWriteBackKeepsTheBytes) {
  const std::string path = dir_.Sub("z");
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(path));
  ASSERT_OK(file->Append("data"));
  ASSERT_OK(file->WriteAt(4, std::string(1 << 20, '\0')));
  ASSERT_OK(file->StartWriteBack(4, 1 << 20));
  ASSERT_OK(file->Append("more"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(std::string all, ReadFileToString(env_, path));
  EXPECT_EQ(all.size(), 4u + (1 << 20));
  EXPECT_EQ(all.substr(0, 8), "datamore");
  EXPECT_EQ(all.find_first_not_of('\0', 8), std::string::npos);
  Status closed = file->StartWriteBack(0, 4);
  EXPECT_TRUE(closed.IsIOError()) << closed.ToString();
  EXPECT_NE(closed.message().find(path), std::string::npos) << closed.ToString();
}

TEST_F(PosixEnvTest, ReopenAppendsAndTruncateMovesTheEnd) {
  const std::string path = dir_.Sub("a");
  ASSERT_OK(WriteFileAtomic(env_, path, "0123456789"));
  ASSERT_OK_AND_ASSIGN(auto file, env_->ReopenWritableFile(path));
  EXPECT_EQ(file->Size(), 10u);
  ASSERT_OK(file->Append("ab"));
  ASSERT_OK(file->Truncate(4));
  EXPECT_EQ(file->Size(), 4u);
  ASSERT_OK(file->Append("XY"));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(env_, path));
  EXPECT_EQ(data, "0123XY");
}

TEST_F(PosixEnvTest, NewWritableFileTruncatesExisting) {
  const std::string path = dir_.Sub("a");
  ASSERT_OK(WriteFileAtomic(env_, path, "old content"));
  ASSERT_OK_AND_ASSIGN(auto file, env_->NewWritableFile(path));
  ASSERT_OK(file->Append("new"));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(env_, path));
  EXPECT_EQ(data, "new");
}

TEST_F(PosixEnvTest, ErrorsCarryPathAndStrerror) {
  const std::string path = dir_.Sub("missing");
  Result<std::unique_ptr<RandomAccessFile>> r = env_->NewRandomAccessFile(path);
  ASSERT_TRUE(r.status().IsNotFound());
  EXPECT_THAT(r.status().message(), HasSubstr(path));
  EXPECT_THAT(r.status().message(), HasSubstr(strerror(ENOENT)));
  EXPECT_TRUE(env_->ReopenWritableFile(path).status().IsNotFound());
  EXPECT_TRUE(env_->GetFileSize(path).status().IsNotFound());
  EXPECT_TRUE(env_->DeleteFile(path).IsNotFound());
  Status rename = env_->RenameFile(path, dir_.Sub("b"));
  EXPECT_THAT(rename.message(), HasSubstr(path));
  Result<std::unique_ptr<WritableFile>> in_missing_dir = env_->NewWritableFile(dir_.Sub("x/y"));
  EXPECT_THAT(in_missing_dir.status().message(), HasSubstr(dir_.Sub("x/y")));
}

TEST_F(PosixEnvTest, DirectoriesAndChildren) {
  const std::string deep = dir_.Sub("a/b/c");
  ASSERT_OK(env_->CreateDirs(deep));
  ASSERT_OK(env_->CreateDirs(deep));  // existing is fine
  ASSERT_OK(env_->CreateDirs(dir_.Sub("a/b/")));
  ASSERT_OK(WriteFileAtomic(env_, JoinPath(deep, "f1"), "1"));
  ASSERT_OK(WriteFileAtomic(env_, JoinPath(deep, "f2"), "2"));
  ASSERT_OK(env_->CreateDirs(JoinPath(deep, "sub")));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, env_->GetChildren(deep));
  EXPECT_THAT(names, UnorderedElementsAre("f1", "f2", "sub"));
  ASSERT_OK(env_->SyncDir(deep));
  EXPECT_FALSE(env_->CreateDirs(JoinPath(deep, "f1")).ok());  // a file is in the way
  EXPECT_FALSE(env_->CreateDirs(JoinPath(deep, "f1/x")).ok());
  EXPECT_TRUE(env_->GetChildren(dir_.Sub("nope")).status().IsNotFound());
}

TEST_F(PosixEnvTest, RenameDeleteCopy) {
  const std::string a = dir_.Sub("a"), b = dir_.Sub("b"), c = dir_.Sub("c");
  ASSERT_OK(WriteFileAtomic(env_, a, "A"));
  ASSERT_OK(WriteFileAtomic(env_, b, "B"));
  ASSERT_OK(env_->RenameFile(a, b));  // replaces b
  EXPECT_FALSE(env_->FileExists(a));
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(env_, b));
  EXPECT_EQ(data, "A");
  ASSERT_OK(env_->CopyFile(b, c));
  ASSERT_OK_AND_ASSIGN(std::string copy, ReadFileToString(env_, c));
  EXPECT_EQ(copy, "A");
  ASSERT_OK(env_->DeleteFile(b));
  EXPECT_FALSE(env_->FileExists(b));
  EXPECT_TRUE(env_->FileExists(c));
}

TEST_F(PosixEnvTest, CopyFileCopiesLargeFiles) {
  std::string big(300 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  ASSERT_OK(WriteFileAtomic(env_, dir_.Sub("big"), big));
  ASSERT_OK(env_->CopyFile(dir_.Sub("big"), dir_.Sub("big.broken")));
  ASSERT_OK_AND_ASSIGN(std::string copy, ReadFileToString(env_, dir_.Sub("big.broken")));
  EXPECT_TRUE(copy == big);
}

TEST_F(PosixEnvTest, WriteFileAtomicLeavesNoTmp) {
  const std::string path = dir_.Sub("meta");
  ASSERT_OK(WriteFileAtomic(env_, path, "v1"));
  ASSERT_OK(WriteFileAtomic(env_, path, "v2"));
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFileToString(env_, path));
  EXPECT_EQ(data, "v2");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, env_->GetChildren(dir_.path()));
  EXPECT_THAT(names, UnorderedElementsAre("meta"));
  EXPECT_FALSE(WriteFileAtomic(env_, dir_.Sub("nodir/meta"), "x").ok());
}

TEST_F(PosixEnvTest, SecondLockIsBusyAndNamesHolder) {
  const std::string path = dir_.Sub("LOCK");
  ASSERT_OK_AND_ASSIGN(auto lock, env_->LockFile(path));
  Result<std::unique_ptr<FileLock>> second = env_->LockFile(path);
  ASSERT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_THAT(second.status().message(), HasSubstr(path));
  EXPECT_THAT(second.status().message(), HasSubstr("locked by another process"));
  EXPECT_THAT(second.status().message(), HasSubstr("pid " + std::to_string(getpid())));
  lock.reset();
  ASSERT_OK_AND_ASSIGN(auto again, env_->LockFile(path));
  EXPECT_NE(again, nullptr);
}

TEST_F(PosixEnvTest, FreeSpaceAndClock) {
  ASSERT_OK_AND_ASSIGN(uint64_t free_bytes, env_->GetFreeSpace(dir_.path()));
  EXPECT_GT(free_bytes, 0u);
  EXPECT_TRUE(env_->GetFreeSpace(dir_.Sub("nope")).status().IsNotFound());
  const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LT(std::abs(env_->NowMicros() - now), 5'000'000);
}

TEST(PathTest, JoinDirBase) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("a"), ".");
  EXPECT_EQ(DirName("a/b/"), "a");
  EXPECT_EQ(DirName("a//b"), "a");
  EXPECT_EQ(BaseName("a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
  EXPECT_EQ(BaseName("a/b/"), "b");
  EXPECT_EQ(BaseName("/"), "/");
}

}  // namespace
}  // namespace binlog
