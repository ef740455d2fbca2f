// --verify (check every block of every segment) and --stats (totals, from footers when sealed).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "common/logging.h"
#include "common/tso.h"
#include "journal/journal.h"
#include "segdump/printer.h"
#include "segdump/segdump.h"
#include "segment/segment.h"

namespace binlog::segdump {
namespace {

using segment::ScanResult;
using segment::Trailer;

struct VerifyTally {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t blocks = 0;
  uint64_t errors = 0;
  uint64_t warnings = 0;
  uint64_t notes = 0;
};

// The ts bounds a verified segment showed, to check its neighbours against.
struct Bounds {
  std::string path;
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;
};

class Verifier {
 public:
  explicit Verifier(const Options& options, std::ostream* out) : options_(options), out_(out) {}

  void VerifyPath(const std::string& path);
  const VerifyTally& tally() const { return tally_; }

 private:
  // newest: the last segment of a directory, or a file named on its own; a torn tail there is
  // what a crash leaves and the writer cuts, not damage.
  void VerifySegment(const std::string& path, bool newest, std::optional<Bounds>* previous);
  void CheckOrder(const std::string& path, const ScanResult& scan, std::optional<Bounds>* previous);
  void Error(const std::string& path, std::optional<uint64_t> offset, const std::string& what) {
    Line("ERROR  ", path, offset, what);
    ++tally_.errors;
  }
  void Line(std::string_view level, const std::string& path, std::optional<uint64_t> offset,
            const std::string& what) {
    *out_ << level << ' ' << path;
    if (offset) *out_ << ": offset " << *offset;
    *out_ << ": " << what << '\n';
  }

