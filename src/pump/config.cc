// pump.toml: keys, defaults, validation, and the node id kept in data-dir/.node.
#include "pump/config.h"

#include <fmt/format.h>

#include <charconv>

#include "common/config.h"
#include "common/logging.h"
#include "common/text.h"
#include "journal/journal.h"
#include "registry/registry.h"

namespace binlog::pump {

namespace {

// Where a value came from, for error messages: `pump.toml: key "addr"` or `flag -addr`.
struct Source {
  std::string where = "the default";
  static Source Key(const std::string& file, std::string_view key) {
    return Source{fmt::format("{}: key \"{}\"", file, key)};
  }
  static Source Flag(std::string_view flag) { return Source{fmt::format("flag -{}", flag)}; }
};

Status Bad(const Source& src, std::string_view expected, std::string_view got) {
  return Status::InvalidArgument(
      fmt::format("{}: expected {}, got \"{}\"", src.where, expected, got));
}

struct Sources {
  Source addr, advertise_addr, status_addr, data_dir, node_id, pd_urls, log_level;
};

// Reads every key we know; absent keys keep the defaults already in *c.
Status ReadFile(ConfigFile* f, PumpConfig* c, Sources* src) {
  const std::string& file = f->origin();
  auto str = [&](std::string_view key, std::string* out, Source* s) -> Status {
    if (f->Has(key) && s != nullptr) *s = Source::Key(file, key);
    ASSIGN_OR_RETURN(*out, f->GetString(key, *out));
    return Status::OK();
  };
  RETURN_IF_ERROR(str("addr", &c->addr, &src->addr));
  RETURN_IF_ERROR(str("advertise-addr", &c->advertise_addr, &src->advertise_addr));
  RETURN_IF_ERROR(str("status-addr", &c->status_addr, &src->status_addr));
  RETURN_IF_ERROR(str("data-dir", &c->data_dir, &src->data_dir));
  RETURN_IF_ERROR(str("log-file", &c->log_file, nullptr));
  RETURN_IF_ERROR(str("log-level", &c->log_level, &src->log_level));
  RETURN_IF_ERROR(str("node-id", &c->node_id, &src->node_id));
  // OpenRegistry names the key itself: the source here is the file alone.
  if (f->Has("pd-urls")) src->pd_urls = Source{file};
  RETURN_IF_ERROR(str("pd-urls", &c->pd_urls, nullptr));
  RETURN_IF_ERROR(str("registry-dir", &c->registry_dir, nullptr));

  ASSIGN_OR_RETURN(c->gc_seconds, f->GetDuration("gc", c->gc_seconds, 86400));
  ASSIGN_OR_RETURN(c->gc_guard_lease_seconds,
                   f->GetDuration("gc-guard-lease", c->gc_guard_lease_seconds, 1));
  ASSIGN_OR_RETURN(c->heartbeat_interval_seconds,
                   f->GetDuration("heartbeat-interval", c->heartbeat_interval_seconds, 1));
  if (c->heartbeat_interval_seconds <= 0) {
    return Bad(Source::Key(file, "heartbeat-interval"), "a number of seconds > 0", "0");
  }
  ASSIGN_OR_RETURN(c->gen_binlog_interval_seconds,
                   f->GetDuration("gen-binlog-interval", c->gen_binlog_interval_seconds, 1));
  ASSIGN_OR_RETURN(c->max_txn_timeout_seconds,
                   f->GetDuration("max-txn-timeout", c->max_txn_timeout_seconds, 1));
  if (c->max_txn_timeout_seconds <= 0) {
    return Bad(Source::Key(file, "max-txn-timeout"), "a number of seconds > 0", "0");
  }
  ASSIGN_OR_RETURN(c->max_clock_drift_seconds,
                   f->GetDuration("max-clock-drift", c->max_clock_drift_seconds, 1));
  if (c->max_clock_drift_seconds < 0) {
    return Bad(Source::Key(file, "max-clock-drift"), "a duration >= 0 (0: no bound)",
               fmt::format("{}", c->max_clock_drift_seconds));
  }
  ASSIGN_OR_RETURN(c->max_file_size, f->GetSize("max-file-size", c->max_file_size));
  if (c->max_file_size < journal::kMinMaxFileSize) {
    return Bad(Source::Key(file, "max-file-size"), "a size of at least 4 KiB",
               std::to_string(c->max_file_size));
  }
  ASSIGN_OR_RETURN(c->max_message_size, f->GetSize("max-message-size", c->max_message_size));
  if (c->max_message_size == 0 || c->max_message_size > (1ull << 30)) {
    return Bad(Source::Key(file, "max-message-size"), "a size between 1 byte and 1 GiB",
               std::to_string(c->max_message_size));
  }
  ASSIGN_OR_RETURN(c->sync_log, f->GetBool("storage.sync-log", c->sync_log));
  ASSIGN_OR_RETURN(
      c->stop_write_at_available_space,
      f->GetSize("storage.stop-write-at-available-space", c->stop_write_at_available_space));
  c->unknown_keys = f->UnknownKeys();
  return f->CheckMostlyKnown("pump");
}

Status ApplyFlags(const PumpFlags& fl, PumpConfig* c, Sources* src) {
  auto set = [](const std::optional<std::string>& flag, std::string_view name, std::string* out,
                Source* s) {
    if (!flag) return;
    *out = *flag;
    if (s != nullptr) *s = Source::Flag(name);
  };
  set(fl.addr, "addr", &c->addr, &src->addr);
  set(fl.advertise_addr, "advertise-addr", &c->advertise_addr, &src->advertise_addr);
  set(fl.status_addr, "status-addr", &c->status_addr, &src->status_addr);
  set(fl.data_dir, "data-dir", &c->data_dir, &src->data_dir);
  set(fl.node_id, "node-id", &c->node_id, &src->node_id);
  set(fl.pd_urls, "pd-urls", &c->pd_urls, &src->pd_urls);
  set(fl.registry_dir, "registry-dir", &c->registry_dir, nullptr);
  set(fl.log_level, "L", &c->log_level, &src->log_level);
  set(fl.log_file, "log-file", &c->log_file, nullptr);
  if (fl.gc) {
    // As in the file: a number of days, or a Go duration.
    int64_t days = 0;
    const std::string& v = *fl.gc;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), days);
    if (ec == std::errc() && end == v.data() + v.size() && days >= 0) {
      c->gc_seconds = static_cast<double>(days) * 86400;
    } else {
      Result<double> d = ParseGoDuration(v);
      if (!d.ok() || *d < 0) {
        return Bad(Source::Flag("gc"), "a number of days or a duration like \"8h\"", v);
      }
      c->gc_seconds = *d;
    }
  }
  return Status::OK();
}

