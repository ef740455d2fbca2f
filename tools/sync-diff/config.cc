// sync-diff's flags and its optional TOML file.
#include "sync-diff/config.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"

namespace binlog::syncdiff {

namespace po = boost::program_options;

namespace {

using Strings = std::vector<std::string>;

po::options_description Describe() {
  po::options_description d("sync-diff options (a flag overrides the same key in -config)");
  auto add = d.add_options();
  add("config", po::value<std::string>(), "path to a TOML file with the same keys");
  for (const char* side : {"source", "target"}) {
    const std::string s(side);
    add((s + "-host").c_str(), po::value<std::string>(),
        fmt::format("{} server host (default 127.0.0.1)", s).c_str());
    add((s + "-port").c_str(), po::value<int>(),
        fmt::format("{} server port (default 3306)", s).c_str());
    add((s + "-user").c_str(), po::value<std::string>(),
        fmt::format("{} user (default root)", s).c_str());
    add((s + "-password").c_str(), po::value<std::string>(), fmt::format("{} password", s).c_str());
  }
  add("do-db", po::value<Strings>()->composing(),
      "compare only these schemas (repeatable or a comma list; ~regex in RE2 syntax)");
  add("do-table", po::value<Strings>()->composing(),
      "compare only these tables, db.tbl (repeatable or a comma list; either name may be ~regex)");
  add("ignore-db", po::value<Strings>()->composing(), "skip these schemas (as -do-db)");
  add("ignore-table", po::value<Strings>()->composing(), "skip these tables (as -do-table)");
  add("ignore-schemas", po::value<std::string>(),
      fmt::format("schemas never compared, a comma list (default {})", kDefaultIgnoreSchemas)
          .c_str());
  add("chunk-size", po::value<uint64_t>(), "source rows per checksum chunk (default 10000)");
  add("threads", po::value<int>(), "chunks checked in parallel (default 4)");
  add("checksum-table", po::value<bool>()->implicit_value(true),
      "first compare each table's CHECKSUM TABLE on both servers (same server version only), "
      "and chunk only the tables where it differs (default true)");
  add("fix-sql", po::value<std::string>(), "write the SQL that makes the target equal here");
  AddStandardFlags(&d);
  return d;
}

void AppendCommaList(std::string_view text, Strings* out) {
  for (size_t at = 0; at <= text.size();) {
    size_t comma = std::min(text.find(',', at), text.size());
    std::string_view one = text.substr(at, comma - at);
    if (!one.empty()) out->emplace_back(one);
    at = comma + 1;
  }
}

// "db.tbl": the first dot splits (a db regex with a dot needs the config file's form).
Status AppendTableRules(const std::string& flag, const Strings& values,
                        std::vector<replay::TableRule>* out) {
  Strings items;
  for (const std::string& v : values) AppendCommaList(v, &items);
  for (const std::string& item : items) {
    size_t dot = item.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == item.size()) {
      return Status::InvalidArgument(fmt::format("-{} \"{}\": expected db.table", flag, item));
    }
    out->push_back(replay::TableRule{item.substr(0, dot), item.substr(dot + 1)});
  }
  return Status::OK();
}

Status ReadFile(ConfigFile* f, SyncDiffConfig* c) {
  const std::string& file = f->origin();
  RETURN_IF_ERROR(mysql::ReadConnectOptions(f, "source-db", &c->source));
  RETURN_IF_ERROR(mysql::ReadConnectOptions(f, "target-db", &c->target));
  RETURN_IF_ERROR(replay::ReadFilterRules(f, "", &c->filter));
  ASSIGN_OR_RETURN(int64_t chunk, f->GetInt("chunk-size", static_cast<int64_t>(c->chunk_size)));
  if (chunk < 1)
    return BadConfigValue(file, "chunk-size", "a number of rows, at least 1", std::to_string(chunk));
  c->chunk_size = static_cast<uint64_t>(chunk);
  // check-thread-count and fix-sql-file: TiDB sync-diff-inspector's names for the same keys.
  for (const char* key : {"threads", "check-thread-count"}) {
    ASSIGN_OR_RETURN(int64_t threads, f->GetInt(key, c->threads));
    if (threads < 1 || threads > 256) return BadConfigValue(file, key, "1 to 256", std::to_string(threads));
    c->threads = static_cast<int>(threads);
  }
  ASSIGN_OR_RETURN(c->checksum_table, f->GetBool("checksum-table", c->checksum_table));
  for (const char* key : {"fix-sql", "fix-sql-file"}) {
    ASSIGN_OR_RETURN(c->fix_sql, f->GetString(key, c->fix_sql));
  }
  ASSIGN_OR_RETURN(c->log_file, f->GetString("log-file", c->log_file));
  ASSIGN_OR_RETURN(c->log_level, f->GetString("log-level", c->log_level));
  c->unknown_keys = f->UnknownKeys();
  return f->CheckMostlyKnown("sync-diff");
}

Status ApplyFlags(const po::variables_map& vm, SyncDiffConfig* c) {
  auto str = [&](const std::string& name, std::string* out) {
    if (vm.count(name)) *out = vm[name].as<std::string>();
  };
  for (auto [side, o] : {std::pair{"source", &c->source}, std::pair{"target", &c->target}}) {
    const std::string s(side);
    str(s + "-host", &o->host);
    str(s + "-user", &o->user);
    str(s + "-password", &o->password);
    if (vm.count(s + "-port")) {
      o->port = vm[s + "-port"].as<int>();
      if (o->port < 1 || o->port > 65535) {
        return Status::InvalidArgument(fmt::format("-{}-port {}: not a TCP port", s, o->port));
      }
    }
  }
  auto list = [&](const char* name, Strings* out) {
    if (!vm.count(name)) return;
    out->clear();
    for (const std::string& v : vm[name].as<Strings>()) AppendCommaList(v, out);
  };
  list("do-db", &c->filter.do_dbs);
  list("ignore-db", &c->filter.ignore_dbs);
  if (vm.count("do-table")) {
    c->filter.do_tables.clear();
    RETURN_IF_ERROR(
        AppendTableRules("do-table", vm["do-table"].as<Strings>(), &c->filter.do_tables));
  }
  if (vm.count("ignore-table")) {
    c->filter.ignore_tables.clear();
    RETURN_IF_ERROR(AppendTableRules("ignore-table", vm["ignore-table"].as<Strings>(),
                                     &c->filter.ignore_tables));
  }
  if (vm.count("ignore-schemas")) {
    c->filter.ignore_schemas.clear();
    AppendCommaList(vm["ignore-schemas"].as<std::string>(), &c->filter.ignore_schemas);
  }
  if (vm.count("chunk-size")) c->chunk_size = vm["chunk-size"].as<uint64_t>();
  if (vm.count("threads")) c->threads = vm["threads"].as<int>();
  if (vm.count("checksum-table")) c->checksum_table = vm["checksum-table"].as<bool>();
  str("fix-sql", &c->fix_sql);
  str("L", &c->log_level);
  str("log-file", &c->log_file);
  if (c->chunk_size < 1) return Status::InvalidArgument("-chunk-size must be at least 1");
  if (c->threads < 1 || c->threads > 256) {
    return Status::InvalidArgument(fmt::format("-threads {}: expected 1 to 256", c->threads));
  }
  if (!ParseLogLevel(c->log_level).ok()) {
    return Status::InvalidArgument(
        fmt::format("log level \"{}\": expected debug, info, warn, error or fatal", c->log_level));
  }
  return Status::OK();
}

}  // namespace

