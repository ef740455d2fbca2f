// A log file that keeps its configured name, rotated by time the way TiDB's logs are.
//
// Lines always go to the configured path ("pump.log"), so a log shipper or `tail -F` follows one
// name. When the day (or hour) changes, the file is renamed aside lumberjack-style with the
// local time its period ended, "pump-2026-11-22T00-00-00.000.log", and a fresh "pump.log" is
// started. spdlog's own daily sink writes "pump_2026-11-22.log" instead, which operators of
// TiDB-Binlog do not look for.
#pragma once

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace binlog {

enum class LogRotation { kDay, kHour };

class TimeRotatingFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // The time source; tests substitute one that jumps across midnight.
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Opens path for appending, creating its directory. A file left by an earlier period (by its
  // modification time) is rotated before the first line of this one. Errors name the path.
  static Result<std::shared_ptr<TimeRotatingFileSink>> Open(const std::string& path,
                                                            LogRotation rotation,
                                                            Clock clock = nullptr);

  // "dir/pump.log" and the end of its period -> "dir/pump-2026-11-22T00-00-00.000.log".
  static std::string RotatedName(const std::string& path, std::time_t period_end);

  TimeRotatingFileSink(const TimeRotatingFileSink&) = delete;
  TimeRotatingFileSink& operator=(const TimeRotatingFileSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  TimeRotatingFileSink(std::string path, LogRotation rotation, Clock clock);
  int64_t PeriodKey(std::time_t t) const;
  std::time_t PeriodEnd(std::time_t t) const;
  void Rotate(std::time_t now);

  const std::string path_;
  const LogRotation rotation_;
  const Clock clock_;
  spdlog::details::file_helper file_;
  std::time_t period_time_ = 0;  // any time within the period the open file belongs to
  int64_t period_key_ = 0;
  std::time_t checked_second_ = -1;
};

}  // namespace binlog
