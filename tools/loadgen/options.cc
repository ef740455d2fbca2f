#include "loadgen/options.h"

#include <boost/program_options.hpp>
#include <iostream>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "journal/journal.h"

namespace po = boost::program_options;

namespace binlog::loadgen {
namespace {

constexpr int kExitBadArgs = 2;
constexpr const char* kVersion = "loadgen (binlog) " BINLOG_GIT_VERSION;
constexpr const char* kUsage =
    "usage: loadgen (--dir DIR | --pump HOST:PORT...) [options]  (loadgen --help for all)";

po::options_description Describe() {
  po::options_description d(
      "loadgen: writes synthetic transactions into a journal directory, or through pumps\n"
      "Options (-flag and --flag are the same)",
      100, 50);
  auto add = d.add_options();
  add("help,h", "print this help and exit");
  add("version,V", "print the version and exit");
  add("dir", po::value<std::string>(), "journal directory to append committed transactions to");
  add("pump", po::value<std::vector<std::string>>()->composing(),
      "a pump's gRPC address (repeat for several: transactions are spread across them); each "
      "transaction is a PREWRITE, then, once acknowledged, a COMMIT, as TiDB writes them. "
      "--batch binlogs go in one WriteBinlogs call (--batch 1: one WriteBinlog per binlog)");
  add("count", po::value<int64_t>()->default_value(100000), "transactions to write");
  add("rate", po::value<double>()->default_value(0), "transactions per second; 0 = unlimited");
  add("txn-rows", po::value<double>()->default_value(4),
      "average row changes per transaction (uniform over 1 .. 2*N-1)");
  add("ddl-ratio", po::value<double>()->default_value(0.001, "0.001"),
      "share of transactions that are one DDL (ALTER TABLE ADD COLUMN / CREATE INDEX)");
  add("tables", po::value<int>()->default_value(4), "sysbench-shaped tables sbtest.sbtest1..N");
  add("table-size", po::value<int64_t>()->default_value(10000),
      "rows each table holds before the run, as after sysbench prepare");
  add("typed-table", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
      "also write shop.orders (bigint unsigned, decimal, double, datetime(6), utf8mb4 "
      "varchar, enum, blob, nullable columns)");
  add("seed", po::value<int64_t>()->default_value(1),
      "random seed: the same seed and --threads give the same row contents (timestamps come "
      "from the clock)");
  add("batch", po::value<int>()->default_value(64),
      "transactions per Journal::Append call (group commit: one write and one fdatasync "
      "for the whole batch)");
  add("threads", po::value<int>()->default_value(1),
      "generator threads; each owns a share of the row ids. They share one ts sequencer: "
      "batches that wait together get their commit ts in queue order and go into a single "
      "Append, so the journal sees increasing ts and one fdatasync serves them all");
  add("max-file-size", po::value<std::string>()->default_value("512MiB"),
      "rotate segments at this size (e.g. 64MiB, 1GiB, 65536)");
  add("sync-log", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
      "fdatasync before an append is acknowledged (-sync-log=false: faster, a crash can lose "
      "acknowledged transactions)");
  add("ack-log", po::value<std::string>(),
      "after each acknowledged append, add its commit ts to this file, one per line");
  add("log-level", po::value<std::string>()->default_value("info"), "debug, info, warn, error");
  return d;
}

void UsageError(const std::string& message) {
  std::cerr << "loadgen: " << message << "\n" << kUsage << "\n";
}

// Returns an exit code when the program should stop now (help or bad arguments).
}  // namespace

std::optional<int> ParseArgs(int argc, char** argv, Options* o) {
  po::options_description desc = Describe();
  Result<po::variables_map> parsed = ParseGoFlags(argc, argv, desc);
  if (!parsed.ok()) {
    UsageError(parsed.status().message());
    return kExitBadArgs;
  }
  const po::variables_map& vm = *parsed;
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << kVersion << "\n";
    return 0;
  }
  auto bad = [](const std::string& m) {
    UsageError(m);
    return std::optional<int>(kExitBadArgs);
  };
  if (vm.count("dir") == vm.count("pump")) return bad("give either --dir or --pump");
  if (vm.count("dir")) o->dir = vm["dir"].as<std::string>();
  if (vm.count("pump")) o->pumps = vm["pump"].as<std::vector<std::string>>();
  o->count = vm["count"].as<int64_t>();
  o->rate = vm["rate"].as<double>();
  o->threads = vm["threads"].as<int>();
  o->batch = vm["batch"].as<int>();
  o->sync_log = vm["sync-log"].as<bool>();
  o->log_level = vm["log-level"].as<std::string>();
  if (vm.count("ack-log")) o->ack_log = vm["ack-log"].as<std::string>();
  auto& w = o->workload;
  w.txn_rows = vm["txn-rows"].as<double>();
  w.ddl_ratio = vm["ddl-ratio"].as<double>();
  w.tables = vm["tables"].as<int>();
  w.typed_table = vm["typed-table"].as<bool>();
  int64_t table_size = vm["table-size"].as<int64_t>();
  int64_t seed = vm["seed"].as<int64_t>();
  if (o->count < 0) return bad("--count must be >= 0");
  if (o->rate < 0) return bad("--rate must be >= 0");
  if (o->threads < 1 || o->threads > 1024) return bad("--threads must be in 1..1024");
  if (o->batch < 1) return bad("--batch must be >= 1");
  if (!(w.txn_rows >= 1 && w.txn_rows <= 100000)) return bad("--txn-rows must be in 1..100000");
  if (!(w.ddl_ratio >= 0 && w.ddl_ratio <= 1)) return bad("--ddl-ratio must be in 0..1");
  if (w.tables < 0 || (w.tables == 0 && !w.typed_table)) {
    return bad("--tables must be >= 0, and > 0 when --typed-table=false");
  }
  if (table_size < 0) return bad("--table-size must be >= 0");
  if (seed < 0) return bad("--seed must be >= 0");
  w.table_size = static_cast<uint64_t>(table_size);
  w.seed = static_cast<uint64_t>(seed);
  auto size = ParseSize(vm["max-file-size"].as<std::string>());
  if (!size.ok()) return bad("--max-file-size: " + size.status().message());
  if (*size < journal::kMinMaxFileSize) return bad("--max-file-size must be at least 4 KiB");
  o->max_file_size = *size;
  if (!ParseLogLevel(o->log_level).ok()) return bad("--log-level: unknown level " + o->log_level);
  return std::nullopt;
}

}  // namespace binlog::loadgen
