// Column values (pb::Value) as SQL-ish text and as typed JSON, and the escaping both use.
#pragma once

#include <string>
#include <string_view>

#include "binlog.pb.h"
#include "segdump/json_out.h"

namespace binlog::segdump {

// A value as SQL-ish text: NULL, 42, 'text' (quotes and controls escaped), x'0a1b', 12.50;
// <absent> for a column the row image leaves out, <unknown> for a kind this build does not know.
std::string ValueText(const pb::Value& v);

// A value as a JSON object with one member that says what it is: {"null": true},
// {"absent": true}, {"int": "-5"}, {"uint": "18446744073709551615"}, {"double": 0.5},
// {"decimal": "12.50"}, {"string": "text"}, {"bytes": "0a1b"} (hex). 64-bit integers are
// strings, as JSON parsers keep only 53 bits of a number; a double that is not finite is
// "NaN", "Infinity" or "-Infinity". A kind this build does not know is {"unknown": "<hex of
// its protobuf fields>"}.
void AppendValueJson(JsonOut* j, const pb::Value& v);
std::string ValueJson(const pb::Value& v);

// No field set: a column the row image does not hold (MINIMAL or NOBLOB binlog_row_image).
bool IsAbsent(const pb::Value& v);

// Lowercase hex of the bytes.
std::string Hex(std::string_view bytes);

// Text with control characters and bytes that are not UTF-8 escaped (\n, \xNN), so one record
// stays on one line and no raw input byte reaches a terminal.
std::string OneLine(std::string_view text);

}  // namespace binlog::segdump
