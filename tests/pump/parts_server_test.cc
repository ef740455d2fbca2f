// Transactions in parts through the gRPC service: written on a stream and in WriteBinlogs calls
// with their tags, served by PullBinlogs with the same tags and in the same order as binlog/
// holds them, one part per entity and responses of bounded size.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <vector>

#include "pump/parts_test_util.h"
#include "pump/server_test_util.h"
#include "pump_client/pump_client.h"
#include "segment/format.h"

namespace binlog::pump {
namespace {

using segment::MakePartTag;
using testing::BigPart;
using testing::Commit;
using testing::Prewrite;
using testing::PumpServerTest;

constexpr int kRows = 2400;  // ~512 KiB a part

struct Served {
  uint64_t ts;
  uint32_t part;
  std::string payload;
  bool operator==(const Served&) const = default;
};

TEST_F(PumpServerTest, PullBinlogsServesThePartsAsBinlogHoldsThem) {
  config_.max_message_size = 1 << 20;
  StartServer();
  ASSERT_OK_AND_ASSIGN(auto client, PumpClient::Connect(server_->grpc_addr()));
  // A prewrite in 6 parts on the client's stream, one small transaction in between; a one-shot
  // commit in 4 parts in two WriteBinlogs calls.
  const uint64_t start = tso_.Next();
  for (uint32_t i = 0; i < 6; ++i) {
    ASSERT_OK(client->WriteBinlog(BigPart(pb::PREWRITE, start, 0, int64_t{i} * kRows, kRows),
                                  MakePartTag(i, i == 5)));
    if (i == 2) {
      uint64_t s = tso_.Next();
      ASSERT_OK(client->WriteBinlog(Prewrite(s)));
      ASSERT_OK(client->WriteBinlog(Commit(s, tso_.Next())));
    }
  }
  const uint64_t commit = tso_.Next();
  ASSERT_OK(client->WriteBinlog(Commit(start, commit)));
  const uint64_t one_shot = tso_.Next();
  for (uint32_t i = 0; i < 4; i += 2) {
    std::vector<std::string> payloads;
    for (uint32_t j = i; j < i + 2; ++j) {
      pb::Binlog b = BigPart(pb::COMMIT, one_shot, one_shot, int64_t{j} * kRows, kRows);
      b.mutable_source()->set_server_id(3);
      payloads.push_back(b.SerializeAsString());
    }
    ASSERT_OK(client->WritePayloads(std::move(payloads),
                                    {MakePartTag(i, false), MakePartTag(i + 1, i + 2 == 4)}));
  }
  // Tags that do not match the payloads refuse the call, nothing stored.
  pb::WriteBinlogsReq bad;
  bad.add_payloads(Prewrite(tso_.Next()).SerializeAsString());
  bad.add_parts(0);
  bad.add_parts(0);
  grpc::ClientContext ctx;
  pb::WriteBinlogResp resp;
  ASSERT_TRUE(stub_->WriteBinlogs(&ctx, bad, &resp).ok());
  EXPECT_EQ(resp.errcode(), "invalid");

  ASSERT_TRUE(testing::WaitFor([&] { return server_->pump()->Stats().emitted_ts >= one_shot; }));
  std::vector<Served> on_disk;
  {
    ASSERT_OK_AND_ASSIGN(
        auto reader, journal::JournalReader::Open(Env::Posix(), config_.data_dir + "/binlog", {}));
    journal::Record r;
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r));
      if (!more) break;
      on_disk.push_back(Served{r.ts, r.part, std::string(r.payload)});
    }
  }
  ASSERT_EQ(on_disk.size(), 1u + 6 + 4);

  // The client's pull (256 entities a response at most), with tags.
  ASSERT_OK_AND_ASSIGN(auto stream, client->Pull(0));
  std::vector<Served> pulled;
  while (pulled.size() < on_disk.size()) {
    pb::Binlog b;
    uint32_t part = 7;
    ASSERT_OK_AND_ASSIGN(bool more, stream->Next(&b, &part));
    ASSERT_TRUE(more);
    pulled.push_back(Served{static_cast<uint64_t>(b.commit_ts()), part, b.SerializeAsString()});
  }
  stream->Cancel();
  EXPECT_TRUE(pulled == on_disk) << "PullBinlogs serves what binlog/ holds";

  // The raw stream: one part per entity, and a response never carries more than about 1 MiB
  // of binlogs plus one part.
  grpc::ClientContext pull_ctx;
  pb::PullBinlogReq req;
  req.set_max_batch(4096);
  auto reader = stub_->PullBinlogs(&pull_ctx, req);
  pb::PullBinlogResp r;
  size_t entities = 0;
  while (entities < on_disk.size() && reader->Read(&r)) {
    size_t bytes = 0;
    for (const pb::Entity& e : r.entities()) {
      EXPECT_EQ(e.part(), on_disk[entities].part);
      EXPECT_EQ(e.payload(), on_disk[entities].payload);
      bytes += e.payload().size();
      ++entities;
    }
    EXPECT_LE(bytes, (1u << 20) + on_disk[1].payload.size() + 4096);
  }
  pull_ctx.TryCancel();
  reader->Finish().ok();
  EXPECT_EQ(entities, on_disk.size());
}

}  // namespace
}  // namespace binlog::pump
