// The input format of the decoder's fuzzer (decoder_fuzz.cc), also read by the test that checks
// its seed corpus (tests/syncer/decoder_corpus_test.cc) and written by the one that makes it:
// a replication stream as StreamDecoder::Feed receives it, one event after another.
//
//   input   := options event*
//   options := 1 byte; bit 0: the connection announced CRC32 (events before the first format
//              description carry one)
//   event   := control (1 byte) length (3 bytes, little-endian) bytes (length; fewer when the
//              input ends first)
//   control := bit 0: fix the event before feeding it: its event_size field is set to its
//              length and its CRC32 recomputed when the stream has checksums (as the decoder
//              tracks it: the options, then each format description's algorithm byte)
//
// Mutated bytes almost never keep a CRC32 right: without the fix the fuzzer would mostly
// explore the "checksum mismatch" branch; with the bit clear it still reaches that branch.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace binlog::syncer::fuzz {

inline constexpr uint8_t kOptionChecksum = 0x01;
inline constexpr uint8_t kControlFix = 0x01;

struct DecoderInput {
  bool checksum = false;
  std::vector<std::string> events;
};

namespace internal {

inline void PutU32(std::string* ev, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*ev)[at + i] = static_cast<char>(v >> (8 * i));
}

// Event offsets: type at 4, event_size at 9 (decoder's event.h); a format description ends with
// its checksum algorithm byte and 4 CRC bytes.
inline constexpr size_t kTypeAt = 4, kSizeAt = 9, kHeaderLen = 19;
inline constexpr uint8_t kFormatDescription = 15;

}  // namespace internal

inline DecoderInput SplitDecoderInput(std::string_view data) {
  using namespace internal;
  DecoderInput out;
  if (data.empty()) return out;
  out.checksum = (static_cast<uint8_t>(data[0]) & kOptionChecksum) != 0;
  bool checksum = out.checksum;
  size_t at = 1;
  while (at + 4 <= data.size()) {
    uint8_t control = static_cast<uint8_t>(data[at]);
    size_t len = static_cast<uint8_t>(data[at + 1]) | static_cast<uint8_t>(data[at + 2]) << 8 |
                 static_cast<size_t>(static_cast<uint8_t>(data[at + 3])) << 16;
    at += 4;
    std::string ev(data.substr(at, len));
    at += ev.size();
    bool fd = ev.size() > kTypeAt && static_cast<uint8_t>(ev[kTypeAt]) == kFormatDescription;
    if (fd && ev.size() >= kHeaderLen + 5) checksum = ev[ev.size() - 5] == 1;
    if ((control & kControlFix) != 0 && ev.size() >= kHeaderLen) {
      PutU32(&ev, kSizeAt, static_cast<uint32_t>(ev.size()));
      if (checksum && ev.size() >= kHeaderLen + 4) {
        size_t body = ev.size() - 4;
        PutU32(&ev, body,
               static_cast<uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(ev.data()), static_cast<uInt>(body))));
      }
    }
    out.events.push_back(std::move(ev));
  }
  return out;
}

// The events as one input, each marked to be fixed (they are right already: a seed's mutations
// then keep their checksums).
inline std::string EncodeDecoderInput(const DecoderInput& in) {
  std::string out(1, static_cast<char>(in.checksum ? kOptionChecksum : 0));
  for (const std::string& ev : in.events) {
    out += static_cast<char>(kControlFix);
    for (int i = 0; i < 3; ++i) out += static_cast<char>(ev.size() >> (8 * i));
    out += ev;
  }
  return out;
}

}  // namespace binlog::syncer::fuzz
