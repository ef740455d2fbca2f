#include "common/log_sink.h"

#include <fmt/format.h>
#include <spdlog/common.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace binlog {

TimeRotatingFileSink::TimeRotatingFileSink(std::string path, LogRotation rotation, Clock clock)
    : path_(std::move(path)),
      rotation_(rotation),
      clock_(clock ? std::move(clock) : [] { return std::chrono::system_clock::now(); }) {}

Result<std::shared_ptr<TimeRotatingFileSink>> TimeRotatingFileSink::Open(const std::string& path,
                                                                         LogRotation rotation,
                                                                         Clock clock) {
  std::shared_ptr<TimeRotatingFileSink> sink(
      new TimeRotatingFileSink(path, rotation, std::move(clock)));
  const std::time_t now = std::chrono::system_clock::to_time_t(sink->clock_());
  sink->period_time_ = now;
  // A file from before a restart keeps the period it was written in, so it is rotated under
  // the right name rather than appended to across days.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) sink->period_time_ = st.st_mtime;
  sink->period_key_ = sink->PeriodKey(sink->period_time_);
  try {
    sink->file_.open(path, /*truncate=*/false);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IOError(fmt::format("cannot open log file \"{}\": {}", path, e.what()));
  }
  return sink;
}

std::string TimeRotatingFileSink::RotatedName(const std::string& path, std::time_t period_end) {
  std::tm tm;
  localtime_r(&period_end, &tm);
  // lumberjack's backup time format, "2006-01-02T15-04-05.000", between the name and extension.
  const std::filesystem::path p(path);
  const std::string name = fmt::format(
      "{}-{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.000{}", p.stem().string(), tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, p.extension().string());
  return (p.parent_path() / name).string();
}

// Local calendar fields, not seconds since the epoch: a day starts at local midnight, and a
// DST change does not shift where an hour begins.
int64_t TimeRotatingFileSink::PeriodKey(std::time_t t) const {
  std::tm tm;
  localtime_r(&t, &tm);
  const int64_t day = int64_t{tm.tm_year} * 1000 + tm.tm_yday;
  return rotation_ == LogRotation::kDay ? day : day * 100 + tm.tm_hour;
}

std::time_t TimeRotatingFileSink::PeriodEnd(std::time_t t) const {
  std::tm tm;
  localtime_r(&t, &tm);
  tm.tm_min = 0;
  tm.tm_sec = 0;
  if (rotation_ == LogRotation::kDay) {
    tm.tm_hour = 0;
    ++tm.tm_mday;  // mktime carries it into the next month or year
  } else {
    ++tm.tm_hour;
  }
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

void TimeRotatingFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  // The period can only change when the second does: one comparison per line in a burst.
  const std::time_t now = std::chrono::system_clock::to_time_t(clock_());
  if (now != checked_second_) {
    checked_second_ = now;
    if (PeriodKey(now) != period_key_) Rotate(now);
  }
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  file_.write(formatted);
}

void TimeRotatingFileSink::flush_() { file_.flush(); }

void TimeRotatingFileSink::Rotate(std::time_t now) {
  file_.close();
  std::string target = RotatedName(path_, PeriodEnd(period_time_));
  std::error_code ec;
  // Never over an older log: a clock set back, or a second process, could reuse a name.
  for (int n = 1; std::filesystem::exists(target, ec); ++n) {
    target = RotatedName(path_, PeriodEnd(period_time_)) + "." + std::to_string(n);
  }
  if (std::rename(path_.c_str(), target.c_str()) != 0) {
    // The lines still matter more than the name: go on appending to the current file.
    std::fprintf(stderr, "cannot rotate log file %s to %s: %s\n", path_.c_str(), target.c_str(),
                 std::strerror(errno));
  }
  period_time_ = now;
  period_key_ = PeriodKey(now);
  file_.open(path_, /*truncate=*/false);  // throws to the logger's error handler
}

}  // namespace binlog
