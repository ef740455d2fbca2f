// The downstream sink: the replay engine applies each record to a MariaDB/MySQL server, exactly
// once, and the upstream position is committed with the engine's progress.
//
// The engine records what it applied by commit ts (tidb_binlog.replay_progress, replay_applied)
// and, in the same downstream transaction as each new low ts (everything at or below it
// applied), this sink's on_advance writes the position of the newest record at or below it to
// tidb_binlog.syncer_position, with that record's ts. A restart reads the upstream again from
// there, the decoder's ts chain starting at that ts: the ts it gives a transaction depends only
// on the events after the position (heartbeats do not move the chain), so a transaction read
// again has the ts it was applied with, and the engine skips it.
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <deque>
#include <mutex>

#include "common/logging.h"
#include "replay/replay.h"
#include "syncer/sink.h"

namespace binlog::syncer {

namespace {

constexpr const char kCreatePositionTable[] =
    "CREATE TABLE IF NOT EXISTS tidb_binlog.syncer_position ("
    "server_id INT UNSIGNED NOT NULL PRIMARY KEY, "
    "binlog_name VARCHAR(512) NOT NULL, "
    "binlog_pos BIGINT UNSIGNED NOT NULL, "
    "binlog_gtid TEXT NOT NULL, "
    "commit_ts BIGINT UNSIGNED NOT NULL, "
    "updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
    ") ENGINE = InnoDB";

// The downstream's bookkeeping is its own: an upstream that has a tidb_binlog schema (it is
// itself some replay's destination) must not overwrite it.
constexpr const char kOwnSchema[] = "tidb_binlog";

// File names and GTIDs as hex literals: nothing in them needs escaping then.
std::string HexLiteral(std::string_view text) {
  std::string out = "X'";
  for (unsigned char c : text) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  out += "'";
  return out;
}

bool SamePosition(const BinlogPosition& a, const BinlogPosition& b) {
  return a.name == b.name && a.pos == b.pos && a.gtid == b.gtid;
}

Result<uint64_t> ParseNumber(const std::optional<std::string>& text, std::string_view column) {
  uint64_t v = 0;
  const std::string s = text.value_or("");
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return Status::Corruption(
        fmt::format("tidb_binlog.syncer_position.{} holds \"{}\", not a number", column, s));
  }
  return v;
}

// A point of the stream handed to the engine: where the stream is once the record of ts is
// applied (a heartbeat's ts is the transaction's before it).
struct Mark {
  uint64_t ts = 0;
  BinlogPosition position;
};

class DownstreamSink : public Sink {
 public:
  explicit DownstreamSink(const MysqlSinkOptions& options)
      : options_(options), task_(fmt::format("syncer-{}", options.server_id)), recorder_(this) {}

  Status Open();
  Status Write(std::span<const EncodedBinlog> binlogs) override;
  Status WaitDurable() override;
  uint64_t LastTS() const override { return last_ts_.load(); }
  // The position is KeptPosition's; the syncer does not ask this sink for a source position.
  Result<std::optional<pb::SourcePosition>> LastSource(uint32_t) override {
    return std::optional<pb::SourcePosition>();
  }
  // Stopping: applying ends at the next downstream transaction; what was applied stays
  // recorded, and the next start goes on from the position recorded with it.
  void Cancel() override {
    if (engine_) engine_->Abort(Status::Aborted("the syncer is stopping"));
  }
  Status DropUnfinished() override;
  Status Close() override;
  bool KeepsPosition() const override { return true; }
  BinlogPosition KeptPosition() const override {
    std::lock_guard<std::mutex> g(mu_);
    return confirmed_.position;
  }
  Status Begin(const BinlogPosition& from) override;
  uint64_t AlreadyHeld() const override { return engine_ ? engine_->Stats().already : 0; }

 private:
  // The engine's destination: the replay sink, with each AdvanceLow that commits noted, so
  // that the position on_advance put in it is known to be in the downstream.
  class Recorder : public replay::Sink {
   public:
    explicit Recorder(DownstreamSink* outer) : outer_(outer) {}
    int MaxWorkers() const override { return outer_->inner_->MaxWorkers(); }
    Status ConflictKeys(const pb::Binlog& b, std::vector<replay::ConflictKey>* out) override {
      return outer_->inner_->ConflictKeys(b, out);
    }
    Result<std::unique_ptr<replay::SinkWorker>> NewWorker() override {
      return outer_->inner_->NewWorker();
    }
    Result<replay::ResumeState> LoadResume() override { return outer_->inner_->LoadResume(); }
    Status AdvanceLow(uint64_t ts) override {
      std::lock_guard<std::mutex> one_at_a_time(outer_->advance_mu_);
      Status s = outer_->inner_->AdvanceLow(ts);
      if (s.ok()) {
        std::lock_guard<std::mutex> g(outer_->mu_);
        outer_->confirmed_ = outer_->attempt_;
      }
      return s;
    }

   private:
    DownstreamSink* outer_;
  };

