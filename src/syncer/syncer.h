// The syncer: a replica of the upstream MariaDB/MySQL server that archives every committed
// transaction of its ROW binlog, in order, exactly once.
//
// Three threads per connection: the reader fetches and decodes events into records; the writer
// writes batches of them to the sink; the durability thread syncs what was written, then
// replaces syncer.meta with the position after it (so one batch's fdatasync overlaps the next
// one's compression and write). A crash at any point re-sends at most the batch whose meta
// write did not happen; on start the syncer resumes after the newer of syncer.meta and the
// sink's last record's source position, and skips anything at or before the latter, so nothing
// is archived twice and nothing is skipped.
//
// Reconnects (the upstream restarting, the network dropping) are retried with backoff, up to
// max-retry in a row without progress.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "server/server.h"
#include "syncer/config.h"
#include "syncer/decoder.h"
#include "syncer/meta.h"
#include "syncer/sink.h"

namespace binlog::syncer {

class ItemQueue;
class Upstream;

struct SyncerOptions {
  Env* env = Env::Posix();
  // Backoff between reconnects: doubles from base up to max.
  double retry_base_seconds = 0.5;
  double retry_max_seconds = 10;
  // Called by the writer after each batch is durable and the meta written (tests).
  std::function<void(const BinlogPosition&)> on_durable;
  // Where a transaction's record is cut into parts (tests use small ones).
  size_t part_bytes = kDefaultPartBytes;
};

struct SyncerStats {
  std::string state = "starting";  // starting, connecting, running, retrying, stopped, failed
  uint64_t events = 0;             // binlog events read
  uint64_t rows = 0;               // row changes archived
  uint64_t transactions = 0;       // transactions archived
  uint64_t ddl = 0;                // of which DDL
  uint64_t heartbeats = 0;         // FAKE binlogs archived
  uint64_t skipped = 0;            // transactions the destination already held (after a crash)
  uint64_t reconnects = 0;
  double lag_seconds = 0;   // now minus the event time of the last archived transaction
  BinlogPosition position;  // durable: what syncer.meta says
  uint64_t last_ts = 0;
  std::string upstream;  // server version
  std::string last_error;
  // CPU seconds of each stage's thread, over the connections that ended (where a catch-up
  // spends its time: the slowest stage sets the pace).
  double reader_cpu_seconds = 0;
  double writer_cpu_seconds = 0;
  double durable_cpu_seconds = 0;
};

class Syncer {
 public:
  // Opens the sink, applies -meta-from (config.meta_from) to syncer.meta, reads the start
  // position, and starts the status service.
  static Result<std::unique_ptr<Syncer>> Open(const SyncerConfig& config,
                                              SyncerOptions options = {});
  ~Syncer();
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // Runs until Stop() (OK), stop-on-ddl (OK, stopped_on_ddl()), or an error retrying cannot
  // cure. Call once.
  Status Run();
  // Thread-safe; Run returns soon after.
  void Stop();

  SyncerStats Stats() const;
  bool stopped_on_ddl() const { return stopped_on_ddl_; }
  // The status service's bound address ("127.0.0.1:8271"); empty when there is none.
  std::string status_addr() const;

 private:
  Syncer(const SyncerConfig& config, SyncerOptions options);
  Status Init();
  Status StartStatusService();
  Status Resume(uint32_t upstream_server_id);
  Status ResumeFromSink();
  // One connection (stream.cc): connect, start the dump, read until it ends.
  Status RunOnce(bool* progressed, bool* fatal);
  Result<std::unique_ptr<Upstream>> Connect();
  Status StartStream(Upstream* up, bool* fatal);
  Status ReadLoop(Upstream* up, StreamDecoder* decoder, ItemQueue* queue, bool* ddl_stop);
  bool Held(const StreamItem& item, bool* skipping);
  // The writer's steps (stream.cc): write a batch to the sink; then, on the durability
  // thread, sync what was written and move syncer.meta past it.
  Status WriteBatch(std::span<const StreamItem> items, std::vector<EncodedBinlog>* scratch);
  Status MakeDurable(std::span<const std::vector<StreamItem>> batches, bool* progressed);
  bool SleepBackoff(int failures);
  std::string StatusJson() const;
  std::string MetricsText() const;

  SyncerConfig config_;
  SyncerOptions options_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<server::HttpServer> status_http_;
  std::optional<BinlogPosition> meta_;        // syncer.meta as read at start
  bool resumed_ = false;                      // Resume ran (at the first connect)
  BinlogPosition position_;                   // durable
  std::optional<BinlogPosition> skip_until_;  // the sink's newest source position
  uint64_t sink_held_ = 0;                    // AlreadyHeld() as counted in stats_.skipped

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> events_{0};  // counted by the reader without the lock
  bool stopped_on_ddl_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Upstream* upstream_ = nullptr;  // guarded by mu_, for Stop()
  SyncerStats stats_;             // guarded by mu_
};

}  // namespace binlog::syncer
