#include "segdump/json_out.h"

#include <fmt/format.h>

#include "common/text.h"

namespace binlog::segdump {

void JsonOut::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!empty_.empty()) {
    if (!empty_.back()) out_->push_back(',');
    empty_.back() = false;
  }
}

JsonOut& JsonOut::Open(char c) {
  Separate();
  out_->push_back(c);
  empty_.push_back(true);
  return *this;
}

JsonOut& JsonOut::Close(char c) {
  out_->push_back(c);
  empty_.pop_back();
  return *this;
}

JsonOut& JsonOut::Key(std::string_view name) {
  String(name);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonOut& JsonOut::String(std::string_view s) {
  Separate();
  out_->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    const auto b = static_cast<unsigned char>(s[i]);
    if (n == 0) {
      *out_ += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    if (n > 1) {
      out_->append(s.substr(i, n));
    } else if (b == '"' || b == '\\') {
      out_->push_back('\\');
      out_->push_back(static_cast<char>(b));
    } else if (b == '\n') {
      *out_ += "\\n";
    } else if (b == '\t') {
      *out_ += "\\t";
    } else if (b == '\r') {
      *out_ += "\\r";
    } else if (b < 0x20) {
      *out_ += fmt::format("\\u{:04x}", b);
    } else {
      out_->push_back(static_cast<char>(b));
    }
    i += n;
  }
  out_->push_back('"');
  return *this;
}

JsonOut& JsonOut::Int(int64_t v) {
  Separate();
  fmt::format_to(std::back_inserter(*out_), "{}", v);
  return *this;
}

JsonOut& JsonOut::Uint(uint64_t v) {
  Separate();
  fmt::format_to(std::back_inserter(*out_), "{}", v);
  return *this;
}

JsonOut& JsonOut::Double(double v) {
  Separate();
  const size_t start = out_->size();
  fmt::format_to(std::back_inserter(*out_), "{}", v);
  // 5.0 stays a number with a fraction, as a reader may tell integers from doubles by it.
  if (out_->find_first_of(".e", start) == std::string::npos) *out_ += ".0";
  return *this;
}

JsonOut& JsonOut::Bool(bool v) {
  Separate();
  *out_ += v ? "true" : "false";
  return *this;
}

JsonOut& JsonOut::Null() {
  Separate();
  *out_ += "null";
  return *this;
}

}  // namespace binlog::segdump
