// --verify (every block of every segment checked, each problem named) and --stats (totals of
// what is readable). Both walk the segments as the dump does (walk.h).
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "journal/journal.h"
#include "segdump/printer.h"
#include "segdump/segdump.h"
#include "segdump/walk.h"

namespace binlog::segdump {
namespace {

// The ts bounds a verified segment showed, to check its neighbours against.
struct Bounds {
  std::string path;
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;
};

struct Tally {
  uint64_t segments = 0;
  uint64_t sealed = 0;
  uint64_t records = 0;
  uint64_t blocks = 0;
  std::optional<uint64_t> first_ts;
  std::optional<uint64_t> last_ts;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;

  void Add(const SegmentSummary& s) {
    ++segments;
    sealed += s.sealed ? 1 : 0;
    records += s.records;
    blocks += s.blocks;
    raw_bytes += s.raw_bytes;
    stored_bytes += s.stored_bytes;
    if (s.first_ts) first_ts = std::min(first_ts.value_or(UINT64_MAX), *s.first_ts);
    if (s.last_ts) last_ts = std::max(last_ts.value_or(0), *s.last_ts);
  }
};

// What a walk found in one segment, for the per-segment lines.
struct Walked {
  const SegmentPlace& place;
  const SegmentSummary& summary;
  bool clean;  // no error reported for it
};

// Walks every segment of every PATH; on_segment sees each one, with the bounds of the previous
// segment of the same directory.
void WalkAll(const Options& options, Reporter* reporter,
             const std::function<void(const Walked&, std::optional<Bounds>*)>& on_segment) {
  for (const std::string& path : options.paths) {
    auto target = ResolveTarget(path);
    if (!target.ok()) {
      reporter->Report(Level::kError, path, std::nullopt, target.status().message());
      continue;
    }
    if (target->is_dir && target->segments.empty()) {
      reporter->Report(Level::kNote, path, std::nullopt, "no segments in this directory");
    }
    std::optional<Bounds> previous;
    for (const SegmentPlace& place : target->segments) {
      const uint64_t errors = reporter->errors();
      SegmentSummary s = WalkSegment(place, WalkBounds{}, reporter, nullptr);
      on_segment(Walked{place, s, reporter->errors() == errors}, &previous);
    }
  }
}

// A seek trusts names: a segment holds no ts below the one in its name, and none at or above
// the next segment's. Only ordered segments promise this.
void CheckOrder(const SegmentPlace& place, const SegmentSummary& s, std::optional<Bounds>* previous,
                Reporter* reporter) {
  if (!s.opened) {
    previous->reset();
    return;
  }
  if (s.header.kind != segment::SegmentKind::kOrdered || !s.first_ts) return;
  auto name = journal::ParseSegmentName(BaseName(place.path));
  if (name && *s.first_ts < name->ts) {
    reporter->Report(
        Level::kError, place.path, std::nullopt,
        fmt::format("holds ts {}, below the ts {} its name promises", *s.first_ts, name->ts));
  }
  if (*previous && (*previous)->last_ts >= *s.first_ts) {
    reporter->Report(
        Level::kError, place.path, std::nullopt,
        fmt::format("first ts {} is not after the last ts {} of the previous segment {}",
                    *s.first_ts, (*previous)->last_ts, OneLine((*previous)->path)));
  }
  *previous = Bounds{place.path, *s.first_ts, *s.last_ts};
}

std::string TsRange(const SegmentSummary& s) {
  if (!s.first_ts) return "no records";
  return fmt::format("ts {}..{}", *s.first_ts, *s.last_ts);
}

void PrintStats(const Tally& s, const Reporter& reporter, const Options& options,
                std::ostream* out) {
  RecordPrinter clock(options.format, false, options.tz, out);
  double ratio = s.stored_bytes > 0 ? static_cast<double>(s.raw_bytes) / s.stored_bytes : 0;
  if (options.format == Format::kJson) {
    using Json = nlohmann::ordered_json;
    auto ts = [&](const std::optional<uint64_t>& v) {
      return v ? Json(std::to_string(*v)) : Json(nullptr);
    };
    auto datetime = [&](const std::optional<uint64_t>& v) {
      return v ? Json(clock.Datetime(*v)) : Json(nullptr);
    };
    Json j = {{"version", kJsonVersion},
              {"segments", s.segments},
              {"sealed", s.sealed},
              {"records", s.records},
              {"blocks", s.blocks},
              {"first_ts", ts(s.first_ts)},
              {"first_datetime", datetime(s.first_ts)},
              {"last_ts", ts(s.last_ts)},
              {"last_datetime", datetime(s.last_ts)},
              {"raw_bytes", s.raw_bytes},
              {"stored_bytes", s.stored_bytes},
              {"compression_ratio", ratio},
              {"errors", reporter.errors()},
              {"warnings", reporter.warnings()}};
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
  *out << fmt::format("errors: {}, warnings: {}\n", reporter.errors(), reporter.warnings());
}

}  // namespace

int RunVerify(const Options& options, std::ostream& out, std::ostream& /*err*/) {
  Reporter reporter(&out);
  Tally tally;
  WalkAll(options, &reporter, [&](const Walked& w, std::optional<Bounds>* previous) {
    const SegmentSummary& s = w.summary;
    const uint64_t errors = reporter.errors();
    tally.Add(s);
    CheckOrder(w.place, s, previous, &reporter);
    if (options.verbose && s.opened && w.clean && reporter.errors() == errors) {
      reporter.Report(Level::kOk, w.place.path, std::nullopt,
                      fmt::format("{}, {} blocks, {} records, {}{}",
                                  s.sealed ? "sealed" : "unsealed", s.blocks, s.records, TsRange(s),
                                  s.transactions_in_parts == 0
                                      ? ""
                                      : fmt::format(", {} transactions in parts, each whole",
                                                    s.transactions_in_parts)));
    }
  });
  out << fmt::format(
      "verify: {}: {} segments, {} records in {} good blocks; errors: {}, warnings: {}, "
      "notes: {}\n",
      reporter.errors() == 0 ? "OK" : "FAILED", tally.segments, tally.records, tally.blocks,
      reporter.errors(), reporter.warnings(), reporter.notes());
  out.flush();
  return reporter.errors() == 0 ? 0 : 1;
}

int RunStats(const Options& options, std::ostream& out, std::ostream& err) {
  Reporter reporter(&err, &out);
  Tally tally;
  WalkAll(options, &reporter, [&](const Walked& w, std::optional<Bounds>*) {
    const SegmentSummary& s = w.summary;
    if (!s.opened) return;
    tally.Add(s);
    if (options.verbose && options.format == Format::kText) {
      out << fmt::format("{}: {}, {} records, {} blocks, {}, {} raw bytes, {} bytes\n",
                         OneLine(w.place.path), s.sealed ? "sealed" : "unsealed", s.records,
                         s.blocks, TsRange(s), s.raw_bytes, s.stored_bytes);
    }
  });
  PrintStats(tally, reporter, options, &out);
  out.flush();
  return reporter.errors() == 0 ? 0 : 1;
}

}  // namespace binlog::segdump
