// One replication connection: the reader (fetch, decode) on the calling thread, the writer
// (compress, write) and the durability thread (fdatasync, then syncer.meta) on their own.
#include <fmt/format.h>
#include <time.h>

#include <functional>
#include <thread>

#include "common/logging.h"
#include "common/thread_name.h"
#include "syncer/decoder.h"
#include "syncer/item_queue.h"
#include "syncer/syncer.h"
#include "syncer/upstream.h"

namespace binlog::syncer {

namespace {

// Records decoded and not yet written are most of the syncer's memory: the queue, the batch
// being written and the part being decoded, about 30 MiB at most, so a transaction of any size
// (its parts come as fast as the decoder cuts them) takes no more than a 64 MiB one. Once a
// batch is written its records' bytes go back to the pool; the durability thread needs only
// their positions. A few MiB already cover a writer stalled by an fdatasync.
constexpr size_t kQueueBytes = 16 << 20;
constexpr size_t kBatchBytes = 8 << 20;
// Written batches waiting for their fdatasync beyond the one being synced: the next one being
// compressed and written meanwhile is the overlap; more would only hold memory.
constexpr size_t kWrittenBatches = 1;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Clears the syncer's pointer to the connection before the connection goes away.
class UpstreamGuard {
 public:
  UpstreamGuard(std::mutex* mu, Upstream** slot, Upstream* up) : mu_(mu), slot_(slot) {
    std::lock_guard<std::mutex> lock(*mu_);
    *slot_ = up;
  }
  ~UpstreamGuard() {
    std::lock_guard<std::mutex> lock(*mu_);
    *slot_ = nullptr;
  }

 private:
  std::mutex* mu_;
  Upstream** slot_;
};

// The writer (compress, write) and durability (fdatasync, then syncer.meta) threads behind the
// reader. The first failure of either stops all three: both queues are aborted and the
// upstream read is interrupted.
class WritePipeline {
 public:
  using WriteFn = std::function<Status(std::span<const StreamItem>)>;
  using DurableFn = std::function<Status(std::span<const BatchHandoff::Batch>)>;

  WritePipeline(size_t batch, Upstream* up, WriteFn write, DurableFn durable)
      : batch_(batch),
        up_(up),
        write_(std::move(write)),
        durable_(std::move(durable)),
        queue_(batch * 2, kQueueBytes),
        written_(kWrittenBatches) {
    writer_ = std::thread([this] {
      NameThisThread("syncer-writer");
      WriterLoop();
    });
    syncer_ = std::thread([this] {
      NameThisThread("syncer-durable");
      DurableLoop();
    });
  }
  // Finish is idempotent; RunOnce has already taken the status when this runs.
  ~WritePipeline() { Finish().IgnoreError(); }

  ItemQueue* queue() { return &queue_; }
  // Closes the queue, waits for both threads to end, and returns the first failure.
  Status Finish() {
    queue_.Close();
    if (writer_.joinable()) writer_.join();
    if (syncer_.joinable()) syncer_.join();
    std::lock_guard<std::mutex> lock(failure_mu_);
    return failure_;
  }
  // Valid after Finish.
  double writer_cpu() const { return writer_cpu_; }
  double durable_cpu() const { return durable_cpu_; }

 private:
  void WriterLoop() {
    while (true) {
      std::vector<StreamItem> items;
      if (!queue_.PopBatch(batch_, kBatchBytes, &items)) break;
      if (Status s = write_(items); !s.ok()) {
        Fail(std::move(s));
        break;
      }
      for (StreamItem& item : items) item.buffer.reset();
      if (!written_.Push(std::move(items))) break;
    }
    written_.Close();
    writer_cpu_ = ThreadCpuSeconds();
  }
  void DurableLoop() {
    std::vector<BatchHandoff::Batch> batches;
    while (written_.TakeAll(&batches)) {
      Status s = durable_(batches);
      batches.clear();
      if (!s.ok()) {
        Fail(std::move(s));
        break;
      }
    }
    durable_cpu_ = ThreadCpuSeconds();
  }
  void Fail(Status s) {
    {
      std::lock_guard<std::mutex> lock(failure_mu_);
      if (failure_.ok()) failure_ = std::move(s);
    }
    queue_.Abort();
    written_.Abort();
    up_->Interrupt();
  }

