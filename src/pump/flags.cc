// The pump's command line: Go-style single-dash long flags, as TiDB-Binlog's pump takes them.
#include <boost/program_options.hpp>

#include "common/flags.h"
#include "pump/config.h"

namespace binlog::pump {

namespace po = boost::program_options;

namespace {

po::options_description Describe() {
  po::options_description d("pump options (a flag overrides the same key in -config)");
  auto add = d.add_options();
  add("config", po::value<std::string>(), "path to the pump configuration file (pump.toml)");
  add("addr", po::value<std::string>(),
      "host:port the gRPC service listens on (default \"127.0.0.1:8250\")");
  add("advertise-addr", po::value<std::string>(),
      "host:port producers and drainers connect to (default: addr; not 0.0.0.0)");
  add("status-addr", po::value<std::string>(),
      "host:port of the HTTP status service (/status, /metrics, PUT /state/...); default: "
      "addr's host with port 8251");
  add("data-dir", po::value<std::string>(), "where wal/ and binlog/ live (default \"data.pump\")");
  add("node-id", po::value<std::string>(),
      "this pump's id in the registry (default: advertise-addr; kept in data-dir/.node)");
  add("pd-urls", po::value<std::string>(),
      "registry: etcd/PD endpoints \"http://h:2379[,...]\", or \"file:///dir\" for the embedded "
      "one");
  add("registry-dir", po::value<std::string>(), "the embedded registry's directory");
  add("gc", po::value<std::string>(),
      "delete binlog segments older than this many days, or a duration like \"8h\"; 0 never "
      "(default 7)");
  add("drop-future-heartbeats",
      "repair a stopped pump whose binlog/ holds heartbeats beyond this host's clock plus "
      "max-clock-drift (every commit is refused below them): remove them, keeping the segments "
      "as they were as *.dropped, and exit");
  AddStandardFlags(&d);
  return d;
}

}  // namespace

std::string PumpUsage() {
  return GoFlagsUsage("usage: pump [-config pump.toml] [flags]", Describe());
}

Result<PumpFlags> ParsePumpFlags(int argc, const char* const* argv) {
  ASSIGN_OR_RETURN(po::variables_map vm, ParseGoFlags(argc, argv, Describe()));
  PumpFlags f;
  f.help = vm.count("help") > 0 || vm.count("h") > 0;
  f.version = vm.count("V") > 0 || vm.count("version") > 0;
  f.drop_future_heartbeats = vm.count("drop-future-heartbeats") > 0;
  auto get = [&](const char* name, std::optional<std::string>* out) {
    if (vm.count(name)) *out = vm[name].as<std::string>();
  };
  get("config", &f.config);
  get("addr", &f.addr);
  get("advertise-addr", &f.advertise_addr);
  get("status-addr", &f.status_addr);
  get("data-dir", &f.data_dir);
  get("node-id", &f.node_id);
  get("pd-urls", &f.pd_urls);
  get("registry-dir", &f.registry_dir);
  get("gc", &f.gc);
  get("L", &f.log_level);
  get("log-file", &f.log_file);
  return f;
}

}  // namespace binlog::pump
