#include "syncer/meta.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <vector>

#include "common/config.h"

namespace binlog::syncer {

namespace {

// A dump's replication position is in its header; the data follows. Reading more than this
// means it is not there.
constexpr size_t kDumpHeadBytes = 16 << 20;
constexpr size_t kDumpTailBytes = 1 << 20;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ParseUint(std::string_view s, uint64_t* out) {
  s = Trim(s);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "mariadb-bin.000012" -> ("mariadb-bin", 12).
bool SplitFileName(const std::string& name, std::string* base, uint64_t* seq) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return false;
  *base = name.substr(0, dot);
  return ParseUint(std::string_view(name).substr(dot + 1), seq);
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// The quoted value after `key` ("MASTER_LOG_FILE='x'"), or the digits after it.
std::optional<std::string> ValueAfter(std::string_view line, std::string_view key) {
  size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(at + key.size());
  if (!rest.empty() && rest.front() == '\'') {
    size_t end = rest.find('\'', 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(rest.substr(1, end - 1));
  }
  size_t n = 0;
  while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
  if (n == 0) return std::nullopt;
  return std::string(rest.substr(0, n));
}

Status Bad(const std::string& origin, std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}: {}", origin, what));
}

Result<BinlogPosition> FromDump(std::string_view text, const std::string& origin) {
  BinlogPosition p;
  bool have_pos = false;
  for (std::string_view line : Lines(text)) {
    if (line.find("CHANGE MASTER TO") != std::string_view::npos &&
        line.find("MASTER_LOG_FILE=") != std::string_view::npos) {
      auto file = ValueAfter(line, "MASTER_LOG_FILE=");
      auto pos = ValueAfter(line, "MASTER_LOG_POS=");
      if (!file || !pos || !ParseUint(*pos, &p.pos)) {
        return Bad(origin, fmt::format("cannot read the CHANGE MASTER TO line: {}", line));
      }
      p.name = *file;
      have_pos = true;
    } else if (auto gtid = ValueAfter(line, "gtid_slave_pos=")) {
      p.gtid = *gtid;
    }
  }
  if (!have_pos && p.gtid.empty()) {
    return Bad(origin, "a dump without its replication position: make it with --master-data=2");
  }
  return p;
}

Result<BinlogPosition> FromMydumper(std::string_view text, const std::string& origin) {
  BinlogPosition p;
  bool in_master = false, have_file = false, have_pos = false;
  for (std::string_view raw : Lines(text)) {
    std::string_view line = Trim(raw);
    // Old format: sections "SHOW MASTER STATUS:" / "SHOW SLAVE STATUS:" with "Key: value".
    // New format: "[master]" / "[replication]" with "Key = value".
    if (line.starts_with("SHOW MASTER STATUS") || line == "[master]") {
      in_master = true;
      continue;
    }
    if (line.starts_with("SHOW ") || line.starts_with("Started dump") ||
        line.starts_with("Finished dump") || (line.starts_with("[") && line != "[master]")) {
      in_master = false;
      continue;
    }
    if (!in_master || line.starts_with("#")) continue;
    size_t sep = line.find_first_of(":=");
    if (sep == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, sep));
    std::string_view value = Trim(line.substr(sep + 1));
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
      value = value.substr(1, value.size() - 2);
    }
    if (key == "Log" || key == "File") {
      p.name = std::string(value);
      have_file = !value.empty();
    } else if (key == "Pos" || key == "Position") {
      if (!ParseUint(value, &p.pos)) return Bad(origin, fmt::format("bad {}: {}", key, value));
      have_pos = true;
    } else if (key == "GTID" || key == "Executed_Gtid_Set") {
      p.gtid = std::string(value);
    }
  }
  if (!(have_file && have_pos) && p.gtid.empty()) {
    return Bad(origin, "mydumper metadata without the master's Log:/Pos: (or GTID:) lines");
  }
  if (!(have_file && have_pos)) {
    p.name.clear();
    p.pos = 0;
  }
  return p;
}

Result<BinlogPosition> FromXtrabackup(std::string_view text, const std::string& origin) {
  std::string_view line = Trim(text);
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    size_t end = line.find_first_of(" \t");
    fields.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line = Trim(line.substr(end));
  }
  BinlogPosition p;
  if (fields.size() < 2 || fields.size() > 3 || !ParseUint(fields[1], &p.pos)) {
    return Bad(origin, "expected \"<binlog file>\\t<position>[\\t<gtid>]\"");
  }
  p.name = std::string(fields[0]);
  if (fields.size() == 3) p.gtid = std::string(fields[2]);
  return p;
}

}  // namespace

std::string BinlogPosition::ToString() const {
  std::string out = name.empty() ? "(no file)" : fmt::format("{}:{}", name, pos);
  if (!gtid.empty()) out += fmt::format(" (gtid {})", gtid);
  return out;
}