  const size_t batch_;
  Upstream* const up_;
  WriteFn write_;
  DurableFn durable_;
  ItemQueue queue_;
  BatchHandoff written_;
  std::mutex failure_mu_;
  Status failure_;
  double writer_cpu_ = 0;
  double durable_cpu_ = 0;
  std::thread writer_;
  std::thread syncer_;
};

}  // namespace

Status Syncer::RunOnce(bool* progressed, bool* fatal) {
  ASSIGN_OR_RETURN(std::unique_ptr<Upstream> up, Connect());
  UpstreamGuard guard(&mu_, &upstream_, up.get());
  if (stop_) return Status::OK();
  RETURN_IF_ERROR(StartStream(up.get(), fatal));

  // Made before the writer starts: from here on only the durability thread moves position_.
  StreamDecoder decoder(position_, up->info().checksum, sink_->LastTS(), up->info().server_id,
                        /*clock_heartbeats=*/!sink_->KeepsPosition(), options_.part_bytes);
  std::vector<EncodedBinlog> scratch;
  WritePipeline pipeline(
      static_cast<size_t>(config_.batch), up.get(),
      [&](std::span<const StreamItem> items) { return WriteBatch(items, &scratch); },
      [&](std::span<const BatchHandoff::Batch> batches) {
        return MakeDurable(batches, progressed);
      });
  const double reader_cpu = ThreadCpuSeconds();
  bool ddl_stop = false;
  Status reader_status = ReadLoop(up.get(), &decoder, pipeline.queue(), &ddl_stop);
  const double reader_cpu_used = ThreadCpuSeconds() - reader_cpu;
  Status writer_status = pipeline.Finish();
  if (writer_status.ok()) {
    // The stream broke (or stopped) inside a transaction: the next connection reads it again
    // from its start, so the parts written of it go, and its ts comes after the last whole one.
    if (Status d = sink_->DropUnfinished(); !d.ok()) {
      *fatal = true;
      return d.WithContext("dropping the parts of an unfinished transaction");
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.reader_cpu_seconds += reader_cpu_used;
    stats_.writer_cpu_seconds += pipeline.writer_cpu();
    stats_.durable_cpu_seconds += pipeline.durable_cpu();
  }
  if (!writer_status.ok()) {
    *fatal = true;  // the sink refuses writes (disk full, sticky I/O error): not a network matter
    return writer_status.WithContext(sink_->KeepsPosition() ? "writing to the downstream"
                                                             : "writing the archive");
  }
  if (ddl_stop) {
    stopped_on_ddl_ = true;
    stop_ = true;
    LOG_INFO("stopped on DDL with the position saved", KV("position", position_.ToString()));
    return Status::OK();
  }
  if (stop_) return Status::OK();
  return reader_status;
}

Result<std::unique_ptr<Upstream>> Syncer::Connect() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.state = "connecting";
  }
  UpstreamOptions uo;
  uo.host = config_.from.host;
  uo.port = config_.from.port;
  uo.user = config_.from.user;
  uo.password = config_.from.password;
  uo.server_id = config_.server_id;
  uo.flavor = config_.flavor;
  uo.heartbeat_seconds = config_.heartbeat_interval_seconds;
  return Upstream::Connect(uo);
}

// Works out where to start (the first time: from what the archive holds) and asks the upstream
// for its binlog from there.
Status Syncer::StartStream(Upstream* up, bool* fatal) {
  if (!resumed_) {
    Status r = Resume(up->info().server_id);
    // The sink retried on its own (max-retry): reconnecting upstream would not help.
    if (!r.ok()) {
      *fatal = true;
      return r.WithContext("asking the archive what it holds");
    }
  }
  if (position_.empty()) {
    // Nothing says where to start: from now on, loudly (earlier changes are not archived).
    ASSIGN_OR_RETURN(position_, up->CurrentPosition());
    LOG_WARN(
        "no syncer.meta, no -meta-from and an empty archive: starting at the upstream's "
        "current position; earlier changes are not archived",
        KV("position", position_.ToString()));
    RETURN_IF_ERROR(SaveMeta(options_.env, config_.meta, position_));
  }
  RETURN_IF_ERROR(sink_->Begin(position_));
  RETURN_IF_ERROR(up->StartDump(position_));
  LOG_INFO("replicating",
           KV("upstream", fmt::format("{}:{}", config_.from.host, config_.from.port)),
           KV("version", up->info().version), KV("from", position_.ToString()),
           KV("server-id", config_.server_id));
  std::lock_guard<std::mutex> lock(mu_);
  stats_.state = "running";
  stats_.upstream = up->info().version;
  return Status::OK();
}

