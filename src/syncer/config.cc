// syncer.toml: keys, defaults and validation.
#include "syncer/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/config.h"
#include "common/logging.h"
#include "journal/journal.h"
#include "mysql/mysql.h"
#include "server/server.h"

namespace binlog::syncer {

namespace {

Status ReadFile(ConfigFile* f, SyncerConfig* c) {
  const std::string& file = f->origin();
  ASSIGN_OR_RETURN(c->log_level, f->GetString("log-level", c->log_level));
  ASSIGN_OR_RETURN(c->log_file, f->GetString("log-file", c->log_file));
  ASSIGN_OR_RETURN(c->log_rotate, f->GetString("log-rotate", c->log_rotate));
  ASSIGN_OR_RETURN(int64_t server_id, f->GetInt("server-id", c->server_id));
  if (server_id < 1 || server_id > UINT32_MAX) {
    return BadConfigValue(file, "server-id", "a replica server id from 1 to 4294967295",
               std::to_string(server_id));
  }
  c->server_id = static_cast<uint32_t>(server_id);
  ASSIGN_OR_RETURN(c->meta, f->GetString("meta", c->meta));
  if (c->meta.empty()) return BadConfigValue(file, "meta", "the path of the position file", "");
  ASSIGN_OR_RETURN(int64_t workers, f->GetInt("worker-count", c->worker_count));
  if (workers < 1 || workers > 1024) {
    return BadConfigValue(file, "worker-count", "a number from 1 to 1024", std::to_string(workers));
  }
  c->worker_count = static_cast<int>(workers);
  ASSIGN_OR_RETURN(int64_t batch, f->GetInt("batch", c->batch));
  if (batch < 1 || batch > 100000) {
    return BadConfigValue(file, "batch", "a number of transactions from 1 to 100000", std::to_string(batch));
  }
  c->batch = static_cast<int>(batch);
  ASSIGN_OR_RETURN(c->flavor, f->GetString("flavor", c->flavor));
  if (c->flavor != "mysql" && c->flavor != "mariadb") {
    return BadConfigValue(file, "flavor", "\"mysql\" or \"mariadb\"", c->flavor);
  }
  ASSIGN_OR_RETURN(c->status_addr, f->GetString("status-addr", c->status_addr));
  ASSIGN_OR_RETURN(c->stop_on_ddl, f->GetBool("stop-on-ddl", c->stop_on_ddl));
  ASSIGN_OR_RETURN(int64_t retry, f->GetInt("max-retry", c->max_retry));
  if (retry < 0 || retry > 1000000) {
    return BadConfigValue(file, "max-retry", "a number of retries from 0 to 1000000", std::to_string(retry));
  }
  c->max_retry = static_cast<int>(retry);
  ASSIGN_OR_RETURN(c->heartbeat_interval_seconds,
                   f->GetDuration("heartbeat-interval", c->heartbeat_interval_seconds, 1));
  if (c->heartbeat_interval_seconds < 0.01 || c->heartbeat_interval_seconds > 4000) {
    return BadConfigValue(file, "heartbeat-interval", "seconds from 0.01 to 4000 (or a duration \"3s\")",
               std::to_string(c->heartbeat_interval_seconds));
  }

  ASSIGN_OR_RETURN(c->from.host, f->GetString("from.host", c->from.host));
  ASSIGN_OR_RETURN(int64_t port, f->GetInt("from.port", c->from.port));
  if (port < 1 || port > 65535) {
    return BadConfigValue(file, "from.port", "a TCP port from 1 to 65535", std::to_string(port));
  }
  c->from.port = static_cast<int>(port);
  ASSIGN_OR_RETURN(c->from.user, f->GetString("from.user", c->from.user));
  ASSIGN_OR_RETURN(c->from.password, f->GetString("from.password", c->from.password));

  ASSIGN_OR_RETURN(c->safe_mode, f->GetBool("safe-mode", c->safe_mode));
  ASSIGN_OR_RETURN(c->to.type, f->GetString("to.type", c->to.type));
  RETURN_IF_ERROR(mysql::ReadConnectOptions(f, "to", &c->to.mysql));
  if (f->Has("to.host")) {
    if (!f->Has("to.type")) c->to.type = "mysql";
    if (c->to.type != "mysql") {
      return BadConfigValue(file, "to.host",
                 fmt::format("no host with type = \"{}\" (a host names the downstream of type = "
                             "\"mysql\")",
                             c->to.type),
                 c->to.mysql.host);
    }
  }
  ASSIGN_OR_RETURN(c->to.dir, f->GetString("to.dir", c->to.dir));
  ASSIGN_OR_RETURN(c->to.max_file_size, f->GetSize("to.max-file-size", c->to.max_file_size));
  if (c->to.max_file_size < journal::kMinMaxFileSize) {
    return BadConfigValue(file, "to.max-file-size", "a size of at least 4 KiB",
               std::to_string(c->to.max_file_size));
  }
  // A list, or TiDB-Binlog's comma-separated string.
  if (f->Has("to.pump-addrs")) {
    Result<std::vector<std::string>> list = f->GetStringList("to.pump-addrs");
    if (list.ok()) {
      c->to.pump_addrs = *list;
    } else {
      ASSIGN_OR_RETURN(std::string addrs, f->GetString("to.pump-addrs", ""));
      for (size_t at = 0; at <= addrs.size();) {
        size_t comma = addrs.find(',', at);
        std::string one = addrs.substr(at, comma == std::string::npos ? comma : comma - at);
        if (!one.empty()) c->to.pump_addrs.push_back(one);
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    }
  }
  c->unknown_keys = f->UnknownKeys();
  return f->CheckMostlyKnown("syncer");
}

Status Validate(const SyncerConfig& c, const std::string& where) {
  if (!ParseLogLevel(c.log_level).ok()) {
    return BadConfigValue(where, "log-level", "debug, info, warn, error or fatal", c.log_level);
  }
  if (c.log_rotate != "day" && c.log_rotate != "hour" && c.log_rotate != "none") {
    return BadConfigValue(where, "log-rotate", "day, hour or none", c.log_rotate);
  }
  if (!c.status_addr.empty()) {
    if (!server::SplitHostPort(c.status_addr).ok()) {
      return BadConfigValue(where, "status-addr", "host:port or :port (e.g. \":8271\"), or \"\" for none",
                 c.status_addr);
    }
  }
  if (c.to.type == "journal") {
    if (c.to.dir.empty()) return BadConfigValue(where, "to.dir", "the journal directory", "");
  } else if (c.to.type == "pump") {
    if (c.to.pump_addrs.empty()) {
      return BadConfigValue(where, "to.pump-addrs", "the pumps' host:port list for type = \"pump\"", "");
    }
  } else if (c.to.type != "mysql") {
    return BadConfigValue(where, "to.type", "\"journal\", \"pump\" or \"mysql\"", c.to.type);
  }
  return Status::OK();
}

}  // namespace

Result<SyncerConfig> ParseSyncerConfig(std::string_view text, const std::string& origin) {
  ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Parse(text, origin));
  SyncerConfig c;
  c.config_file = origin;
  RETURN_IF_ERROR(ReadFile(&file, &c));
  RETURN_IF_ERROR(Validate(c, origin));
  return c;
}

Result<SyncerConfig> LoadSyncerConfig(const SyncerFlags& flags) {
  SyncerConfig c;
  if (flags.config) {
    ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Load(*flags.config));
    c.config_file = *flags.config;
    RETURN_IF_ERROR(ReadFile(&file, &c));
  }
  if (flags.meta_from) c.meta_from = *flags.meta_from;
  if (flags.meta) c.meta = *flags.meta;
  if (flags.status_addr) c.status_addr = *flags.status_addr;
  if (flags.log_level) c.log_level = *flags.log_level;
  if (flags.log_file) c.log_file = *flags.log_file;
  std::string where = c.config_file.empty() ? "the defaults and flags" : c.config_file;
  RETURN_IF_ERROR(Validate(c, where + " (or its flag)"));
  return c;
}

