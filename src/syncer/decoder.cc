#include "syncer/decoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/logging.h"
#include "common/tso.h"
#include "syncer/byte_reader.h"
#include "syncer/rows_event.h"

namespace binlog::syncer {

namespace {

// Row-event bytes one transaction may hold in memory. Far above what one journal record takes
// (32 MiB, checked on write); this only stops a runaway transaction from exhausting memory.
constexpr uint64_t kMaxTransactionBytes = 1ull << 30;

// The statement's first word, upper-cased ("BEGIN", "COMMIT", "SAVEPOINT", "XA").
std::string FirstWord(std::string_view q) {
  size_t i = 0;
  while (i < q.size() && (std::isspace(static_cast<unsigned char>(q[i])) || q[i] == '(')) ++i;
  std::string word;
  while (i < q.size() && std::isalpha(static_cast<unsigned char>(q[i]))) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(q[i++])));
  }
  return word;
}

bool IsRollbackToSavepoint(std::string_view q) {
  std::string upper;
  for (char c : q.substr(0, 40))
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper.find("ROLLBACK TO") != std::string::npos;
}

}  // namespace

uint64_t TsAllocator::FromMillis(int64_t ms) {
  uint64_t ts = ComposeTS(ms, 0);
  if (ts <= last_) ts = last_ + 1;
  last_ = ts;
  return ts;
}

