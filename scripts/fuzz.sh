#!/usr/bin/env bash
# Builds the segment reader fuzzer (libFuzzer + ASan + UBSan, clang) in build-fuzz/ if needed and
# runs it for the given number of seconds (default 60), seeded with testdata/golden/*.seg.
# Exits non-zero when the fuzzer finds a crash, a leak, a timeout or an out-of-memory; the input
# that did it is left in build-fuzz/fuzz-artifacts/ (replay: <fuzzer binary> <that file>).
#
#   scripts/fuzz.sh [seconds]        env: BINLOG_FUZZ_BUILD (build dir), JOBS (build jobs, 2)
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BINLOG_FUZZ_BUILD:-$root/build-fuzz}
fuzzer=$build/tests/fuzz/segment_reader_fuzz

if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" \
    -DBINLOG_FUZZ=ON -DBINLOG_SANITIZE=ON -DBINLOG_BENCH=OFF
fi
cmake --build "$build" --target segment_reader_fuzz -j"${JOBS:-2}"

corpus=$(mktemp -d "${TMPDIR:-/tmp}/segment-fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
cp "$root"/testdata/golden/*.seg "$corpus"/
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

# libFuzzer exits non-zero on any finding; set -e passes that on.
"$fuzzer" "$corpus" \
  -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/tests/fuzz/segment.dict" -artifact_prefix="$artifacts/" -print_final_stats=1
echo "fuzz: no crash in ${seconds}s"
