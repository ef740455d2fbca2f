// Reading a journal back, and how small it is on disk.
//
//   scan_verify_decompress  JournalReader over a journal of $BENCH_SCAN_MB (default 200) MB of
//       realistic payload, every block's XXH3 checked and zstd-decompressed, on one core, warm
//       page cache: MB/s of record payload.
//       Baseline: `zstd -d` of the very same compressed bytes. The stored payload of every block
//       is a standard zstd frame, so the frames are cut out of the segments and concatenated into
//       one .zst file (valid input for the CLI, which decompresses frame after frame); then
//       `zstd -d -c blocks.zst > /dev/null` is timed, warm cache too. Both figures divide the same
//       payload bytes by their time, so the ratio is exactly "our read path vs bare decompression
//       of the same frames" (the CLI also writes the records' varint framing, 0.3% more bytes).
//   compression_ratio  payload bytes / bytes of the journal's files, the journal appended in
//       batches of 256 records (binlog/ as the sorter writes it; blocks are cut at 64 KiB).
//   compression_ratio_per_record  the same for one record per Append (a pump's wal/: every block
//       holds one record).
//       Baseline for both: `zstd -1` of the same payloads concatenated into one file (one stream
//       with whole-file context, what the CLI gets).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "bench_util.h"
#include "journal/journal.h"

