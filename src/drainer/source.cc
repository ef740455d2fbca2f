// The two ways to read a pump.
#include "drainer/source.h"

#include <fmt/format.h>
#include <unistd.h>

#include "journal/journal.h"
#include "pump_client/pump_client.h"
#include "registry/registry.h"

namespace binlog::drainer {

namespace {

Status ParseRecord(std::string_view payload, uint64_t ts, const std::string& where,
                   pb::Binlog* out) {
  if (!out->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::Corruption(fmt::format("{}: the record at ts {} is not a binlog", where, ts));
  }
  return Status::OK();
}

class LocalReader final : public PumpReader {
 public:
  LocalReader(std::string dir, std::unique_ptr<journal::JournalReader> reader)
      : dir_(std::move(dir)), reader_(std::move(reader)) {}

  Result<bool> Next(pb::Binlog* out, segment::PartTag* part,
                    std::chrono::milliseconds wait) override {
    journal::Record r;
    ASSIGN_OR_RETURN(bool more, reader_->Next(&r, wait));
    if (!more) return false;
    *part = r.part;
    RETURN_IF_ERROR(ParseRecord(r.payload, r.ts, reader_->current_segment(), out));
    return true;
  }
  void Wake() override { reader_->Wake(); }
  std::string Describe() const override { return "dir " + dir_; }

 private:
  std::string dir_;
  std::unique_ptr<journal::JournalReader> reader_;
};

class GrpcReader final : public PumpReader {
 public:
  GrpcReader(std::unique_ptr<pump::PumpClient> client, std::unique_ptr<pump::PullStream> stream)
      : client_(std::move(client)), stream_(std::move(stream)) {}
  ~GrpcReader() override { stream_->Cancel(); }

  // A pull stream has no timeout of its own: it waits for the pump, and Wake cancels it.
  Result<bool> Next(pb::Binlog* out, segment::PartTag* part, std::chrono::milliseconds) override {
    ASSIGN_OR_RETURN(bool more, stream_->Next(out, part));
    if (!more) ended_ = true;
    return more;
  }
  void Wake() override { stream_->Cancel(); }
  bool Ended() const override { return ended_; }
  std::string Describe() const override { return "grpc " + client_->addr(); }

 private:
  std::unique_ptr<pump::PumpClient> client_;
  std::unique_ptr<pump::PullStream> stream_;
  bool ended_ = false;
};

}  // namespace

Result<std::unique_ptr<PumpReader>> OpenLocalReader(Env* env, const std::string& data_dir,
                                                    uint64_t from_ts) {
  const std::string dir = data_dir + "/binlog";
  journal::ReadOptions options;
  options.start_ts = from_ts + 1;
  options.follow = true;
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(env, dir, options));
  return std::unique_ptr<PumpReader>(std::make_unique<LocalReader>(dir, std::move(reader)));
}

Result<std::unique_ptr<PumpReader>> OpenGrpcReader(const std::string& addr, uint64_t from_ts) {
  ASSIGN_OR_RETURN(auto client, pump::PumpClient::Connect(addr));
  ASSIGN_OR_RETURN(auto stream, client->Pull(from_ts));
  return std::unique_ptr<PumpReader>(
      std::make_unique<GrpcReader>(std::move(client), std::move(stream)));
}

bool LocallyReadable(Env* env, const std::string& host, const std::string& data_dir) {
  if (data_dir.empty() || host != registry::ThisHostName()) return false;
  const std::string dir = data_dir + "/binlog";
  return env->FileExists(dir) && access(dir.c_str(), R_OK | X_OK) == 0;
}

}  // namespace binlog::drainer
