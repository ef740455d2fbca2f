#include "syncer/upstream.h"

#include <fmt/format.h>
#include <mariadb_rpl.h>
#include <mysqld_error.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "common/logging.h"
#include "common/text.h"

namespace binlog::syncer {

namespace {

constexpr uint32_t kMariaSlaveCapabilityGtid = 4;

// The rows of a server variable or SHOW query, SQL NULL read as "".
Result<std::vector<std::vector<std::string>>> Select(mysql::Connection* conn,
                                                     std::string_view sql) {
  ASSIGN_OR_RETURN(std::vector<mysql::Row> rows, conn->Query(sql));
  std::vector<std::vector<std::string>> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    for (std::optional<std::string>& v : rows[i]) out[i].push_back(std::move(v).value_or(""));
  }
  return out;
}

// Registering as a replica and dumping the binlog both need REPLICATION SLAVE; the server's
// message is lost on the way (Connector/C reports error 1045 alone), so name the privilege.
Status NeedReplicationSlave(unsigned err, const std::string& user) {
  return Status::InvalidArgument(fmt::format(
      "the upstream refused the binlog dump (error {}): user '{}' needs the REPLICATION SLAVE "
      "privilege: GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '{}'@'<syncer host>'",
      err, user, user));
}

bool IsAccessDenied(unsigned err) {
  return err == ER_ACCESS_DENIED_ERROR || err == ER_SPECIFIC_ACCESS_DENIED_ERROR;
}

}  // namespace

Result<std::unique_ptr<Upstream>> Upstream::Connect(const UpstreamOptions& options) {
  std::unique_ptr<Upstream> up(new Upstream(options));
  mysql::ConnectOptions co;
  co.host = options.host;
  co.port = options.port;
  co.user = options.user;
  co.password = options.password;
  co.connect_timeout_seconds = std::max(1.0, options.connect_timeout_seconds);
  // A dump with heartbeats never stays silent this long unless the connection is dead (a host
  // that vanished sends no FIN).
  co.read_timeout_seconds = std::max(10.0, options.heartbeat_seconds * 4);
  co.write_timeout_seconds = co.read_timeout_seconds;
  // One attempt: the syncer's own loop reconnects, with its backoff and max-retry.
  co.connect_attempts = 1;
  Result<std::unique_ptr<mysql::Connection>> conn = mysql::Connection::Open(co);
  if (!conn.ok()) {
    const Status& s = conn.status();
    if (s.IsInvalidArgument()) {
      return Status::InvalidArgument(
          fmt::format("the upstream: {} (the [from] section of the config)", s.message()));
    }
    return s.WithContext("the upstream");
  }
  up->conn_ = std::move(*conn);
  RETURN_IF_ERROR(up->CheckServer());
  return up;
}

void Upstream::CloseRpl::operator()(MARIADB_RPL* r) const { mariadb_rpl_close(r); }
void Upstream::FreeEvent::operator()(MARIADB_RPL_EVENT* e) const { mariadb_free_rpl_event(e); }

Status Upstream::CheckServer() {
  ASSIGN_OR_RETURN(auto rows, Select(conn_.get(),
                                     "SELECT @@version, @@server_id, @@global.log_bin, "
                                     "@@global.binlog_format, @@global.binlog_row_image, "
                                     "@@global.binlog_checksum"));
  if (rows.empty() || rows[0].size() < 6) return Status::IOError("no answer to SELECT @@version");
  const auto& r = rows[0];
  info_.version = r[0];
  info_.mariadb = r[0].find("MariaDB") != std::string::npos;
  info_.server_id = static_cast<uint32_t>(std::stoul(r[1].empty() ? "0" : r[1]));
  info_.checksum = r[5] == "CRC32";
  auto refuse = [&](std::string_view variable, std::string_view value, std::string_view want) {
    return Status::InvalidArgument(fmt::format(
        "the upstream {}:{} has {} = {}; the syncer needs {}: run SET GLOBAL {} = {} there (and "
        "set it in the server's config file; sessions already open keep their old value)",
        options_.host, options_.port, variable, value, want, variable, want));
  };
  if (r[2] != "1" && r[2] != "ON") {
    return Status::InvalidArgument(fmt::format(
        "the upstream {}:{} does not write a binary log (log_bin = OFF): start it with --log-bin "
        "and binlog_format = ROW",
        options_.host, options_.port));
  }
  if (r[3] != "ROW") return refuse("binlog_format", r[3], "ROW");
  if (r[4] != "FULL") return refuse("binlog_row_image", r[4], "FULL");
  Result<std::vector<std::vector<std::string>>> meta =
      Select(conn_.get(), "SELECT @@global.binlog_row_metadata");
  if (!meta.ok()) {
    if (meta.status().IsIOError()) return meta.status();
    return Status::InvalidArgument(fmt::format(
        "the upstream {} has no binlog_row_metadata (MariaDB 10.5 or MySQL 8.0.1 and later "
        "have it): without column names in the binlog the syncer cannot decode rows",
        info_.version));
  }
  std::string row_metadata = meta->empty() || meta->at(0).empty() ? "" : meta->at(0)[0];
  if (row_metadata != "FULL") return refuse("binlog_row_metadata", row_metadata, "FULL");
  if (info_.mariadb) RETURN_IF_ERROR(CheckOldTemporals());
  if (info_.server_id == options_.server_id) {
    return Status::InvalidArgument(fmt::format(
        "server-id {} is the upstream's own server_id: give the syncer a server-id no other "
        "server or replica of this upstream uses",
        options_.server_id));
  }
  if (!info_.mariadb && options_.flavor == "mariadb") {
    LOG_WARN("flavor = mariadb but the upstream is not MariaDB: using the MySQL protocol",
             KV("version", info_.version));
  } else if (info_.mariadb && options_.flavor == "mysql") {
    LOG_INFO(
        "the upstream is MariaDB: using MariaDB's replication protocol (flavor = mysql in "
        "the config is overridden)",
        KV("version", info_.version));
  }
  return Status::OK();
}

