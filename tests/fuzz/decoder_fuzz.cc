// libFuzzer target for the syncer's event decoder (StreamDecoder and the parsers under it:
// format description, rotate, GTID, query, table map and its optional metadata, row events and
// every column type): any replication stream must give items or a Status, never a crash, a
// hang, a leak or undefined behaviour. Run it with scripts/fuzz.sh.
//
// An input is a sequence of events (decoder_input.h), so a mutated row event meets the format
// description and table map that came before it. The seeds are real MariaDB events
// (testdata/fuzz/decoder/, made by tests/syncer/decoder_corpus_test.cc).
//
// Beyond not crashing, what the decoder hands on must hold: every record parses as the
// pb::Binlog it claims to be, in exactly the bytes protobuf itself writes, and commit ts only
// grow, except across the parts of one transaction (cut small here, so that the seeds' bigger
// transactions are cut, also inside row events), which share theirs and come in order. The
// stream stops at the first error, as the syncer's read loop does.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "binlog.pb.h"
#include "common/logging.h"
#include "fuzz/decoder_input.h"
#include "syncer/decoder.h"

namespace binlog::syncer {
namespace {

constexpr size_t kPartBytes = 512;

struct Order {
  uint64_t last_ts = 0;
  uint32_t next_part = 0;  // of the transaction in parts under way; 0 when none
};

void Check(const StreamItem& item, Order* order) {
  if (item.kind == StreamItem::kPosition) return;
  std::string_view payload = item.payload();
  pb::Binlog b;
  if (!b.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) __builtin_trap();
  if (b.SerializeAsString() != payload) __builtin_trap();
  if (static_cast<uint64_t>(b.commit_ts()) != item.commit_ts) __builtin_trap();
  if (segment::PartIndex(item.part) != order->next_part) __builtin_trap();
  if (order->next_part > 0 ? item.commit_ts != order->last_ts : item.commit_ts <= order->last_ts) {
    __builtin_trap();
  }
  order->last_ts = item.commit_ts;
  order->next_part = segment::IsLastPart(item.part) ? 0 : order->next_part + 1;
}

void Decode(std::string_view data) {
  fuzz::DecoderInput in = fuzz::SplitDecoderInput(data);
  StreamDecoder decoder(BinlogPosition{"mariadb-bin.000001", 4, ""}, in.checksum, 0, 1,
                        /*clock_heartbeats=*/true, kPartBytes);
  std::vector<StreamItem> items;
  Order order;
  for (const std::string& ev : in.events) {
    items.clear();
    Status s = decoder.Feed(ev, 1700000000000, &items);
    for (const StreamItem& item : items) Check(item, &order);
    if (!s.ok()) break;
  }
}

}  // namespace
}  // namespace binlog::syncer

// The decoder warns on some streams (a ROLLBACK after non-transactional changes): quiet, or the
// fuzzer spends its time writing them.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  binlog::LogOptions options;
  options.level = "error";
  if (!binlog::InitLogging(options).ok()) __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  binlog::syncer::Decode(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
