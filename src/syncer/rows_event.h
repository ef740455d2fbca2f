// WRITE/UPDATE/DELETE_ROWS events, versions 1 and 2 and MariaDB's zlib-compressed variants,
// decoded with the table map they refer to into TableMutations (protobuf wire bytes).
//
// A row image lists only the columns in the event's "columns present" bitmap (all of them with
// binlog_row_image=FULL; a session may set MINIMAL or NOBLOB). A column not in the image is a
// Value with no field set, so Row keeps one Value per table column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "binlog.pb.h"
#include "common/status.h"
#include "syncer/byte_reader.h"
#include "syncer/event.h"
#include "syncer/table_map.h"

namespace binlog::syncer {

inline constexpr uint16_t kRowsStmtEnd = 0x01;  // last row event of the statement

struct RowsEvent {
  pb::MutationType kind = pb::INSERT;
  uint64_t table_id = 0;
  uint16_t flags = 0;
  uint64_t width = 0;              // columns in the table
  std::string_view present;        // bitmap of the columns in the (before) images
  std::string_view present_after;  // UPDATE: bitmap of the columns in the after images
  std::string_view rows;           // the row images
  std::string uncompressed;        // owns `rows` for a compressed event
};

// True for the row event types this reader knows (v1, v2, compressed v1/v2).
bool IsRowsEvent(uint8_t type);

// Parses the event's header and bitmaps (and uncompresses the rows of a compressed event).
// `rows` points into ev.body, or into the result's own storage: keep both alive.
Result<RowsEvent> ParseRowsEvent(const Event& ev, const FormatDescription& fd);

// Writes row events as elements of TableChanges.mutations (field 4) in protobuf wire format,
// keeping its working space and length guesses from one event to the next.
class MutationWriter {
 public:
  // Appends one TableMutation per row (UPDATE: before and after image pairs) to buf, from
  // *offset (bytes into rows.rows) on, until the rows end or buf holds `limit` bytes (one row
  // at least, so a caller that cuts its record there always advances); *offset is then where it
  // stopped. Returns how many. Errors name the table and the column; the caller adds the binlog
  // position. After an error buf holds a partial mutation.
  Result<uint64_t> Append(const RowsEvent& rows, const TableMap& map, std::string* buf,
                          size_t* offset, size_t limit = SIZE_MAX);

 private:
  Status AppendRow(const RowsEvent& rows, const TableMap& map, ByteReader* r, size_t present_count,
                   size_t present_after_count, std::string* buf);

  std::string before_;  // an UPDATE's before image: it is read first, written last
  size_t row_guess_ = 2;
  size_t mutation_guess_ = 2;
};

}  // namespace binlog::syncer
