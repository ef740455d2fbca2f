// The replica connection to the upstream MariaDB/MySQL server, through Connector/C's
// replication API (mariadb_rpl.h): it connects, checks that the server writes a binlog the
// syncer can read, registers as a replica and streams raw events. Decoding is the decoder's.
//
// Errors: IOError for anything a reconnect may cure (network, server restarting),
// InvalidArgument for what needs an operator (server settings, privileges, server-id clash),
// NotFound for a start position the server no longer has.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"
#include "syncer/meta.h"

typedef struct st_mariadb_rpl MARIADB_RPL;
typedef struct st_mariadb_rpl_event MARIADB_RPL_EVENT;

namespace binlog::syncer {

struct UpstreamOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "root";
  std::string password;
  uint32_t server_id = 101;        // ours, as a replica: must differ from every other server's
  std::string flavor = "mariadb";  // mysql | mariadb (the server's own answer wins)
  double heartbeat_seconds = 3;    // MASTER_HEARTBEAT_PERIOD asked of the server
  double connect_timeout_seconds = 10;
};

struct UpstreamInfo {
  std::string version;  // @@version
  bool mariadb = false;
  uint32_t server_id = 0;
  bool checksum = false;  // binlog_checksum = CRC32
};

struct BinaryLog {
  std::string name;
  uint64_t size = 0;
};

class Upstream {
 public:
  // Connects and checks the server: binary logging on, binlog_format ROW, binlog_row_image
  // FULL, binlog_row_metadata FULL (each refusal names the variable and the SET GLOBAL to run),
  // and a server id other than ours.
  static Result<std::unique_ptr<Upstream>> Connect(const UpstreamOptions& options);
  ~Upstream() = default;
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const UpstreamInfo& info() const { return info_; }

  // SHOW BINARY LOGS (needs BINLOG MONITOR, formerly REPLICATION CLIENT).
  Result<std::vector<BinaryLog>> ListBinaryLogs();
  // SHOW MASTER STATUS: where the server is writing now.
  Result<BinlogPosition> CurrentPosition();

  // Starts the binlog dump at `from`: file and position, or, with no file, the GTID state. A
  // file the server no longer has is NotFound naming the oldest one it has.
  Status StartDump(const BinlogPosition& from);
  // The next event, as sent after the packet's status byte; valid until the next call.
  Result<std::string_view> Fetch();

  // Makes a blocked Fetch return (an IOError) from another thread.
  void Interrupt();

 private:
  explicit Upstream(const UpstreamOptions& options) : options_(options) {}
  Status CheckServer();
  Status CheckOldTemporals();

  struct CloseRpl {
    void operator()(MARIADB_RPL* r) const;
  };
  struct FreeEvent {
    void operator()(MARIADB_RPL_EVENT* e) const;
  };

  UpstreamOptions options_;
  UpstreamInfo info_;
  // Declared in the order they depend on each other: destroyed event, dump, connection.
  std::unique_ptr<mysql::Connection> conn_;
  std::unique_ptr<MARIADB_RPL, CloseRpl> rpl_;
  std::unique_ptr<MARIADB_RPL_EVENT, FreeEvent> event_;
  std::string start_file_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace binlog::syncer