// MariaDB 5.3's TIME/DATETIME/TIMESTAMP with fractional seconds (tables made with
// mysql56_temporal_format=OFF) are logged without their precision, so their values cannot be
// read from the binlog alone. New ones are prevented here; existing ones cannot be listed
// safely (an information_schema.COLUMNS scan crashed MariaDB 10.11.19 in
// create_tmp_table_for_schema under the tests' load), so a row of such a table fails to decode
// with a hint instead (rows_event.cc).
Status Upstream::CheckOldTemporals() {
  ASSIGN_OR_RETURN(auto format, Select(conn_.get(), "SELECT @@global.mysql56_temporal_format"));
  if (!format.empty() && !format[0].empty() && format[0][0] != "1" && format[0][0] != "ON") {
    return Status::InvalidArgument(fmt::format(
        "the upstream {}:{} has mysql56_temporal_format = OFF: new TIME/DATETIME/TIMESTAMP "
        "columns with fractional seconds would be logged without their precision; run SET "
        "GLOBAL mysql56_temporal_format = ON there (and set it in the server's config)",
        options_.host, options_.port));
  }
  return Status::OK();
}

Result<std::vector<BinaryLog>> Upstream::ListBinaryLogs() {
  ASSIGN_OR_RETURN(auto rows, Select(conn_.get(), "SHOW BINARY LOGS"));
  std::vector<BinaryLog> out;
  for (const auto& row : rows) {
    if (row.size() < 2) continue;
    out.push_back(BinaryLog{row[0], std::stoull(row[1].empty() ? "0" : row[1])});
  }
  return out;
}

Result<BinlogPosition> Upstream::CurrentPosition() {
  ASSIGN_OR_RETURN(auto rows, Select(conn_.get(), "SHOW MASTER STATUS"));
  if (rows.empty() || rows[0].size() < 2) {
    return Status::InvalidArgument("SHOW MASTER STATUS returned nothing (binary log off?)");
  }
  BinlogPosition p;
  p.name = rows[0][0];
  p.pos = std::stoull(rows[0][1]);
  if (info_.mariadb) {
    ASSIGN_OR_RETURN(auto gtid, Select(conn_.get(), "SELECT @@global.gtid_binlog_pos"));
    if (!gtid.empty() && !gtid[0].empty()) p.gtid = gtid[0][0];
  }
  return p;
}

