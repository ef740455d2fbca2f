#include "common/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <cctype>
#include <cstring>
#include <exception>
#include <memory>

#include "common/log_sink.h"
#include "common/text.h"

namespace binlog {
namespace {

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kFatal:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

const char* LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARN";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "FATAL";
    default:
      return "INFO";
  }
}

// Writes "[2021/01/18 12:40:40.644 -05:00] [INFO] [file.cc:53] " before the payload, which
// LogLine has already shaped as ["message"] [key=value]...
class TidbFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using std::chrono::duration_cast;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis = duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
    if (secs.count() != cached_second_) CacheSecond(secs.count());

    fmt::format_to(std::back_inserter(dest), "[{}.{:03} {}] [{}] [", cached_time_, millis,
                   cached_offset_, LevelName(msg.level));
    if (msg.source.filename != nullptr) {
      const char* slash = std::strrchr(msg.source.filename, '/');
      const char* base = slash ? slash + 1 : msg.source.filename;
      fmt::format_to(std::back_inserter(dest), "{}:{}", base, msg.source.line);
    } else {
      dest.append(std::string_view("<unknown>"));
    }
    dest.append(std::string_view("] "));
    dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TidbFormatter>();
  }

 private:
  // localtime_r per line would dominate a burst of logging; the text only changes each second.
  void CacheSecond(int64_t second) {
    const time_t t = static_cast<time_t>(second);
    struct tm tm;
    localtime_r(&t, &tm);
    cached_second_ = second;
    cached_time_ = fmt::format("{:04}/{:02}/{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    const long off = tm.tm_gmtoff;
    const long abs_min = (off < 0 ? -off : off) / 60;
    cached_offset_ = fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', abs_min / 60, abs_min % 60);
  }

  int64_t cached_second_ = -1;
  std::string cached_time_;
  std::string cached_offset_;
};

std::shared_ptr<spdlog::logger> MakeLogger(spdlog::sink_ptr sink, LogLevel level) {
  auto logger = std::make_shared<spdlog::logger>("binlog", std::move(sink));
  logger->set_formatter(std::make_unique<TidbFormatter>());
  logger->set_level(ToSpd(level));
  // Every line reaches the file at once: a crash must not eat the lines that explain it.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

// Lines logged before InitLogging still get our shape, on stderr at info. InitLogging calls this
// too, so this one-time install can never run after (and undo) the configured logger.
void EnsureDefaultLogger() {
  static const bool installed = [] {
    spdlog::set_default_logger(
        MakeLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>(), LogLevel::kInfo));
    return true;
  }();
  (void)installed;
}

Result<spdlog::sink_ptr> MakeSink(const LogOptions& options) {
  if (options.file.empty())
    return spdlog::sink_ptr(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (options.file == "-")  // a tool whose log lines are its output (binlogctl)
    return spdlog::sink_ptr(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  if (options.rotate == "day" || options.rotate == "hour") {
    const LogRotation every = options.rotate == "day" ? LogRotation::kDay : LogRotation::kHour;
    ASSIGN_OR_RETURN(auto sink, TimeRotatingFileSink::Open(options.file, every));
    return spdlog::sink_ptr(std::move(sink));
  }
  try {
    if (options.rotate == "none" || options.rotate.empty()) {
      return spdlog::sink_ptr(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file));
    }
  } catch (const std::exception& e) {
    return Status::IOError(fmt::format("cannot open log file \"{}\": {}", options.file, e.what()));
  }
  return Status::InvalidArgument(
      fmt::format("unknown log rotation \"{}\": expected day, hour or none", options.rotate));
}

// pingcap/log's needDoubleQuotes, plus empty values (else "[key=]" reads as a typo).
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20) return true;
    if (c == '\\' || c == '"' || c == '[' || c == ']' || c == '=') return true;
  }
  return false;
}

// JSON-style escapes as zap's text encoder writes them.
void AppendEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (b) {
      case '\\':
      case '"':
        out->push_back('\\');
        out->push_back(static_cast<char>(b));
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (b < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[b >> 4]);
          out->push_back(kHex[b & 0xF]);
        } else {
          out->push_back(static_cast<char>(b));
        }
    }
  }
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  if (lower == "fatal") return LogLevel::kFatal;
  return Status::InvalidArgument(
      fmt::format("unknown log level \"{}\": expected debug, info, warn, error or fatal", text));
}

Status InitLogging(const LogOptions& options) {
  EnsureDefaultLogger();
  ASSIGN_OR_RETURN(LogLevel level, ParseLogLevel(options.level));
  ASSIGN_OR_RETURN(spdlog::sink_ptr sink, MakeSink(options));
  spdlog::set_default_logger(MakeLogger(std::move(sink), level));
  return Status::OK();
}

bool LogEnabled(LogLevel level) {
  EnsureDefaultLogger();
  return spdlog::default_logger_raw()->should_log(ToSpd(level));
}

void LogLine(LogLevel level, const char* file, int line, std::string_view message,
             std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string payload = "[";
  payload += QuoteLogValue(message, true);
  payload += ']';
  for (const LogField& field : fields) {
    payload += " [";
    payload += QuoteLogValue(field.key, false);
    payload += '=';
    payload += QuoteLogValue(field.value, false);
    payload += ']';
  }
  spdlog::default_logger_raw()->log(spdlog::source_loc{file, line, ""}, ToSpd(level),
                                    std::string_view(payload));
}

std::string QuoteLogValue(std::string_view value, bool always) {
  std::string out;
  out.reserve(value.size() + 2);
  const bool quote = always || NeedsQuotes(value);
  if (quote) out.push_back('"');
  AppendEscaped(value, &out);
  if (quote) out.push_back('"');
  return out;
}

}  // namespace binlog
