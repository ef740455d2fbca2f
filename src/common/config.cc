#include "common/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <toml.hpp>

#include "common/env.h"
#include "common/text.h"

namespace binlog {

struct ConfigFile::Impl {
  std::string origin;
  toml::value root;
  std::set<std::string> read;
  std::vector<std::string> ignored;
};

namespace {

std::vector<std::string_view> SplitKey(std::string_view key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

// Null when absent; when a part of the path exists but is not a table, the key cannot exist
// either, and the getter's type error will show what is there instead.
const toml::value* Find(const toml::value& root, std::string_view key) {
  const toml::value* node = &root;
  for (std::string_view part : SplitKey(key)) {
    if (!node->is_table()) return nullptr;
    const auto& table = node->as_table();
    auto it = table.find(std::string(part));
    if (it == table.end()) return nullptr;
    node = &it->second;
  }
  return node;
}

std::string Describe(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::string:
      return fmt::format("\"{}\"", v.as_string().str);
    case toml::value_t::integer:
      return std::to_string(v.as_integer());
    case toml::value_t::floating:
      return fmt::format("{}", v.as_floating());
    case toml::value_t::boolean:
      return v.as_boolean() ? "true" : "false";
    case toml::value_t::table:
      return "a table";
    case toml::value_t::array:
      return "an array";
    default:
      return "a date/time";
  }
}

std::string UnitName(double unit_seconds) {
  if (unit_seconds == 86400) return "days";
  if (unit_seconds == 3600) return "hours";
  if (unit_seconds == 60) return "minutes";
  if (unit_seconds == 1) return "seconds";
  if (unit_seconds == 0.001) return "milliseconds";
  return fmt::format("units of {} seconds", unit_seconds);
}

// toml11 quotes the source with a caret line under each spot it blames
// ("   |     ^--- hint"); the last spot is the offending token.
struct SyntaxSpot {
  int line = 0;
  size_t column = 0;
  std::string source, hint;
};

SyntaxSpot LastSpot(const std::string& what) {
  SyntaxSpot spot, quoted;
  std::istringstream in(what);
  std::string line;
  while (std::getline(in, line)) {
    const size_t bar = line.find(" | ");
    if (bar == std::string::npos) continue;
    const std::string body = line.substr(bar + 3);
    if (const int number = std::atoi(line.substr(0, bar).c_str()); number > 0) {
      quoted = SyntaxSpot{number, 0, body, ""};
      continue;
    }
    const size_t caret = body.find_first_of("^~");
    if (caret == std::string::npos || quoted.line == 0) continue;
    spot = quoted;
    spot.column = caret + 1;
    const size_t hint = body.find_first_not_of("^~- ", caret);
    if (hint != std::string::npos) spot.hint = body.substr(hint);
  }
  return spot;
}

// "pump.toml:3:12: syntax error: the next token is not a boolean near `sync-log = tru`".
std::string DescribeSyntaxError(const std::string& origin, const std::string& what) {
  // Drop "[error] toml::parse_boolean: ": the parser's function name means nothing to operators.
  std::string headline = what.substr(0, what.find('\n'));
  if (size_t colon = headline.find(": "); colon != std::string::npos) headline.erase(0, colon + 2);
  while (!headline.empty() && headline.back() == ' ') headline.pop_back();
  // A file of garbage must not put its bytes on the operator's terminal.
  const SyntaxSpot spot = LastSpot(what);
  if (spot.line == 0) return fmt::format("{}: syntax error: {}", origin, Printable(what, 160));
  std::string why = headline;
  if (!spot.hint.empty()) why = why.empty() ? spot.hint : why + " (" + spot.hint + ")";
  return fmt::format("{}:{}:{}: syntax error: {} near `{}`", origin, spot.line, spot.column,
                     Printable(why, 120), Printable(spot.source, 40));
}

}  // namespace

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

Result<ConfigFile> ConfigFile::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(Env::Posix(), path));
  return Parse(text, path);
}

