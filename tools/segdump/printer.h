// Renders binlog records as text lines or JSON lines.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "binlog.pb.h"
#include "segdump/segdump.h"

namespace binlog::segdump {

// Where a record is stored, for JSON output and error messages.
struct RecordLocation {
  std::string segment;            // path of the segment file
  std::optional<uint64_t> block;  // offset of its block, when known
};

class RecordPrinter {
 public:
  // REQUIRES: tz is a zone FormatTSDatetime accepts (checked when options are parsed).
  RecordPrinter(Format format, bool verbose, std::string tz, std::ostream* out);

  void Print(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where);

  // "2021-01-18 12:40:40.644000" in the printer's zone; consecutive calls within the same
  // millisecond reuse the text, as zone lookups would dominate a dump.
  const std::string& Datetime(uint64_t ts);

 private:
  void PrintText(uint64_t ts, const pb::Binlog& binlog);
  void PrintJson(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where);

  Format format_;
  bool verbose_;
  std::string tz_;
  std::ostream* out_;
  int64_t cached_ms_ = -1;
  std::string cached_datetime_;
};

const char* BinlogTypeName(int type);

// A value as SQL-ish text: NULL, 42, 'text' (quotes and controls escaped), x'0a1b', 12.50.
std::string ValueText(const pb::Value& v);
// A value as JSON: null, numbers, strings; bytes as "0x..." hex text, decimals as exact text,
// non-finite doubles as "NaN"/"Infinity"/"-Infinity".
nlohmann::ordered_json ValueJson(const pb::Value& v);

// Text with control characters escaped so one record stays on one line.
std::string OneLine(std::string_view text);

}  // namespace binlog::segdump
