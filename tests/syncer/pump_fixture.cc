#include "syncer/pump_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pump_client/pump_client.h"
#include "testutil/testutil.h"

namespace binlog::syncer::testing {

Result<std::unique_ptr<pump::PumpServer>> StartPump(const std::string& dir, Env* env,
                                                    double gen_binlog_interval_seconds) {
  pump::PumpConfig c;
  c.addr = "127.0.0.1:0";
  c.advertise_addr = "127.0.0.1:0";
  c.status_addr = "127.0.0.1:0";
  c.data_dir = dir + "/pump";
  c.registry_dir = dir + "/registry";
  c.node_id = "pump-syncer-test";
  c.heartbeat_interval_seconds = 0.2;
  c.gen_binlog_interval_seconds = gen_binlog_interval_seconds;
  c.stop_write_at_available_space = 0;  // tests must not depend on the disk's free space
  c.max_file_size = 256 << 10;
  pump::PumpServerOptions o;
  o.env = env;
  return pump::PumpServer::Start(c, o);
}

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

pid_t SpawnTool(const std::vector<std::string>& args, const std::string& log) {
  return binlog::testing::SpawnLogged(args, log, /*append=*/true);
}

}  // namespace binlog::syncer::testing
