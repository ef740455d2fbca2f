// TOML config files (toml11) with errors an operator can act on: every error names the file,
// the key (dotted, "storage.sync-log") and what was expected; unknown keys are reported so the
// caller can warn about each (a typo must not silently fall back to a default).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog {

class ConfigFile {
 public:
  // Parses the file; a syntax error names the file, line and column.
  static Result<ConfigFile> Load(const std::string& path);
  // Parses text (for embedded defaults and tests); `origin` stands in for the file name.
  static Result<ConfigFile> Parse(std::string_view text, const std::string& origin);

  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

  const std::string& origin() const;

  // Each getter: when the key is absent, returns `fallback`; when present with the wrong type
  // or an out-of-range value, an InvalidArgument naming origin, key and the expectation. Keys
  // are dotted paths into tables. Every key read is remembered for UnknownKeys().
  Result<std::string> GetString(std::string_view key, std::string fallback);
  Result<int64_t> GetInt(std::string_view key, int64_t fallback);
  Result<bool> GetBool(std::string_view key, bool fallback);
  Result<double> GetDouble(std::string_view key, double fallback);
  // Sizes: an integer number of bytes, or a string with a unit ("10 gib", "512MB", "64k").
  Result<uint64_t> GetSize(std::string_view key, uint64_t fallback);
  // Durations in seconds: an integer/float number of `unit_seconds` (e.g. gc = 7 days is
  // GetDuration("gc", 7*86400, 86400)), or a Go duration string ("8h", "90m", "1h30m").
  Result<double> GetDuration(std::string_view key, double fallback_seconds, double unit_seconds);
  Result<std::vector<std::string>> GetStringList(std::string_view key);
  // An array of tables ([[key]] ... ) whose members are strings: one map per table, with the
  // string fields named in `fields` (absent ones left out). Another member, or a non-string,
  // is an error naming the table's index and the field.
  Result<std::vector<std::map<std::string, std::string>>> GetTableArray(
      std::string_view key, const std::vector<std::string>& fields);
  bool Has(std::string_view key) const;

  // Dotted keys present in the file that no getter asked for, and whose table was not
  // declared opaque with IgnoreTable.
  std::vector<std::string> UnknownKeys() const;
  void IgnoreTable(std::string_view key);
  // After the getters ran: an error when most of the file's settings are unknown to `tool`
  // (the config of another tool, given by mistake), naming them; each unknown table counts
  // once. Also an error for a file with no settings at all.
  Status CheckMostlyKnown(std::string_view tool) const;

 private:
  struct Impl;
  explicit ConfigFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "<where>: key \"<key>\": expected <expected>, got \"<got>\"" (InvalidArgument), the one form
// every tool's config errors take.
Status BadConfigValue(std::string_view where, std::string_view key, std::string_view expected,
                      std::string_view got);

// "10 gib" / "10GiB" / "512MB" / "64k" / "1048576" → bytes (k/m/g/t are powers of 1024, as
// TiDB-Binlog's humanize accepts; "kb"/"mb" too). Error text says what was expected.
Result<uint64_t> ParseSize(std::string_view text);
// Go's time.ParseDuration syntax: "300ms", "1.5h", "2h45m". Returns seconds.
Result<double> ParseGoDuration(std::string_view text);
// ParseGoDuration plus a day unit, "d" = 24h, for retention-sized durations ("7d", "1d12h").
Result<double> ParseDaysDuration(std::string_view text);

}  // namespace binlog
