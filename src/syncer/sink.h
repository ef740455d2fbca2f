// Where the syncer's records go: a local journal (embedded), a pump (gRPC), or a downstream
// MariaDB/MySQL that the replay engine applies them to. The syncer writes each batch of
// committed transactions, waits for it to be durable, then moves syncer.meta past it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"
#include "mysql/mysql.h"
#include "segment/format.h"
#include "syncer/meta.h"

namespace binlog::syncer {

// One record to write: a serialized pb::Binlog and what a sink needs of it without parsing it.
struct EncodedBinlog {
  uint64_t commit_ts = 0;
  std::string_view payload;
  // Where it came from (SourcePosition's file, pos and gtid), for errors.
  std::string_view file;
  uint64_t pos = 0;
  std::string_view gtid;
  // Where the stream is once it is durable (every domain's GTID), for a sink that keeps it.
  // A part before the last has the position where its transaction starts.
  const BinlogPosition* position = nullptr;
  // A whole transaction (kWholeTransaction), or one of the parts of a big one
  // (segment::MakePartTag; docs/SYNCER.md "Big transactions").
  segment::PartTag part = segment::kWholeTransaction;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes binlogs in order; they are durable once a WaitDurable() called after it returns (a sink
  // may make them durable before it returns, and do nothing in WaitDurable). Their commit ts come
  // strictly increasing and above LastTS(), except that the parts of one transaction share its
  // ts and come one after another, in order (a transaction's parts may span several calls); a
  // sink may raise the ts (start_ts with them) to what its destination accepts, keeping them
  // strictly increasing and one per transaction (a reader sees its records' ts).
  // After an error nothing of the call may be assumed written, nor assumed absent: the syncer
  // resumes from its meta and the restart check below.
  virtual Status Write(std::span<const EncodedBinlog> binlogs) = 0;
  // Makes everything written before the call durable. May run on another thread than Write,
  // at the same time (the syncer syncs one batch while it writes the next).
  virtual Status WaitDurable() { return Status::OK(); }
  // The largest commit ts the sink holds from this syncer (0 when none): new ts go above it.
  // Thread-safe (read by the syncer's durability thread while the writer writes).
  virtual uint64_t LastTS() const = 0;
  // The source position of the newest record the sink holds from the upstream server
  // `server_id` (nullopt when it holds none), so that a restart skips what a crash between
  // Write and the meta update left behind. Called once the upstream is connected.
  virtual Result<std::optional<pb::SourcePosition>> LastSource(uint32_t server_id) = 0;
  // Thread-safe: makes a Write that is waiting to retry return soon (Aborted).
  virtual void Cancel() {}
  // The stream broke inside a transaction after some of its parts were written (the syncer
  // reconnects and reads it again from its start): forgets those parts, as a restart would,
  // so that the transaction's parts come again from the first and LastTS() is the last whole
  // transaction's. Called between connections, never while a Write or WaitDurable runs.
  virtual Status DropUnfinished() { return Status::OK(); }
  virtual Status Close() = 0;

  // A sink that keeps the upstream position itself, committed with what it applies (mysql):
  // its position wins over syncer.meta at start, syncer.meta follows it, and the records'
  // commit ts must be a function of the upstream's events from that position (heartbeats take
  // the last ts, and come at or above LastTS() rather than above it) so that transactions read
  // again after a restart carry the ts they were applied with.
  virtual bool KeepsPosition() const { return false; }
  // What such a sink holds: where the stream resumes, the ts of the record there in LastTS()
  // at start; empty when it holds nothing. Thread-safe.
  virtual BinlogPosition KeptPosition() const { return {}; }
  // Called before every dump starts, with where it starts (after everything written so far):
  // a sink that keeps the position and holds none records this one before anything else.
  virtual Status Begin(const BinlogPosition& /*from*/) { return Status::OK(); }
  // Transactions written that the destination found it held already (an earlier run applied
  // them) and did not apply again, so far. Thread-safe.
  virtual uint64_t AlreadyHeld() const { return 0; }
};

struct JournalSinkOptions {
  Env* env = Env::Posix();
  std::string dir;
  uint64_t max_file_size = 512ull << 20;
  // The archive is written as fast as the upstream sends: a fast level (with Huffman literals,
  // most of the ratio on row values). Sysbench rows (237 MB of records in the ~3 MB blocks of
  // big transactions), CPU seconds and ratio: level 1 0.50 s, 2.20; -5 0.32 s, 2.12; -7 0.30 s,
  // 2.08; -20 0.27 s, 1.98 (10% less CPU for a 5% larger archive: not worth it).
  int zstd_level = -7;
};

// A journal directory of our own, opened (and recovered) for writing: records are the serialized
// binlogs keyed by commit ts.
Result<std::unique_ptr<Sink>> OpenJournalSink(const JournalSinkOptions& options);

struct PumpSinkOptions {
  std::vector<std::string> addrs;  // [to] pump-addrs: written to one at a time, in this order
  // Failed calls in a row before Write gives up (max-retry); each failure moves to the next
  // address and waits a backoff doubling from base to max.
  int max_retry = 100;
  double retry_base_seconds = 0.5;
  double retry_max_seconds = 10;
  // Serialized bytes per WriteBinlogs call: a batch is cut in calls of at most this much (a
  // single larger transaction goes alone).
  size_t max_call_bytes = 8u << 20;
  double call_timeout_seconds = 30;
};

// Writes to the pumps' gRPC service (docs/SYNCER_PUMP.md). Connects lazily:
// opening never fails because a pump is down.
Result<std::unique_ptr<Sink>> OpenPumpSink(const PumpSinkOptions& options);

struct MysqlSinkOptions {
  mysql::ConnectOptions connect;  // [to]
  // The syncer's server-id: its progress is task "syncer-<id>" in tidb_binlog.replay_progress,
  // its position the row of that id in tidb_binlog.syncer_position.
  uint32_t server_id = 101;
  int worker_count = 16;  // connections applying at once
  int txn_batch = 1000;   // row changes per downstream transaction (whole transactions)
  bool safe_mode = false;
  // Transient failures (the downstream restarting) of one downstream transaction in a row
  // before the syncer stops, with a backoff doubling from base to max.
  int max_retry = 100;
  double retry_base_seconds = 0.5;
  double retry_max_seconds = 10;
};

// Applies the records to a MariaDB/MySQL downstream through the replay engine, exactly once,
// with the upstream position in tidb_binlog.syncer_position (docs/SYNCER_MYSQL.md). Connects
// here: a downstream that cannot be reached fails the start.
Result<std::unique_ptr<Sink>> OpenMysqlSink(const MysqlSinkOptions& options);

}  // namespace binlog::syncer
