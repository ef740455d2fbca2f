#include "segdump/printer.h"

#include <fmt/format.h>

#include <cmath>
#include <ostream>

#include "common/tso.h"

namespace binlog::segdump {
namespace {

using Json = nlohmann::ordered_json;

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

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto b = static_cast<unsigned char>(ch);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

std::string Quoted(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    auto b = static_cast<unsigned char>(ch);
    if (ch == '\'' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (b < 0x20 || b == 0x7F) {
      out += fmt::format("\\x{:02x}", b);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('\'');
  return out;
}

// "id=1, k=2→3, c='a'" for an update, "id=1, k=2" otherwise.
std::string RowText(const pb::TableChanges& t, const pb::TableMutation& m) {
  const bool update = m.type() == pb::UPDATE;
  const int n = std::max(m.row().columns_size(), update ? m.before().columns_size() : 0);
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += ColumnName(t, i);
    out += '=';
    std::string after = i < m.row().columns_size() ? ValueText(m.row().columns(i)) : "-";
    if (update) {
      std::string before = i < m.before().columns_size() ? ValueText(m.before().columns(i)) : "-";
      if (before != after) {
        out += before;
        out += "→";
      }
    }
    out += after;
  }
  return out;
}

Json RowJson(const pb::TableChanges& t, const pb::Row& row) {
  Json out = Json::object();
  for (int i = 0; i < row.columns_size(); ++i) out[ColumnName(t, i)] = ValueJson(row.columns(i));
  return out;
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

std::string OneLine(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto b = static_cast<unsigned char>(ch);
    if (ch == '\n') {
      out += "\\n";
    } else if (b < 0x20 || b == 0x7F) {
      out += fmt::format("\\x{:02x}", b);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string ValueText(const pb::Value& v) {
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      return "NULL";
    case pb::Value::kInt64Value:
      return fmt::format("{}", v.int64_value());
    case pb::Value::kUint64Value:
      return fmt::format("{}", v.uint64_value());
    case pb::Value::kDoubleValue:
      return fmt::format("{}", v.double_value());
    case pb::Value::kBytesValue:
      return "x'" + Hex(v.bytes_value()) + "'";
    case pb::Value::kStringValue:
      return Quoted(v.string_value());
    case pb::Value::kDecimalValue:
      return v.decimal_value();
    case pb::Value::VALUE_NOT_SET:
      break;
  }
  return "<unset>";
}

Json ValueJson(const pb::Value& v) {
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      return nullptr;
    case pb::Value::kInt64Value:
      return v.int64_value();
    case pb::Value::kUint64Value:
      return v.uint64_value();
    case pb::Value::kDoubleValue: {
      double d = v.double_value();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      return d;
    }
    case pb::Value::kBytesValue:
      return "0x" + Hex(v.bytes_value());
    case pb::Value::kStringValue:
      return v.string_value();
    case pb::Value::kDecimalValue:
      return v.decimal_value();
    case pb::Value::VALUE_NOT_SET:
      break;
  }
  return nullptr;
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
    PrintText(ts, binlog);
  }
}

void RecordPrinter::PrintText(uint64_t ts, const pb::Binlog& b) {
  std::string line = fmt::format("{} {} {}", ts, Datetime(ts), BinlogTypeName(b.tp()));
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
  Json j;
  j["ts"] = ts;
  j["datetime"] = Datetime(ts);
  j["type"] = BinlogTypeName(b.tp());
  j["start_ts"] = b.start_ts();
  j["commit_ts"] = b.commit_ts();
  j["ddl"] = b.ddl_query().empty() ? Json(nullptr) : Json(b.ddl_query());
  if (!b.ddl_query().empty()) j["ddl_schema"] = b.ddl_schema();
  Json tables = Json::array();
  for (const pb::TableChanges& t : b.tables()) {
    Counts c = CountMutations(t);
    Json jt = {{"schema", t.schema_name()},
               {"table", t.table_name()},
               {"inserts", c.inserts},
               {"updates", c.updates},
               {"deletes", c.deletes}};
    if (c.unknown > 0) jt["unknown"] = c.unknown;
    if (verbose_) {
      Json rows = Json::array();
      for (const pb::TableMutation& m : t.mutations()) {
        Json jr = {{"type", MutationName(m.type())}};
        if (m.type() == pb::UPDATE) jr["before"] = RowJson(t, m.before());
        jr["row"] = RowJson(t, m.row());
        rows.push_back(std::move(jr));
      }
      jt["rows"] = std::move(rows);
    }
    tables.push_back(std::move(jt));
  }
  j["tables"] = std::move(tables);
  j["segment"] = where.segment;
  if (where.block) j["block_offset"] = *where.block;
  // Replace, never throw: a payload may hold strings that are not valid UTF-8.
  *out_ << j.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

}  // namespace binlog::segdump