Status Upstream::StartDump(const BinlogPosition& from) {
  RETURN_IF_ERROR(conn_->Execute("SET @master_binlog_checksum = @@global.binlog_checksum"));
  RETURN_IF_ERROR(
      conn_->Execute(fmt::format("SET @master_heartbeat_period = {}",
                                 static_cast<uint64_t>(options_.heartbeat_seconds * 1e9))));
  if (info_.mariadb) {
    // Without it the server rewrites GTID events into BEGIN queries and drops GTID lists.
    RETURN_IF_ERROR(conn_->Execute(
        fmt::format("SET @mariadb_slave_capability = {}", kMariaSlaveCapabilityGtid)));
  }
  if (from.name.empty()) {
    if (!info_.mariadb) {
      return Status::InvalidArgument(
          "a start from a GTID alone needs a MariaDB upstream; give syncer.meta a binlog-name and "
          "binlog-pos");
    }
    RETURN_IF_ERROR(
        conn_->Execute(fmt::format("SET @slave_connect_state = '{}'", conn_->Escape(from.gtid))));
    RETURN_IF_ERROR(conn_->Execute("SET @slave_gtid_strict_mode = 0"));
    RETURN_IF_ERROR(conn_->Execute("SET @slave_gtid_ignore_duplicates = 0"));
  } else {
    // Checked here to name the oldest file the server still has; the dump would only say
    // "could not find first log file".
    Result<std::vector<BinaryLog>> logs = ListBinaryLogs();
    if (logs.ok() && !logs->empty()) {
      bool found = std::any_of(logs->begin(), logs->end(),
                               [&](const BinaryLog& l) { return l.name == from.name; });
      if (!found) {
        return Status::NotFound(fmt::format(
            "the start position {} is gone from the upstream: it has {} .. {} (the oldest file "
            "is {}; was {} purged?). Start again from a new full backup (-meta-from) or accept "
            "the gap by setting syncer.meta to {}:4",
            from.ToString(), logs->front().name, logs->back().name, logs->front().name, from.name,
            logs->front().name));
      }
    } else if (!logs.ok()) {
      LOG_WARN(
          "cannot list the upstream's binary logs (needs BINLOG MONITOR / REPLICATION "
          "CLIENT): a purged start position will be reported only by the server",
          KV("error", logs.status()));
    }
  }
  rpl_.reset(mariadb_rpl_init(conn_->handle()));
  if (rpl_ == nullptr) return conn_->Error("mariadb_rpl_init");
  start_file_ = from.name;
  uint32_t server_id = options_.server_id;
  unsigned long start = from.name.empty() ? 4 : static_cast<unsigned long>(from.pos);
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_FILENAME, start_file_.c_str(), start_file_.size());
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_START, start);
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_SERVER_ID, server_id);
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_FLAGS, 0);
  // Registering makes the syncer visible in the upstream's SHOW SLAVE HOSTS.
  char host[256] = "syncer";
  gethostname(host, sizeof(host) - 1);
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_HOST, host);
  mariadb_rpl_optionsv(rpl_.get(), MARIADB_RPL_PORT, 0);
  if (mariadb_rpl_open(rpl_.get()) != 0) {
    Status s = conn_->Error(fmt::format("start the binlog dump at {}", from.ToString()));
    if (IsAccessDenied(conn_->last_errno())) {
      return NeedReplicationSlave(conn_->last_errno(), options_.user);
    }
    // No error number: Connector/C gave up on the connection without saying why.
    if (conn_->last_errno() == 0) return Status::IOError(s.message());
    return s;
  }
  return Status::OK();
}

Result<std::string_view> Upstream::Fetch() {
  MARIADB_RPL_EVENT* ev = mariadb_rpl_fetch(rpl_.get(), event_.get());
  if (ev == nullptr) {
    (void)event_.release();  // a failed fetch frees the event it was given
    unsigned err = mysql_errno(conn_->handle());
    std::string msg =
        Printable(err != 0 ? mysql_error(conn_->handle()) : mariadb_rpl_error(rpl_.get()), 1024);
    if (interrupted_) return Status::IOError("the binlog stream was interrupted (stopping)");
    if (IsAccessDenied(err)) return NeedReplicationSlave(err, options_.user);
    if (err == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
      std::string where = start_file_.empty() ? "the GTID start" : start_file_;
      bool gone = msg.find("first log file") != std::string::npos ||
                  msg.find("purged") != std::string::npos ||
                  msg.find("not find") != std::string::npos;
      if (gone) {
        return Status::NotFound(fmt::format(
            "the upstream cannot serve the binlog from {}: {} (error {})", where, msg, err));
      }
      return Status::InvalidArgument(
          fmt::format("the upstream stopped the binlog dump: {} (error {})", msg, err));
    }
    if (err == 0 && msg.empty()) msg = "end of stream";
    return Status::IOError(fmt::format("reading the binlog stream: {} (error {})", msg, err));
  }
  if (ev != event_.get()) {
    (void)event_.release();  // only when there was none: the fetch reuses the one it is given
    event_.reset(ev);
  }
  if (ev->raw_data_ofs > ev->raw_data_size) return Status::Corruption("empty binlog packet");
  return std::string_view(reinterpret_cast<const char*>(ev->raw_data) + ev->raw_data_ofs,
                          ev->raw_data_size - ev->raw_data_ofs);
}

void Upstream::Interrupt() {
  interrupted_ = true;
  if (conn_ != nullptr) {
    my_socket fd = mysql_get_socket(conn_->handle());
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace binlog::syncer
