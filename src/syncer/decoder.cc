#include "syncer/decoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/logging.h"
#include "common/text.h"
#include "common/tso.h"
#include "syncer/byte_reader.h"
#include "syncer/statement.h"
#include "syncer/wire.h"

namespace binlog::syncer {

namespace {

// Row-event bytes one transaction may hold in memory. Far above what one journal record takes
// (32 MiB, checked on write); this only stops a runaway transaction from exhausting memory.
constexpr uint64_t kMaxTransactionBytes = 1ull << 30;

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
                             uint32_t upstream_server_id, bool clock_heartbeats)
    : checksum_(checksum),
      position_(start),
      file_(start.name),
      gtid_state_(ParseGtidState(start.gtid)),
      ts_(last_ts),
      clock_heartbeats_(clock_heartbeats),
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
      if (IsRowsEvent(h.type)) return OnRows(ev);
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
  buf_ = buffers_->Get();
  buf_->append(kHeadroom, '\0');
  txn_rows_ = 0;
  txn_bytes_ = 0;
  table_open_ = false;
}

void StreamDecoder::CloseTable() {
  if (!table_open_) return;
  table_guess_ = wire::Close(buf_.get(), table_mark_);
  table_open_ = false;
}

Status StreamDecoder::OnQuery(const Event& ev, std::vector<StreamItem>* out) {
  ASSIGN_OR_RETURN(QueryEvent q, ParseQuery(ev, fd_));
  StatementKind kind = ClassifyStatement(q.query);
  switch (kind) {
    case StatementKind::kBegin:
      if (!open_) Open(gtid_, false);
      return Status::OK();
    case StatementKind::kCommit:
      if (!open_) return Status::Corruption("COMMIT outside a transaction");
      Commit(ev, out);
      return Status::OK();
    case StatementKind::kRollback:
      // Logged only when changes to non-transactional tables could not be undone: those
      // changes happened upstream, so they are archived.
      if (!open_) return Status::OK();
      if (txn_rows_ > 0) {
        LOG_WARN("transaction ended with ROLLBACK after non-transactional changes: archived",
                 KV("gtid", gtid_), KV("rows", txn_rows_), KV("file", file_),
                 KV("pos", ev.header.log_pos));
      }
      Commit(ev, out);
      return Status::OK();
    case StatementKind::kSavepoint:
    case StatementKind::kRollbackToSavepoint:
      if (open_ && !standalone_) return Status::OK();  // transaction-internal
      break;
    case StatementKind::kXa:
      return Status::Unsupported(
          "XA transactions: the syncer does not archive XA PREPARE / COMMIT");
    case StatementKind::kDataChange:
      return Status::Unsupported(fmt::format(
          "a data change logged as a statement, not as rows (the session that ran it had "
          "binlog_format STATEMENT or MIXED): \"{}\". An archive must not hold it as text that a "
          "replay would run again against other data. Set binlog_format=ROW for every session "
          "(SET GLOBAL binlog_format=ROW, and take SUPER/BINLOG ADMIN from the applications), "
          "then restart the syncer from a full backup taken after this point",
          Printable(q.query, 200)));
    case StatementKind::kOther:
      break;
  }
  // Anything else is DDL (or an account statement), archived with its current database.
  if (!open_) Open(gtid_, true);
  if (!ddl_query_.empty()) {
    return Status::Unsupported(
        fmt::format("a second statement in transaction {} (\"{}\" after \"{}\")", gtid_,
                    Printable(q.query, 80), Printable(ddl_query_, 80)));
  }
  ddl_query_ = q.query;
  ddl_schema_ = q.database;
  if (standalone_) Commit(ev, out);
  return Status::OK();
}

Status StreamDecoder::OnRows(const Event& ev) {
  if (!open_) return Status::Corruption("row event outside a transaction");
  ASSIGN_OR_RETURN(RowsEvent rows, ParseRowsEvent(ev, fd_));
  auto it = tables_.find(rows.table_id);
  if (it == tables_.end()) {
    return Status::Corruption(
        fmt::format("row event for table id {} without its table map", rows.table_id));
  }
  const Table& table = it->second;
  if (!table_open_ || current_table_id_ != rows.table_id) {
    CloseTable();
    table_mark_ = wire::Open(buf_.get(), kTablesField, table_guess_);
    buf_->append(table.head);
    table_open_ = true;
    current_table_id_ = rows.table_id;
  }
  ASSIGN_OR_RETURN(uint64_t n, mutations_.Append(rows, table.map, buf_.get()));
  txn_rows_ += n;
  stats_.rows += n;
  txn_bytes_ += ev.body.size();
  if (txn_bytes_ > kMaxTransactionBytes) {
    return Status::Unsupported(fmt::format(
        "transaction {} holds more than {} MiB of row events; the syncer keeps a transaction in "
        "memory until its commit",
        gtid_, kMaxTransactionBytes >> 20));
  }
  return Status::OK();
}

// Fields in number order, as protobuf writes them: those before the tables go in the headroom
// (a DDL statement seldom fits; its record has no tables to move), the source after them.
void StreamDecoder::Commit(const Event& ev, std::vector<StreamItem>* out) {
  const EventHeader& h = ev.header;
  CloseTable();
  uint64_t ts = ts_.FromSeconds(h.timestamp);
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
  PutSource(buf_.get(), gtid_, h.timestamp);

  StreamItem item;
  item.kind = StreamItem::kTransaction;
  item.ddl = !ddl_query_.empty();
  if (item.ddl) {
    item.ddl_query = ddl_query_;
    item.ddl_schema = ddl_schema_;
  }
  item.gtid = gtid_;
  item.commit_ts = ts;
  item.rows = txn_rows_;
  item.event_time = h.timestamp;
  item.approx_bytes = txn_bytes_ + ddl_query_.size();
  item.position = position_;
  item.buffer = std::move(buf_);
  item.payload_offset = offset;
  out->push_back(std::move(item));
  stats_.transactions++;

  open_ = false;
  standalone_ = false;
  gtid_.clear();
  ddl_query_.clear();
  ddl_schema_.clear();
  txn_rows_ = 0;
  txn_bytes_ = 0;
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
