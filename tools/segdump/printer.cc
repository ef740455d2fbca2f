// Records as text lines or JSON lines (docs/SEGDUMP.md).
#include "segdump/printer.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <vector>

#include "common/text.h"
#include "common/tso.h"
#include "segdump/json_out.h"

namespace binlog::segdump {
namespace {

struct Counts {
  int inserts = 0;
  int updates = 0;
  int deletes = 0;
  int unknown = 0;  // mutation types this build does not know (proto3 enums are open)
};

Counts CountMutations(const pb::TableChanges& t) {
  Counts c;
  for (const pb::TableMutation& m : t.mutations()) {
    switch (m.type()) {
      case pb::INSERT:
        ++c.inserts;
        break;
      case pb::UPDATE:
        ++c.updates;
        break;
      case pb::DELETE:
        ++c.deletes;
        break;
      default:
        ++c.unknown;
    }
  }
  return c;
}

const char* MutationName(int type) {
  switch (type) {
    case pb::INSERT:
      return "INSERT";
    case pb::UPDATE:
      return "UPDATE";
    case pb::DELETE:
      return "DELETE";
    default:
      return "UNKNOWN";
  }
}

// mysqlbinlog's @1, @2 ... for values the column list does not name.
std::string ColumnName(const pb::TableChanges& t, int i) {
  if (i < t.columns_size() && !t.columns(i).name().empty()) return t.columns(i).name();
  return fmt::format("@{}", i + 1);
}

// A column of a row image; a column past the end of the image is absent too.
const pb::Value& ColumnValue(const pb::Row& row, int i) {
  return i < row.columns_size() ? row.columns(i) : pb::Value::default_instance();
}

// "id=1, k=2→3, c='a'" for an update, "id=1, k=2" otherwise. Columns absent from every image
// shown are left out.
std::string RowText(const pb::TableChanges& t, const pb::TableMutation& m) {
  const bool update = m.type() == pb::UPDATE;
  const int n = std::max(m.row().columns_size(), update ? m.before().columns_size() : 0);
  std::string out;
  for (int i = 0; i < n; ++i) {
    const pb::Value& after = ColumnValue(m.row(), i);
    const pb::Value& before = update ? ColumnValue(m.before(), i) : after;
    if (IsAbsent(after) && IsAbsent(before)) continue;
    if (!out.empty()) out += ", ";
    out += OneLine(ColumnName(t, i));
    out += '=';
    std::string after_text = ValueText(after);
    if (update) {
      std::string before_text = ValueText(before);
      if (before_text != after_text) {
        out += before_text;
        out += "→";
      }
    }
    out += after_text;
  }
  return out;
}

// Keys of a row object: the column's name; @N (its 1-based position) when it has none or the
// name is taken already.
std::vector<std::string> RowKeys(const pb::TableChanges& t, int n) {
  std::vector<std::string> keys;
  std::set<std::string> taken;
  for (int i = 0; i < n; ++i) {
    std::string key = ColumnName(t, i);
    for (int k = 0; taken.count(key); ++k) key = fmt::format("@{}{}", i + 1, std::string(k, '\''));
    taken.insert(key);
    keys.push_back(std::move(key));
  }
  return keys;
}

void AppendRow(JsonOut* j, const std::vector<std::string>& keys, const pb::Row& row) {
  j->BeginObject();
  for (int i = 0; i < row.columns_size(); ++i) AppendValueJson(&j->Key(keys[i]), row.columns(i));
  j->EndObject();
}

// As proto3's JSON mapping does, a flag that is false and an empty charset are left out.
void AppendColumns(JsonOut* j, const pb::TableChanges& t) {
  j->BeginArray();
  for (const pb::ColumnInfo& c : t.columns()) {
    j->BeginObject();
    j->Key("name").String(c.name());
    j->Key("mysql_type").String(c.mysql_type());
    if (c.is_primary_key()) j->Key("is_primary_key").Bool(true);
    if (c.is_unique_key()) j->Key("is_unique_key").Bool(true);
    if (c.is_unsigned()) j->Key("is_unsigned").Bool(true);
    if (c.is_nullable()) j->Key("is_nullable").Bool(true);
    if (!c.charset().empty()) j->Key("charset").String(c.charset());
    j->EndObject();
  }
  j->EndArray();
}

void AppendTable(JsonOut* j, const pb::TableChanges& t, bool verbose) {
  Counts c = CountMutations(t);
  j->BeginObject();
  j->Key("schema").String(t.schema_name());
  j->Key("table").String(t.table_name());
  j->Key("inserts").Int(c.inserts);
  j->Key("updates").Int(c.updates);
  j->Key("deletes").Int(c.deletes);
  if (c.unknown > 0) j->Key("unknown").Int(c.unknown);
  if (verbose) {
    AppendColumns(&j->Key("columns"), t);
    int width = t.columns_size();
    for (const pb::TableMutation& m : t.mutations()) {
      width = std::max({width, m.row().columns_size(), m.before().columns_size()});
    }
    std::vector<std::string> keys = RowKeys(t, width);
    j->Key("rows").BeginArray();
    for (const pb::TableMutation& m : t.mutations()) {
      j->BeginObject();
      j->Key("type").String(MutationName(m.type()));
      if (m.type() == pb::UPDATE) AppendRow(&j->Key("before"), keys, m.before());
      AppendRow(&j->Key("row"), keys, m.row());
      j->EndObject();
    }
    j->EndArray();
  }
  j->EndObject();
}

}  // namespace

const char* BinlogTypeName(int type) {
  switch (type) {
    case pb::PREWRITE:
      return "PREWRITE";
    case pb::COMMIT:
      return "COMMIT";
    case pb::ROLLBACK:
      return "ROLLBACK";
    case pb::FAKE:
      return "FAKE";
    default:
      return "UNKNOWN";
  }
}

RecordPrinter::RecordPrinter(Format format, bool verbose, std::string tz, std::ostream* out)
    : format_(format), verbose_(verbose), tz_(std::move(tz)), out_(out) {}

const std::string& RecordPrinter::Datetime(uint64_t ts) {
  int64_t ms = TSPhysicalMs(ts);
  if (ms != cached_ms_) {
    auto text = FormatTSDatetime(ts, tz_);
    cached_datetime_ = text.ok() ? *text : "invalid-time";
    cached_ms_ = ms;
  }
  return cached_datetime_;
}

void RecordPrinter::Print(uint64_t ts, const pb::Binlog& binlog, const RecordLocation& where) {
  if (format_ == Format::kJson) {
    PrintJson(ts, binlog, where);
  } else {
    PrintText(ts, binlog, where.part);
  }
}

std::string RecordPrinter::EventDatetime(uint32_t event_time) const {
  auto text = FormatTSDatetime(ComposeTS(int64_t{event_time} * 1000, 0), tz_);
  // Whole seconds: the fraction FormatTSDatetime always prints is zero here.
  return text.ok() ? text->substr(0, text->find('.')) : "invalid-time";
}

void RecordPrinter::PrintText(uint64_t ts, const pb::Binlog& b, segment::PartTag part) {
  std::string line = fmt::format("{} {} {}", ts, Datetime(ts), BinlogTypeName(b.tp()));
  if (segment::IsPart(part)) {
    line += fmt::format(" part={}{}", segment::PartIndex(part),
                        segment::IsLastPart(part) ? " last" : "");
  }
  if (b.start_ts() != 0) line += fmt::format(" start_ts={}", b.start_ts());
  if (b.commit_ts() != 0 && static_cast<uint64_t>(b.commit_ts()) != ts) {
    line += fmt::format(" commit_ts={}", b.commit_ts());
  }
  if (!b.ddl_query().empty()) {
    line += fmt::format(" DDL [{}] {}", OneLine(b.ddl_schema()), OneLine(b.ddl_query()));
  }
  for (const pb::TableChanges& t : b.tables()) {
    Counts c = CountMutations(t);
    line += fmt::format(" {}.{} +{} ~{} -{}", OneLine(t.schema_name()), OneLine(t.table_name()),
                        c.inserts, c.updates, c.deletes);
    if (c.unknown > 0) line += fmt::format(" ?{}", c.unknown);
  }
  line += '\n';
  if (verbose_ && b.has_source()) {
    const pb::SourcePosition& s = b.source();
    line += fmt::format("  SOURCE server_id={} file={} pos={}", s.server_id(), OneLine(s.file()),
                        s.pos());
    if (!s.gtid().empty()) line += fmt::format(" gtid={}", OneLine(s.gtid()));
    if (s.event_time() != 0) {
      line += fmt::format(" event_time={} ({})", s.event_time(), EventDatetime(s.event_time()));
    }
    line += '\n';
  }
  if (verbose_) {
    for (const pb::TableChanges& t : b.tables()) {
      for (const pb::TableMutation& m : t.mutations()) {
        line += fmt::format("  {} {}.{}: {}\n", MutationName(m.type()), OneLine(t.schema_name()),
                            OneLine(t.table_name()), RowText(t, m));
      }
    }
  }
  *out_ << line;
}

void RecordPrinter::PrintJson(uint64_t ts, const pb::Binlog& b, const RecordLocation& where) {
  // 64-bit integers are strings: JSON parsers such as jq keep 53 bits of a number, and a TSO
  // has 59 today.
  line_.clear();
  JsonOut j(&line_);
  j.BeginObject();
  j.Key("version").Int(kJsonVersion);
  j.Key("ts").String(std::to_string(ts));
  j.Key("datetime").String(Datetime(ts));
  j.Key("type").String(BinlogTypeName(b.tp()));
  j.Key("start_ts").String(std::to_string(b.start_ts()));
  j.Key("commit_ts").String(std::to_string(b.commit_ts()));
  j.Key("part");
  if (segment::IsPart(where.part)) {
    j.BeginObject();
    j.Key("index").Uint(segment::PartIndex(where.part));
    j.Key("last").Bool(segment::IsLastPart(where.part));
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("source");
  if (b.has_source()) {
    const pb::SourcePosition& s = b.source();
    j.BeginObject();
    j.Key("server_id").Uint(s.server_id());
    j.Key("file").String(s.file());
    j.Key("pos").String(std::to_string(s.pos()));
    j.Key("gtid");
    s.gtid().empty() ? j.Null() : j.String(s.gtid());
    j.Key("event_time");
    s.event_time() == 0 ? j.Null() : j.Uint(s.event_time());
    j.Key("event_datetime");
    s.event_time() == 0 ? j.Null() : j.String(EventDatetime(s.event_time()));
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("ddl");
  if (!b.ddl_query().empty()) {
    j.BeginObject();
    j.Key("schema").String(b.ddl_schema());
    // ddl_query is bytes: the statement as the upstream logged it, in any charset.
    if (IsValidUtf8(b.ddl_query())) {
      j.Key("query").String(b.ddl_query());
    } else {
      j.Key("query_hex").String(Hex(b.ddl_query()));
    }
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("tables").BeginArray();
  for (const pb::TableChanges& t : b.tables()) AppendTable(&j, t, verbose_);
  j.EndArray();
  // A path need not be UTF-8: its other bytes show as U+FFFD.
  j.Key("segment").String(where.segment);
  j.Key("block_offset").Uint(where.block_offset);
  j.EndObject();
  line_.push_back('\n');
  *out_ << line_;
}

}  // namespace binlog::segdump
