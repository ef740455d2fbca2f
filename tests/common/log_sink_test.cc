// The time-rotated log file: the configured name always holds the current lines, older ones
// are renamed aside lumberjack-style when the fake clock crosses a day or an hour.
#include "common/log_sink.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>

#include "common/env.h"
#include "common/logging.h"
#include "testutil/testutil.h"

namespace binlog {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

// A local wall-clock time, so the expected names hold in any time zone.
std::time_t Local(int year, int month, int day, int hour, int min, int sec) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

class LogSinkTest : public ::testing::Test {
 protected:
  // Lines are read back without flushing: each one must already be in the file.
  std::shared_ptr<spdlog::logger> Logger(LogRotation rotation) {
    auto sink = TimeRotatingFileSink::Open(path_, rotation, [this] { return now_; });
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    auto logger = std::make_shared<spdlog::logger>("test", *sink);
    logger->set_pattern("%v");
    logger->flush_on(spdlog::level::trace);
    return logger;
  }
  void SetNow(std::time_t t) { now_ = Clock::from_time_t(t); }
  std::string Read(const std::string& name) {
    auto text = ReadFileToString(Env::Posix(), dir_.Sub(name));
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return text.ok() ? *text : "";
  }
  std::vector<std::string> Files() {
    auto children = Env::Posix()->GetChildren(dir_.path());
    EXPECT_TRUE(children.ok());
    std::sort(children->begin(), children->end());
    return *children;
  }
  void SetMtime(std::time_t t) {
    struct timespec times[2] = {{t, 0}, {t, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
  }

  testing::TempDir dir_;
  std::string path_ = dir_.Sub("pump.log");
  Clock::time_point now_;
};

TEST_F(LogSinkTest, DayChangeRenamesTheFileAsideAndReopensTheConfiguredName) {
  SetNow(Local(2026, 11, 21, 23, 59, 58));
  auto logger = Logger(LogRotation::kDay);
  logger->info("one");
  EXPECT_EQ(Read("pump.log"), "one\n");
  SetNow(Local(2026, 11, 21, 23, 59, 59));
  logger->info("two");
  EXPECT_THAT(Files(), ElementsAre("pump.log"));

  SetNow(Local(2026, 11, 22, 0, 0, 1));
  logger->info("three");
  EXPECT_THAT(Files(), ElementsAre("pump-2026-11-22T00-00-00.000.log", "pump.log"));
  EXPECT_EQ(Read("pump-2026-11-22T00-00-00.000.log"), "one\ntwo\n");
  EXPECT_EQ(Read("pump.log"), "three\n");

  // A quiet day leaves no empty file behind; the name says when the lines in it ended.
  SetNow(Local(2026, 11, 24, 10, 0, 0));
  logger->info("four");
  EXPECT_THAT(Files(), ElementsAre("pump-2026-11-22T00-00-00.000.log",
                                   "pump-2026-11-23T00-00-00.000.log", "pump.log"));
  EXPECT_EQ(Read("pump-2026-11-23T00-00-00.000.log"), "three\n");
  EXPECT_EQ(Read("pump.log"), "four\n");
}

TEST_F(LogSinkTest, HourChangeRotatesOnTheHour) {
  SetNow(Local(2026, 11, 22, 10, 59, 59));
  auto logger = Logger(LogRotation::kHour);
  logger->info("a");
  SetNow(Local(2026, 11, 22, 11, 0, 0));
  logger->info("b");
  EXPECT_THAT(Files(), ElementsAre("pump-2026-11-22T11-00-00.000.log", "pump.log"));
  EXPECT_EQ(Read("pump-2026-11-22T11-00-00.000.log"), "a\n");
  EXPECT_EQ(Read("pump.log"), "b\n");
}

TEST_F(LogSinkTest, AFileLeftByAnEarlierDayIsRotatedUnderItsOwnDate) {
  std::ofstream(path_) << "before the restart\n";
  SetMtime(Local(2026, 11, 20, 15, 0, 0));
  SetNow(Local(2026, 11, 22, 9, 0, 0));
  auto logger = Logger(LogRotation::kDay);
  logger->info("after");
  EXPECT_THAT(Files(), ElementsAre("pump-2026-11-21T00-00-00.000.log", "pump.log"));
  EXPECT_EQ(Read("pump-2026-11-21T00-00-00.000.log"), "before the restart\n");
  EXPECT_EQ(Read("pump.log"), "after\n");
}

TEST_F(LogSinkTest, AFileFromTheSameDayIsAppendedTo) {
  std::ofstream(path_) << "earlier today\n";
  SetMtime(Local(2026, 11, 22, 8, 0, 0));
  SetNow(Local(2026, 11, 22, 9, 0, 0));
  auto logger = Logger(LogRotation::kDay);
  logger->info("later");
  EXPECT_THAT(Files(), ElementsAre("pump.log"));
  EXPECT_EQ(Read("pump.log"), "earlier today\nlater\n");
}

TEST_F(LogSinkTest, RotationNeverOverwritesAnOlderLog) {
  std::ofstream(dir_.Sub("pump-2026-11-22T00-00-00.000.log")) << "keep me\n";
  SetNow(Local(2026, 11, 21, 12, 0, 0));
  auto logger = Logger(LogRotation::kDay);
  logger->info("x");
  SetNow(Local(2026, 11, 22, 12, 0, 0));
  logger->info("y");
  EXPECT_EQ(Read("pump-2026-11-22T00-00-00.000.log"), "keep me\n");
  EXPECT_EQ(Read("pump-2026-11-22T00-00-00.000.log.1"), "x\n");
  EXPECT_EQ(Read("pump.log"), "y\n");
}

TEST(LogSinkNameTest, TimeGoesBetweenNameAndExtension) {
  std::time_t t = Local(2026, 1, 2, 3, 0, 0);
  EXPECT_EQ(TimeRotatingFileSink::RotatedName("/var/log/pump.log", t),
            "/var/log/pump-2026-01-02T03-00-00.000.log");
  EXPECT_EQ(TimeRotatingFileSink::RotatedName("drainer", t), "drainer-2026-01-02T03-00-00.000");
}

// Through InitLogging, as the tools use it: today's lines are in exactly the configured file.
TEST(LogSinkInitTest, ConfiguredNameIsTheCurrentFile) {
  testing::TempDir dir;
  for (const char* rotate : {"day", "hour"}) {
    SCOPED_TRACE(rotate);
    const std::string sub = dir.Sub(rotate);
    ASSERT_OK(InitLogging(LogOptions{"info", sub + "/pump.log", rotate}));
    LOG_INFO("rotated by time", KV("every", rotate));
    ASSERT_OK_AND_ASSIGN(auto files, Env::Posix()->GetChildren(sub));
    EXPECT_THAT(files, ElementsAre("pump.log"));
    ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(Env::Posix(), sub + "/pump.log"));
    EXPECT_THAT(text, HasSubstr("[\"rotated by time\"] [every="));
  }
  ASSERT_OK(WriteFileAtomic(Env::Posix(), dir.Sub("plainfile"), "x"));
  Status bad = InitLogging(LogOptions{"info", dir.Sub("plainfile/pump.log"), "day"});
  EXPECT_TRUE(bad.IsIOError()) << bad.ToString();
  EXPECT_THAT(bad.message(), HasSubstr(dir.Sub("plainfile/pump.log")));
  ASSERT_OK(InitLogging(LogOptions{}));
}

}  // namespace
}  // namespace binlog
