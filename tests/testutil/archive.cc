#include "testutil/archive.h"

#include <chrono>
#include <thread>

#include "common/env.h"
#include "syncer/syncer.h"

namespace binlog::testing {

Result<syncer::BinlogPosition> EndOfServerBinlog(MariaDBServer* server) {
  ASSIGN_OR_RETURN(auto rows, server->Query("SHOW MASTER STATUS"));
  if (rows.empty() || !rows[0][0] || !rows[0][1]) {
    return Status::IOError("SHOW MASTER STATUS answered nothing: is log_bin on?");
  }
  syncer::BinlogPosition p;
  p.name = *rows[0][0];
  p.pos = std::stoull(*rows[0][1]);
  return p;
}

syncer::SyncerConfig TestSyncerConfig(MariaDBServer* server, const std::string& meta,
                                      const std::string& journal_dir) {
  syncer::SyncerConfig c;
  c.from.host = server->host();
  c.from.port = server->port();
  c.from.user = MariaDBServer::kReplUser;
  c.from.password = MariaDBServer::kReplPassword;
  c.flavor = "mariadb";
  c.meta = meta;
  c.to.dir = journal_dir;
  c.status_addr = "";
  c.heartbeat_interval_seconds = 0.2;
  c.max_retry = 5;
  return c;
}

Status ArchiveUntilNow(MariaDBServer* server, const syncer::BinlogPosition& from,
                       const std::string& dir, double timeout_seconds) {
  ASSIGN_OR_RETURN(syncer::BinlogPosition end, EndOfServerBinlog(server));
  const syncer::SyncerConfig c = TestSyncerConfig(server, dir + ".meta", dir);
  if (!Env::Posix()->FileExists(c.meta)) {
    RETURN_IF_ERROR(syncer::SaveMeta(Env::Posix(), c.meta, from));
  }
  ASSIGN_OR_RETURN(auto s, syncer::Syncer::Open(c));
  Status result;
  std::thread runner([&] { result = s->Run(); });
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  bool caught_up = false;
  while (std::chrono::steady_clock::now() < deadline) {
    syncer::SyncerStats st = s->Stats();
    if (st.position.name == end.name && st.position.pos >= end.pos) {
      caught_up = true;
      break;
    }
    if (st.state == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  s->Stop();
  runner.join();
  RETURN_IF_ERROR(result);
  if (!caught_up) return Status::TimedOut("the syncer did not catch up with the server");
  return Status::OK();
}

}  // namespace binlog::testing
