// Column values as text and as typed JSON (docs/SEGDUMP.md).
#include "segdump/values.h"

#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>

#include <cmath>

#include "common/text.h"
#include "segdump/json_out.h"

namespace binlog::segdump {
namespace {

// Appends s with control characters and bytes that are not UTF-8 as \xNN (and \n, \t); with
// quote, also ' and \ escaped by a backslash.
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (size_t i = 0; i < s.size();) {
    const char ch = s[i];
    const auto b = static_cast<unsigned char>(ch);
    const size_t n = Utf8SequenceLength(s, i);
    if (n > 1) {
      out->append(s.substr(i, n));
      i += n;
      continue;
    }
    if (quote && (ch == '\'' || ch == '\\')) {
      out->push_back('\\');
      out->push_back(ch);
    } else if (ch == '\n') {
      *out += "\\n";
    } else if (ch == '\t' && quote) {
      *out += "\\t";
    } else if (n == 0 || b < 0x20 || b == 0x7F) {
      *out += fmt::format("\\x{:02x}", b);
    } else {
      out->push_back(ch);
    }
    ++i;
  }
}

std::string Quoted(std::string_view s) {
  std::string out = "'";
  AppendEscaped(&out, s, true);
  out.push_back('\'');
  return out;
}

// Fields of a Value this build does not know: a kind added to the oneof by a newer writer.
const google::protobuf::UnknownFieldSet& UnknownFields(const pb::Value& v) {
  return v.GetReflection()->GetUnknownFields(v);
}

}  // namespace

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

// No field set: a column the row image does not hold (MINIMAL or NOBLOB binlog_row_image).
bool IsAbsent(const pb::Value& v) {
  return v.value_case() == pb::Value::VALUE_NOT_SET && UnknownFields(v).empty();
}

std::string OneLine(std::string_view text) {
  std::string out;
  AppendEscaped(&out, text, false);
  return out;
}

std::string ValueText(const pb::Value& v) {
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      return v.is_null() ? "NULL" : "<is_null=false>";
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
      return OneLine(v.decimal_value());
    case pb::Value::VALUE_NOT_SET:
      break;
  }
  return IsAbsent(v) ? "<absent>" : "<unknown>";
}

void AppendValueJson(JsonOut* j, const pb::Value& v) {
  j->BeginObject();
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      j->Key("null").Bool(v.is_null());
      break;
    case pb::Value::kInt64Value:
      j->Key("int").String(std::to_string(v.int64_value()));
      break;
    case pb::Value::kUint64Value:
      j->Key("uint").String(std::to_string(v.uint64_value()));
      break;
    case pb::Value::kDoubleValue: {
      double d = v.double_value();
      j->Key("double");
      if (std::isnan(d)) {
        j->String("NaN");
      } else if (std::isinf(d)) {
        j->String(d > 0 ? "Infinity" : "-Infinity");
      } else {
        j->Double(d);
      }
      break;
    }
    case pb::Value::kBytesValue:
      j->Key("bytes").String(Hex(v.bytes_value()));
      break;
    case pb::Value::kStringValue:
      j->Key("string").String(v.string_value());
      break;
    case pb::Value::kDecimalValue:
      j->Key("decimal").String(v.decimal_value());
      break;
    case pb::Value::VALUE_NOT_SET:
      if (IsAbsent(v)) {
        j->Key("absent").Bool(true);
      } else {
        std::string unknown;
        UnknownFields(v).SerializeToString(&unknown);
        j->Key("unknown").String(Hex(unknown));
      }
      break;
  }
  j->EndObject();
}

std::string ValueJson(const pb::Value& v) {
  std::string out;
  JsonOut j(&out);
  AppendValueJson(&j, v);
  return out;
}

}  // namespace binlog::segdump