std::string Usage() {
  return GoFlagsUsage(
      "usage: sync-diff -source-host H -source-port P -target-host H -target-port P [flags]\n"
      "  compares the tables of two MariaDB/MySQL servers by key-range chunk checksums, then the\n"
      "  rows of the chunks that differ; exit 0 equal, 1 different, 2 error",
      Describe());
}

Result<Command> LoadConfig(int argc, const char* const* argv, SyncDiffConfig* c) {
  ASSIGN_OR_RETURN(po::variables_map vm, ParseGoFlags(argc, argv, Describe()));
  Command cmd;
  cmd.help = vm.count("help") > 0 || vm.count("h") > 0;
  cmd.version = vm.count("V") > 0 || vm.count("version") > 0;
  if (cmd.help || cmd.version) return cmd;
  AppendCommaList(kDefaultIgnoreSchemas, &c->filter.ignore_schemas);
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
  RETURN_IF_ERROR(ApplyFlags(vm, c));
  for (mysql::ConnectOptions* o : {&c->source, &c->target}) {
    // The same text on both sides: TIMESTAMP in UTC, CHAR without its padding, and the
    // backslash escapes the replay literals use.
    o->init_statements = {"SET SESSION time_zone = '+00:00'",
                          "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"};
  }
  RETURN_IF_ERROR(replay::Filter::Make(c->filter).status());
  return cmd;
}

}  // namespace binlog::syncdiff
