// binlogctl: lists, pauses, closes and repairs pump and drainer records, as TiDB-Binlog's
// binlogctl does (docs/BINLOGCTL.md).
//
// Exit codes: 0 done; 1 the operation failed (the registry or the node refused or did not
// answer); 2 bad flags or an unknown command.
#include <signal.h>

#include <exception>
#include <iostream>

#include "binlogctl/binlogctl.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/text.h"

namespace binlog::ctl {
namespace {

namespace po = boost::program_options;

constexpr const char* kVersion = "binlogctl (binlog) " BINLOG_GIT_VERSION;
constexpr const char* kHead =
    "binlogctl -cmd <command> [-pd-urls http://127.0.0.1:2379 | -registry-dir DIR] [-node-id ID]";

po::options_description Describe() {
  po::options_description d;
  auto add = d.add_options();
  add("cmd", po::value<std::string>()->default_value("pumps"), "the command (below)");
  add("pd-urls", po::value<std::string>()->default_value("http://127.0.0.1:2379"),
      "the registry: etcd/PD endpoints (comma-separated), or file:///dir for the embedded one");
  add("registry-dir", po::value<std::string>()->default_value(""),
      "the embedded registry's directory (wins over -pd-urls)");
  add("node-id", po::value<std::string>()->default_value(""), "the pump or drainer to act on");
  add("state", po::value<std::string>()->default_value(""),
      "update-pump / update-drainer: online, pausing, paused, closing or offline");
  add("show-offline-nodes", po::bool_switch(), "pumps / drainers: include offline nodes");
  add("data-dir", po::value<std::string>()->default_value(""),
      "generate_meta: the drainer's data-dir, where savepoint is written");
  add("text", po::value<std::string>()->default_value(""), "encrypt: the text to encrypt");
  add("secret-key-file", po::value<std::string>()->default_value(""),
      "encrypt: the key file (default: the BINLOG_SECRET_KEY environment variable)");
  add("timeout", po::value<int>()->default_value(5000),
      "milliseconds to wait for a node's status service");
  AddStandardFlags(&d);
  return d;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  po::options_description desc = Describe();
  Result<po::variables_map> parsed = ParseGoFlags(argc, argv, desc);
  if (!parsed.ok()) {
    std::cerr << "binlogctl: " << Printable(parsed.status().message(), 4096) << "\nusage: "
              << kHead << "  (binlogctl -h for all)\n";
    return kExitUsage;
  }
  const po::variables_map& vm = *parsed;
  if (vm.count("h") || vm.count("help")) {
    std::cout << GoFlagsUsage(kHead, desc) << "\n" << CommandList();
    return kExitOk;
  }
  if (vm.count("V") || vm.count("version")) {
    std::cout << kVersion << "\n";
    return kExitOk;
  }
  CtlOptions o;
  o.cmd = vm["cmd"].as<std::string>();
  o.pd_urls = vm["pd-urls"].as<std::string>();
  o.registry_dir = vm["registry-dir"].as<std::string>();
  o.node_id = vm["node-id"].as<std::string>();
  o.state = vm["state"].as<std::string>();
  o.show_offline_nodes = vm["show-offline-nodes"].as<bool>();
  o.data_dir = vm["data-dir"].as<std::string>();
  o.text = vm["text"].as<std::string>();
  o.secret_key_file = vm["secret-key-file"].as<std::string>();
  o.timeout_ms = vm["timeout"].as<int>();
  if (o.timeout_ms <= 0) {
    std::cerr << "binlogctl: -timeout must be > 0 milliseconds\n";
    return kExitUsage;
  }
  // What binlogctl reports is its log lines, as TiDB-Binlog's prints them: on stdout.
  LogOptions log;
  log.level = vm.count("L") ? vm["L"].as<std::string>() : "info";
  log.file = vm.count("log-file") ? vm["log-file"].as<std::string>() : "-";
  log.rotate = "none";
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "binlogctl: " << Printable(s.message(), 4096) << "\n";
    return kExitUsage;
  }
  int code = Run(o, std::cout, std::cerr);
  std::cout.flush();
  return code;
}

}  // namespace
}  // namespace binlog::ctl

int main(int argc, char** argv) {
  try {
    return binlog::ctl::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "binlogctl: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return binlog::ctl::kExitFailed;
  }
}