std::optional<int> ComparePositions(const BinlogPosition& a, const BinlogPosition& b) {
  std::string base_a, base_b;
  uint64_t seq_a = 0, seq_b = 0;
  if (!SplitFileName(a.name, &base_a, &seq_a) || !SplitFileName(b.name, &base_b, &seq_b) ||
      base_a != base_b) {
    return std::nullopt;
  }
  if (seq_a != seq_b) return seq_a < seq_b ? -1 : 1;
  if (a.pos != b.pos) return a.pos < b.pos ? -1 : 1;
  return 0;
}

std::string FormatMeta(const BinlogPosition& p) {
  // toml11 writes strings with escapes; these values never need any, but quote what could.
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  return fmt::format("binlog-name = {}\nbinlog-pos = {}\nbinlog-gtid = {}\n", quote(p.name), p.pos,
                     quote(p.gtid));
}

Result<std::optional<BinlogPosition>> LoadMeta(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return std::optional<BinlogPosition>();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, path));
  ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::Parse(text, path));
  BinlogPosition p;
  ASSIGN_OR_RETURN(p.name, file.GetString("binlog-name", ""));
  ASSIGN_OR_RETURN(int64_t pos, file.GetInt("binlog-pos", 0));
  ASSIGN_OR_RETURN(p.gtid, file.GetString("binlog-gtid", ""));
  if (pos < 0 || (!p.name.empty() && pos < 4)) {
    return Status::InvalidArgument(
        fmt::format("{}: key \"binlog-pos\": expected a position of at least 4 in {}, got {}", path,
                    p.name, pos));
  }
  p.pos = static_cast<uint64_t>(pos);
  for (const std::string& key : file.UnknownKeys()) {
    return Status::InvalidArgument(fmt::format(
        "{}: unknown key \"{}\" (expected binlog-name, binlog-pos, binlog-gtid)", path, key));
  }
  return std::optional<BinlogPosition>(p);
}

Status SaveMeta(Env* env, const std::string& path, const BinlogPosition& position) {
  return WriteFileAtomic(env, path, FormatMeta(position));
}

Result<BinlogPosition> ParseBackupPosition(std::string_view text, const std::string& origin) {
  Result<BinlogPosition> p = Status::InvalidArgument("unset");
  if (text.find("CHANGE MASTER TO") != std::string_view::npos ||
      text.find("gtid_slave_pos=") != std::string_view::npos) {
    p = FromDump(text, origin);
  } else if (text.find("SHOW MASTER STATUS") != std::string_view::npos ||
             text.find("[master]") != std::string_view::npos) {
    p = FromMydumper(text, origin);
  } else if (!Trim(text).empty() && Trim(text).find('\n') == std::string_view::npos) {
    p = FromXtrabackup(text, origin);
  } else {
    return Bad(origin,
               "not a backup position record: expected mydumper's metadata, a mariadb-dump "
               "--master-data dump, or xtrabackup_binlog_info");
  }
  if (p.ok() && p->name.empty() && p->gtid.empty()) {
    return Bad(origin, "the record names no binlog position");
  }
  if (p.ok() && !p->name.empty() && p->pos < 4) {
    return Bad(origin,
               fmt::format("position {} in {} (binlog positions start at 4)", p->pos, p->name));
  }
  return p;
}

Result<BinlogPosition> ReadBackupPosition(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot open {}", path));
  std::string text(kDumpHeadBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  // mariadb-dump --gtid writes the GTID after the data ("deferred"): read the tail as well.
  if (text.size() == kDumpHeadBytes) {
    in.clear();
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff from =
        std::max<std::streamoff>(static_cast<std::streamoff>(kDumpHeadBytes),
                                 size - static_cast<std::streamoff>(kDumpTailBytes));
    std::string tail(static_cast<size_t>(size - from), '\0');
    in.seekg(from);
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    tail.resize(static_cast<size_t>(in.gcount()));
    size_t nl = tail.find('\n');  // a partial first line is not a line
    text += '\n';
    if (nl != std::string::npos) text.append(tail, nl + 1, std::string::npos);
  }
  return ParseBackupPosition(text, path);
}

std::map<uint32_t, std::string> ParseGtidState(std::string_view state) {
  std::map<uint32_t, std::string> out;
  while (!state.empty()) {
    size_t comma = state.find(',');
    std::string_view one = Trim(state.substr(0, comma));
    size_t dash = one.find('-');
    uint64_t domain = 0;
    if (dash != std::string_view::npos && ParseUint(one.substr(0, dash), &domain)) {
      out[static_cast<uint32_t>(domain)] = std::string(one);
    }
    if (comma == std::string_view::npos) break;
    state.remove_prefix(comma + 1);
  }
  return out;
}

std::string FormatGtidState(const std::map<uint32_t, std::string>& state) {
  std::string out;
  for (const auto& [domain, gtid] : state) {
    if (!out.empty()) out += ',';
    out += gtid;
  }
  return out;
}

}  // namespace binlog::syncer
