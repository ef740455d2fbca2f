#include "syncer/decoder.h"

#include <fmt/format.h>

#include <cstring>

#include "common/tso.h"
#include "syncer/byte_reader.h"
#include "syncer/wire.h"

namespace binlog::syncer {

namespace {

// pb::Binlog's fields (proto/binlog.proto), and SourcePosition's.
constexpr uint32_t kTpField = 1, kStartTsField = 2, kCommitTsField = 3, kDdlQueryField = 6,
                   kDdlSchemaField = 9, kTablesField = 10, kSourceField = 11;
constexpr uint32_t kSrcServerIdField = 1, kSrcFileField = 2, kSrcPosField = 3, kSrcGtidField = 4,
                   kSrcEventTimeField = 5;
// A record starts with room for the fields before its tables, which are known only at the
// commit: tp, start_ts and commit_ts take at most 22 bytes.
constexpr size_t kHeadroom = 24;

// TableChanges' fields before its mutations: they are the same in every transaction.
std::string TableHead(const TableMap& map) {
  std::string head;
  wire::PutBytesFieldIfSet(&head, 1, map.schema);
  wire::PutBytesFieldIfSet(&head, 2, map.table);
  for (const pb::ColumnInfo& info : map.infos)
    wire::PutBytesField(&head, 3, info.SerializeAsString());
  return head;
}

}  // namespace

uint64_t TsAllocator::FromMillis(int64_t ms) {
  uint64_t ts = ComposeTS(ms, 0);
  if (ts <= last_) ts = last_ + 1;
  last_ = ts;
  return ts;
}

StreamDecoder::StreamDecoder(const BinlogPosition& start, bool checksum, uint64_t last_ts,
                             uint32_t upstream_server_id, bool clock_heartbeats, size_t part_bytes)
    : checksum_(checksum),
      position_(start),
      file_(start.name),
      gtid_state_(ParseGtidState(start.gtid)),
      ts_(last_ts),
      clock_heartbeats_(clock_heartbeats),
      part_bytes_(part_bytes),
      upstream_server_id_(upstream_server_id) {}

std::string StreamDecoder::Where(const Event& ev) const {
  const EventHeader& h = ev.header;
  if (h.log_pos >= h.event_size && h.log_pos != 0) {
    return fmt::format("{} event at {}:{}", EventTypeName(h.type), file_, h.log_pos - h.event_size);
  }
  return fmt::format("{} event in {}", EventTypeName(h.type), file_);
}

Status StreamDecoder::Feed(std::string_view raw, int64_t now_ms, std::vector<StreamItem>* out) {
  stats_.events++;
  if (raw.size() > 4 && static_cast<uint8_t>(raw[4]) == kFormatDescriptionEvent) {
    ASSIGN_OR_RETURN(fd_, ParseFormatDescription(raw));
    checksum_ = fd_.checksum;
    return Status::OK();
  }
  Result<Event> ev = ParseEvent(raw, checksum_);
  if (!ev.ok()) return ev.status().WithContext(fmt::format("reading {}", file_));
  Status s = FeedEvent(*ev, now_ms, out);
  if (!s.ok() && s.message().find(" event at ") == std::string::npos) {
    return s.WithContext(Where(*ev));
  }
  return s;
}

Status StreamDecoder::FeedEvent(const Event& ev, int64_t now_ms, std::vector<StreamItem>* out) {
  const EventHeader& h = ev.header;
  bool artificial = (h.flags & kArtificialFlag) != 0 || h.log_pos == 0;
  if (!artificial && h.server_id != 0) server_id_ = h.server_id;
  switch (h.type) {
    case kRotateEvent:
      return OnRotate(ev, artificial, out);
    case kHeartbeatEvent:
      return OnHeartbeat(now_ms, out);
    case kGtidEvent:
      return OnGtid(ev);
    case kMysqlGtidEvent: {
      ASSIGN_OR_RETURN(gtid_, ParseMysqlGtid(ev));  // a BEGIN query follows
      return Status::OK();
    }
    case kQueryEvent:
    case kQueryCompressedEvent:
      return OnQuery(ev, out);
    case kTableMapEvent:
      return OnTableMap(ev);
    case kXidEvent:
      if (!open_) return Status::Corruption("XID event outside a transaction");
      Commit(ev, out);
      return Status::OK();
    case kXaPrepareEvent:
      return Status::Unsupported("XA PREPARE: the syncer does not archive XA transactions");
    case kIncidentEvent:
      return Status::Aborted(
          "the upstream wrote an INCIDENT event: it lost changes here (its binlog has a gap); "
          "re-initialise from a new full backup");
    case kPartialUpdateRowsEvent:
      return Status::Unsupported(
          "MySQL partial JSON updates: set binlog_row_value_options='' on the upstream");
    case kAnnotateRowsEvent:
    case kBinlogCheckpointEvent:
    case kGtidListEvent:
    case kIntvarEvent:  // Intvar, Rand, User_var: statement context, unused with ROW events
    case kRandEvent:
    case kUserVarEvent:
    case kStopEvent:
    case kStartEncryptionEvent:
    case kMysqlPreviousGtidsEvent:
    case kMysqlAnonymousGtidEvent:
    case kRowsQueryEvent:
    case kIgnorableEvent:
      return Status::OK();
    default:
      if (IsRowsEvent(h.type)) return OnRows(ev, out);
      // What this reader does not know may carry changes: skip it only when the server says
      // it may be skipped.
      if (h.flags & kIgnorableFlag) return Status::OK();
      return Status::Unsupported(
          fmt::format("binlog event {} is not one the syncer can read; it may carry changes",
                      EventTypeName(h.type)));
  }
}

Status StreamDecoder::OnRotate(const Event& ev, bool artificial, std::vector<StreamItem>* out) {
  ASSIGN_OR_RETURN(RotateEvent r, ParseRotate(ev));
  file_ = r.file;
  // Table maps are repeated in every transaction and ids are not reused within one: a
  // file boundary is a safe point to drop the maps seen so far.
  if (!open_) tables_.clear();
  // The rotate the server makes up at the start of a dump only names the file. A real one
  // ends a file: the next starts at r.position, and saving that lets a restart skip a file
  // that may be purged by then.
  if (!artificial && !open_) {
    position_.name = r.file;
    position_.pos = r.position;
    StreamItem item;
    item.kind = StreamItem::kPosition;
    item.position = position_;
    out->push_back(std::move(item));
  } else if (position_.name.empty()) {
    position_.name = r.file;  // a GTID start learns its file here
  }
  return Status::OK();
}

Status StreamDecoder::OnHeartbeat(int64_t now_ms, std::vector<StreamItem>* out) {
  if (open_) return Status::OK();
  StreamItem item;
  item.kind = StreamItem::kHeartbeat;
  item.commit_ts = clock_heartbeats_ ? ts_.FromMillis(now_ms) : ts_.last();
  item.buffer = buffers_->Get();
  wire::PutVarintField(item.buffer.get(), kTpField, pb::FAKE);
  wire::PutVarintField(item.buffer.get(), kCommitTsField, item.commit_ts);
  PutSource(item.buffer.get(), position_.gtid, 0);
  item.position = position_;
  stats_.heartbeats++;
  out->push_back(std::move(item));
  return Status::OK();
}

Status StreamDecoder::OnGtid(const Event& ev) {
  const EventHeader& h = ev.header;
  ASSIGN_OR_RETURN(GtidEvent g, ParseGtid(ev));
  if (g.flags & (kGtidPreparedXa | kGtidCompletedXa)) {
    return Status::Unsupported(
        fmt::format("XA transaction (GTID {}): the syncer does not archive XA PREPARE / XA COMMIT",
                    g.ToString(h.server_id)));
  }
  if (open_) {
    return Status::Corruption(
        fmt::format("GTID {} while transaction {} is still open", g.ToString(h.server_id), gtid_));
  }
  Open(g.ToString(h.server_id), (g.flags & kGtidStandalone) != 0);
  return Status::OK();
}

Status StreamDecoder::OnTableMap(const Event& ev) {
  // Every transaction repeats the maps of its tables, nearly always unchanged: reuse the
  // parse when the bytes are the same.
  ByteReader r(ev.body);
  uint64_t id = fd_.post_header_len[kTableMapEvent] == 6 ? r.U32() : r.U48();
  auto known = tables_.find(id);
  if (known != tables_.end() && known->second.body == ev.body) return Status::OK();
  ASSIGN_OR_RETURN(TableMap parsed, ParseTableMap(ev, fd_));
  Table& t = tables_[id];
  t.body = std::string(ev.body);
  t.head = TableHead(parsed);
  t.map = std::move(parsed);
  return Status::OK();
}

void StreamDecoder::Open(const std::string& gtid, bool standalone) {
  open_ = true;
  standalone_ = standalone;
  gtid_ = gtid;
  ddl_query_.clear();
  ddl_schema_.clear();
  txn_rows_ = 0;
  txn_bytes_ = 0;
  parts_ = 0;
  StartRecord();
}

void StreamDecoder::StartRecord() {
  buf_ = buffers_->Get();
  buf_->append(kHeadroom, '\0');
  part_rows_ = 0;
  table_open_ = false;
}

void StreamDecoder::CloseTable() {
  if (!table_open_) return;
  table_guess_ = wire::Close(buf_.get(), table_mark_);
  table_open_ = false;
}

// Row images are written into the record as they are read; once the record holds part_bytes_
// it is handed on as a part (between two rows, also inside one event), so a transaction of any
// size takes about one part of memory here. A DDL transaction (CREATE TABLE ... SELECT's rows)
// is not cut: its statement and rows are one record.
Status StreamDecoder::OnRows(const Event& ev, std::vector<StreamItem>* out) {
  if (!open_) return Status::Corruption("row event outside a transaction");
  ASSIGN_OR_RETURN(RowsEvent rows, ParseRowsEvent(ev, fd_));
  auto it = tables_.find(rows.table_id);
  if (it == tables_.end()) {
    return Status::Corruption(
        fmt::format("row event for table id {} without its table map", rows.table_id));
  }
  const Table& table = it->second;
  const bool may_cut = ddl_query_.empty();
  const size_t limit = may_cut ? part_bytes_ : SIZE_MAX;
  size_t offset = 0;
  do {
    if (may_cut && part_rows_ > 0 && buf_->size() >= part_bytes_) CutPart(ev, out);
    if (!table_open_ || current_table_id_ != rows.table_id) {
      CloseTable();
      table_mark_ = wire::Open(buf_.get(), kTablesField, table_guess_);
      buf_->append(table.head);
      table_open_ = true;
      current_table_id_ = rows.table_id;
    }
    ASSIGN_OR_RETURN(uint64_t n, mutations_.Append(rows, table.map, buf_.get(), &offset, limit));
    txn_rows_ += n;
    part_rows_ += n;
    stats_.rows += n;
  } while (offset < rows.rows.size());
  txn_bytes_ += ev.body.size();
  return Status::OK();
}

// A part before the last: the commit ts is taken with the first one, from this event's time,
// and the position stays where the transaction starts.
void StreamDecoder::CutPart(const Event& ev, std::vector<StreamItem>* out) {
  CloseTable();
  if (parts_ == 0) part_ts_ = ts_.FromSeconds(ev.header.timestamp);
  out->push_back(FinishRecord(part_ts_, ev.header.timestamp, segment::MakePartTag(parts_, false)));
  parts_++;
  StartRecord();
  // The next part will be as large: no growth by doubling (copies, and twice the capacity).
  buf_->reserve(part_bytes_ + part_bytes_ / 16);
}

// The last record of a transaction: whole, or its last part.
void StreamDecoder::Commit(const Event& ev, std::vector<StreamItem>* out) {
  const EventHeader& h = ev.header;
  CloseTable();
  uint64_t ts = parts_ > 0 ? part_ts_ : ts_.FromSeconds(h.timestamp);
  if (!gtid_.empty()) {
    auto state = ParseGtidState(gtid_);
    if (!state.empty()) {
      gtid_state_[state.begin()->first] = gtid_;
      position_.gtid = FormatGtidState(gtid_state_);
    } else {
      position_.gtid = gtid_;  // MySQL's uuid:gno, kept for tracing
    }
  }
  // Positions come only from events that have one: 0 marks made-up events.
  if (h.log_pos != 0) {
    position_.name = file_;
    position_.pos = h.log_pos;
  }
  segment::PartTag part =
      parts_ > 0 ? segment::MakePartTag(parts_, true) : segment::kWholeTransaction;
  out->push_back(FinishRecord(ts, h.timestamp, part));
  stats_.transactions++;

  open_ = false;
  standalone_ = false;
  gtid_.clear();
  ddl_query_.clear();
  ddl_schema_.clear();
  txn_rows_ = 0;
  txn_bytes_ = 0;
  parts_ = 0;
}

// Fields in number order, as protobuf writes them: those before the tables go in the headroom
// (a DDL statement seldom fits; its record has no tables to move), the source after them.
StreamItem StreamDecoder::FinishRecord(uint64_t ts, uint32_t event_time, segment::PartTag part) {
  std::string& head = head_;
  head.clear();
  wire::PutVarintField(&head, kTpField, pb::COMMIT);
  wire::PutVarintField(&head, kStartTsField, ts);
  wire::PutVarintField(&head, kCommitTsField, ts);
  wire::PutBytesFieldIfSet(&head, kDdlQueryField, ddl_query_);
  wire::PutBytesFieldIfSet(&head, kDdlSchemaField, ddl_schema_);
  size_t offset = 0;
  if (head.size() <= kHeadroom) {
    offset = kHeadroom - head.size();
    std::memcpy(buf_->data() + offset, head.data(), head.size());
  } else {
    buf_->replace(0, kHeadroom, head);
  }
  PutSource(buf_.get(), gtid_, event_time);

  StreamItem item;
  item.kind = StreamItem::kTransaction;
  item.part = part;
  item.ddl = !ddl_query_.empty();
  if (item.ddl) {
    item.ddl_query = ddl_query_;
    item.ddl_schema = ddl_schema_;
  }
  item.gtid = gtid_;
  item.commit_ts = ts;
  item.rows = part_rows_;
  item.event_time = event_time;
  item.approx_bytes = segment::IsPart(part) ? buf_->size() : txn_bytes_ + ddl_query_.size();
  item.position = position_;
  item.buffer = std::move(buf_);
  item.payload_offset = offset;
  return item;
}

// The server read, not the event's origin: file:pos are positions in its binlog
// (proto/binlog.proto), and a pump keys its dedupe state by it.
void StreamDecoder::PutSource(std::string* buf, std::string_view gtid, uint32_t event_time) const {
  wire::Mark m = wire::Open(buf, kSourceField, 1);
  wire::PutVarintFieldIfSet(buf, kSrcServerIdField, upstream_server_id_);
  wire::PutBytesFieldIfSet(buf, kSrcFileField, position_.name);
  wire::PutVarintFieldIfSet(buf, kSrcPosField, position_.pos);
  wire::PutBytesFieldIfSet(buf, kSrcGtidField, gtid);
  wire::PutVarintFieldIfSet(buf, kSrcEventTimeField, event_time);
  wire::Close(buf, m);
}

}  // namespace binlog::syncer
