// segdump: prints, verifies and summarizes segment files and journal directories.
#include <boost/program_options.hpp>
#include <exception>
#include <iostream>
#include <optional>

#include "common/flags.h"
#include "common/logging.h"
#include "common/tso.h"
#include "segdump/segdump.h"

namespace po = boost::program_options;

namespace binlog::segdump {
namespace {

constexpr int kExitBadArgs = 2;
constexpr const char* kVersion = "segdump (binlog) " BINLOG_GIT_VERSION;
constexpr const char* kUsage =
    "usage: segdump [-v] [--format text|json] [--from T] [--to T] [--verify | --stats] PATH...  "
    "(segdump --help for all)";

enum class Mode { kDump, kVerify, kStats };

po::options_description Describe() {
  po::options_description d(
      "segdump: inspects segments offline (docs/SEGDUMP.md)\n"
      "usage: segdump [options] PATH...\n"
      "  PATH is a journal directory (all its segments, in order) or one segment file (any\n"
      "  name). Default output: one line per record: ts, datetime, type, start_ts, then the\n"
      "  DDL query or each table's row changes as schema.table +inserted ~updated -deleted.\n"
      "  Every mode reads the same records: a damaged region is named (file, byte offset,\n"
      "  bytes skipped) and reading goes on at the next good block and the next segment.\n"
      "  Exit status: 0 fine; 1 damage found, or a PATH that cannot be read as segments\n"
      "  (missing, not a segment, or neither a regular file nor a directory: a FIFO, a\n"
      "  device, a socket are refused unread); 2 bad arguments. Damage is anything wrong in a\n"
      "  sealed segment or in one with newer segments beside it; bytes at the end of the\n"
      "  newest unsealed segment that are not whole blocks are a torn tail (what a crash\n"
      "  leaves): a warning, exit 0. Problems go to stderr (--verify: stdout) as lines\n"
      "  ERROR|WARNING|NOTE PATH: offset N: what.\n"
      "Options (-flag and --flag are the same)",
      100, 50);
  auto add = d.add_options();
  add("help,h", "print this help and exit");
  add("version,V", "print the version and exit");
  add("verbose,v", po::bool_switch(),
      "also print each record's upstream position (SOURCE server_id, binlog file, pos, GTID, "
      "event time) and row values (column=value, NULL, before→after for updates, <absent> "
      "for a column the row image leaves out); with --verify an OK line per good segment, "
      "with --stats a line per segment");
  add("format", po::value<std::string>()->default_value("text"),
      "text, or json: one JSON object per record, \"version\": 1 (ts as strings, source, ddl, "
      "tables with counts and, with -v, columns and rows of typed values such as "
      "{\"string\":\"A\"}, {\"bytes\":\"41\"}, {\"null\":true}, {\"absent\":true}; segment "
      "and block_offset). With --stats: one JSON object");
  add("from", po::value<std::string>(),
      "first ts to print, inclusive: a TSO or a datetime \"YYYY-MM-DD hh:mm:ss[.ffffff]\"");
  add("to", po::value<std::string>(), "last ts to print, inclusive; same forms as --from");
  add("tz", po::value<std::string>()->default_value(""),
      "time zone for datetimes in and out: IANA name, UTC or +08:00; empty: the local zone");
  add("limit", po::value<int64_t>()->default_value(0), "print at most N records; 0 = all");
  add("verify", po::bool_switch(),
      "read every block of every segment (checksums, framing, records that parse), the "
      "footers and the ts order of segments; print each problem and a summary. Exit 1 on "
      "damage; a torn tail in the newest unsealed segment is only a warning, and zeros past "
      "its data (a live pump's preallocated space) a note");
  add("stats", po::bool_switch(),
      "totals of what is readable, from reading every block as --verify does: segments, "
      "records, blocks, ts range, raw vs stored bytes (stored: without the zeros written "
      "ahead of the data), compression ratio, errors and warnings");
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
  Result<po::variables_map> parsed = ParseGoFlags(argc, argv, all, positional);
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
        return RunVerify(options, std::cout, std::cerr);
      case Mode::kStats:
        return RunStats(options, std::cout, std::cerr);
      case Mode::kDump:
        return RunDump(options, std::cout, std::cerr);
    }
  } catch (const std::exception& e) {
    std::cerr << "segdump: unexpected error: " << e.what() << "\n";
  }
  return 1;
}
