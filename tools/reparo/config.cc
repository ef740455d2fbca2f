// reparo.toml and reparo's flags.
#include "reparo/config.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/tso.h"

namespace binlog::reparo {

namespace po = boost::program_options;

namespace {

po::options_description Describe() {
  po::options_description d("reparo options (a flag overrides the same key in -config)");
  auto add = d.add_options();
  add("config", po::value<std::string>(), "path to the configuration file (reparo.toml)");
  add("data-dir", po::value<std::string>(),
      "the directory of segments to replay: a pump's binlog/, a syncer's journal");
  add("start-datetime", po::value<std::string>(),
      "replay from this time, \"2006-01-02 15:04:05\" (local time, or -time-zone)");
  add("stop-datetime", po::value<std::string>(), "replay up to this time, inclusive");
  add("start-tso", po::value<uint64_t>(),
      "replay from this commit ts (instead of a datetime); 0: from the beginning");
  add("stop-tso", po::value<uint64_t>(), "replay up to this commit ts, inclusive; 0: to the end");
  add("time-zone", po::value<std::string>(),
      "zone of the datetimes: IANA name, UTC or +08:00 (default: the local zone)");
  add("dest-type", po::value<std::string>(), "print (default) or mysql ([dest-db])");
  add("txn-batch", po::value<int>(), "row changes per downstream transaction (default 20)");
  add("c", po::value<int>(), "worker-count: parallel connections to the destination (default 16)");
  add("safe-mode", po::value<bool>()->implicit_value(true),
      "INSERT as REPLACE, UPDATE as DELETE + REPLACE: replay over data a backup already holds");
  add("split-big-txn", po::value<bool>()->implicit_value(true),
      "a transaction in parts (a big one) committed every txn-batch changes, resumable inside "
      "it, instead of in one downstream transaction (not atomic)");
  add("task", po::value<std::string>(),
      "the name this run's progress has in the destination (default \"reparo\")");
  add("resume", "continue a run that stopped (killed, failed): its progress is in the destination");
  add("flashback",
      "undo the window instead: its changes inverted, newest first (not resumable; no DDL)");
  add("skip-corrupt", "go on past damaged blocks of the input, counting and reporting them");
  AddStandardFlags(&d);
  return d;
}

struct Window {
  std::string start_datetime, stop_datetime;
  std::optional<uint64_t> start_tso, stop_tso;
  std::string where_start = "the config", where_stop = "the config";
};

Status ReadFile(ConfigFile* f, ReparoConfig* c, Window* w) {
  const std::string& file = f->origin();
  w->where_start = w->where_stop = file;
  ASSIGN_OR_RETURN(c->data_dir, f->GetString("data-dir", c->data_dir));
  ASSIGN_OR_RETURN(c->log_file, f->GetString("log-file", c->log_file));
  ASSIGN_OR_RETURN(c->log_level, f->GetString("log-level", c->log_level));
  ASSIGN_OR_RETURN(c->log_rotate, f->GetString("log-rotate", c->log_rotate));
  ASSIGN_OR_RETURN(w->start_datetime, f->GetString("start-datetime", ""));
  ASSIGN_OR_RETURN(w->stop_datetime, f->GetString("stop-datetime", ""));
  for (const char* key : {"start-tso", "stop-tso"}) {
    if (!f->Has(key)) continue;
    ASSIGN_OR_RETURN(int64_t v, f->GetInt(key, 0));
    if (v < 0) return BadConfigValue(file, key, "a TSO (a positive integer)", std::to_string(v));
    // 0 is TiDB-Binlog's default and means unset (from the beginning, to the end): its
    // reparo.toml carries "stop-tso = 0" beside a stop-datetime.
    if (v == 0) continue;
    (std::string_view(key) == "start-tso" ? w->start_tso : w->stop_tso) = static_cast<uint64_t>(v);
  }
  ASSIGN_OR_RETURN(c->time_zone, f->GetString("time-zone", c->time_zone));
  ASSIGN_OR_RETURN(c->dest_type, f->GetString("dest-type", c->dest_type));
  ASSIGN_OR_RETURN(int64_t batch, f->GetInt("txn-batch", c->txn_batch));
  if (batch < 1 || batch > 100000) {
    return BadConfigValue(file, "txn-batch", "a number of row changes from 1 to 100000",
               std::to_string(batch));
  }
  c->txn_batch = static_cast<int>(batch);
  ASSIGN_OR_RETURN(int64_t workers, f->GetInt("worker-count", c->worker_count));
  if (workers < 1 || workers > 256) {
    return BadConfigValue(file, "worker-count", "a number from 1 to 256", std::to_string(workers));
  }
  c->worker_count = static_cast<int>(workers);
  ASSIGN_OR_RETURN(c->safe_mode, f->GetBool("safe-mode", c->safe_mode));
  ASSIGN_OR_RETURN(c->split_big_txn, f->GetBool("split-big-txn", c->split_big_txn));
  ASSIGN_OR_RETURN(int64_t retry, f->GetInt("max-retry", c->max_retry));
  c->max_retry = static_cast<int>(std::max<int64_t>(retry, 0));
  ASSIGN_OR_RETURN(c->task, f->GetString("task", c->task));
  RETURN_IF_ERROR(replay::ReadFilterRules(f, "", &c->filter));
  RETURN_IF_ERROR(mysql::ReadConnectOptions(f, "dest-db", &c->dest));
  c->unknown_keys = f->UnknownKeys();
  return f->CheckMostlyKnown("reparo");
}

// Resolves the window: a TSO as it is, a datetime as the first (start) or the last (stop) TSO
// of its millisecond.
Status ResolveWindow(const Window& w, ReparoConfig* c) {
  if (w.start_tso && !w.start_datetime.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: start-tso and start-datetime are both set; give one", w.where_start));
  }
  if (w.stop_tso && !w.stop_datetime.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: stop-tso and stop-datetime are both set; give one", w.where_stop));
  }
  if (w.start_tso) c->start_ts = *w.start_tso;
  if (w.stop_tso) c->stop_ts = *w.stop_tso;
  if (!w.start_datetime.empty()) {
    Result<uint64_t> ts = ParseDatetimeToTS(w.start_datetime, c->time_zone);
    if (!ts.ok()) {
      return Status::InvalidArgument(
          fmt::format("{}: start-datetime: {}", w.where_start, ts.status().message()));
    }
    c->start_ts = *ts;
  }
  if (!w.stop_datetime.empty()) {
    Result<uint64_t> ts = ParseDatetimeToTS(w.stop_datetime, c->time_zone);
    if (!ts.ok()) {
      return Status::InvalidArgument(
          fmt::format("{}: stop-datetime: {}", w.where_stop, ts.status().message()));
    }
    c->stop_ts = *ts | kLogicalMask;
  }
  if (c->stop_ts < c->start_ts) {
    auto named = [](const std::optional<uint64_t>& tso, const std::string& datetime,
                    const char* side, const std::string& where) {
      return tso ? fmt::format("{}-tso {} ({})", side, *tso, where)
                 : fmt::format("{}-datetime \"{}\" ({})", side, datetime, where);
    };
    return Status::InvalidArgument(
        fmt::format("the window ends before it starts: {} is before {}",
                    named(w.stop_tso, w.stop_datetime, "stop", w.where_stop),
                    named(w.start_tso, w.start_datetime, "start", w.where_start)));
  }
  return Status::OK();
}

}  // namespace

std::string Usage() {
  return GoFlagsUsage(
      "usage: reparo -config reparo.toml [-resume] [-flashback] [flags]\n"
      "  replays the changes of a directory of segments between two points in time into a\n"
      "  MariaDB/MySQL server, or prints them",
      Describe());
}

Result<Command> LoadConfig(int argc, const char* const* argv, ReparoConfig* c) {
  ASSIGN_OR_RETURN(po::variables_map vm, ParseGoFlags(argc, argv, Describe()));
  Command cmd;
  cmd.help = vm.count("help") > 0 || vm.count("h") > 0;
  cmd.version = vm.count("V") > 0 || vm.count("version") > 0;
  if (cmd.help || cmd.version) return cmd;
  Window w;
  if (vm.count("config")) {
    c->config_file = vm["config"].as<std::string>();
    Result<ConfigFile> file = ConfigFile::Load(c->config_file);
    if (!file.ok()) {
      return Status::InvalidArgument(
          file.status()
              .WithContext(fmt::format("cannot load config file {}", c->config_file))
              .message());
    }
    RETURN_IF_ERROR(ReadFile(&*file, c, &w));
  }
  auto str = [&](const char* name, std::string* out) {
    if (vm.count(name)) *out = vm[name].as<std::string>();
  };
  str("data-dir", &c->data_dir);
  str("log-file", &c->log_file);
  str("L", &c->log_level);
  str("dest-type", &c->dest_type);
  str("time-zone", &c->time_zone);
  str("task", &c->task);
  if (vm.count("start-datetime") || vm.count("start-tso")) {
    w = Window{vm.count("start-datetime") ? vm["start-datetime"].as<std::string>() : "",
               w.stop_datetime,
               std::nullopt,
               w.stop_tso,
               "the flags",
               w.where_stop};
    if (vm.count("start-tso") && vm["start-tso"].as<uint64_t>() != 0) {
      w.start_tso = vm["start-tso"].as<uint64_t>();
    }
  }
  if (vm.count("stop-datetime") || vm.count("stop-tso")) {
    w.stop_datetime = vm.count("stop-datetime") ? vm["stop-datetime"].as<std::string>() : "";
    w.stop_tso = std::nullopt;
    if (vm.count("stop-tso") && vm["stop-tso"].as<uint64_t>() != 0) {
      w.stop_tso = vm["stop-tso"].as<uint64_t>();
    }
    w.where_stop = "the flags";
  }
  if (vm.count("txn-batch")) c->txn_batch = vm["txn-batch"].as<int>();
  if (vm.count("c")) c->worker_count = vm["c"].as<int>();
  if (vm.count("safe-mode")) c->safe_mode = vm["safe-mode"].as<bool>();
  if (vm.count("split-big-txn")) c->split_big_txn = vm["split-big-txn"].as<bool>();
  c->resume = vm.count("resume") > 0;
  c->flashback = vm.count("flashback") > 0;
  c->skip_corrupt = vm.count("skip-corrupt") > 0;

  const std::string where = c->config_file.empty() ? "the flags" : c->config_file;
  if (c->data_dir.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}: data-dir is not set: it names the directory of segments to replay", where));
  }
  if (c->dest_type != "print" && c->dest_type != "mysql") {
    return BadConfigValue(where, "dest-type", "print or mysql", c->dest_type);
  }
  if (!ParseLogLevel(c->log_level).ok()) {
    return BadConfigValue(where, "log-level", "debug, info, warn, error or fatal", c->log_level);
  }
  if (c->log_rotate != "day" && c->log_rotate != "hour" && c->log_rotate != "none") {
    return BadConfigValue(where, "log-rotate", "day, hour or none", c->log_rotate);
  }
  if (c->txn_batch < 1 || c->worker_count < 1) {
    return Status::InvalidArgument("txn-batch and worker-count (-c) must be at least 1");
  }
  if (auto zone = FormatTSDatetime(0, c->time_zone); !zone.ok()) {
    return BadConfigValue(where, "time-zone", "an IANA zone, UTC or +08:00", c->time_zone);
  }
  if (c->flashback && c->resume) {
    return Status::InvalidArgument("-flashback keeps no progress: it cannot be resumed");
  }
  RETURN_IF_ERROR(ResolveWindow(w, c));
  return cmd;
}

}  // namespace binlog::reparo
