#include "syncer/pump_fixture.h"

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

pid_t SpawnTool(const std::vector<std::string>& args, const std::string& log) {
  return binlog::testing::SpawnLogged(args, log, /*append=*/true);
}

}  // namespace binlog::syncer::testing