void LogSyncerConfig(const SyncerConfig& c) {
  LOG_INFO(
      "syncer config", KV("config", c.config_file.empty() ? "(none)" : c.config_file),
      KV("server-id", c.server_id), KV("meta", c.meta), KV("batch", c.batch),
      KV("flavor", c.flavor), KV("status-addr", c.status_addr), KV("stop-on-ddl", c.stop_on_ddl),
      KV("max-retry", c.max_retry), KV("heartbeat-interval", c.heartbeat_interval_seconds),
      KV("from", fmt::format("{}@{}:{}", c.from.user, c.from.host, c.from.port)),
      KV("to.type", c.to.type),
      KV("to", c.to.type == "mysql" ? fmt::format("{}@{}:{}", c.to.mysql.user, c.to.mysql.host,
                                                  c.to.mysql.port)
                                    : c.to.type == "pump" ? fmt::format("{}", fmt::join(c.to.pump_addrs, ","))
                                                          : c.to.dir),
      KV("to.max-file-size", c.to.max_file_size), KV("worker-count", c.worker_count),
      KV("safe-mode", c.safe_mode),
      KV("log-file", c.log_file), KV("log-level", c.log_level), KV("log-rotate", c.log_rotate));
  for (const std::string& key : c.unknown_keys) {
    LOG_WARN("unknown config key ignored", KV("key", key), KV("file", c.config_file));
  }
}

}  // namespace binlog::syncer
