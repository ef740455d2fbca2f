// The syncer's command line: Go-style single-dash long flags, as TiDB-Binlog's tools take them.
#include <boost/program_options.hpp>

#include "common/flags.h"
#include "syncer/config.h"

namespace binlog::syncer {

namespace po = boost::program_options;

namespace {

po::options_description Describe() {
  po::options_description d("syncer options (a flag overrides the same key in -config)");
  auto add = d.add_options();
  add("config", po::value<std::string>(), "path to the syncer configuration file (syncer.toml)");
  add("meta-from", po::value<std::string>(),
      "initialise the position file from a full backup's record of where it ends: mydumper's "
      "metadata, a mariadb-dump --master-data=2 dump, or xtrabackup_binlog_info; then run");
  add("meta", po::value<std::string>(), "the position file (default \"./syncer.meta\")");
  add("status-addr", po::value<std::string>(),
      "host:port of the HTTP status service (/status, /metrics); \"\" for none (default "
      "\":8271\")");
  AddStandardFlags(&d);
  return d;
}

}  // namespace

std::string SyncerUsage() {
  return GoFlagsUsage("usage: syncer -config syncer.toml [-meta-from FILE] [flags]", Describe());
}

Result<SyncerFlags> ParseSyncerFlags(int argc, const char* const* argv) {
  ASSIGN_OR_RETURN(po::variables_map vm, ParseGoFlags(argc, argv, Describe()));
  SyncerFlags f;
  f.help = vm.count("help") > 0 || vm.count("h") > 0;
  f.version = vm.count("V") > 0 || vm.count("version") > 0;
  auto get = [&](const char* name, std::optional<std::string>* out) {
    if (vm.count(name)) *out = vm[name].as<std::string>();
  };
  get("config", &f.config);
  get("meta-from", &f.meta_from);
  get("meta", &f.meta);
  get("status-addr", &f.status_addr);
  get("L", &f.log_level);
  get("log-file", &f.log_file);
  return f;
}

}  // namespace binlog::syncer
