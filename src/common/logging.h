// TiDB-style log lines:
//   [2021/01/18 12:40:40.644 -05:00] [INFO] [journal.cc:53] ["opened journal"] [dir=/data/binlog]
//
// Values that contain spaces, quotes, '=' or brackets are quoted with "..." and escaped, as TiDB
// does. Logging goes through spdlog's default logger, set up once by InitLogging at start.
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace binlog {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kFatal };

struct LogOptions {
  std::string level = "info";  // debug | info | warn | error | fatal
  std::string file;            // empty: stderr; "-": stdout
  // day | hour | none (log-rotate in the syncer's config). The current file is always `file`;
  // older ones are renamed aside with the time their period ended (log_sink.h).
  std::string rotate = "day";
};

// Installs the TiDB-style formatter and the sink. Errors name the bad level or unwritable file.
Status InitLogging(const LogOptions& options);
Result<LogLevel> ParseLogLevel(std::string_view text);

// One key=value field of a log line.
struct LogField {
  std::string_view key;
  std::string value;
};
template <typename T>
LogField KV(std::string_view key, const T& value) {
  return LogField{key, fmt::format("{}", value)};
}
inline LogField KV(std::string_view key, const Status& status) {
  return LogField{key, status.ToString()};
}

// Whether a line at this level would be written; the macros check it before building fields.
bool LogEnabled(LogLevel level);

void LogLine(LogLevel level, const char* file, int line, std::string_view message,
             std::initializer_list<LogField> fields);

// Quotes a message or value the way TiDB's logger does when it needs quoting.
std::string QuoteLogValue(std::string_view value, bool always);

}  // namespace binlog

// The level is checked first so a disabled line costs no field formatting.
#define BINLOG_LOG_AT(level, msg, ...)                                                            \
  (::binlog::LogEnabled(level) ? ::binlog::LogLine(level, __FILE__, __LINE__, msg, {__VA_ARGS__}) \
                               : (void)0)
#define LOG_DEBUG(msg, ...) BINLOG_LOG_AT(::binlog::LogLevel::kDebug, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) BINLOG_LOG_AT(::binlog::LogLevel::kInfo, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) BINLOG_LOG_AT(::binlog::LogLevel::kWarn, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) BINLOG_LOG_AT(::binlog::LogLevel::kError, msg, __VA_ARGS__)
