#include "syncer/event.h"

#include <fmt/format.h>
#include <zlib.h>

#include "syncer/byte_reader.h"
#include "syncer/value.h"

namespace binlog::syncer {

namespace {

Status Short(const Event& ev, std::string_view what) {
  return Status::Corruption(fmt::format("{} event (log_pos {}) too short for its {}",
                                        EventTypeName(ev.header.type), ev.header.log_pos, what));
}

}  // namespace

std::string EventTypeName(uint8_t type) {
  switch (type) {
    case kQueryEvent:
      return "Query";
    case kStopEvent:
      return "Stop";
    case kRotateEvent:
      return "Rotate";
    case kIntvarEvent:
      return "Intvar";
    case kRandEvent:
      return "Rand";
    case kUserVarEvent:
      return "User_var";
    case kFormatDescriptionEvent:
      return "Format_desc";
    case kXidEvent:
      return "Xid";
    case kTableMapEvent:
      return "Table_map";
    case kWriteRowsV1:
      return "Write_rows_v1";
    case kUpdateRowsV1:
      return "Update_rows_v1";
    case kDeleteRowsV1:
      return "Delete_rows_v1";
    case kIncidentEvent:
      return "Incident";
    case kHeartbeatEvent:
      return "Heartbeat";
    case kIgnorableEvent:
      return "Ignorable";
    case kRowsQueryEvent:
      return "Rows_query";
    case kWriteRowsV2:
      return "Write_rows";
    case kUpdateRowsV2:
      return "Update_rows";
    case kDeleteRowsV2:
      return "Delete_rows";
    case kMysqlGtidEvent:
      return "MySQL Gtid";
    case kMysqlAnonymousGtidEvent:
      return "MySQL Anonymous_Gtid";
    case kMysqlPreviousGtidsEvent:
      return "MySQL Previous_gtids";
    case kXaPrepareEvent:
      return "XA_prepare";
    case kPartialUpdateRowsEvent:
      return "MySQL Partial_update_rows";
    case kAnnotateRowsEvent:
      return "Annotate_rows";
    case kBinlogCheckpointEvent:
      return "Binlog_checkpoint";
    case kGtidEvent:
      return "Gtid";
    case kGtidListEvent:
      return "Gtid_list";
    case kStartEncryptionEvent:
      return "Start_encryption";
    case kQueryCompressedEvent:
      return "Query_compressed";
    case kWriteRowsCompressedV1:
      return "Write_rows_compressed_v1";
    case kUpdateRowsCompressedV1:
      return "Update_rows_compressed_v1";
    case kDeleteRowsCompressedV1:
      return "Delete_rows_compressed_v1";
    case kWriteRowsCompressedV2:
      return "Write_rows_compressed";
    case kUpdateRowsCompressedV2:
      return "Update_rows_compressed";
    case kDeleteRowsCompressedV2:
      return "Delete_rows_compressed";
    default:
      return fmt::format("type {}", type);
  }
}

Result<Event> ParseEvent(std::string_view raw, bool checksum) {
  if (raw.size() < kEventHeaderLen) {
    return Status::Corruption(
        fmt::format("binlog event of {} bytes, shorter than its header", raw.size()));
  }
  ByteReader r(raw);
  Event ev;
  ev.header.timestamp = r.U32();
  ev.header.type = r.U8();
  ev.header.server_id = r.U32();
  ev.header.event_size = r.U32();
  ev.header.log_pos = r.U32();
  ev.header.flags = r.U16();
  if (ev.header.event_size != raw.size()) {
    return Status::Corruption(fmt::format("{} event (log_pos {}) says {} bytes, got {}",
                                          EventTypeName(ev.header.type), ev.header.log_pos,
                                          ev.header.event_size, raw.size()));
  }
  size_t body_end = raw.size();
  if (checksum) {
    if (raw.size() < kEventHeaderLen + kChecksumLen) return Short(ev, "checksum");
    body_end -= kChecksumLen;
    ByteReader tail(raw.substr(body_end));
    uint32_t stored = tail.U32();
    uint32_t computed = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(raw.data()), static_cast<uInt>(body_end)));
    if (stored != computed) {
      return Status::Corruption(fmt::format(
          "{} event (log_pos {}, {} bytes): CRC32 mismatch, stored {:08x}, computed {:08x}",
          EventTypeName(ev.header.type), ev.header.log_pos, raw.size(), stored, computed));
    }
  }
  ev.body = raw.substr(kEventHeaderLen, body_end - kEventHeaderLen);
  return ev;
}

Result<FormatDescription> ParseFormatDescription(std::string_view raw) {
  // binlog version (2), server version (50), create time (4), header length (1), one
  // post-header length per event type, checksum algorithm (1), CRC32 (4, also when the
  // algorithm is OFF, then meaningless).
  constexpr size_t kFixed = 2 + 50 + 4 + 1;
  if (raw.size() < kEventHeaderLen + kFixed + 5) {
    return Status::Corruption(
        fmt::format("Format_desc event of {} bytes is too short", raw.size()));
  }
  FormatDescription fd;
  uint8_t alg = static_cast<uint8_t>(raw[raw.size() - 5]);
  if (alg != 0 && alg != 1) {
    return Status::Unsupported(
        fmt::format("binlog checksum algorithm {} (only NONE and CRC32 exist)", alg));
  }
  fd.checksum = alg == 1;
  ASSIGN_OR_RETURN(Event ev, ParseEvent(raw, fd.checksum));
  ByteReader r(ev.body);
  fd.binlog_version = r.U16();
  std::string_view version = r.Bytes(50);
  fd.server_version = std::string(version.substr(0, version.find('\0')));
  r.Skip(4);
  fd.common_header_len = r.U8();
  // The post-header lengths run up to the algorithm byte (the last of the body here, since the
  // CRC was cut off by ParseEvent, or the 4 trailing bytes when the algorithm is OFF).
  size_t tail = fd.checksum ? 1 : 5;
  if (r.remaining() < tail) return Status::Corruption("Format_desc event is too short");
  std::string_view lens = r.Bytes(r.remaining() - tail);
  for (size_t i = 0; i < lens.size() && i + 1 < fd.post_header_len.size(); ++i) {
    fd.post_header_len[i + 1] = static_cast<uint8_t>(lens[i]);
  }
  if (fd.binlog_version != 4 || fd.common_header_len != kEventHeaderLen) {
    return Status::Unsupported(fmt::format(
        "binlog format version {} with {}-byte headers (server {}); only version 4 with "
        "19-byte headers is read",
        fd.binlog_version, fd.common_header_len, fd.server_version));
  }
  return fd;
}