StreamDecoder::StreamDecoder(const BinlogPosition& start, bool checksum, uint64_t last_ts)
    : checksum_(checksum),
      position_(start),
      file_(start.name),
      gtid_state_(ParseGtidState(start.gtid)),
      ts_(last_ts) {}

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
    case kRotateEvent: {
      ASSIGN_OR_RETURN(RotateEvent r, ParseRotate(ev));
      file_ = r.file;
      // Table maps are repeated in every transaction and ids are not reused within one: a
      // file boundary is a safe point to drop the maps seen so far.
      if (!open_) {
        tables_.clear();
        table_bodies_.clear();
      }
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
    case kHeartbeatEvent: {
      if (open_) return Status::OK();
      StreamItem item;
      item.kind = StreamItem::kHeartbeat;
      item.arena = arenas_->Get();
      item.binlog = google::protobuf::Arena::CreateMessage<pb::Binlog>(item.arena->arena.get());
      item.binlog->set_tp(pb::FAKE);
      item.binlog->set_commit_ts(static_cast<int64_t>(ts_.FromMillis(now_ms)));
      pb::SourcePosition* src = item.binlog->mutable_source();
      src->set_server_id(server_id_);
      src->set_file(position_.name);
      src->set_pos(position_.pos);
      src->set_gtid(position_.gtid);
      item.position = position_;
      stats_.heartbeats++;
      out->push_back(std::move(item));
      return Status::OK();
    }
    case kGtidEvent: {
      ASSIGN_OR_RETURN(GtidEvent g, ParseGtid(ev));
      if (g.flags & (kGtidPreparedXa | kGtidCompletedXa)) {
        return Status::Unsupported(fmt::format(
            "XA transaction (GTID {}): the syncer does not archive XA PREPARE / XA COMMIT",
            g.ToString(h.server_id)));
      }
      if (open_) {
        return Status::Corruption(fmt::format("GTID {} while transaction {} is still open",
                                              g.ToString(h.server_id), gtid_));
      }
      Open(g.ToString(h.server_id), (g.flags & kGtidStandalone) != 0);
      return Status::OK();
    }
    case kMysqlGtidEvent: {
      ASSIGN_OR_RETURN(gtid_, ParseMysqlGtid(ev));  // a BEGIN query follows
      return Status::OK();
    }
    case kQueryEvent:
    case kQueryCompressedEvent:
      return OnQuery(ev, out);
    case kTableMapEvent: {
      // Every transaction repeats the maps of its tables, nearly always unchanged: reuse the
      // parse when the bytes are the same.
      ByteReader r(ev.body);
      uint64_t id = fd_.post_header_len[kTableMapEvent] == 6 ? r.U32() : r.U48();
      auto known = table_bodies_.find(id);
      if (known != table_bodies_.end() && known->second == ev.body) return Status::OK();
      ASSIGN_OR_RETURN(TableMap parsed, ParseTableMap(ev, fd_));
      table_bodies_[id] = std::string(ev.body);
      tables_[id] = std::move(parsed);
      return Status::OK();
    }
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

void StreamDecoder::Open(const std::string& gtid, bool standalone) {
  open_ = true;
  standalone_ = standalone;
  gtid_ = gtid;
  arena_ = arenas_->Get();
  txn_ = google::protobuf::Arena::CreateMessage<pb::Binlog>(arena_->arena.get());
  txn_rows_ = 0;
  txn_bytes_ = 0;
  current_changes_ = nullptr;
}

Status StreamDecoder::OnQuery(const Event& ev, std::vector<StreamItem>* out) {
  ASSIGN_OR_RETURN(QueryEvent q, ParseQuery(ev, fd_));
  std::string word = FirstWord(q.query);
  if (word == "BEGIN") {
    if (!open_) Open(gtid_, false);
    return Status::OK();
  }
  if (word == "COMMIT") {
    if (!open_) return Status::Corruption("COMMIT outside a transaction");
    Commit(ev, out);
    return Status::OK();
  }
  if (word == "ROLLBACK" && !IsRollbackToSavepoint(q.query)) {
    // Logged only when changes to non-transactional tables could not be undone: those changes
    // happened upstream, so they are archived.
    if (!open_) return Status::OK();
    if (txn_rows_ > 0) {
      LOG_WARN("transaction ended with ROLLBACK after non-transactional changes: archived",
               KV("gtid", gtid_), KV("rows", txn_rows_), KV("file", file_),
               KV("pos", ev.header.log_pos));
    }
    Commit(ev, out);
    return Status::OK();
  }
  if (open_ && !standalone_ && (word == "SAVEPOINT" || word == "ROLLBACK")) {
    return Status::OK();  // savepoints are transaction-internal
  }
  if (word == "XA") {
    return Status::Unsupported("XA transactions: the syncer does not archive XA PREPARE / COMMIT");
  }
  // Anything else is DDL (or an account statement), archived with its current database.
  if (!open_) Open(gtid_, true);
  if (!txn_->ddl_query().empty()) {
    return Status::Unsupported(
        fmt::format("a second statement in transaction {} (\"{}\" after \"{}\")", gtid_,
                    q.query.substr(0, 80), txn_->ddl_query().substr(0, 80)));
  }
  txn_->set_ddl_query(q.query);
  txn_->set_ddl_schema(q.database);
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
  const TableMap& map = it->second;
  if (current_changes_ == nullptr || current_table_id_ != rows.table_id) {
    current_changes_ = txn_->add_tables();
    current_changes_->set_schema_name(map.schema);
    current_changes_->set_table_name(map.table);
    for (const pb::ColumnInfo& info : map.infos) *current_changes_->add_columns() = info;
    current_table_id_ = rows.table_id;
  }
  int before = current_changes_->mutations_size();
  RETURN_IF_ERROR(DecodeRows(rows, map, current_changes_));
  uint64_t n = static_cast<uint64_t>(current_changes_->mutations_size() - before);
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

void StreamDecoder::Commit(const Event& ev, std::vector<StreamItem>* out) {
  const EventHeader& h = ev.header;
  uint64_t ts = ts_.FromSeconds(h.timestamp);
  txn_->set_tp(pb::COMMIT);
  txn_->set_start_ts(static_cast<int64_t>(ts));
  txn_->set_commit_ts(static_cast<int64_t>(ts));
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
  pb::SourcePosition* src = txn_->mutable_source();
  src->set_server_id(h.server_id);
  src->set_file(position_.name);
  src->set_pos(position_.pos);
  src->set_gtid(gtid_);

  StreamItem item;
  item.kind = StreamItem::kTransaction;
  item.ddl = !txn_->ddl_query().empty();
  item.rows = txn_rows_;
  item.event_time = h.timestamp;
  item.approx_bytes = txn_bytes_ + txn_->ddl_query().size();
  item.position = position_;
  item.arena = std::move(arena_);
  item.binlog = txn_;
  out->push_back(std::move(item));
  stats_.transactions++;

  open_ = false;
  standalone_ = false;
  gtid_.clear();
  txn_ = nullptr;
  txn_rows_ = 0;
  txn_bytes_ = 0;
  current_changes_ = nullptr;
}

}  // namespace binlog::syncer
