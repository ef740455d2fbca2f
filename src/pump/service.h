// The pump's gRPC service (proto/pump.proto) over a Pump. Internal to pump/server.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "pump.grpc.pb.h"
#include "pump/pump.h"

namespace binlog::pump {

// WriteBinlogResp.errcode for a write that failed with `s`: "invalid", "no-space",
// "not-online", "ts-behind" or "io" ("" for OK). `online` tells a refusal because of the node state
// apart from one after a storage failure (both are Aborted from the Pump).
std::string WriteErrorCode(const Status& s, bool online);

// Writes use gRPC's callback API: a write waiting for its group's fdatasync holds no thread
// (the synchronous server kept a thread per producer, and every ack was a thread hand-off).
// PullBinlogs stays synchronous: a stream is a long-lived tail of its own.
// WriteBinlogStream is callback-driven too (write_stream.cc): an idle stream holds no thread.
using PumpServiceBase =
    pb::Pump::WithCallbackMethod_WriteBinlog<pb::Pump::WithCallbackMethod_WriteBinlogs<
        pb::Pump::WithCallbackMethod_WriteBinlogStream<pb::Pump::Service>>>;

class WriteStream;

class PumpService final : public PumpServiceBase {
 public:
  // `refusal` returns why the node takes no producer writes now ("pump is closing"), or ""
  // when it is online. Does not own `pump`.
  PumpService(Pump* pump, std::function<std::string()> refusal);
  PumpService(const PumpService&) = delete;
  PumpService& operator=(const PumpService&) = delete;

  // The synchronous forms are the base's (never called once the callback ones are marked).
  using PumpServiceBase::WriteBinlog;
  using PumpServiceBase::WriteBinlogs;
  using PumpServiceBase::WriteBinlogStream;
  grpc::ServerUnaryReactor* WriteBinlog(grpc::CallbackServerContext* ctx,
                                        const pb::WriteBinlogReq* req,
                                        pb::WriteBinlogResp* resp) override;
  grpc::ServerUnaryReactor* WriteBinlogs(grpc::CallbackServerContext* ctx,
                                         const pb::WriteBinlogsReq* req,
                                         pb::WriteBinlogResp* resp) override;
  grpc::ServerBidiReactor<pb::WriteBinlogReq, pb::WriteBinlogResp>* WriteBinlogStream(
      grpc::CallbackServerContext* ctx) override;
  grpc::Status GetSourceState(grpc::ServerContext* ctx, const pb::SourceStateReq* req,
                              pb::SourceStateResp* resp) override;
  // Streams until the client cancels or Stop(); waits on the journal tail, never spins.
  grpc::Status PullBinlogs(grpc::ServerContext* ctx, const pb::PullBinlogReq* req,
                           grpc::ServerWriter<pb::PullBinlogResp>* writer) override;

  // Ends every PullBinlogs stream and every WriteBinlogStream waiting for its next request now
  // (before grpc::Server::Shutdown, which waits for them); a stream whose write is under way
  // ends once it is answered. Thread-safe.
  void Stop();
  // WriteBinlogStreams open now (producers connected that way). Thread-safe.
  size_t OpenWriteStreams();

 private:
  friend class WriteStream;

  void Answer(const Status& s, pb::WriteBinlogResp* resp);
  // Answers `resp` on `reactor` once the pump has the write durable (or refused it).
  void Submit(std::vector<BinlogHead> heads, std::vector<std::string> payloads,
              grpc::ServerUnaryReactor* reactor, pb::WriteBinlogResp* resp);

  Pump* pump_;
  std::function<std::string()> refusal_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::set<journal::JournalReader*> readers_;  // open PullBinlogs streams, woken by Stop
  std::set<WriteStream*> write_streams_;       // open WriteBinlogStreams, ended by Stop
};

}  // namespace binlog::pump
