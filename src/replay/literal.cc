// Literals: every value as text the server reads back exactly.
#include <fmt/format.h>

#include <cctype>

#include "common/text.h"
#include "replay/sql.h"

namespace binlog::replay {

namespace {

using pb::Value;

void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('\'');
  for (char c : s) {
    switch (c) {
      case '\0':
        out->append("\\0");
        break;
      case '\'':
        out->append("\\'");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\x1a':
        out->append("\\Z");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('\'');
}

bool IsDecimalText(std::string_view s) {
  size_t i = s.size() > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits;
}

}  // namespace

void AppendIdentifier(std::string_view name, std::string* out) {
  out->push_back('`');
  for (char c : name) {
    if (c == '`') out->push_back('`');
    out->push_back(c);
  }
  out->push_back('`');
}

void AppendTable(const TableSchema& table, std::string* out) {
  AppendIdentifier(table.db, out);
  out->push_back('.');
  AppendIdentifier(table.table, out);
}

Status AppendLiteral(const Value& v, std::string* out) {
  switch (v.value_case()) {
    case Value::kIsNull:
      out->append("NULL");
      return Status::OK();
    case Value::kInt64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.int64_value());
      return Status::OK();
    case Value::kUint64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.uint64_value());
      return Status::OK();
    case Value::kDoubleValue:
      // fmt's shortest form parses back to the same double; a FLOAT was widened exactly.
      fmt::format_to(std::back_inserter(*out), "{}", v.double_value());
      return Status::OK();
    case Value::kDecimalValue:
      if (!IsDecimalText(v.decimal_value())) {
        return Status::InvalidArgument(
            fmt::format("DECIMAL value \"{}\" is not a number", Printable(v.decimal_value())));
      }
      out->append(v.decimal_value());
      return Status::OK();
    case Value::kStringValue:
      AppendQuoted(v.string_value(), out);
      return Status::OK();
    case Value::kBytesValue:
      out->append("_binary");
      AppendQuoted(v.bytes_value(), out);
      return Status::OK();
    case Value::VALUE_NOT_SET:
      break;
  }
  return Status::InvalidArgument("a column absent from the row image has no value to write");
}

// A value as a literal for `column`. A BIT value too wide for int64 is carried as its bytes,
// which BIT stores but never compares equal to (a string is compared as a number): it goes as
// the unsigned integer it is.
Status AppendColumnLiteral(const pb::Value& v, const ColumnSchema& column, std::string* out) {
  if (v.value_case() == pb::Value::kBytesValue && column.data_type == "bit" &&
      v.bytes_value().size() <= 8) {
    uint64_t n = 0;
    for (char c : v.bytes_value()) n = (n << 8) | static_cast<uint8_t>(c);
    fmt::format_to(std::back_inserter(*out), "{}", n);
    return Status::OK();
  }
  return AppendLiteral(v, out);
}

}  // namespace binlog::replay