namespace binlog::bench {
namespace {

using journal::Journal;
using journal::JournalOptions;
using journal::JournalReader;
using journal::ReadOptions;
using journal::Record;

struct Fixture {
  std::string journal_dir;
  std::string raw_path;  // the payloads concatenated
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
};

// Appends `target_bytes` of payload in batches of `batch` records (no fsync: see NoSyncEnv),
// and writes the same payloads to raw_path.
Fixture BuildJournal(const std::string& name, uint64_t target_bytes, size_t batch) {
  Fixture f;
  std::string root = FreshDir(name);
  f.journal_dir = root + "/journal";
  f.raw_path = root + "/raw.bin";
  JournalOptions options;
  options.env = NoSyncEnv();
  auto journal = Check(Journal::Open(f.journal_dir, options), "open journal");
  std::ofstream raw(f.raw_path, std::ios::binary);
  PayloadGenerator gen(7);
  std::vector<std::string> payloads(batch);
  std::vector<Record> records(batch);
  double start = NowSeconds();
  while (f.payload_bytes < target_bytes) {
    for (size_t i = 0; i < batch; ++i) {
      uint64_t ts = RecordTS(f.records++);
      payloads[i] = gen.Next(ts);
      records[i] = Record{ts, payloads[i]};
      f.payload_bytes += payloads[i].size();
      raw.write(payloads[i].data(), static_cast<std::streamsize>(payloads[i].size()));
    }
    Check(journal->Append(records), "append");
  }
  Check(journal->Close(), "close journal");
  raw.close();
  ::sync();
  std::cerr << name << ": " << f.records << " records, " << f.payload_bytes << " payload bytes in "
            << DirBytes(f.journal_dir) << " bytes, built in " << NowSeconds() - start << " s\n";
  return f;
}

// Cuts every block's stored zstd frame out of the segments into one file.
void ExtractFrames(const std::string& dir, const std::string& out_path) {
  Env* env = Env::Posix();
  std::ofstream out(out_path, std::ios::binary);
  auto segments = Check(journal::ListSegments(env, dir), "list segments");
  std::string scratch;
  uint64_t raw_blocks = 0;
  for (const auto& seg : segments) {
    std::string path = JoinPath(dir, seg.name);
    auto reader = Check(segment::SegmentReader::Open(env, path), "open segment");
    auto file = Check(env->NewRandomAccessFile(path), "open segment file");
    uint64_t limit = Check(reader->DataLimit(), "data limit");
    uint64_t offset = segment::kHeaderSize;
    segment::BlockRef block;
    std::string why;
    while (Check(reader->Probe(offset, limit, &block, &why), "probe") ==
           segment::ProbeResult::kBlock) {
      if (block.header.codec == segment::Compression::kZstd) {
        scratch.resize(block.header.stored_len);
        auto bytes = Check(
            file->Read(offset + segment::kBlockHeaderSize, block.header.stored_len, scratch.data()),
            "read block");
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      } else {
        ++raw_blocks;
      }
      offset = block.next_offset();
    }
  }
  if (raw_blocks > 0) std::cerr << raw_blocks << " blocks stored uncompressed, not in .zst\n";
}

void ScanVerifyDecompress(const Fixture& f) {
  auto scan = [&f](benchmark::State& state) {
    for (auto _ : state) {
      ReadOptions options;
      auto reader = Check(JournalReader::Open(Env::Posix(), f.journal_dir, options), "reader");
      uint64_t records = 0;
      uint64_t bytes = 0;
      Record r;
      while (true) {
        auto more = reader->Next(&r);
        if (!more.ok()) {
          state.SkipWithError(more.status().ToString().c_str());
          return;
        }
        if (!*more) break;
        ++records;
        bytes += r.payload.size();
      }
      benchmark::DoNotOptimize(bytes);
      if (records != f.records) {
        state.SkipWithError("the scan did not return every record");
        return;
      }
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(f.payload_bytes));
  };
  RunResult ours = RunBenchmark("journal_reader_scan", scan,
                                [](auto* b) { b->UseRealTime()->Unit(benchmark::kMillisecond); });

  std::string zst = DirName(f.journal_dir) + "/blocks.zst";
  ExtractFrames(f.journal_dir, zst);
  std::string command = "zstd -d -q -c '" + zst + "' > /dev/null";
  Shell(command);  // warms the cache for the .zst as the reader's run warmed the journal
  auto cli = [&](benchmark::State& state) {
    for (auto _ : state) {
      if (Shell(command) != 0) {
        state.SkipWithError("zstd -d failed");
        return;
      }
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(f.payload_bytes));
  };
  RunResult base = RunBenchmark("zstd_cli_decompress", cli,
                                [](auto* b) { b->UseRealTime()->Unit(benchmark::kMillisecond); });
  PrintFigure("scan_verify_decompress", ours.counter("bytes_per_second") / 1e6, "MB/s",
              base.counter("bytes_per_second") / 1e6, "MB/s");
}

void CompressionRatio(const std::string& name, const Fixture& f) {
  std::string zst = f.raw_path + ".zst";
  if (Shell("zstd -1 -q -f '" + f.raw_path + "' -o '" + zst + "'") != 0) std::exit(2);
  double ours = static_cast<double>(f.payload_bytes) / DirBytes(f.journal_dir);
  double cli = static_cast<double>(f.payload_bytes) / FileBytes(zst);
  PrintFigure(name, ours, "x", cli, "x");
}

uint64_t ScanBytes() {
  const char* mb = std::getenv("BENCH_SCAN_MB");
  return (mb && *mb ? std::strtoull(mb, nullptr, 10) : 200) * 1000 * 1000;
}

void Run() {
  bool scan = Wanted({"scan_verify_decompress"});
  bool ratio = Wanted({"compression_ratio"});
  if (scan || ratio) {
    Fixture f = BuildJournal("scan", ScanBytes(), 256);
    if (scan) ScanVerifyDecompress(f);
    if (ratio) CompressionRatio("compression_ratio", f);
    RemoveAll(DirName(f.journal_dir));
  }
  if (Wanted({"compression_ratio_per_record"})) {
    Fixture f = BuildJournal("ratio", 20 * 1000 * 1000, 1);
    CompressionRatio("compression_ratio_per_record", f);
    RemoveAll(DirName(f.journal_dir));
  }
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  binlog::bench::InitBench(&argc, argv);
  binlog::bench::Run();
  return 0;
}
