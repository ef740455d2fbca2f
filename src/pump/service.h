// The pump's gRPC service (proto/pump.proto) over a Pump. Internal to pump/server.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "common/status.h"
#include "pump.grpc.pb.h"
#include "pump/pump.h"

namespace binlog::pump {

// WriteBinlogResp.errcode for a write that failed with `s`: "invalid", "no-space",
// "not-online" or "io" ("" for OK). `online` tells a refusal because of the node state apart
// from one after a storage failure (both are Aborted from the Pump).
std::string WriteErrorCode(const Status& s, bool online);

class PumpService final : public pb::Pump::Service {
 public:
  // `refusal` returns why the node takes no producer writes now ("pump is closing"), or ""
  // when it is online. Does not own `pump`.
  PumpService(Pump* pump, std::function<std::string()> refusal);
  PumpService(const PumpService&) = delete;
  PumpService& operator=(const PumpService&) = delete;

  grpc::Status WriteBinlog(grpc::ServerContext* ctx, const pb::WriteBinlogReq* req,
                           pb::WriteBinlogResp* resp) override;
  grpc::Status WriteBinlogs(grpc::ServerContext* ctx, const pb::WriteBinlogsReq* req,
                            pb::WriteBinlogResp* resp) override;
  // Streams until the client cancels or Stop(); waits on the journal tail, never spins.
  grpc::Status PullBinlogs(grpc::ServerContext* ctx, const pb::PullBinlogReq* req,
                           grpc::ServerWriter<pb::PullBinlogResp>* writer) override;

  // Ends every PullBinlogs stream now (before grpc::Server::Shutdown, which waits for them).
  // Thread-safe.
  void Stop();

 private:
  void Answer(const Status& s, pb::WriteBinlogResp* resp);

  Pump* pump_;
  std::function<std::string()> refusal_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::set<journal::JournalReader*> readers_;  // open PullBinlogs streams, woken by Stop
};

}  // namespace binlog::pump
