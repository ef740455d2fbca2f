// Bounds-checked little-endian reads over one binlog event's bytes.
//
// A read past the end does not throw or return an error each time: it marks the reader failed
// and yields zeros, and the caller checks ok() once after a group of reads (the event parsers
// report the event type and position then). This keeps the per-column decode loop branch-light.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace binlog::syncer {

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t offset() const { return pos_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  std::string_view rest() const { return ok_ ? data_.substr(pos_) : std::string_view(); }

  // Consumes n bytes and returns them (empty and failed when fewer remain).
  std::string_view Bytes(size_t n) {
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void Skip(size_t n) { Bytes(n); }

  uint8_t U8() { return static_cast<uint8_t>(LE(1)); }
  uint16_t U16() { return static_cast<uint16_t>(LE(2)); }
  uint32_t U24() { return static_cast<uint32_t>(LE(3)); }
  uint32_t U32() { return static_cast<uint32_t>(LE(4)); }
  uint64_t U48() { return LE(6); }
  uint64_t U64() { return LE(8); }
  // Little-endian unsigned of 1..8 bytes.
  uint64_t LE(size_t n) {
    std::string_view b = Bytes(n);
    uint64_t v = 0;
    for (size_t i = b.size(); i > 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i - 1]);
    return v;
  }
  // Big-endian unsigned of 1..8 bytes (temporal and decimal row images are big-endian).
  uint64_t BE(size_t n) {
    std::string_view b = Bytes(n);
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }
  // The protocol's length-encoded integer (0xfb..0xff prefixes). 0xfb (NULL) and 0xff are not
  // valid in binlog events and fail the reader.
  uint64_t LenEnc() {
    uint8_t first = U8();
    if (first < 0xfb) return first;
    if (first == 0xfc) return LE(2);
    if (first == 0xfd) return LE(3);
    if (first == 0xfe) return LE(8);
    ok_ = false;
    return 0;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace binlog::syncer
