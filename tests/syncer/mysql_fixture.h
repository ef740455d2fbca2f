// The syncer replicating into a second MariaDB ([to] with a host): a seed-style config for the
// two servers, a workload whose double application shows, and checks that both servers hold
// the same rows and that syncer.meta and the downstream agree on the position.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "common/status.h"
#include "syncer/meta.h"
#include "testutil/mariadb_server.h"

namespace binlog::syncer::testing {

using binlog::testing::MariaDBServer;

// TiDB-Binlog's syncer.toml as the seeds show it (worker-count, batch, flavor "mysql",
// max-retry ...), with [from] and [to] (host, user, password, port; no type) naming the two
// servers and the meta in dir. `extra` lines go before the tables: status-addr is "" and the
// heartbeat short unless they say otherwise.
std::string SeedStyleConfig(MariaDBServer* up, MariaDBServer* down, const std::string& dir,
                            uint32_t server_id, const std::string& extra = "");
// Transactions on the upstream, each a mix that shows a double application downstream:
// <db>.keyed (id primary key: inserted, updated, deleted), <db>.loose (no primary key: rows
// applied twice are there twice) and <db>.counter (one row, n = n + 1 every third transaction);
// every 20th transaction is a DDL (a new table) followed by an insert into it.
class ApplyWorkload {
 public:
  ApplyWorkload(MariaDBServer* server, std::string db);
  ~ApplyWorkload() { Stop().IgnoreError(); }
  // Drops and creates the database and its tables (on the upstream: the DDL replicates).
  Status CreateTables();
  // Runs transaction number transactions() on the root connection kept by the server object.
  Status RunOne();
  // Runs transactions on a connection of its own until Stop, `pause_ms` at most between two.
  void Start(int pause_ms = 4);
  Status Stop();
  int transactions() const { return txns_.load(); }
  const std::string& db() const { return db_; }

 private:
  std::string Transaction(int i) const;

  MariaDBServer* server_;
  std::string db_;
  std::atomic<bool> stop_{false};
  std::atomic<int> txns_{0};
  Status status_;
  std::thread thread_;
};

// Every table of db on the upstream exists downstream with the same rows (compared as sorted
// text, so a table without a primary key compares too), and there are no others.
void ExpectSameDatabase(MariaDBServer* up, MariaDBServer* down, const std::string& db);

// tidb_binlog.syncer_position's row for server_id.
Result<BinlogPosition> DownstreamPosition(MariaDBServer* down, uint32_t server_id);

// syncer.meta at meta_path and the downstream's position are both `end` (file and pos), with the
// same GTID.
void ExpectPositionsAt(MariaDBServer* down, uint32_t server_id, const std::string& meta_path,
                       const BinlogPosition& end);

}  // namespace binlog::syncer::testing
