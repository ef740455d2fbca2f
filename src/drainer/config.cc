// drainer.toml and the drainer's flags.
#include "drainer/config.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"

namespace binlog::drainer {

namespace po = boost::program_options;

namespace {

po::options_description Describe() {
  po::options_description d("drainer options (a flag overrides the same key in -config)");
  auto add = d.add_options();
  add("config", po::value<std::string>(), "path to the configuration file (drainer.toml)");
  add("addr", po::value<std::string>(),
      "host:port of the HTTP status service (default \"127.0.0.1:8249\")");
  add("advertise-addr", po::value<std::string>(),
      "the address the registry records (default addr)");
  add("node-id", po::value<std::string>(),
      "this drainer's id in the registry (default: advertise-addr)");
  add("data-dir", po::value<std::string>(),
      "checkpoint (savepoint) and the file sink's segments (default \"data.drainer\")");
  add("pd-urls", po::value<std::string>(),
      "registry: etcd/PD endpoints \"http://h:2379[,...]\", or \"file:///dir\" for the embedded "
      "one");
  add("registry-dir", po::value<std::string>(), "the embedded registry's directory");
  add("detect-interval", po::value<std::string>(),
      "seconds between reads of the registry for new, paused and offline pumps (default 10)");
  add("initial-commit-ts", po::value<int64_t>(),
      "start after this commit ts when there is no checkpoint yet; -1: now (default)");
  add("dest-db-type", po::value<std::string>(), "[syncer] db-type: mysql, tidb, file, pb or print");
  add("txn-batch", po::value<int>(), "row changes per downstream transaction (default 20)");
  add("c", po::value<int>(), "worker-count: parallel connections downstream (default 16)");
  add("split-big-txn", po::value<bool>()->implicit_value(true),
      "commit a transaction that came in parts every txn-batch changes (faster, not atomic; the "
      "checkpoint then records the part reached)");
  add("safe-mode", po::value<bool>()->implicit_value(true),
      "INSERT as REPLACE, UPDATE as DELETE + REPLACE (over data a backup already holds)");
  add("encrypt",
      "read a password on stdin and print its [syncer.to] encrypted_password form (AES-256-GCM "
      "with the key in BINLOG_SECRET_KEY, 64 hex digits, or -secret-key-file), then exit");
  add("secret-key-file", po::value<std::string>(), "with -encrypt: the file holding the key");
  AddStandardFlags(&d);
  return d;
}

Result<SinkType> ParseSink(const std::string& where, std::string_view key, std::string_view v) {
  if (v == "mysql" || v == "tidb") return SinkType::kMysql;
  if (v == "file" || v == "pb") return SinkType::kFile;
  if (v == "print") return SinkType::kPrint;
  return BadConfigValue(where, key,
                        "mysql, tidb, file, pb or print (kafka and flash are not supported)", v);
}

Status ReadInt(ConfigFile* f, std::string_view key, int lo, int hi, int* out) {
  ASSIGN_OR_RETURN(int64_t v, f->GetInt(key, *out));
  if (v < lo || v > hi) {
    return BadConfigValue(f->origin(), key, fmt::format("a number from {} to {}", lo, hi),
                          std::to_string(v));
  }
  *out = static_cast<int>(v);
  return Status::OK();
}

Status ReadSyncer(ConfigFile* f, DrainerConfig* c) {
  ASSIGN_OR_RETURN(std::string type, f->GetString("syncer.db-type", "mysql"));
  ASSIGN_OR_RETURN(c->sink, ParseSink(f->origin(), "syncer.db-type", type));
  RETURN_IF_ERROR(ReadInt(f, "syncer.txn-batch", 1, 100000, &c->txn_batch));
  RETURN_IF_ERROR(ReadInt(f, "syncer.worker-count", 1, 256, &c->worker_count));
  RETURN_IF_ERROR(ReadInt(f, "syncer.max-retry", 0, 1000000, &c->max_retry));
  ASSIGN_OR_RETURN(c->safe_mode, f->GetBool("syncer.safe-mode", c->safe_mode));
  ASSIGN_OR_RETURN(c->split_big_txn, f->GetBool("syncer.split-big-txn", c->split_big_txn));
  RETURN_IF_ERROR(replay::ReadFilterRules(f, "syncer", &c->filter));
  RETURN_IF_ERROR(mysql::ReadConnectOptions(f, "syncer.to", &c->to));
  ASSIGN_OR_RETURN(c->to_dir, f->GetString("syncer.to.dir", c->to_dir));
  ASSIGN_OR_RETURN(c->retention_seconds,
                   f->GetDuration("syncer.to.retention-time", c->retention_seconds, 86400));
  ASSIGN_OR_RETURN(c->relay_dir, f->GetString("syncer.relay.log-dir", c->relay_dir));
  ASSIGN_OR_RETURN(c->relay_max_file_size,
                   f->GetSize("syncer.relay.max-file-size", c->relay_max_file_size));
  ASSIGN_OR_RETURN(c->keep_relay_seconds,
                   f->GetDuration("syncer.relay.keep-relay", c->keep_relay_seconds, 86400));
  return Status::OK();
}

Status ReadFile(ConfigFile* f, DrainerConfig* c) {
  const std::string& file = f->origin();
  ASSIGN_OR_RETURN(c->addr, f->GetString("addr", c->addr));
  ASSIGN_OR_RETURN(c->advertise_addr, f->GetString("advertise-addr", c->advertise_addr));
  ASSIGN_OR_RETURN(c->node_id, f->GetString("node-id", c->node_id));
  ASSIGN_OR_RETURN(c->data_dir, f->GetString("data-dir", c->data_dir));
  ASSIGN_OR_RETURN(c->pd_urls, f->GetString("pd-urls", c->pd_urls));
  ASSIGN_OR_RETURN(c->registry_dir, f->GetString("registry-dir", c->registry_dir));
  ASSIGN_OR_RETURN(c->detect_interval_seconds,
                   f->GetDuration("detect-interval", c->detect_interval_seconds, 1));
  ASSIGN_OR_RETURN(c->heartbeat_interval_seconds,
                   f->GetDuration("heartbeat-interval", c->heartbeat_interval_seconds, 1));
  ASSIGN_OR_RETURN(c->initial_commit_ts, f->GetInt("initial-commit-ts", c->initial_commit_ts));
  ASSIGN_OR_RETURN(int64_t cluster, f->GetInt("cluster-id", static_cast<int64_t>(c->cluster_id)));
  if (cluster < 0)
    return BadConfigValue(file, "cluster-id", "an unsigned integer", std::to_string(cluster));
  c->cluster_id = static_cast<uint64_t>(cluster);
  ASSIGN_OR_RETURN(std::string access, f->GetString("pump-access", "auto"));
  if (access == "auto") {
    c->pump_access = PumpAccess::kAuto;
  } else if (access == "local") {
    c->pump_access = PumpAccess::kLocal;
  } else if (access == "grpc") {
    c->pump_access = PumpAccess::kGrpc;
  } else {
    return BadConfigValue(file, "pump-access", "auto, local or grpc", access);
  }
  ASSIGN_OR_RETURN(c->log_file, f->GetString("log-file", c->log_file));
  ASSIGN_OR_RETURN(c->log_level, f->GetString("log-level", c->log_level));
  ASSIGN_OR_RETURN(c->log_rotate, f->GetString("log-rotate", c->log_rotate));
  RETURN_IF_ERROR(ReadSyncer(f, c));
  c->unknown_keys = f->UnknownKeys();
  return f->CheckMostlyKnown("drainer");
}

Status Validate(const std::string& where, DrainerConfig* c) {
  if (c->to_dir.empty()) c->to_dir = c->data_dir;
  if (c->data_dir.empty()) return BadConfigValue(where, "data-dir", "a directory", "");
  if (!ParseLogLevel(c->log_level).ok()) {
    return BadConfigValue(where, "log-level", "debug, info, warn, error or fatal", c->log_level);
  }
  if (c->log_rotate != "day" && c->log_rotate != "hour" && c->log_rotate != "none") {
    return BadConfigValue(where, "log-rotate", "day, hour or none", c->log_rotate);
  }
  if (c->detect_interval_seconds <= 0) {
    return BadConfigValue(where, "detect-interval", "more than 0 seconds",
                          std::to_string(c->detect_interval_seconds));
  }
  if (c->heartbeat_interval_seconds <= 0) {
    return BadConfigValue(where, "heartbeat-interval", "more than 0 seconds",
                          std::to_string(c->heartbeat_interval_seconds));
  }
  if (c->initial_commit_ts < -1) {
    return BadConfigValue(where, "initial-commit-ts", "-1 (now) or a commit ts",
                          std::to_string(c->initial_commit_ts));
  }
  if (c->relay_max_file_size < (4u << 10)) {
    return BadConfigValue(where, "syncer.relay.max-file-size", "at least 4 KiB",
                          std::to_string(c->relay_max_file_size));
  }
  return Status::OK();
}

}  // namespace

std::string DrainerUsage() {
  return GoFlagsUsage(
      "usage: drainer -config drainer.toml [flags]\n"
      "  merges every pump's committed binlogs in commit-ts order and applies them to\n"
      "  MariaDB/MySQL, segment files or stdout, resuming from its checkpoint",
      Describe());
}

Status ParseDrainerToml(std::string_view text, const std::string& origin, DrainerConfig* c) {
  ASSIGN_OR_RETURN(ConfigFile f, ConfigFile::Parse(text, origin));
  RETURN_IF_ERROR(ReadFile(&f, c));
  return Validate(origin, c);
}

Result<DrainerCommand> LoadDrainerConfig(int argc, const char* const* argv, DrainerConfig* c,
                                         bool* bad_flags) {
  Result<po::variables_map> parsed = ParseGoFlags(argc, argv, Describe());
  if (bad_flags != nullptr) *bad_flags = !parsed.ok();
  if (!parsed.ok()) return parsed.status();
  const po::variables_map& vm = *parsed;
  DrainerCommand cmd;
  cmd.help = vm.count("help") > 0 || vm.count("h") > 0;
  cmd.version = vm.count("V") > 0 || vm.count("version") > 0;
  cmd.encrypt = vm.count("encrypt") > 0;
  if (vm.count("secret-key-file")) cmd.secret_key_file = vm["secret-key-file"].as<std::string>();
  if (cmd.help || cmd.version || cmd.encrypt) return cmd;
  *c = DrainerConfig();
  if (vm.count("config")) {
    c->config_file = vm["config"].as<std::string>();
    Result<ConfigFile> file = ConfigFile::Load(c->config_file);
    if (!file.ok()) {
      return Status::InvalidArgument(
          file.status()
              .WithContext(fmt::format("cannot load config file {}", c->config_file))
              .message());
    }
    RETURN_IF_ERROR(ReadFile(&*file, c));
  }
  auto str = [&](const char* name, std::string* out) {
    if (vm.count(name)) *out = vm[name].as<std::string>();
  };
  str("addr", &c->addr);
  str("advertise-addr", &c->advertise_addr);
  str("node-id", &c->node_id);
  str("data-dir", &c->data_dir);
  str("pd-urls", &c->pd_urls);
  str("registry-dir", &c->registry_dir);
  str("L", &c->log_level);
  str("log-file", &c->log_file);
  if (vm.count("detect-interval")) {
    Result<double> d = ParseGoDuration(vm["detect-interval"].as<std::string>());
    if (!d.ok()) {
      try {
        c->detect_interval_seconds = std::stod(vm["detect-interval"].as<std::string>());
      } catch (...) {
        return Status::InvalidArgument("flag -detect-interval: expected seconds or a duration");
      }
    } else {
      c->detect_interval_seconds = *d;
    }
  }
  if (vm.count("initial-commit-ts")) c->initial_commit_ts = vm["initial-commit-ts"].as<int64_t>();
  if (vm.count("dest-db-type")) {
    ASSIGN_OR_RETURN(c->sink,
                     ParseSink("the flags", "-dest-db-type", vm["dest-db-type"].as<std::string>()));
  }
  if (vm.count("txn-batch")) c->txn_batch = vm["txn-batch"].as<int>();
  if (vm.count("c")) c->worker_count = vm["c"].as<int>();
  if (vm.count("safe-mode")) c->safe_mode = vm["safe-mode"].as<bool>();
  if (vm.count("split-big-txn")) c->split_big_txn = vm["split-big-txn"].as<bool>();
  if (c->txn_batch < 1 || c->worker_count < 1) {
    return Status::InvalidArgument("txn-batch and worker-count (-c) must be at least 1");
  }
  RETURN_IF_ERROR(Validate(c->config_file.empty() ? "the flags" : c->config_file, c));
  return cmd;
}

}  // namespace binlog::drainer
