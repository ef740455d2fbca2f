// The replication stream, event by event, into archive records: each committed upstream
// transaction becomes one COMMIT binlog (start_ts = commit_ts, its row changes and/or DDL, and
// its source position); heartbeats become FAKE binlogs so watermarks move when the upstream is
// idle.
//
// Transactions are framed as MariaDB writes them: a GTID event opens one (MySQL and servers
// without GTIDs: a "BEGIN" query), an XID event or a "COMMIT" query closes it, and a GTID event
// flagged standalone is closed by its single statement (DDL). Commit ts are TSO built from the
// closing event's time (seconds), kept strictly increasing with the logical part.
//
// A transaction is never held whole: once its record reaches the part size, the decoder cuts it
// into parts as it reads the row events (docs/FORMAT.md, docs/SYNCER.md "Big transactions"). Each
// part is a complete COMMIT binlog with the same commit ts, allocated when the first part is cut
// from that event's time; only the last part moves the position. A DDL transaction stays whole.
//
// Not thread-safe: one decoder per replication connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "segment/format.h"
#include "syncer/buffer_pool.h"
#include "syncer/event.h"
#include "syncer/meta.h"
#include "syncer/rows_event.h"
#include "syncer/table_map.h"
#include "syncer/wire.h"

namespace binlog::syncer {

// Strictly increasing TSO from second-resolution event times.
class TsAllocator {
 public:
  explicit TsAllocator(uint64_t last_ts = 0) : last_(last_ts) {}
  // The smallest ts above the last one and at or above seconds' TSO.
  uint64_t FromSeconds(uint32_t seconds) { return FromMillis(int64_t{seconds} * 1000); }
  uint64_t FromMillis(int64_t ms);
  uint64_t last() const { return last_; }

 private:
  uint64_t last_;
};

// What the decoder hands on, in stream order.
struct StreamItem {
  enum Kind {
    kTransaction,  // payload is a COMMIT
    kHeartbeat,    // payload is a FAKE
    kPosition,     // no payload: the position moved (rotation to a new file)
  };
  Kind kind = kTransaction;
  // The record: a serialized pb::Binlog, written by the decoder as it reads the events (no
  // message is built). The buffer goes back to the decoder's pool when the item is destroyed.
  BufferPool::Lease buffer;
  size_t payload_offset = 0;  // where the payload starts in buffer
  std::string_view payload() const {
    return buffer ? std::string_view(*buffer).substr(payload_offset) : std::string_view();
  }
  uint64_t commit_ts = 0;
  // kTransaction: a whole transaction (kWholeTransaction) or one of its parts
  // (segment::MakePartTag). A part before the last keeps `position` where the transaction
  // starts, so that syncer.meta never points inside a transaction.
  segment::PartTag part = segment::kWholeTransaction;
  std::string gtid;       // of the transaction; empty when the upstream has none
  std::string ddl_query;  // a DDL transaction's statement, and its current database
  std::string ddl_schema;
  BinlogPosition position;  // where the stream is once this item is durable
  uint64_t rows = 0;        // row changes in this record (a part's own)
  bool ddl = false;
  uint32_t event_time = 0;  // seconds; 0 for heartbeats
  // For queue bounds: the row-event bytes a whole transaction came from; a part's record bytes
  // (what a big transaction holds in memory is its parts).
  uint64_t approx_bytes = 0;
  // The last record of a transaction (a whole one or its last part), or not a transaction.
  bool ends_transaction() const { return segment::IsLastPart(part); }
};

// Serialized bytes at which a transaction's record is cut into a part (about: the row event
// being read goes on to the end of its row).
inline constexpr size_t kDefaultPartBytes = 4u << 20;

struct DecoderStats {
  uint64_t events = 0;
  uint64_t rows = 0;
  uint64_t transactions = 0;
  uint64_t heartbeats = 0;
};

class StreamDecoder {
 public:
  // `start` is where the dump starts (after a committed transaction); `checksum` whether the
  // connection announced CRC32 (events before the first format description use it);
  // `last_ts` the largest ts already archived; `upstream_server_id` the @@server_id of the
  // server read, for the records' SourcePosition (proto/binlog.proto). `clock_heartbeats`:
  // heartbeats take the local clock (and later ts go above it); false: they take the last ts,
  // so every transaction's ts is a function of the events from `start` and `last_ts` alone (a
  // destination that recognises re-read transactions by their ts needs that). `part_bytes`:
  // where a transaction's record is cut into parts (tests use small ones).
  StreamDecoder(const BinlogPosition& start, bool checksum, uint64_t last_ts,
                uint32_t upstream_server_id, bool clock_heartbeats = true,
                size_t part_bytes = kDefaultPartBytes);

