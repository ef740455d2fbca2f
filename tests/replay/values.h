// pb::Value builders for tests that plan or print row changes by hand.
#pragma once

#include <cstdint>
#include <string>

#include "binlog.pb.h"

namespace binlog::replay::testing {

inline pb::Value Int(int64_t v) {
  pb::Value x;
  x.set_int64_value(v);
  return x;
}
inline pb::Value Str(const std::string& v) {
  pb::Value x;
  x.set_string_value(v);
  return x;
}
inline pb::Value Bytes(const std::string& v) {
  pb::Value x;
  x.set_bytes_value(v);
  return x;
}
inline pb::Value Null() {
  pb::Value x;
  x.set_is_null(true);
  return x;
}

}  // namespace binlog::replay::testing
