#include "common/logging.h"

#include <gmock/gmock.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/env.h"
#include "testutil/testutil.h"

namespace binlog {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::vector<std::string> ReadLines(const std::string& path) {
  spdlog::default_logger()->flush();
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Puts logging back to stderr at info so later tests do not write into a deleted temp dir.
class LoggingTest : public ::testing::Test {
 protected:
  ~LoggingTest() override { EXPECT_OK(InitLogging(LogOptions{})); }
  testing::TempDir dir_;
};

constexpr char kPrefix[] =
    R"(\[[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} [+-][0-9]{2}:[0-9]{2}\] )";

TEST_F(LoggingTest, LineHasTidbShape) {
  const std::string path = dir_.Sub("pump.log");
  ASSERT_OK(InitLogging(LogOptions{"info", path, "none"}));
  LOG_INFO("opened journal", KV("dir", "/data/binlog"), KV("note", "with space"), KV("empty", ""),
           KV("count", 42));
  LOG_DEBUG("not shown", KV("x", 1));
  LOG_WARN("slow sync", KV("err", Status::IOError("disk gone")));
  LOG_ERROR("no fields");
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], MatchesRegex(std::string(kPrefix) +
                                     R"(\[INFO\] \[logging_test\.cc:[0-9]+\] \["opened journal"\] )"
                                     R"(\[dir=/data/binlog\] \[note="with space"\] \[empty=""\] )"
                                     R"(\[count=42\]$)"));
  EXPECT_THAT(lines[1], MatchesRegex(std::string(kPrefix) +
                                     R"(\[WARN\] \[logging_test\.cc:[0-9]+\] )"
                                     R"(\["slow sync"\] \[err="IOError: disk gone"\]$)"));
  EXPECT_THAT(lines[2],
              MatchesRegex(std::string(kPrefix) + R"(\[ERROR\] \[logging_test\.cc:[0-9]+\] )"
                                                  R"(\["no fields"\]$)"));
}

TEST_F(LoggingTest, LevelFiltersAndNames) {
  const std::string path = dir_.Sub("drainer.log");
  ASSERT_OK(InitLogging(LogOptions{"DEBUG", path, "none"}));
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  LOG_DEBUG("dbg");
  LogLine(LogLevel::kFatal, "/src/x/fatal.cc", 7, "boom", {});
  ASSERT_OK(InitLogging(LogOptions{"error", path, "none"}));
  EXPECT_FALSE(LogEnabled(LogLevel::kWarn));
  LOG_WARN("hidden");
  LOG_ERROR("shown");
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("] [DEBUG] [logging_test.cc:"));
  EXPECT_THAT(lines[1], HasSubstr("] [FATAL] [fatal.cc:7] [\"boom\"]"));
  EXPECT_THAT(lines[2], HasSubstr("] [ERROR] ["));
}

TEST_F(LoggingTest, DisabledLevelSkipsFieldFormatting) {
  ASSERT_OK(InitLogging(LogOptions{"info", dir_.Sub("x.log"), "none"}));
  int calls = 0;
  auto counted = [&] { return ++calls; };
  LOG_DEBUG("cheap", KV("n", counted()));
  EXPECT_EQ(calls, 0);
  LOG_INFO("logged", KV("n", counted()));
  EXPECT_EQ(calls, 1);
}

// Operators find today's lines under the configured name; older days are renamed aside
// (log_sink_test.cc moves the clock).
TEST_F(LoggingTest, RotationSinksKeepTheConfiguredName) {
  ASSERT_OK(InitLogging(LogOptions{"info", dir_.Sub("day/pump.log"), "day"}));
  LOG_INFO("daily");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> day, Env::Posix()->GetChildren(dir_.Sub("day")));
  EXPECT_EQ(day, std::vector<std::string>{"pump.log"});
  ASSERT_OK(InitLogging(LogOptions{"info", dir_.Sub("hour/pump.log"), "hour"}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> hour, Env::Posix()->GetChildren(dir_.Sub("hour")));
  EXPECT_EQ(hour, std::vector<std::string>{"pump.log"});
}

TEST_F(LoggingTest, ErrorsNameLevelFileAndRotation) {
  Status level = InitLogging(LogOptions{"verbose", "", "none"});
  EXPECT_TRUE(level.IsInvalidArgument());
  EXPECT_THAT(level.message(), HasSubstr("\"verbose\""));
  ASSERT_OK(WriteFileAtomic(Env::Posix(), dir_.Sub("plainfile"), "x"));
  const std::string bad = dir_.Sub("plainfile/pump.log");
  Status file = InitLogging(LogOptions{"info", bad, "none"});
  EXPECT_TRUE(file.IsIOError()) << file.ToString();
  EXPECT_THAT(file.message(), HasSubstr(bad));
  Status rotate = InitLogging(LogOptions{"info", dir_.Sub("p.log"), "weekly"});
  EXPECT_TRUE(rotate.IsInvalidArgument());
  EXPECT_THAT(rotate.message(), HasSubstr("\"weekly\""));
}

TEST(ParseLogLevelTest, Names) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(*ParseLogLevel("fatal"), LogLevel::kFatal);
  EXPECT_TRUE(ParseLogLevel("").status().IsInvalidArgument());
}

TEST(QuoteLogValueTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(QuoteLogValue("plain", false), "plain");
  EXPECT_EQ(QuoteLogValue("plain", true), "\"plain\"");
  EXPECT_EQ(QuoteLogValue("", false), "\"\"");
  EXPECT_EQ(QuoteLogValue("a b", false), "\"a b\"");
  EXPECT_EQ(QuoteLogValue("a=b", false), "\"a=b\"");
  EXPECT_EQ(QuoteLogValue("[x]", false), "\"[x]\"");
  EXPECT_EQ(QuoteLogValue("say \"hi\"", false), R"("say \"hi\"")");
  EXPECT_EQ(QuoteLogValue(R"(C:\dir)", false), R"("C:\\dir")");
  EXPECT_EQ(QuoteLogValue("l1\nl2\tx\r", false), R"("l1\nl2\tx\r")");
  EXPECT_EQ(QuoteLogValue(std::string("a\x01z", 3), false), R"("a\u0001z")");
  EXPECT_EQ(QuoteLogValue("h\xC3\xA9llo", false), "h\xC3\xA9llo");  // valid UTF-8 kept
  EXPECT_EQ(QuoteLogValue("bad\xFF", false), R"(bad\ufffd)");
  EXPECT_EQ(QuoteLogValue("\xE2\x82", false), R"(\ufffd\ufffd)");  // truncated sequence
}

TEST(LoggingBeforeInitTest, GoesToStderrInTidbShape) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // A fresh process, so no earlier InitLogging in this binary applies.
  EXPECT_EXIT(
      {
        LOG_DEBUG("hidden");
        LOG_INFO("before init", KV("k", "v"));
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      R"(\] \[INFO\] \[logging_test\.cc:[0-9]+\] \["before init"\] \[k=v\])");
}

}  // namespace
}  // namespace binlog