  std::string OnAdvance(uint64_t low);
  Status ReadPosition(mysql::Connection* conn);

  const MysqlSinkOptions options_;
  const std::string task_;
  Recorder recorder_;
  std::unique_ptr<replay::Sink> inner_;
  std::unique_ptr<replay::Engine> engine_;
  std::atomic<uint64_t> last_ts_{0};  // of the newest record written (the ts chain's last)
  // The last record written is a part with more to come: the engine holds its transaction open.
  bool inside_parts_ = false;
  uint64_t ts_before_parts_ = 0;  // LastTS() before the transaction inside_parts_ is in

  std::mutex advance_mu_;   // one AdvanceLow at a time: attempt_ is that call's
  mutable std::mutex mu_;   // the marks below; taken inside advance_mu_ and the replay sink's
  std::deque<Mark> marks_;  // written, not yet covered by a low ts passed to on_advance
  Mark best_;               // the newest mark at or below a low ts passed to on_advance
  Mark attempt_;            // what the AdvanceLow under way writes
  Mark confirmed_;          // what the downstream holds
};

Status DownstreamSink::Open() {
  replay::MysqlSinkOptions ro;
  ro.connect = options_.connect;
  ro.task = task_;
  ro.safe_mode = options_.safe_mode;
  ro.max_workers = std::max(options_.worker_count, 1);
  ro.on_advance = [this](uint64_t low) { return OnAdvance(low); };
  ASSIGN_OR_RETURN(inner_, replay::NewMysqlSink(ro));
  {
    ASSIGN_OR_RETURN(std::unique_ptr<mysql::Connection> conn,
                     mysql::Connection::Open(options_.connect));
    RETURN_IF_ERROR(conn->Execute(kCreatePositionTable));
    RETURN_IF_ERROR(ReadPosition(conn.get()));
  }
  replay::FilterRules rules;
  rules.ignore_schemas.push_back(kOwnSchema);
  ASSIGN_OR_RETURN(replay::Filter filter, replay::Filter::Make(rules));
  replay::EngineOptions eo;
  eo.worker_count = options_.worker_count;
  eo.txn_batch = options_.txn_batch;
  eo.max_retry = options_.max_retry;
  eo.retry_base_seconds = options_.retry_base_seconds;
  eo.retry_max_seconds = options_.retry_max_seconds;
  ASSIGN_OR_RETURN(engine_, replay::Engine::Start(&recorder_, std::move(filter), eo));
  const replay::ResumeState& earlier = engine_->resumed();
  if (confirmed_.position.empty() && (earlier.low_ts > 0 || !earlier.applied.empty())) {
    // Without the position, nothing says where the applied transactions came from.
    return Status::Corruption(fmt::format(
        "the downstream holds the progress of task \"{0}\" but no position for server-id {1} in "
        "tidb_binlog.syncer_position (it was deleted?): to start over from syncer.meta, remove "
        "the progress too: DELETE FROM tidb_binlog.replay_progress WHERE task = '{0}'; DELETE "
        "FROM tidb_binlog.replay_applied WHERE task = '{0}'",
        task_, options_.server_id));
  }
  LOG_INFO("downstream ready",
           KV("downstream", fmt::format("{}:{}", options_.connect.host, options_.connect.port)),
           KV("task", task_), KV("position", confirmed_.position.ToString()),
           KV("position-ts", confirmed_.ts), KV("low-ts", earlier.low_ts),
           KV("applied-above-low", earlier.applied.size()),
           KV("worker-count", options_.worker_count), KV("txn-batch", options_.txn_batch),
           KV("safe-mode", options_.safe_mode));
  return Status::OK();
}

Status DownstreamSink::ReadPosition(mysql::Connection* conn) {
  ASSIGN_OR_RETURN(std::vector<mysql::Row> rows,
                   conn->Query(fmt::format("SELECT binlog_name, binlog_pos, binlog_gtid, commit_ts "
                                           "FROM tidb_binlog.syncer_position WHERE server_id = {}",
                                           options_.server_id)));
  if (rows.empty()) return Status::OK();
  const mysql::Row& row = rows[0];
  Mark m;
  m.position.name = row[0].value_or("");
  ASSIGN_OR_RETURN(m.position.pos, ParseNumber(row[1], "binlog_pos"));
  m.position.gtid = row[2].value_or("");
  ASSIGN_OR_RETURN(m.ts, ParseNumber(row[3], "commit_ts"));
  if (m.position.empty()) {
    return Status::Corruption("tidb_binlog.syncer_position holds neither a file nor a GTID");
  }
  confirmed_ = best_ = m;
  last_ts_ = m.ts;
  return Status::OK();
}

// Runs inside the replay sink's AdvanceLow, under its lock: what it returns commits with `low`.
std::string DownstreamSink::OnAdvance(uint64_t low) {
  std::lock_guard<std::mutex> g(mu_);
  while (!marks_.empty() && marks_.front().ts <= low) {
    best_ = std::move(marks_.front());
    marks_.pop_front();
  }
  attempt_ = best_;
  if (best_.position.empty()) return std::string();
  return fmt::format(
      "INSERT INTO tidb_binlog.syncer_position (server_id, binlog_name, binlog_pos, binlog_gtid, "
      "commit_ts) VALUES ({}, {}, {}, {}, {}) ON DUPLICATE KEY UPDATE binlog_name = "
      "VALUES(binlog_name), binlog_pos = VALUES(binlog_pos), binlog_gtid = VALUES(binlog_gtid), "
      "commit_ts = VALUES(commit_ts);",
      options_.server_id, HexLiteral(best_.position.name), best_.position.pos,
      HexLiteral(best_.position.gtid), best_.ts);
}

// The first position goes in before anything is applied: the progress rows never exist without
// a position to read the upstream from.
Status DownstreamSink::Begin(const BinlogPosition& from) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!confirmed_.position.empty()) return Status::OK();
    marks_.push_back(Mark{last_ts_.load(), from});
  }
  Status s = recorder_.AdvanceLow(last_ts_.load());
  if (!s.ok()) return s.WithContext("recording the start position in the downstream");
  LOG_INFO("the downstream's first position", KV("position", from.ToString()),
           KV("table", "tidb_binlog.syncer_position"), KV("server-id", options_.server_id));
  return Status::OK();
}

