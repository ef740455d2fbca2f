#include "common/status.h"

#include <errno.h>
#include <string.h>

#include <string>

#include "testutil/testutil.h"

namespace binlog {
namespace {

TEST(StatusTest, OkIsOkAndPrintsOK) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(Status::OK().WithContext("ignored").ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  EXPECT_TRUE(Status::NotFound("x").IsNotFound());
  EXPECT_TRUE(Status::Corruption("x").IsCorruption());
  EXPECT_TRUE(Status::InvalidArgument("x").IsInvalidArgument());
  EXPECT_TRUE(Status::IOError("x").IsIOError());
  EXPECT_TRUE(Status::NoSpace("x").IsNoSpace());
  EXPECT_TRUE(Status::Busy("x").IsBusy());
  EXPECT_TRUE(Status::Aborted("x").IsAborted());
  EXPECT_TRUE(Status::Unsupported("x").IsUnsupported());
  EXPECT_TRUE(Status::TimedOut("x").IsTimedOut());
  EXPECT_FALSE(Status::Busy("x").IsIOError());
  EXPECT_EQ(Status::Corruption("bad block at 4096").ToString(), "Corruption: bad block at 4096");
  EXPECT_EQ(Status::Corruption("bad block at 4096").message(), "bad block at 4096");
}

TEST(StatusTest, CodeNames) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_STREQ(StatusCodeName(StatusCode::kNoSpace), "NoSpace");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument), "InvalidArgument");
  EXPECT_STREQ(StatusCodeName(StatusCode::kTimedOut), "TimedOut");
}

TEST(StatusTest, FromErrnoMapsCodesAndNamesContext) {
  Status full = Status::FromErrno(ENOSPC, "write /data/x");
  EXPECT_TRUE(full.IsNoSpace());
  EXPECT_EQ(full.message(), std::string("write /data/x: ") + strerror(ENOSPC));
  EXPECT_TRUE(Status::FromErrno(EDQUOT, "w").IsNoSpace());
  EXPECT_TRUE(Status::FromErrno(ENOENT, "open /nope").IsNotFound());
  EXPECT_TRUE(Status::FromErrno(EIO, "fdatasync f").IsIOError());
  EXPECT_TRUE(Status::FromErrno(EACCES, "open f").IsIOError());
}

TEST(StatusTest, WithContextPrependsAndKeepsCode) {
  Status s = Status::Corruption("checksum mismatch").WithContext("segment binlog-1");
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "segment binlog-1: checksum mismatch");
}

TEST(StatusTest, CopyIsDeepAndMoveLeavesUsable) {
  Status a = Status::IOError("a");
  Status b = a;
  a = Status::Busy("changed");
  EXPECT_EQ(b.ToString(), "IOError: a");
  Status c = std::move(b);
  EXPECT_EQ(c.ToString(), "IOError: a");
  c = Status::OK();
  EXPECT_TRUE(c.ok());
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::OK();
}

TEST(ResultTest, ValueOrStatusAndMacros) {
  Result<int> r = Quarter(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  Result<int> bad = Quarter(6);
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_EQ(bad.status().message(), "odd");
  EXPECT_TRUE(CheckEven(3).IsInvalidArgument());
  EXPECT_TRUE(CheckEven(4).ok());
  Result<std::string> s = std::string("abc");
  EXPECT_EQ(s->size(), 3u);
  EXPECT_EQ(std::move(s).value(), "abc");
}

}  // namespace
}  // namespace binlog
