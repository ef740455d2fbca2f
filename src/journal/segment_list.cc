#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/logging.h"
#include "common/tso.h"
#include "journal/journal.h"

namespace binlog::journal {

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::optional<SegmentName> ParseSegmentName(const std::string& name) {
  constexpr std::string_view kPrefix = "binlog-";
  if (name.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::string_view rest = std::string_view(name).substr(kPrefix.size());
  size_t dash = rest.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view ts = rest.substr(0, dash);
  std::string_view created = rest.substr(dash + 1);
  if (!AllDigits(ts) || ts.size() > 20 || created.size() != 14 || !AllDigits(created)) {
    return std::nullopt;
  }
  SegmentName out;
  out.name = name;
  errno = 0;
  out.ts = std::strtoull(std::string(ts).c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  out.created = std::string(created);
  return out;
}

std::string MakeSegmentName(uint64_t ts, int64_t created_micros) {
  return fmt::format("binlog-{:016d}-{}", ts, FormatCompactLocal(created_micros));
}

Result<std::vector<SegmentName>> ListSegments(Env* env, const std::string& dir, bool warn_unknown) {
  ASSIGN_OR_RETURN(std::vector<std::string> children, env->GetChildren(dir));
  std::vector<SegmentName> out;
  for (const std::string& child : children) {
    if (auto seg = ParseSegmentName(child)) {
      out.push_back(std::move(*seg));
      continue;
    }
    // The drainer's file sink keeps its checkpoint (savepoint) beside its segments, as
    // TiDB-Binlog's does.
    if (child == "LOCK" || child == kGcLockName || child == "savepoint" ||
        child.find(".broken") != std::string::npos || EndsWith(child, ".tmp") ||
        EndsWith(child, ".dropped")) {
      continue;
    }
    if (warn_unknown)
      LOG_WARN("ignoring a file that is not a segment", KV("dir", dir), KV("file", child));
  }
  std::sort(out.begin(), out.end(), [](const SegmentName& a, const SegmentName& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.created < b.created;
  });
  return out;
}

}  // namespace binlog::journal