Result<ConfigFile> ConfigFile::Parse(std::string_view text, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  try {
    std::istringstream in{std::string(text)};
    impl->root = toml::parse(in, origin);
  } catch (const toml::syntax_error& e) {
    return Status::InvalidArgument(DescribeSyntaxError(origin, e.what()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: cannot parse: {}", origin, e.what()));
  }
  return ConfigFile(std::move(impl));
}

const std::string& ConfigFile::origin() const { return impl_->origin; }

namespace {

Status KeyError(const std::string& origin, std::string_view key, std::string_view expected,
                const toml::value& got) {
  return Status::InvalidArgument(
      fmt::format("{}: key \"{}\": expected {}, got {}", origin, key, expected, Describe(got)));
}

// The value at key, remembered as read so UnknownKeys() leaves it out; null when absent.
const toml::value* Lookup(const toml::value& root, std::set<std::string>* read,
                          std::string_view key) {
  const toml::value* v = Find(root, key);
  if (v != nullptr) read->insert(std::string(key));
  return v;
}

}  // namespace

Result<std::string> ConfigFile::GetString(std::string_view key, std::string fallback) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) return KeyError(impl_->origin, key, "a string", *v);
  return v->as_string().str;
}

Result<int64_t> ConfigFile::GetInt(std::string_view key, int64_t fallback) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback;
  if (!v->is_integer()) return KeyError(impl_->origin, key, "an integer", *v);
  return static_cast<int64_t>(v->as_integer());
}

Result<bool> ConfigFile::GetBool(std::string_view key, bool fallback) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return KeyError(impl_->origin, key, "true or false", *v);
  return v->as_boolean();
}

Result<double> ConfigFile::GetDouble(std::string_view key, double fallback) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback;
  if (v->is_integer()) return static_cast<double>(v->as_integer());
  if (!v->is_floating()) return KeyError(impl_->origin, key, "a number", *v);
  return v->as_floating();
}

Result<uint64_t> ConfigFile::GetSize(std::string_view key, uint64_t fallback) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback;
  constexpr std::string_view kExpected =
      "a number of bytes or a size like \"512MB\", \"64k\" or \"10 GiB\"";
  if (v->is_integer() && v->as_integer() >= 0) return static_cast<uint64_t>(v->as_integer());
  if (!v->is_string()) return KeyError(impl_->origin, key, kExpected, *v);
  Result<uint64_t> size = ParseSize(v->as_string().str);
  if (!size.ok()) return KeyError(impl_->origin, key, kExpected, *v);
  return size;
}

Result<double> ConfigFile::GetDuration(std::string_view key, double fallback_seconds,
                                       double unit_seconds) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return fallback_seconds;
  const std::string expected =
      fmt::format("a number of {} or a duration like \"8h\"", UnitName(unit_seconds));
  if (v->is_integer() && v->as_integer() >= 0) {
    return static_cast<double>(v->as_integer()) * unit_seconds;
  }
  if (v->is_floating() && v->as_floating() >= 0) return v->as_floating() * unit_seconds;
  if (!v->is_string()) return KeyError(impl_->origin, key, expected, *v);
  Result<double> seconds = ParseGoDuration(v->as_string().str);
  if (!seconds.ok() || *seconds < 0) return KeyError(impl_->origin, key, expected, *v);
  return seconds;
}

Result<std::vector<std::string>> ConfigFile::GetStringList(std::string_view key) {
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return std::vector<std::string>{};
  if (!v->is_array()) return KeyError(impl_->origin, key, "an array of strings", *v);
  std::vector<std::string> out;
  for (const toml::value& item : v->as_array()) {
    if (!item.is_string()) {
      return KeyError(impl_->origin, key, "an array of strings, with an element", item);
    }
    out.push_back(item.as_string().str);
  }
  return out;
}

