#include "pump/sources.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace binlog::pump {

namespace {

constexpr int kVersion = 1;

}  // namespace

void SourceTable::Note(uint64_t commit_ts, const pb::SourcePosition& source) {
  SourceEntry& e = entries_[source.server_id()];
  if (commit_ts <= e.commit_ts) return;
  e.commit_ts = commit_ts;
  e.source = source;
  ++version_;
}

std::optional<SourceEntry> SourceTable::Get(uint32_t server_id) const {
  auto it = entries_.find(server_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::string SourceTable::Encode() const {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& [id, e] : entries_) {
    sources.push_back({{"server-id", id},
                       {"commit-ts", e.commit_ts},
                       {"file", e.source.file()},
                       {"pos", e.source.pos()},
                       {"gtid", e.source.gtid()},
                       {"event-time", e.source.event_time()}});
  }
  nlohmann::json doc = {{"version", kVersion}, {"sources", sources}};
  return doc.dump(1) + "\n";
}

Status SourceTable::Decode(std::string_view text, const std::string& origin) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Corruption(fmt::format("{}: not a JSON object", origin));
  }
  if (doc.value("version", 0) != kVersion) {
    return Status::Unsupported(fmt::format("{}: version {} (this build reads version {})", origin,
                                           doc.value("version", 0), kVersion));
  }
  auto sources = doc.find("sources");
  if (sources == doc.end() || !sources->is_array()) {
    return Status::Corruption(fmt::format("{}: no \"sources\" array", origin));
  }
  for (const nlohmann::json& s : *sources) {
    if (!s.is_object() || !s.contains("server-id") || !s["server-id"].is_number_unsigned() ||
        !s.contains("commit-ts") || !s["commit-ts"].is_number_unsigned()) {
      return Status::Corruption(
          fmt::format("{}: a source without an unsigned server-id and commit-ts", origin));
    }
    pb::SourcePosition p;
    p.set_server_id(s["server-id"].get<uint32_t>());
    p.set_file(s.value("file", ""));
    p.set_pos(s.value("pos", uint64_t{0}));
    p.set_gtid(s.value("gtid", ""));
    p.set_event_time(s.value("event-time", uint32_t{0}));
    Note(s["commit-ts"].get<uint64_t>(), p);
  }
  return Status::OK();
}

Status SourceTable::Load(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return Status::OK();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, path));
  return Decode(text, path);
}

Status SourceTable::Save(Env* env, const std::string& path) const {
  return WriteFileAtomic(env, path, Encode());
}

}  // namespace binlog::pump
