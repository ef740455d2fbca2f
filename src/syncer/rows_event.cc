#include "syncer/rows_event.h"

#include <fmt/format.h>

#include <bit>

#include "syncer/byte_reader.h"
#include "syncer/value.h"

namespace binlog::syncer {

namespace {

struct RowsKind {
  pb::MutationType kind;
  bool v2;
  bool compressed;
};

bool KindOf(uint8_t type, RowsKind* out) {
  switch (type) {
    case kWriteRowsV1:
      *out = {pb::INSERT, false, false};
      return true;
    case kUpdateRowsV1:
      *out = {pb::UPDATE, false, false};
      return true;
    case kDeleteRowsV1:
      *out = {pb::DELETE, false, false};
      return true;
    case kWriteRowsV2:
      *out = {pb::INSERT, true, false};
      return true;
    case kUpdateRowsV2:
      *out = {pb::UPDATE, true, false};
      return true;
    case kDeleteRowsV2:
      *out = {pb::DELETE, true, false};
      return true;
    case kWriteRowsCompressedV1:
      *out = {pb::INSERT, false, true};
      return true;
    case kUpdateRowsCompressedV1:
      *out = {pb::UPDATE, false, true};
      return true;
    case kDeleteRowsCompressedV1:
      *out = {pb::DELETE, false, true};
      return true;
    case kWriteRowsCompressedV2:
      *out = {pb::INSERT, true, true};
      return true;
    case kUpdateRowsCompressedV2:
      *out = {pb::UPDATE, true, true};
      return true;
    case kDeleteRowsCompressedV2:
      *out = {pb::DELETE, true, true};
      return true;
    default:
      return false;
  }
}

bool Bit(std::string_view bitmap, size_t i) {
  return (static_cast<uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1;
}

size_t CountBits(std::string_view bitmap, size_t width) {
  size_t n = 0;
  for (size_t i = 0; i < bitmap.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(bitmap[i]);
    if (i == bitmap.size() - 1 && width % 8 != 0)
      b &= static_cast<uint8_t>((1u << (width % 8)) - 1);
    n += std::popcount(b);
  }
  return n;
}

// One row image: the null bitmap over the present columns, then their non-null values. Appends
// the Row's fields (one Value per table column) to buf.
Status DecodeImage(ByteReader* r, const TableMap& map, std::string_view present,
                   size_t present_count, std::string* buf) {
  std::string_view nulls = r->Bytes((present_count + 7) / 8);
  if (!r->ok()) return Status::Corruption("row image ends inside its null bitmap");
  ValueOut out(buf);
  size_t k = 0;  // index among the present columns
  for (size_t i = 0; i < map.columns.size(); ++i) {
    if (!Bit(present, i)) {
      out.Absent();
      continue;
    }
    if (Bit(nulls, k++)) {
      out.set_is_null(true);
      continue;
    }
    const ColumnDef& col = map.columns[i];
    Status s = DecodeValue(col, r, &out);
    if (!s.ok()) {
      return s.WithContext(fmt::format("table {}.{} column {} ({})", map.schema, map.table,
                                       col.name, MysqlTypeName(col)));
    }
  }
  return Status::OK();
}

// pb::TableMutation's and pb::Row's fields.
constexpr uint32_t kMutationsField = 4;  // of TableChanges
constexpr uint32_t kTypeField = 1, kRowField = 2, kBeforeField = 3;

}  // namespace

bool IsRowsEvent(uint8_t type) {
  RowsKind k;
  return KindOf(type, &k);
}

Result<RowsEvent> ParseRowsEvent(const Event& ev, const FormatDescription& fd) {
  RowsKind kind;
  if (!KindOf(ev.header.type, &kind)) {
    return Status::InvalidArgument(
        fmt::format("{} is not a row event", EventTypeName(ev.header.type)));
  }
  ByteReader r(ev.body);
  RowsEvent out;
  out.kind = kind.kind;
  out.table_id = fd.post_header_len[ev.header.type] == 6 ? r.U32() : r.U48();
  out.flags = r.U16();
  if (kind.v2) {
    // Extra data (length includes its own 2 bytes): MySQL's partition info and the like.
    uint16_t extra = r.U16();
    if (extra < 2) {
      return Status::Corruption(fmt::format("{} event (log_pos {}): extra data length {}",
                                            EventTypeName(ev.header.type), ev.header.log_pos,
                                            extra));
    }
    r.Skip(extra - 2);
  }
  out.width = r.LenEnc();
  if (!r.ok() || out.width > 4096) {
    return Status::Corruption(fmt::format("{} event (log_pos {}) is malformed",
                                          EventTypeName(ev.header.type), ev.header.log_pos));
  }
  out.present = r.Bytes((out.width + 7) / 8);
  out.present_after = out.kind == pb::UPDATE ? r.Bytes((out.width + 7) / 8) : out.present;
  if (!r.ok()) {
    return Status::Corruption(fmt::format("{} event (log_pos {}) ends inside its bitmaps",
                                          EventTypeName(ev.header.type), ev.header.log_pos));
  }
  if (kind.compressed) {
    Result<std::string> rows = Uncompress(r.rest());
    if (!rows.ok()) {
      return rows.status().WithContext(
          fmt::format("{} event (log_pos {})", EventTypeName(ev.header.type), ev.header.log_pos));
    }
    out.uncompressed = std::move(*rows);
    out.rows = out.uncompressed;
  } else {
    out.rows = r.rest();
  }
  return out;
}

namespace {

// Old-format temporal columns of MariaDB 5.3 with fractional seconds look like the old MySQL
// ones in the table map (same type, no metadata) but take more bytes: say so when a row of a
// table with such columns does not decode.
Status WithOldTemporalHint(Status s, const TableMap& map) {
  for (const ColumnDef& col : map.columns) {
    if (col.type == kTypeTime || col.type == kTypeDatetime || col.type == kTypeTimestamp) {
      return s.WithContext(fmt::format(
          "(column {} is a pre-5.6-format {}: if it has fractional seconds it is MariaDB 5.3's "
          "format, whose precision the binlog does not carry; ALTER TABLE ... MODIFY it with "
          "mysql56_temporal_format = ON)",
          col.name, MysqlTypeName(col)));
    }
  }
  return s;
}

}  // namespace

Result<uint64_t> MutationWriter::Append(const RowsEvent& rows, const TableMap& map,
                                        std::string* buf, size_t* offset, size_t limit) {
  if (rows.width != map.columns.size()) {
    return Status::Corruption(
        fmt::format("row event for table {}.{} has {} columns, its table map {}", map.schema,
                    map.table, rows.width, map.columns.size()));
  }
  size_t present = CountBits(rows.present, rows.width);
  size_t present_after = CountBits(rows.present_after, rows.width);
  ByteReader r(rows.rows);
  r.Skip(*offset);
  uint64_t n = 0;
  for (; r.remaining() > 0 && (n == 0 || buf->size() < limit); ++n) {
    size_t start = r.offset();
    Status s = AppendRow(rows, map, &r, present, present_after, buf);
    if (!s.ok()) return WithOldTemporalHint(std::move(s), map);
    // Bitmaps naming no column make rows of no bytes: the rest would never be read.
    if (r.offset() == start) {
      return Status::Corruption(fmt::format(
          "row event for table {}.{} names no column in its images but carries {} bytes of rows",
          map.schema, map.table, r.remaining()));
    }
  }
  *offset = r.offset();
  return n;
}

// Fields in number order, as protobuf writes them: type (left out for INSERT, proto3's default),
// the row, then an UPDATE's before image.
Status MutationWriter::AppendRow(const RowsEvent& rows, const TableMap& map, ByteReader* r,
                                 size_t present_count, size_t present_after_count,
                                 std::string* buf) {
  wire::Mark m = wire::Open(buf, kMutationsField, mutation_guess_);
  wire::PutVarintFieldIfSet(buf, kTypeField, static_cast<uint64_t>(rows.kind));
  if (rows.kind == pb::UPDATE) {
    before_.clear();
    RETURN_IF_ERROR(DecodeImage(r, map, rows.present, present_count, &before_));
  }
  wire::Mark row = wire::Open(buf, kRowField, row_guess_);
  std::string_view present = rows.kind == pb::UPDATE ? rows.present_after : rows.present;
  size_t count = rows.kind == pb::UPDATE ? present_after_count : present_count;
  RETURN_IF_ERROR(DecodeImage(r, map, present, count, buf));
  row_guess_ = wire::Close(buf, row);
  if (rows.kind == pb::UPDATE) wire::PutBytesField(buf, kBeforeField, before_);
  mutation_guess_ = wire::Close(buf, m);
  return Status::OK();
}

}  // namespace binlog::syncer
