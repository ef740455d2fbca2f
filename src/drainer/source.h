// Where one pump's committed binlogs come from: its binlog/ directory read from disk (a pump on
// this machine) or its PullBinlogs over gRPC. Both give the same stream: the COMMIT binlogs with
// their changes and the FAKE heartbeats, in commit-ts order, above a ts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"
#include "segment/format.h"

namespace binlog::drainer {

class PumpReader {
 public:
  virtual ~PumpReader() = default;
  // The next binlog and its part tag (a transaction in parts comes as its parts, in order);
  // false when none came within `wait` (a gRPC stream also returns false when the pump ended it:
  // Ended() then says so). Errors: the pump cannot be read (gone, damaged).
  virtual Result<bool> Next(pb::Binlog* out, segment::PartTag* part,
                            std::chrono::milliseconds wait) = 0;
  // Makes a waiting Next return (another thread, at shutdown).
  virtual void Wake() = 0;
  virtual bool Ended() const { return false; }
  // "dir /data/pump/binlog" or "grpc 127.0.0.1:8250", for logs and /status.
  virtual std::string Describe() const = 0;
};

// Reads <data_dir>/binlog from commit ts > from_ts, following new segments as the pump writes.
Result<std::unique_ptr<PumpReader>> OpenLocalReader(Env* env, const std::string& data_dir,
                                                    uint64_t from_ts);
// PullBinlogs(from_ts) on the pump at addr.
Result<std::unique_ptr<PumpReader>> OpenGrpcReader(const std::string& addr, uint64_t from_ts);

// Whether a pump's data_dir (as its registry record gives it) can be read here: the record's
// host is this machine and <data_dir>/binlog is a readable directory.
bool LocallyReadable(Env* env, const std::string& host, const std::string& data_dir);

}  // namespace binlog::drainer