// Checks and derives what depends on several keys, after the flags are applied.
Status Finish(PumpConfig* c, Sources* src, const std::string& origin) {
  constexpr std::string_view kHostPort = "host:port (e.g. \"127.0.0.1:8250\")";
  Result<HostPort> addr = SplitHostPort(c->addr);
  if (!addr.ok()) return Bad(src->addr, kHostPort, c->addr);
  if (c->advertise_addr.empty()) {
    c->advertise_addr = c->addr;
    src->advertise_addr = Source{src->addr.where + " (advertise-addr defaults to addr)"};
  }
  Result<HostPort> adv = SplitHostPort(c->advertise_addr);
  if (!adv.ok()) return Bad(src->advertise_addr, kHostPort, c->advertise_addr);
  if (IsUnspecifiedHost(adv->host)) {
    return Bad(src->advertise_addr,
               "an address others can connect to for advertise-addr, not 0.0.0.0 (set "
               "advertise-addr to this host's address)",
               c->advertise_addr);
  }
  if (c->status_addr.empty()) {
    c->status_addr = JoinHostPort(addr->host, addr->port == 0 ? 0 : kDefaultStatusPort);
  }
  if (!SplitHostPort(c->status_addr).ok()) {
    return Bad(src->status_addr, kHostPort, c->status_addr);
  }
  if (c->data_dir.empty()) return Bad(src->data_dir, "a directory", c->data_dir);
  if (!c->node_id.empty()) {
    Status s = registry::ValidateNodeID(c->node_id);
    if (!s.ok()) return Bad(src->node_id, "a node id of letters, digits and .:-_[]", c->node_id);
  }
  if (!ParseLogLevel(c->log_level).ok()) {
    return Bad(src->log_level, "debug, info, warn, error or fatal", c->log_level);
  }
  // Only to check the choice now, before anything starts; the server opens its own.
  std::string registry_origin = src->pd_urls.where;
  if (registry_origin == "the default") registry_origin = origin + " (pd-urls not set: default)";
  auto reg = registry::OpenRegistry(Env::Posix(), c->pd_urls, c->registry_dir, registry_origin);
  if (!reg.ok()) return reg.status();
  return Status::OK();
}

}  // namespace