  // Feeds one event as received (after the packet's status byte); appends finished items.
  // `now_ms` stamps heartbeats. Errors name the event and binlog position.
  Status Feed(std::string_view raw, int64_t now_ms, std::vector<StreamItem>* out);

  // The position after the last finished transaction (where a reconnect resumes).
  const BinlogPosition& position() const { return position_; }
  bool in_transaction() const { return open_; }
  uint64_t last_ts() const { return ts_.last(); }
  uint32_t upstream_server_id() const { return server_id_; }
  const DecoderStats& stats() const { return stats_; }

 private:
  Status FeedEvent(const Event& ev, int64_t now_ms, std::vector<StreamItem>* out);
  Status OnRotate(const Event& ev, bool artificial, std::vector<StreamItem>* out);
  Status OnHeartbeat(int64_t now_ms, std::vector<StreamItem>* out);
  Status OnGtid(const Event& ev);
  Status OnTableMap(const Event& ev);
  Status OnQuery(const Event& ev, std::vector<StreamItem>* out);
  Status OnRows(const Event& ev, std::vector<StreamItem>* out);
  void Open(const std::string& gtid, bool standalone);
  void StartRecord();
  void CloseTable();
  void CutPart(const Event& ev, std::vector<StreamItem>* out);
  void Commit(const Event& ev, std::vector<StreamItem>* out);
  StreamItem FinishRecord(uint64_t ts, uint32_t event_time, segment::PartTag part);
  void PutSource(std::string* buf, std::string_view gtid, uint32_t event_time) const;
  std::string Where(const Event& ev) const;

  FormatDescription fd_;
  bool checksum_;
  BinlogPosition position_;
  std::string file_;  // the file the stream is in
  std::map<uint32_t, std::string> gtid_state_;
  struct Table {
    TableMap map;
    std::string body;  // the table map event's, to reuse the parse while it is unchanged
    std::string head;  // TableChanges' schema, table and columns as wire bytes
  };
  std::unordered_map<uint64_t, Table> tables_;
  TsAllocator ts_;
  bool clock_heartbeats_;
  size_t part_bytes_;
  uint32_t server_id_ = 0;  // of the events' origin
  uint32_t upstream_server_id_;
  DecoderStats stats_;

  // The transaction being read.
  bool open_ = false;
  bool standalone_ = false;
  std::string gtid_;
  std::string ddl_query_, ddl_schema_;
  std::shared_ptr<BufferPool> buffers_ = BufferPool::Make();
  BufferPool::Lease buf_;  // the record: headroom for its first fields, then its tables
  uint64_t txn_rows_ = 0;
  uint64_t txn_bytes_ = 0;   // row-event bytes
  uint32_t parts_ = 0;       // parts cut so far
  uint64_t part_ts_ = 0;     // their commit ts, once the first is cut
  uint64_t part_rows_ = 0;   // row changes in buf_
  bool table_open_ = false;  // a TableChanges is open at table_mark_
  wire::Mark table_mark_;
  size_t table_guess_ = 4;         // bytes of its length
  uint64_t current_table_id_ = 0;  // of the open TableChanges, to append to it
  MutationWriter mutations_;
  std::string head_;  // working space of Commit
};

}  // namespace binlog::syncer
