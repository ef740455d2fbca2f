// libFuzzer target for the segment reader: any bytes given as a segment file must give a Status,
// never a crash, a hang, a leak or undefined behaviour. Run it with scripts/fuzz.sh.
//
// Each input is read twice: as it is, and with its checksums recomputed (header, each block on
// the reader's path, footer). Random bytes almost never pass a 64-bit check, so without the
// second pass the fuzzer would only ever explore the "checksum mismatch" branches; with it, it
// reaches record framing, decompression and the footer index with hostile values.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/env.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace binlog::segment {
namespace {

const std::string kPath = "/fuzz/binlog-0000000000000001-20240101000000";

class MemFile final : public RandomAccessFile {
 public:
  explicit MemFile(std::string_view data) : data_(data) {}
  Result<std::string_view> Read(uint64_t offset, size_t n, char*) const override {
    if (offset >= data_.size()) return std::string_view();
    return data_.substr(offset, n);  // no copy: exercises the readers' zero-copy paths
  }
  Result<uint64_t> Size() const override { return data_.size(); }
  const std::string& path() const override { return kPath; }

 private:
  std::string_view data_;
};

// A read-only file system holding one file. Everything else is refused.
class MemEnv final : public Env {
 public:
  explicit MemEnv(std::string_view data) : data_(data) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return Refuse(p);
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& p) override {
    return Refuse(p);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    if (p != kPath) return Status::NotFound(p);
    return std::unique_ptr<RandomAccessFile>(new MemFile(data_));
  }
  bool FileExists(const std::string& p) override { return p == kPath; }
  Result<uint64_t> GetFileSize(const std::string& p) override {
    if (p != kPath) return Status::NotFound(p);
    return data_.size();
  }
  Result<std::vector<std::string>> GetChildren(const std::string& p) override { return Refuse(p); }
  Status CreateDirs(const std::string& p) override { return Refuse(p); }
  Status DeleteFile(const std::string& p) override { return Refuse(p); }
  Status RenameFile(const std::string& p, const std::string&) override { return Refuse(p); }
  Status CopyFile(const std::string& p, const std::string&) override { return Refuse(p); }
  Status SyncDir(const std::string& p) override { return Refuse(p); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override { return Refuse(p); }
  Result<uint64_t> GetFreeSpace(const std::string& p) override { return Refuse(p); }
  int64_t NowMicros() override { return 0; }

 private:
  static Status Refuse(const std::string& p) { return Status::Unsupported(p + ": read-only"); }
  std::string_view data_;
};

// Recomputes every check a reader would test, following blocks as the reader does.
std::string FixChecksums(std::string b) {
  if (b.size() < kHeaderSize) return b;
  PutFixed32(&b[28], Checksum32(std::string_view(b).substr(0, 28)));
  size_t at = kHeaderSize;
  while (at + kBlockHeaderSize <= b.size()) {
    char* h = &b[at];
    if (GetFixed32(h) != kBlockMagic) {
      at += kBlockAlign;
      continue;
    }
    uint32_t stored = GetFixed32(h + 4);
    if (stored <= b.size() - at - kBlockHeaderSize) {
      PutFixed64(h + 40, Checksum64(std::string_view(h + kBlockHeaderSize, stored)));
    }
    PutFixed32(h + 36, Checksum32(std::string_view(h, 36)));
    at += PaddedBlockSize(stored) > b.size() ? b.size() : PaddedBlockSize(stored);
  }
  if (b.size() >= kHeaderSize + kTrailerSize) {
    size_t t = b.size() - kTrailerSize;
    Trailer trailer;
    if (LooksLikeTrailer(std::string_view(b).substr(t), &trailer)) {
      uint64_t index_bytes = uint64_t{trailer.index_count} * kIndexEntrySize;
      if (index_bytes <= t - kHeaderSize) {
        std::string_view index = std::string_view(b).substr(t - index_bytes, index_bytes);
        std::string fixed = EncodeTrailer(trailer, index);
        b.replace(t, kTrailerSize, fixed);
      }
    }
  }
  return b;
}

void ReadEverything(std::string_view data) {
  MemEnv env(data);
  auto reader = SegmentReader::Open(&env, kPath);
  if (reader.ok()) {
    SegmentReader* r = reader->get();
    uint64_t start = 0;
    if (r->trailer()) start = r->trailer()->first_ts / 2 + r->trailer()->last_ts / 2;
    for (uint64_t from : {uint64_t{0}, start}) {
      SegmentIterator it(r, from, UINT64_MAX);
      Record rec;
      size_t bytes = 0;
      for (int i = 0; i < 1000000; ++i) {
        auto state = it.Next(&rec);
        if (!state.ok()) break;
        if (*state != SegmentIterator::State::kRecord) {
          // Calling again after the end must neither crash nor return stale records.
          auto again = it.Next(&rec);
          if (again.ok() && *again == SegmentIterator::State::kRecord) bytes += rec.payload.size();
          break;
        }
        for (char c : rec.payload) bytes += static_cast<unsigned char>(c);  // touch every byte
      }
      (void)bytes;
    }
  }
  for (bool verify : {true, false}) {
    ScanOptions options;
    options.verify_payloads = verify;
    options.keep_block_offsets = true;
    auto scan = ScanSegment(&env, kPath, options);
    if (scan.ok() && scan->valid_end > scan->file_size) __builtin_trap();  // a broken invariant
  }
}

}  // namespace
}  // namespace binlog::segment

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  binlog::segment::ReadEverything(input);
  std::string fixed = binlog::segment::FixChecksums(std::string(input));
  if (fixed != input) binlog::segment::ReadEverything(fixed);
  return 0;
}