Result<std::vector<std::map<std::string, std::string>>> ConfigFile::GetTableArray(
    std::string_view key, const std::vector<std::string>& fields) {
  std::vector<std::map<std::string, std::string>> out;
  const toml::value* v = Lookup(impl_->root, &impl_->read, key);
  if (v == nullptr) return out;
  if (!v->is_array()) return KeyError(impl_->origin, key, "an array of tables ([[...]])", *v);
  const auto& items = v->as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = fmt::format("{}[{}]", key, i);
    if (!items[i].is_table()) return KeyError(impl_->origin, where, "a table", items[i]);
    auto& entry = out.emplace_back();
    for (const auto& [name, value] : items[i].as_table()) {
      if (std::find(fields.begin(), fields.end(), name) == fields.end()) {
        return Status::InvalidArgument(
            fmt::format("{}: key \"{}.{}\": unknown; expected {}", impl_->origin, where, name,
                        fmt::join(fields, " or ")));
      }
      if (!value.is_string()) {
        return KeyError(impl_->origin, where + "." + name, "a string", value);
      }
      entry[name] = value.as_string().str;
    }
  }
  return out;
}

bool ConfigFile::Has(std::string_view key) const { return Find(impl_->root, key) != nullptr; }

void ConfigFile::IgnoreTable(std::string_view key) { impl_->ignored.emplace_back(key); }

namespace {

void CollectLeaves(const toml::value& table, const std::string& prefix,
                   std::vector<std::string>* out) {
  for (const auto& [name, value] : table.as_table()) {
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (value.is_table()) {
      CollectLeaves(value, key, out);
    } else {
      out->push_back(key);
    }
  }
}

bool UnderPrefix(const std::string& key, const std::string& prefix) {
  return key == prefix || (key.size() > prefix.size() &&
                           key.compare(0, prefix.size(), prefix) == 0 && key[prefix.size()] == '.');
}

}  // namespace

Status ConfigFile::CheckMostlyKnown(std::string_view tool) const {
  const std::string& origin = impl_->origin;
  std::vector<std::string> unknown = UnknownKeys();
  const size_t known = impl_->read.size();
  if (known == 0 && unknown.empty()) {
    return Status::InvalidArgument(
        fmt::format("{} holds no settings: give {} a config with its settings (see conf/{}.toml)",
                    origin, tool, tool));
  }
  // An unknown key counts as its outermost table that holds no known key ([storage.kv] of a
  // TiDB-Binlog pump.toml is one), or alone.
  std::set<std::string> units;
  for (const std::string& key : unknown) {
    std::string unit = key;
    for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
      std::string table = key.substr(0, dot);
      if (std::none_of(impl_->read.begin(), impl_->read.end(),
                       [&](const std::string& r) { return UnderPrefix(r, table); })) {
        unit = "[" + table + "]";
        break;
      }
    }
    units.insert(unit);
  }
  if (units.size() < 2 || units.size() <= known) return Status::OK();
  std::vector<std::string> shown(units.begin(), units.end());
  if (shown.size() > 6) shown.resize(6);
  return Status::InvalidArgument(fmt::format(
      "{}: {} of its {} settings are not {} settings ({}{}): is it the config of another tool? "
      "{} takes a {}.toml (see conf/{}.toml)",
      origin, units.size(), units.size() + known, tool, fmt::join(shown, ", "),
      units.size() > shown.size() ? ", ..." : "", tool, tool, tool));
}

std::vector<std::string> ConfigFile::UnknownKeys() const {
  std::vector<std::string> leaves;
  if (impl_->root.is_table()) CollectLeaves(impl_->root, "", &leaves);
  std::vector<std::string> unknown;
  for (const std::string& key : leaves) {
    if (impl_->read.count(key) != 0) continue;
    const bool ignored = std::any_of(impl_->ignored.begin(), impl_->ignored.end(),
                                     [&](const std::string& p) { return UnderPrefix(key, p); });
    if (!ignored) unknown.push_back(key);
  }
  std::sort(unknown.begin(), unknown.end());
  return unknown;
}

}  // namespace binlog
