#include "binlog-gc/flags.h"

#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "common/config.h"
#include "common/flags.h"
#include "common/logging.h"

namespace binlog::gctool {

namespace po = boost::program_options;

namespace {

po::options_description Describe() {
  po::options_description d("binlog-gc options", 100, 50);
  auto add = d.add_options();
  add("data-dir", po::value<std::string>(),
      "the directory of segments: a pump's binlog/, a relay log, a file-sink output, a syncer "
      "journal (required)");
  add("retention", po::value<std::string>(),
      "delete sealed segments whose newest record is older than this: 7d, 24h, 90m, 1d12h; 0 "
      "with -max-size: by size only (required)");
  add("max-size", po::value<std::string>(),
      "also delete the oldest segments until the directory's segments fit: 50GiB, 512MiB");
  add("dry-run", po::value<bool>()->implicit_value(true),
      "print what would be deleted; delete nothing, create nothing");
  add("force", po::value<bool>()->implicit_value(true),
      "delete past the drainer guard (what a drainer that is not offline has not read)");
  add("pd-urls", po::value<std::string>(),
      "the registry whose drainers guard the segments: etcd endpoints, or file:///dir for the embedded one");
  add("registry-dir", po::value<std::string>(), "the embedded registry's directory");
  add("gc-guard-lease", po::value<std::string>()->default_value("24h"),
      "a drainer whose heartbeat is older than this does not hold GC back");
  add("stop-write-at-available-space", po::value<std::string>()->default_value("10GiB"),
      "below this much available space on the directory's file system the guard gives way, "
      "logged at ERROR with each segment deleted; 0: never");
  AddStandardFlags(&d);
  return d;
}

Status BadFlag(std::string_view flag, const Status& why) {
  return Status::InvalidArgument(fmt::format("flag -{}: {}", flag, why.message()));
}

Result<double> Duration(const po::variables_map& vm, const char* flag) {
  Result<double> d = ParseDaysDuration(vm[flag].as<std::string>());
  if (!d.ok()) return BadFlag(flag, d.status());
  if (*d < 0) return BadFlag(flag, Status::InvalidArgument("a duration >= 0"));
  return d;
}

Result<uint64_t> Size(const po::variables_map& vm, const char* flag) {
  Result<uint64_t> n = ParseSize(vm[flag].as<std::string>());
  if (!n.ok()) return BadFlag(flag, n.status());
  return n;
}

}  // namespace

std::string Usage() {
  return GoFlagsUsage(
      "usage: binlog-gc -data-dir DIR -retention 7d [-max-size 50GiB] [-dry-run] [-force]\n"
      "                 [-pd-urls URL | -registry-dir DIR] [-gc-guard-lease 24h]\n"
      "  deletes whole sealed segments, oldest first, never the newest; safe while a pump,\n"
      "  drainer or syncer writes the directory (docs/GC.md). Prints each segment deleted and\n"
      "  the bytes freed. Exit 0 done (also: nothing to delete, held back by a drainer), 1 the\n"
      "  GC failed, 2 bad flags. Logs go to stderr (or -log-file) at -L warn unless told.",
      Describe());
}

Result<Flags> ParseFlags(int argc, const char* const* argv) {
  ASSIGN_OR_RETURN(po::variables_map vm, ParseGoFlags(argc, argv, Describe()));
  Flags f;
  f.help = vm.count("h") > 0 || vm.count("help") > 0;
  f.version = vm.count("V") > 0 || vm.count("version") > 0;
  if (f.help || f.version) return f;
  if (!vm.count("data-dir") || vm["data-dir"].as<std::string>().empty()) {
    return Status::InvalidArgument("-data-dir is required: the directory of segments to clean");
  }
  f.data_dir = vm["data-dir"].as<std::string>();
  if (!vm.count("retention")) {
    return Status::InvalidArgument(
        "-retention is required: how old a segment's newest record must be to go (e.g. 7d)");
  }
  ASSIGN_OR_RETURN(f.retention_seconds, Duration(vm, "retention"));
  if (vm.count("max-size")) {
    ASSIGN_OR_RETURN(f.max_size, Size(vm, "max-size"));
    if (f.max_size == 0) return Status::InvalidArgument("flag -max-size: must be above 0");
  }
  if (f.retention_seconds == 0 && f.max_size == 0) {
    return Status::InvalidArgument(
        "-retention 0 without -max-size would never delete anything; give a retention or a "
        "max size");
  }
  f.dry_run = vm.count("dry-run") && vm["dry-run"].as<bool>();
  f.force = vm.count("force") && vm["force"].as<bool>();
  if (vm.count("pd-urls")) f.pd_urls = vm["pd-urls"].as<std::string>();
  if (vm.count("registry-dir")) f.registry_dir = vm["registry-dir"].as<std::string>();
  ASSIGN_OR_RETURN(f.guard_lease_seconds, Duration(vm, "gc-guard-lease"));
  ASSIGN_OR_RETURN(f.stop_write_at_available_space, Size(vm, "stop-write-at-available-space"));
  if (vm.count("L")) f.log_level = vm["L"].as<std::string>();
  if (!ParseLogLevel(f.log_level).ok()) {
    return Status::InvalidArgument(fmt::format(
        "flag -L: expected debug, info, warn, error or fatal, got \"{}\"", f.log_level));
  }
  if (vm.count("log-file")) f.log_file = vm["log-file"].as<std::string>();
  return f;
}

}  // namespace binlog::gctool
