// A JSON writer for the record stream: appends text to a string, with no document tree (a tree
// per record made the JSON dump twice as slow).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace binlog::segdump {

class JsonOut {
 public:
  explicit JsonOut(std::string* out) : out_(out) {}

  JsonOut& BeginObject() { return Open('{'); }
  JsonOut& EndObject() { return Close('}'); }
  JsonOut& BeginArray() { return Open('['); }
  JsonOut& EndArray() { return Close(']'); }
  // A member's name; its value comes next.
  JsonOut& Key(std::string_view name);
  // Quotes and backslashes, control characters escaped; bytes that are not UTF-8 become U+FFFD.
  JsonOut& String(std::string_view s);
  JsonOut& Int(int64_t v);
  JsonOut& Uint(uint64_t v);
  // A finite double, with the fewest digits that read back as the same value.
  JsonOut& Double(double v);
  JsonOut& Bool(bool v);
  JsonOut& Null();

 private:
  JsonOut& Open(char c);
  JsonOut& Close(char c);
  void Separate();
  std::string* out_;
  std::vector<bool> empty_;  // per open object or array: nothing in it yet
  bool after_key_ = false;
};

}  // namespace binlog::segdump
