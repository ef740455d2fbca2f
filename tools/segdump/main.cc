// segdump: prints, verifies and summarizes segment files and journal directories.
#include <boost/program_options.hpp>
#include <exception>
#include <iostream>
#include <optional>

#include "common/logging.h"
#include "common/tso.h"
#include "segdump/segdump.h"

namespace po = boost::program_options;

namespace binlog::segdump {
namespace {

constexpr int kExitBadArgs = 2;
constexpr const char* kUsage =
    "usage: segdump [-v] [--format text|json] [--from T] [--to T] [--verify | --stats] PATH...  "
    "(segdump --help for all)";

enum class Mode { kDump, kVerify, kStats };

po::options_description Describe() {
  po::options_description d(
      "segdump: inspects segments offline\n"
      "usage: segdump [options] PATH...\n"
      "  PATH is a journal directory (all its segments, in order) or one segment file (any\n"
      "  name). Default output: one line per record: ts, datetime, type, start_ts, then the\n"
      "  DDL query or each table's row changes as schema.table +inserted ~updated -deleted.\n"
      "  Exit status: 0 fine, 1 damage or unreadable data found, 2 bad arguments.\n"
      "Options (-flag and --flag are the same)",
      100, 50);
  auto add = d.add_options();
  add("help,h", "print this help and exit");
  add("verbose,v", po::bool_switch(),
      "also print row values (column=value, NULL, before→after for updates); with --verify "
      "an OK line per good segment, with --stats a line per segment");
  add("format", po::value<std::string>()->default_value("text"),
      "text, or json: one JSON object per record (ts, datetime, type, start_ts, commit_ts, "
      "ddl, tables with counts and, with -v, rows; segment and block_offset). Bytes are "
      "\"0x..\" hex text, decimals exact text. With --stats: one JSON object");
  add("from", po::value<std::string>(),
      "first ts to print, inclusive: a TSO or a datetime \"YYYY-MM-DD hh:mm:ss[.ffffff]\"");
  add("to", po::value<std::string>(), "last ts to print, inclusive; same forms as --from");
  add("tz", po::value<std::string>()->default_value(""),
      "time zone for datetimes in and out: IANA name, UTC or +08:00; empty: the local zone");
  add("limit", po::value<int64_t>()->default_value(0), "print at most N records; 0 = all");
  add("verify", po::bool_switch(),
      "check every block's checksum and framing, the footers and the ts order of segments; "
      "prints each problem with its file and byte offset and a summary. Exit 1 on damage; a "
      "torn tail in the newest segment (what a crash leaves) is only a warning, and zeros "
      "past its data (a live pump's preallocated space) a note");
  add("stats", po::bool_switch(),
      "totals: segments, records, blocks, ts range, raw vs stored bytes, compression ratio "
      "(sealed segments: from their footers; unsealed ones: from block headers, and stored "
      "bytes without the zeros written ahead of the data)");
  add("log-level", po::value<std::string>()->default_value("info"), "debug, info, warn, error");
  return d;
}

void UsageError(const std::string& message) {
  std::cerr << "segdump: " << message << "\n" << kUsage << "\n";
}

// Returns an exit code when the program should stop now (help or bad arguments).
std::optional<int> ParseArgs(int argc, char** argv, Options* o, Mode* mode) {
  po::options_description desc = Describe();
  po::options_description all;
  all.add(desc).add_options()("path", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("path", -1);
  po::variables_map vm;
  try {
    auto style = (po::command_line_style::default_style & ~po::command_line_style::allow_guessing) |
                 po::command_line_style::allow_long_disguise;
    po::store(
        po::command_line_parser(argc, argv).options(all).positional(positional).style(style).run(),
        vm);
    po::notify(vm);
  } catch (const po::error& e) {
    UsageError(e.what());
    return kExitBadArgs;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  auto bad = [](const std::string& m) {
    UsageError(m);
    return std::optional<int>(kExitBadArgs);
  };
  if (!vm.count("path")) return bad("no PATH given");
  o->paths = vm["path"].as<std::vector<std::string>>();
  o->verbose = vm["verbose"].as<bool>();
  o->tz = vm["tz"].as<std::string>();
  std::string format = vm["format"].as<std::string>();
  if (format != "text" && format != "json") return bad("--format must be text or json");
  o->format = format == "json" ? Format::kJson : Format::kText;
  if (auto zone = FormatTSDatetime(0, o->tz); !zone.ok())
    return bad("--tz: " + zone.status().message());
  for (const char* name : {"from", "to"}) {
    if (!vm.count(name)) continue;
    auto ts = ParseTSOrDatetime(vm[name].as<std::string>(), o->tz);
    if (!ts.ok()) return bad(std::string("--") + name + ": " + ts.status().message());
    (std::string_view(name) == "from" ? o->from : o->to) = *ts;
  }
  if (o->from > o->to) return bad("--from is after --to");
  int64_t limit = vm["limit"].as<int64_t>();
  if (limit < 0) return bad("--limit must be >= 0");
  o->limit = static_cast<uint64_t>(limit);
  bool verify = vm["verify"].as<bool>();
  bool stats = vm["stats"].as<bool>();
  if (verify && stats) return bad("--verify and --stats are separate runs; give one");
  if ((verify || stats) && (vm.count("from") || vm.count("to") || limit != 0)) {
    return bad(
        "--from, --to and --limit select records to print; --verify and --stats read "
        "whole segments");
  }
  if (verify && o->format == Format::kJson) return bad("--verify prints text only");
  *mode = verify ? Mode::kVerify : stats ? Mode::kStats : Mode::kDump;
  auto level = vm["log-level"].as<std::string>();
  if (!ParseLogLevel(level).ok()) return bad("--log-level: unknown level " + level);
  if (Status s = InitLogging(LogOptions{level, "", "none"}); !s.ok()) return bad(s.ToString());
  return std::nullopt;
}

}  // namespace
}  // namespace binlog::segdump

int main(int argc, char** argv) {
  using namespace binlog::segdump;
  try {
    std::ios::sync_with_stdio(false);
    Options options;
    Mode mode = Mode::kDump;
    if (auto code = ParseArgs(argc, argv, &options, &mode)) return *code;
    switch (mode) {
      case Mode::kVerify:
        return RunVerify(options, std::cout);
      case Mode::kStats:
        return RunStats(options, std::cout);
      case Mode::kDump:
        return RunDump(options, std::cout);
    }
  } catch (const std::exception& e) {
    std::cerr << "segdump: unexpected error: " << e.what() << "\n";
  }
  return 1;
}
