// Protobuf wire format written straight into a buffer, for the records the decoder makes.
//
// Building pb::Binlog messages and serializing them cost the syncer a third of its CPU: every
// column value was a message, every string a malloc and a free, and the serializer walked it
// all twice more (sizes, then bytes). The decoder now writes the bytes protobuf would write —
// fields in number order, proto3 defaults omitted, canonical varints — as it reads the row
// images; tests check that they parse back to the same message and are the same bytes.
//
// A nested message's length comes before its bytes and is known only after them: Open writes
// the tag and reserves a guess of the length's varint size, Close writes the length and moves
// the bytes when the guess was wrong (rare with a good guess; rows of one table are alike).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace binlog::syncer::wire {

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2 };

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes v at p (VarintSize(v) bytes); returns the end.
inline char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void PutVarint(std::string* b, uint64_t v) {
  char tmp[10];
  b->append(tmp, static_cast<size_t>(EncodeVarint(tmp, v) - tmp));
}

// Field numbers here are below 16: a tag is one byte.
inline void PutTag(std::string* b, uint32_t field, WireType type) {
  b->push_back(static_cast<char>(field << 3 | type));
}

inline void PutVarintField(std::string* b, uint32_t field, uint64_t v) {
  PutTag(b, field, kVarint);
  PutVarint(b, v);
}

inline void PutBytesField(std::string* b, uint32_t field, std::string_view v) {
  PutTag(b, field, kLen);
  PutVarint(b, v.size());
  b->append(v);
}

// Proto3 leaves out a field without presence that holds its default.
inline void PutVarintFieldIfSet(std::string* b, uint32_t field, uint64_t v) {
  if (v != 0) PutVarintField(b, field, v);
}
inline void PutBytesFieldIfSet(std::string* b, uint32_t field, std::string_view v) {
  if (!v.empty()) PutBytesField(b, field, v);
}

// Where an open nested message's reserved length is.
struct Mark {
  size_t at = 0;  // offset of the reserved bytes
  size_t reserved = 0;
};

inline Mark Open(std::string* b, uint32_t field, size_t guess) {
  PutTag(b, field, kLen);
  Mark m{b->size(), guess};
  b->append(guess, '\0');
  return m;
}

// Writes the length of everything after the mark; returns the varint size it took (a guess
// for the next message of the kind).
inline size_t Close(std::string* b, Mark m) {
  size_t len = b->size() - m.at - m.reserved;
  size_t n = VarintSize(len);
  if (n > m.reserved) {
    b->insert(m.at, n - m.reserved, '\0');
  } else if (n < m.reserved) {
    b->erase(m.at, m.reserved - n);
  }
  EncodeVarint(b->data() + m.at, len);
  return n;
}

}  // namespace binlog::syncer::wire