PumpOptions PumpConfig::ToPumpOptions(Env* env) const {
  PumpOptions o;
  o.env = env;
  o.data_dir = data_dir;
  o.max_file_size = max_file_size;
  o.sync_log = sync_log;
  o.gen_binlog_interval_seconds = gen_binlog_interval_seconds;
  o.max_txn_timeout_seconds = max_txn_timeout_seconds;
  o.stop_write_at_available_space = stop_write_at_available_space;
  o.max_binlog_bytes = max_message_size;
  o.max_clock_drift_seconds = max_clock_drift_seconds;
  return o;
}

Result<PumpConfig> LoadPumpConfig(const PumpFlags& flags) {
  PumpConfig c;
  Sources src;
  std::string origin = "the command line";
  if (flags.config) {
    c.config_file = *flags.config;
    origin = c.config_file;
    Result<ConfigFile> file = ConfigFile::Load(c.config_file);
    if (!file.ok()) {
      return file.status().WithContext(fmt::format("cannot load config file {}", c.config_file));
    }
    RETURN_IF_ERROR(ReadFile(&*file, &c, &src));
  }
  RETURN_IF_ERROR(ApplyFlags(flags, &c, &src));
  RETURN_IF_ERROR(Finish(&c, &src, origin));
  return c;
}

Result<PumpConfig> PumpConfigFromArgs(int argc, const char* const* argv) {
  ASSIGN_OR_RETURN(PumpFlags flags, ParsePumpFlags(argc, argv));
  return LoadPumpConfig(flags);
}

Result<std::string> EffectiveNodeID(Env* env, const PumpConfig& config) {
  const std::string path = JoinPath(config.data_dir, ".node");
  if (!env->FileExists(path)) {
    std::string id = config.node_id.empty() ? config.advertise_addr : config.node_id;
    RETURN_IF_ERROR(registry::ValidateNodeID(id).WithContext("node-id"));
    return id;
  }
  ASSIGN_OR_RETURN(std::string kept, ReadFileToString(env, path));
  while (!kept.empty() && (kept.back() == '\n' || kept.back() == ' ')) kept.pop_back();
  if (!registry::ValidateNodeID(kept).ok()) {
    return Status::Corruption(
        fmt::format("{} holds \"{}\", which is not a node id", path, Printable(kept)));
  }
  if (!config.node_id.empty() && config.node_id != kept) {
    return Status::InvalidArgument(fmt::format(
        "node-id \"{}\" differs from \"{}\" kept in {}: this data dir belongs to node {}; "
        "drop the node-id setting, or use another data-dir",
        config.node_id, kept, path, kept));
  }
  return kept;
}

Status KeepNodeID(Env* env, const PumpConfig& config) {
  const std::string path = JoinPath(config.data_dir, ".node");
  if (env->FileExists(path)) return Status::OK();
  RETURN_IF_ERROR(env->CreateDirs(config.data_dir));
  return WriteFileAtomic(env, path, config.node_id + "\n");
}

Status ResolveNodeID(Env* env, PumpConfig* config) {
  ASSIGN_OR_RETURN(config->node_id, EffectiveNodeID(env, *config));
  return KeepNodeID(env, *config);
}

void LogPumpConfig(const PumpConfig& c) {
  LOG_INFO("pump config", KV("config", c.config_file.empty() ? "(none)" : c.config_file),
           KV("addr", c.addr), KV("advertise-addr", c.advertise_addr),
           KV("status-addr", c.status_addr), KV("data-dir", c.data_dir), KV("node-id", c.node_id),
           KV("pd-urls", c.pd_urls), KV("registry-dir", c.registry_dir),
           KV("gc-seconds", c.gc_seconds), KV("gc-guard-lease-seconds", c.gc_guard_lease_seconds),
           KV("heartbeat-interval", c.heartbeat_interval_seconds),
           KV("gen-binlog-interval", c.gen_binlog_interval_seconds),
           KV("max-txn-timeout", c.max_txn_timeout_seconds), KV("max-file-size", c.max_file_size),
           KV("max-message-size", c.max_message_size),
           KV("max-clock-drift", c.max_clock_drift_seconds), KV("storage.sync-log", c.sync_log),
           KV("storage.stop-write-at-available-space", c.stop_write_at_available_space),
           KV("log-file", c.log_file), KV("log-level", c.log_level));
  for (const std::string& key : c.unknown_keys) {
    LOG_WARN("unknown config key ignored", KV("key", key), KV("file", c.config_file));
  }
}

}  // namespace binlog::pump
