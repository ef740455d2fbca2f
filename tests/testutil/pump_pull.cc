#include "testutil/pump_pull.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "pump_client/pump_client.h"

namespace binlog::testing {

Result<std::vector<pb::Binlog>> PullUntil(const std::string& addr, uint64_t until_ts,
                                          double timeout_seconds) {
  ASSIGN_OR_RETURN(auto client, pump::PumpClient::Connect(addr));
  ASSIGN_OR_RETURN(auto stream, client->Pull(0));
  std::vector<pb::Binlog> out;
  // A watchdog cancels the stream at the timeout (Next blocks on the tail).
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
    while (!done && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!done) stream->Cancel();
  });
  Status status;
  while (true) {
    pb::Binlog b;
    Result<bool> more = stream->Next(&b);
    if (!more.ok() || !*more) {
      status = more.ok()
                   ? Status::TimedOut(fmt::format(
                         "pump {} served no record at or above ts {} in time", addr, until_ts))
                   : more.status();
      break;
    }
    out.push_back(b);
    if (static_cast<uint64_t>(b.commit_ts()) >= until_ts) break;
  }
  done = true;
  watchdog.join();
  if (!status.ok()) return status;
  return out;
}

std::vector<uint64_t> CommitTsOf(const std::vector<pb::Binlog>& binlogs) {
  std::vector<uint64_t> out;
  for (const pb::Binlog& b : binlogs) {
    if (b.tp() == pb::COMMIT) out.push_back(static_cast<uint64_t>(b.commit_ts()));
  }
  return out;
}

}  // namespace binlog::testing