  const Options& options_;
  std::ostream* out_;
  VerifyTally tally_;
};

void Verifier::VerifyPath(const std::string& path) {
  auto target = ResolveTarget(Env::Posix(), path);
  if (!target.ok()) return Error(path, std::nullopt, target.status().ToString());
  if (target->is_dir && target->segments.empty()) {
    Line("NOTE   ", path, std::nullopt, "no segments in this directory");
    ++tally_.notes;
  }
  std::optional<Bounds> previous;
  for (size_t i = 0; i < target->segments.size(); ++i) {
    VerifySegment(target->segments[i], i + 1 == target->segments.size(), &previous);
  }
}

void Verifier::VerifySegment(const std::string& path, bool newest,
                             std::optional<Bounds>* previous) {
  ++tally_.segments;
  auto size = Env::Posix()->GetFileSize(path);
  const bool segment_name = journal::ParseSegmentName(BaseName(path)).has_value();
  if (newest && segment_name && size.ok() && *size < segment::kHeaderSize) {
    Line("WARNING", path, std::nullopt,
         fmt::format("{} bytes, its header was never written (a crash right after creating it; "
                     "the writer removes it when it next opens)",
                     *size));
    ++tally_.warnings;
    return;
  }
  segment::ScanOptions so;
  so.verify_payloads = true;
  auto scan = segment::ScanSegment(Env::Posix(), path, so);
  if (!scan.ok()) {
    previous->reset();
    return Error(path, 0, scan.status().ToString());
  }
  const Trailer& good = scan->footer.totals();
  tally_.records += good.record_count;
  tally_.blocks += good.block_count;
  const uint64_t errors_before = tally_.errors;
  if (!scan->footer_status.ok()) Error(path, std::nullopt, scan->footer_status.ToString());
  for (const segment::Damage& d : scan->damages) {
    // The reason may repeat the file and offset this line already starts with.
    std::string_view reason = d.reason;
    std::string prefix = fmt::format("{}: block at offset {}: ", path, d.offset);
    if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
    Error(path, d.offset,
          fmt::format("damaged region of {} bytes, good blocks after it: {}", d.length, reason));
  }
  if (scan->torn_tail_at && scan->tail_unwritten && newest) {
    // The pump preallocates wal/ and binlog/: a live active segment always ends so.
    Line("NOTE   ", path, *scan->torn_tail_at,
         fmt::format("{} zero bytes written ahead of the data (a live segment's preallocated "
                     "space, or what a crash leaves; the writer cuts them when it closes or next "
                     "opens)",
                     scan->file_size - *scan->torn_tail_at));
    ++tally_.notes;
  } else if (scan->torn_tail_at) {
    std::string what = fmt::format("torn tail of {} bytes", scan->file_size - *scan->torn_tail_at);
    if (newest) {
      Line("WARNING", path, *scan->torn_tail_at,
           what + " (what a crash leaves behind; the writer cuts it when it next opens)");
      ++tally_.warnings;
    } else {
      Error(path, *scan->torn_tail_at, what + " in a segment that is not the newest");
    }
  }
  if (!scan->trailer && scan->footer_status.ok() && !newest) {
    Line("NOTE   ", path, std::nullopt,
         "not sealed though newer segments exist (left by a crash; the writer seals it when it "
         "next opens)");
    ++tally_.notes;
  }
  CheckOrder(path, *scan, previous);
  if (options_.verbose && tally_.errors == errors_before) {
    Line("OK     ", path, std::nullopt,
         fmt::format("{}, {} blocks, {} records, ts {}..{}", scan->trailer ? "sealed" : "unsealed",
                     good.block_count, good.record_count, good.first_ts, good.last_ts));
  }
}

// A seek trusts names: a segment holds no ts below the one in its name, and none at or above
// the next segment's. Only ordered segments promise this.
void Verifier::CheckOrder(const std::string& path, const ScanResult& scan,
                          std::optional<Bounds>* previous) {
  const Trailer& good = scan.footer.totals();
  if (scan.header.kind != segment::SegmentKind::kOrdered || good.record_count == 0) return;
  auto name = journal::ParseSegmentName(BaseName(path));
  if (name && good.first_ts < name->ts) {
    Error(path, std::nullopt,
          fmt::format("holds ts {}, below the ts {} its name promises", good.first_ts, name->ts));
  }
  if (*previous && (*previous)->last_ts >= good.first_ts) {
    Error(path, std::nullopt,
          fmt::format("first ts {} is not after the last ts {} of the previous segment {}",
                      good.first_ts, (*previous)->last_ts, (*previous)->path));
  }
  *previous = Bounds{path, good.first_ts, good.last_ts};
}

struct StatsTally {
  uint64_t segments = 0;
  uint64_t sealed = 0;
  uint64_t records = 0;
  uint64_t blocks = 0;
  std::optional<uint64_t> first_ts;
  std::optional<uint64_t> last_ts;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;
};

// A segment's totals: the footer's when sealed, else rebuilt from its block headers (payloads
// are not read, so this stays fast on a large active segment). *stored_bytes: the file's size,
// less zeros written ahead of the data, which hold nothing yet.
Result<Trailer> SegmentTotals(const std::string& path, bool* sealed, uint64_t* stored_bytes) {
  ASSIGN_OR_RETURN(*stored_bytes, Env::Posix()->GetFileSize(path));
  ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(Env::Posix(), path));
  *sealed = reader->sealed();
  if (reader->sealed()) return *reader->trailer();
  if (!reader->footer_status().ok()) {
    LOG_WARN("damaged footer; counting the segment's blocks instead",
             KV("error", reader->footer_status()));
  }
  segment::ScanOptions so;
  so.verify_payloads = false;
  ASSIGN_OR_RETURN(ScanResult scan, segment::ScanSegment(Env::Posix(), path, so));
  if (scan.torn_tail_at && scan.tail_unwritten) *stored_bytes = *scan.torn_tail_at;
  return scan.footer.totals();
}

bool AddSegmentStats(const std::string& path, const Options& options, StatsTally* tally,
                     std::ostream* out) {
  bool sealed = false;
  uint64_t size = 0;
  auto totals = SegmentTotals(path, &sealed, &size);
  if (!totals.ok()) {
    LOG_ERROR("cannot read segment", KV("error", totals.status()));
    return false;
  }
  const Trailer& t = *totals;
  ++tally->segments;
  tally->sealed += sealed ? 1 : 0;
  tally->records += t.record_count;
  tally->blocks += t.block_count;
  tally->raw_bytes += t.raw_bytes;
  tally->stored_bytes += size;
  if (t.record_count > 0) {
    tally->first_ts = std::min(tally->first_ts.value_or(UINT64_MAX), t.first_ts);
    tally->last_ts = std::max(tally->last_ts.value_or(0), t.last_ts);
  }
  if (options.verbose && options.format == Format::kText) {
    *out << fmt::format("{}: {}, {} records, {} blocks, ts {}..{}, {} raw bytes, {} bytes\n", path,
                        sealed ? "sealed" : "unsealed", t.record_count, t.block_count, t.first_ts,
                        t.last_ts, t.raw_bytes, size);
  }
  return true;
}

void PrintStats(const StatsTally& s, const Options& options, std::ostream* out) {
  RecordPrinter clock(options.format, false, options.tz, out);
  double ratio = s.stored_bytes > 0 ? static_cast<double>(s.raw_bytes) / s.stored_bytes : 0;
  if (options.format == Format::kJson) {
    nlohmann::ordered_json j = {{"segments", s.segments},    {"sealed", s.sealed},
                                {"records", s.records},      {"blocks", s.blocks},
                                {"first_ts", nullptr},       {"first_datetime", nullptr},
                                {"last_ts", nullptr},        {"last_datetime", nullptr},
                                {"raw_bytes", s.raw_bytes},  {"stored_bytes", s.stored_bytes},
                                {"compression_ratio", ratio}};
    if (s.first_ts) {
      j["first_ts"] = *s.first_ts;
      j["first_datetime"] = clock.Datetime(*s.first_ts);
      j["last_ts"] = *s.last_ts;
      j["last_datetime"] = clock.Datetime(*s.last_ts);
    }
    *out << j.dump() << '\n';
    return;
  }
  *out << fmt::format("segments: {} ({} sealed, {} unsealed)\n", s.segments, s.sealed,
                      s.segments - s.sealed);
  *out << fmt::format("records: {}\nblocks: {}\n", s.records, s.blocks);
  if (s.first_ts) {
    *out << fmt::format("first ts: {} ({})\n", *s.first_ts, clock.Datetime(*s.first_ts));
    *out << fmt::format("last ts: {} ({})\n", *s.last_ts, clock.Datetime(*s.last_ts));
  }
  *out << fmt::format("raw bytes: {}\nstored bytes: {}\ncompression ratio: {:.2f}\n", s.raw_bytes,
                      s.stored_bytes, ratio);
}

}  // namespace

int RunVerify(const Options& options, std::ostream& out) {
  Verifier verifier(options, &out);
  for (const std::string& path : options.paths) verifier.VerifyPath(path);
  const VerifyTally& t = verifier.tally();
  out << fmt::format(
      "verify: {}: {} segments, {} records in {} good blocks; errors: {}, "
      "warnings: {}, notes: {}\n",
      t.errors == 0 ? "OK" : "FAILED", t.segments, t.records, t.blocks, t.errors, t.warnings,
      t.notes);
  out.flush();
  return t.errors == 0 ? 0 : 1;
}

int RunStats(const Options& options, std::ostream& out) {
  StatsTally tally;
  bool failed = false;
  for (const std::string& path : options.paths) {
    auto target = ResolveTarget(Env::Posix(), path);
    if (!target.ok()) {
      LOG_ERROR("cannot read", KV("error", target.status()));
      failed = true;
      continue;
    }
    for (const std::string& seg : target->segments) {
      if (!AddSegmentStats(seg, options, &tally, &out)) failed = true;
    }
  }
  PrintStats(tally, options, &out);
  out.flush();
  return failed ? 1 : 0;
}

}  // namespace binlog::segdump