Status DownstreamSink::Write(std::span<const EncodedBinlog> binlogs) {
  for (const EncodedBinlog& b : binlogs) {
    pb::Binlog binlog;
    if (!binlog.ParseFromArray(b.payload.data(), static_cast<int>(b.payload.size()))) {
      return Status::Corruption(
          fmt::format("the record of the transaction at {}:{} does not parse", b.file, b.pos));
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      marks_.push_back(
          Mark{b.commit_ts, b.position != nullptr
                                ? *b.position
                                : BinlogPosition{std::string(b.file), b.pos, std::string(b.gtid)}});
    }
    if (segment::IsPart(b.part) && segment::PartIndex(b.part) == 0) {
      ts_before_parts_ = last_ts_.load();
    }
    last_ts_ = b.commit_ts;
    // A transaction in parts is applied in one downstream transaction, part by part; its
    // position is recorded with its last part (the marks of the others come first, same ts).
    Status s = engine_->Submit(std::move(binlog), b.part);
    if (!s.ok()) return s.WithContext("applying to the downstream");
    inside_parts_ = !segment::IsLastPart(b.part);
  }
  return Status::OK();
}

// The stream broke inside a transaction in parts: the engine rolls back what it applied of it
// (nothing of it was committed), and it comes again whole, with the ts it had.
Status DownstreamSink::DropUnfinished() {
  if (!inside_parts_) return Status::OK();
  RETURN_IF_ERROR(engine_->AbandonTransaction());
  inside_parts_ = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    while (!marks_.empty() && marks_.back().ts > ts_before_parts_) marks_.pop_back();
  }
  last_ts_ = ts_before_parts_;
  return Status::OK();
}

// Everything written applied, and the position at it in the downstream. The engine records a
// new low itself; a mark with no new ts (a heartbeat after a rotation, transactions an earlier
// run applied) is recorded here, on a best-effort basis: syncer.meta then lags until the next.
Status DownstreamSink::WaitDurable() {
  // A batch may end inside a transaction in parts. Everything before it is applied already (its
  // first part waited for the engine to drain), and nothing of it is durable before its last
  // part: there is nothing to wait for, and Finish would abandon it.
  if (inside_parts_) return Status::OK();
  Status s = engine_->Finish();
  if (!s.ok()) return s.WithContext("applying to the downstream");
  const uint64_t low = engine_->Stats().progress_ts;
  bool record = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    while (!marks_.empty() && marks_.front().ts <= low &&
           SamePosition(marks_.front().position, best_.position)) {
      marks_.pop_front();  // an idle heartbeat: nothing new to record
    }
    record = (!marks_.empty() && marks_.front().ts <= low) ||
             !SamePosition(best_.position, confirmed_.position);
  }
  if (record) {
    Status r = recorder_.AdvanceLow(low);
    if (!r.ok()) {
      LOG_WARN("recording the position in the downstream failed; the next batch records it",
               KV("error", r));
    }
  }
  return Status::OK();
}

Status DownstreamSink::Close() {
  if (!engine_) return Status::OK();
  replay::EngineStats st = engine_->Stats();
  LOG_INFO("downstream closed", KV("transactions", st.transactions), KV("rows", st.rows),
           KV("ddl", st.ddl), KV("already-applied", st.already), KV("retries", st.retries),
           KV("position", KeptPosition().ToString()));
  engine_.reset();
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Sink>> OpenMysqlSink(const MysqlSinkOptions& options) {
  auto sink = std::make_unique<DownstreamSink>(options);
  Status s = sink->Open();
  if (!s.ok()) {
    return s.WithContext(
        fmt::format("the downstream {}:{} ([to])", options.connect.host, options.connect.port));
  }
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace binlog::syncer
