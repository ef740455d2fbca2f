// Renders binlog records as text lines or JSON lines (docs/SEGDUMP.md describes both).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "binlog.pb.h"
#include "segdump/segdump.h"
#include "segdump/values.h"
#include "segdump/walk.h"

namespace binlog::segdump {

// The "version" of every JSON object segdump prints. A change that can break a reader (a field
// removed, renamed or typed differently) bumps it; new fields do not.
inline constexpr int kJsonVersion = 1;

class RecordPrinter {
 public:
  // REQUIRES: tz is a zone FormatTSDatetime accepts (checked when options are parsed).
  RecordPrinter(Format format, bool verbose, std::string tz, std::ostream* out);

  void Print(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where);

  // "2021-01-18 12:40:40.644000" in the printer's zone; consecutive calls within the same
  // millisecond reuse the text, as zone lookups would dominate a dump.
  const std::string& Datetime(uint64_t ts);

 private:
  void PrintText(uint64_t ts, const pb::Binlog& binlog, segment::PartTag part);
  void PrintJson(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where);
  // "2023-11-14 22:13:20" for an upstream event time (seconds since the epoch).
  std::string EventDatetime(uint32_t event_time) const;

  Format format_;
  bool verbose_;
  std::string tz_;
  std::ostream* out_;
  int64_t cached_ms_ = -1;
  std::string cached_datetime_;
  std::string line_;  // reused: one allocation for the whole dump
};

const char* BinlogTypeName(int type);

}  // namespace binlog::segdump
