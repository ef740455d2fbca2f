// A producer's and a drainer's side of the pump's gRPC service (proto/pump.proto).
//
// Each call maps the pump's answer to a Status a caller can act on: InvalidArgument (the binlog
// itself is wrong: do not retry), NoSpace (the pump's disk is below its threshold), Aborted (the
// pump is not online: write to another one), OutOfRange (errcode "ts-behind": a one-shot
// commit's ts is at or below what the pump wrote; nothing was stored, send it again with a ts
// above SourceState's max_ts), IOError (the pump could not be reached or failed: retry, maybe
// elsewhere).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"

namespace binlog::pump {

struct ClientOptions {
  // How long a write waits for its answer (a call's deadline; for a single binlog, which goes
  // on a WriteBinlogStream, its wait on the stream, which is then cancelled).
  std::chrono::milliseconds timeout{10000};
  size_t max_message_bytes = 64u << 20;
  // PullBinlogReq.max_batch: binlogs a Pull response may carry (1: one each, as TiDB's drainer).
  uint32_t pull_batch = 256;
  // WriteBinlog calls from several threads at once share WriteBinlogs calls (at most
  // max_in_flight out at a time); each caller still gets its own binlog's answer. Two: fewer
  // calls make bigger batches (measured with 64 producers against a local pump: 4 in flight
  // 20k binlogs/s, 3 24k, 2 30k, 1 31k), and a second call keeps one slow answer from holding
  // every producer back.
  bool coalesce_writes = true;
  int max_in_flight = 2;
};

// Committed binlogs from a pump, in commit-ts order, as they arrive. Cancel (or destruction)
// ends the stream.
class PullStream {
 public:
  virtual ~PullStream() = default;
  // Sets *out and returns true; false when the pump ended the stream (it stopped); an error when
  // the connection failed or a payload did not parse. *part is its PartTag in the pump's
  // binlog/ (segment/format.h; 0: a whole transaction): the parts of a transaction come one
  // after another with the same commit ts, as a reader of binlog/ sees them.
  virtual Result<bool> Next(pb::Binlog* out, uint32_t* part) = 0;
  Result<bool> Next(pb::Binlog* out) {
    uint32_t part = 0;
    return Next(out, &part);
  }
  // Thread-safe: makes a Next waiting in another thread return.
  virtual void Cancel() = 0;
};

// GetSourceState's answer (pump.proto SourceStateResp).
struct PumpSourceState {
  uint64_t max_ts = 0;
  bool found = false;
  uint64_t commit_ts = 0;
  pb::SourcePosition source;
  // A one-shot COMMIT in parts from that server whose last part the pump has not received: its
  // commit ts and how many of its parts it holds (0 and 0: none).
  uint64_t open_commit_ts = 0;
  uint32_t open_parts = 0;
};

class PumpClient {
 public:
  // Creates the channel (lazy: no connection is made until the first call).
  static Result<std::unique_ptr<PumpClient>> Connect(const std::string& addr,
                                                     const ClientOptions& options = {});
  virtual ~PumpClient() = default;

  // On a WriteBinlogStream the client keeps between writes (docs/PUMP.md); with
  // coalesce_writes, concurrent callers' binlogs may go together in one WriteBinlogs. `part` is
  // its PartTag when it is one part of a transaction in parts (docs/PUMP.md).
  virtual Status WriteBinlog(const pb::Binlog& binlog, uint32_t part = 0) = 0;
  // WriteBinlog without a thread waiting: `done` runs exactly once, with what WriteBinlog
  // would return, on one of gRPC's threads (never inside this call; it must not block, and may
  // write again). With coalesce_writes, binlogs written while max_in_flight calls are out go
  // together in the next WriteBinlogs, each still answered on its own; otherwise each is a
  // WriteBinlog call. Destroying the client waits for the calls under way (not from a `done`).
  using WriteDone = std::function<void(Status)>;
  virtual void WriteBinlogAsync(const pb::Binlog& binlog, WriteDone done) = 0;
  virtual Status WriteBinlogs(std::span<const pb::Binlog> binlogs) = 0;
  // WriteBinlogs of binlogs the caller has serialized already (moved into the request), with
  // their PartTags (empty: all whole).
  virtual Status WritePayloads(std::vector<std::string> payloads,
                               std::vector<uint32_t> parts = {}) = 0;
  // What the pump holds from the upstream server `server_id` (one-shot COMMITs).
  virtual Result<PumpSourceState> GetSourceState(uint32_t server_id) = 0;
  // An empty binlog, answered without being stored: is the pump there and online?
  virtual Status Probe() = 0;
  // Streams committed binlogs with commit_ts > from_ts.
  virtual Result<std::unique_ptr<PullStream>> Pull(uint64_t from_ts) = 0;
  virtual const std::string& addr() const = 0;
};

}  // namespace binlog::pump
