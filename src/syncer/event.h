// Binlog events as a replica receives them: the 19-byte common header, the CRC32 trailer, and
// the bodies of the control events the syncer acts on (rotate, format description, GTID, XID,
// query, heartbeat). Row and table-map bodies are in table_map.h and rows_event.h.
//
// Layouts follow MariaDB's sql/log_event.h (and MySQL's for the MySQL-only GTID event). All
// integers are little-endian unless said otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace binlog::syncer {

enum EventType : uint8_t {
  kUnknownEvent = 0,
  kQueryEvent = 2,
  kStopEvent = 3,
  kRotateEvent = 4,
  kIntvarEvent = 5,
  kRandEvent = 13,
  kUserVarEvent = 14,
  kFormatDescriptionEvent = 15,
  kXidEvent = 16,
  kTableMapEvent = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kIncidentEvent = 26,
  kHeartbeatEvent = 27,
  kIgnorableEvent = 28,
  kRowsQueryEvent = 29,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kMysqlGtidEvent = 33,
  kMysqlAnonymousGtidEvent = 34,
  kMysqlPreviousGtidsEvent = 35,
  kXaPrepareEvent = 38,
  kPartialUpdateRowsEvent = 39,
  kAnnotateRowsEvent = 160,
  kBinlogCheckpointEvent = 161,
  kGtidEvent = 162,
  kGtidListEvent = 163,
  kStartEncryptionEvent = 164,
  kQueryCompressedEvent = 165,
  kWriteRowsCompressedV1 = 166,
  kUpdateRowsCompressedV1 = 167,
  kDeleteRowsCompressedV1 = 168,
  kWriteRowsCompressedV2 = 169,
  kUpdateRowsCompressedV2 = 170,
  kDeleteRowsCompressedV2 = 171,
};

// "Write_rows_v1", "Gtid", ... or "type 42".
std::string EventTypeName(uint8_t type);

inline constexpr size_t kEventHeaderLen = 19;
inline constexpr size_t kChecksumLen = 4;
// Header flag: the event was made up by the server for this connection (the rotate at the start
// of a dump, heartbeats); its log_pos is not a position in any file.
inline constexpr uint16_t kArtificialFlag = 0x20;
// Header flag: a reader that does not know the event may skip it.
inline constexpr uint16_t kIgnorableFlag = 0x80;

struct EventHeader {
  uint32_t timestamp = 0;  // seconds; 0 on artificial events
  uint8_t type = 0;
  uint32_t server_id = 0;
  uint32_t event_size = 0;  // header + body + checksum
  uint32_t log_pos = 0;     // end position of this event in its file; 0 when there is none
  uint16_t flags = 0;
};

struct Event {
  EventHeader header;
  std::string_view body;  // after the header, without the checksum
};

// Splits one event (as sent by the server, after the packet's status byte) into header and
// body, and verifies its CRC32 when `checksum` is true. A short event or a wrong checksum is
// Corruption naming the event type and the CRCs.
Result<Event> ParseEvent(std::string_view raw, bool checksum);

// The binlog format a file was written with (its first event).
struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;
  uint8_t common_header_len = kEventHeaderLen;
  std::array<uint8_t, 256> post_header_len{};  // by event type
  bool checksum = false;                       // CRC32 on every event of the file
};
// `raw` is the whole event: the description says itself whether it carries a checksum.
Result<FormatDescription> ParseFormatDescription(std::string_view raw);

struct RotateEvent {
  uint64_t position = 0;
  std::string file;
};
Result<RotateEvent> ParseRotate(const Event& ev);

// MariaDB's GTID event, which also opens the transaction (no BEGIN follows it).
struct GtidEvent {
  uint64_t seq_no = 0;
  uint32_t domain_id = 0;
  uint8_t flags = 0;
  // "domain-server-seq"
  std::string ToString(uint32_t server_id) const;
};
inline constexpr uint8_t kGtidStandalone = 0x01;  // a single statement without COMMIT (DDL)
inline constexpr uint8_t kGtidGroupCommitId = 0x02;
inline constexpr uint8_t kGtidPreparedXa = 0x40;
inline constexpr uint8_t kGtidCompletedXa = 0x80;
Result<GtidEvent> ParseGtid(const Event& ev);
// MySQL's GTID event: "uuid:gno".
Result<std::string> ParseMysqlGtid(const Event& ev);

Result<uint64_t> ParseXid(const Event& ev);

struct QueryEvent {
  std::string database;  // the current database (USE db), empty when none
  std::string query;
  uint16_t error_code = 0;
};
// QUERY and QUERY_COMPRESSED (the statement is zlib-compressed).
Result<QueryEvent> ParseQuery(const Event& ev, const FormatDescription& fd);

// A heartbeat's body is the name of the file the server is in; its header's log_pos the
// position there.
std::string ParseHeartbeatFile(const Event& ev);

// MariaDB's compressed payload: a header byte 0x8N (N = bytes of length), the uncompressed
// length big-endian, then zlib data. Returns the uncompressed bytes.
Result<std::string> Uncompress(std::string_view data);

}  // namespace binlog::syncer