// Fetches and decodes until stopped, a DDL under stop-on-ddl, or a failure (returned; also
// when the writer failed and interrupted the fetch). Transactions the archive already holds
// are skipped.
Status Syncer::ReadLoop(Upstream* up, StreamDecoder* decoder, ItemQueue* queue, bool* ddl_stop) {
  std::vector<StreamItem> out;
  Status status;
  uint64_t skipped = 0;
  bool skipping = false;       // the transaction whose parts come is one the archive holds
  bool writer_failed = false;  // it says why; RunOnce reports that
  while (!stop_ && !*ddl_stop && !writer_failed && status.ok()) {
    Result<std::string_view> raw = up->Fetch();
    if (!raw.ok()) {
      status = raw.status();
      break;
    }
    out.clear();
    status = decoder->Feed(*raw, options_.env->NowMicros() / 1000, &out);
    events_.fetch_add(1, std::memory_order_relaxed);
    for (StreamItem& item : out) {
      if (!status.ok()) break;
      if (item.kind == StreamItem::kTransaction && Held(item, &skipping)) {
        skipped += item.ends_transaction();
        continue;
      }
      if (item.kind == StreamItem::kTransaction && item.ddl && config_.stop_on_ddl) {
        LOG_INFO("stop-on-ddl: stopping before a DDL statement; it is not archived",
                 KV("ddl", item.ddl_query), KV("schema", item.ddl_schema), KV("gtid", item.gtid));
        *ddl_stop = true;
        break;
      }
      if (!queue->Push(std::move(item))) {
        writer_failed = true;
        break;
      }
    }
  }
  if (skipped > 0) {
    LOG_INFO("skipped transactions the archive already held", KV("count", skipped));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.skipped += skipped;
  }
  return status;
}

// Whether the sink holds the item's transaction already (a crash came between its write and
// the meta's). Decided by where it ends, or for a transaction in parts at its first part, by
// where it starts: strictly before the end of the newest one held means at or before that one
// (transactions do not overlap). Its other parts follow that decision.
bool Syncer::Held(const StreamItem& item, bool* skipping) {
  if (segment::PartIndex(item.part) > 0) return *skipping;
  *skipping = false;
  if (!skip_until_) return false;
  std::optional<int> cmp = ComparePositions(item.position, *skip_until_);
  if (cmp && (segment::IsPart(item.part) ? *cmp < 0 : *cmp <= 0)) {
    *skipping = true;
    return true;
  }
  skip_until_.reset();  // past it: positions only grow from here
  return false;
}

Status Syncer::WriteBatch(std::span<const StreamItem> items, std::vector<EncodedBinlog>* scratch) {
  scratch->clear();
  for (const StreamItem& item : items) {
    if (item.kind == StreamItem::kPosition) continue;
    scratch->push_back(EncodedBinlog{item.commit_ts, item.payload(), item.position.name,
                                     item.position.pos, item.gtid, &item.position, item.part});
  }
  return scratch->empty() ? Status::OK() : sink_->Write(*scratch);
}

// Batches written one after another are made durable by one sync; only then may the meta move
// past them. A downstream that keeps the position says what the meta holds: its own position,
// which may lag what was written (it is recorded with the engine's progress).
Status Syncer::MakeDurable(std::span<const std::vector<StreamItem>> batches, bool* progressed) {
  Env* env = options_.env;
  RETURN_IF_ERROR(sink_->WaitDurable());
  const BinlogPosition& last = batches.back().back().position;
  const BinlogPosition durable_at = sink_->KeepsPosition() ? sink_->KeptPosition() : last;
  if (!durable_at.empty()) RETURN_IF_ERROR(SaveMeta(env, config_.meta, durable_at));
  double now = static_cast<double>(env->NowMicros()) / 1e6;
  const uint64_t held = sink_->AlreadyHeld();
  std::unique_lock<std::mutex> lock(mu_);
  position_ = last;  // where a reconnect goes on: everything before it was handed to the sink
  stats_.position = durable_at;
  bool wrote = false;
  for (const std::vector<StreamItem>& items : batches) {
    for (const StreamItem& item : items) {
      if (item.kind == StreamItem::kTransaction) {
        stats_.transactions += item.ends_transaction();
        stats_.rows += item.rows;
        if (item.ddl) stats_.ddl++;
        stats_.lag_seconds = std::max(0.0, now - item.event_time);
      } else if (item.kind == StreamItem::kHeartbeat) {
        stats_.heartbeats++;
        stats_.lag_seconds = 0;  // the server is idle and we have everything
      }
      wrote |= item.kind != StreamItem::kPosition;
    }
  }
  if (wrote) stats_.last_ts = sink_->LastTS();  // the sink's: it may have raised the ts
  stats_.skipped += held - sink_held_;
  sink_held_ = held;
  *progressed = true;
  BinlogPosition durable = durable_at;
  lock.unlock();
  if (options_.on_durable) options_.on_durable(durable);
  return Status::OK();
}

}  // namespace binlog::syncer