Result<RotateEvent> ParseRotate(const Event& ev) {
  ByteReader r(ev.body);
  RotateEvent out;
  out.position = r.U64();
  if (!r.ok()) return Short(ev, "position");
  out.file = std::string(r.rest());
  // It becomes the position's file name, a protobuf string.
  if (!IsValidUtf8(out.file)) {
    return Status::Corruption(
        fmt::format("Rotate event (log_pos {}): the file name is not UTF-8", ev.header.log_pos));
  }
  return out;
}

std::string GtidEvent::ToString(uint32_t server_id) const {
  return fmt::format("{}-{}-{}", domain_id, server_id, seq_no);
}

Result<GtidEvent> ParseGtid(const Event& ev) {
  ByteReader r(ev.body);
  GtidEvent g;
  g.seq_no = r.U64();
  g.domain_id = r.U32();
  g.flags = r.U8();
  if (!r.ok()) return Short(ev, "post-header");
  return g;
}

Result<std::string> ParseMysqlGtid(const Event& ev) {
  ByteReader r(ev.body);
  r.Skip(1);  // commit flag
  std::string_view sid = r.Bytes(16);
  uint64_t gno = r.U64();
  if (!r.ok()) return Short(ev, "post-header");
  std::string uuid;
  for (size_t i = 0; i < sid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) uuid += '-';
    uuid += fmt::format("{:02x}", static_cast<uint8_t>(sid[i]));
  }
  return fmt::format("{}:{}", uuid, gno);
}

Result<uint64_t> ParseXid(const Event& ev) {
  ByteReader r(ev.body);
  uint64_t xid = r.U64();
  if (!r.ok()) return Short(ev, "xid");
  return xid;
}

Result<QueryEvent> ParseQuery(const Event& ev, const FormatDescription& fd) {
  ByteReader r(ev.body);
  size_t post = fd.post_header_len[ev.header.type];
  if (post < 13) post = 13;
  r.Skip(4);  // thread id
  r.Skip(4);  // execution time
  uint8_t db_len = r.U8();
  QueryEvent q;
  q.error_code = r.U16();
  uint16_t status_len = r.U16();
  r.Skip(post - 13);
  r.Skip(status_len);
  q.database = std::string(r.Bytes(db_len));
  r.Skip(1);  // the database name's NUL
  if (!r.ok()) return Short(ev, "header");
  if (!IsValidUtf8(q.database)) {  // MariaDB's system charset; it becomes ddl_schema, a string
    return Status::Corruption(fmt::format("{} event (log_pos {}): the database name is not UTF-8",
                                          EventTypeName(ev.header.type), ev.header.log_pos));
  }
  if (ev.header.type == kQueryCompressedEvent) {
    Result<std::string> text = Uncompress(r.rest());
    if (!text.ok()) {
      return text.status().WithContext(
          fmt::format("Query_compressed event (log_pos {})", ev.header.log_pos));
    }
    q.query = std::move(*text);
  } else {
    q.query = std::string(r.rest());
  }
  return q;
}

std::string ParseHeartbeatFile(const Event& ev) { return std::string(ev.body); }

Result<std::string> Uncompress(std::string_view data) {
  ByteReader r(data);
  uint8_t head = r.U8();
  size_t len_bytes = head & 0x07;
  uint8_t algorithm = (head & 0x70) >> 4;
  if ((head & 0x80) == 0 || len_bytes < 1 || len_bytes > 4) {
    return Status::Corruption(fmt::format("compressed payload header byte {:#04x}", head));
  }
  if (algorithm != 0) {
    return Status::Unsupported(
        fmt::format("compression algorithm {} (only zlib, 0, exists)", algorithm));
  }
  uint64_t raw_len = r.BE(len_bytes);
  if (!r.ok()) return Status::Corruption("compressed payload shorter than its header");
  // zlib expands at most ~1032 to 1: a stated size beyond that is damage, and must not be
  // allocated (up to 4 GiB from one damaged event without a checksum).
  constexpr uint64_t kMaxZlibRatio = 1032;
  if (raw_len > (r.rest().size() + 64) * kMaxZlibRatio) {
    return Status::Corruption(fmt::format(
        "compressed payload of {} bytes states {} bytes uncompressed, more than zlib can expand "
        "it to",
        r.rest().size(), raw_len));
  }
  std::string out(raw_len, '\0');
  uLongf out_len = static_cast<uLongf>(raw_len);
  std::string_view in = r.rest();
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &out_len,
                      reinterpret_cast<const Bytef*>(in.data()), static_cast<uLong>(in.size()));
  if (rc != Z_OK || out_len != raw_len) {
    return Status::Corruption(fmt::format(
        "zlib payload does not uncompress to its stated {} bytes (zlib error {})", raw_len, rc));
  }
  return out;
}

}  // namespace binlog::syncer
