#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal build (g++), then the
# same tests built with AddressSanitizer + UndefinedBehaviorSanitizer (clang), then the fuzzers
# (segment reader, syncer's event decoder) for about a minute in all.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

jobs=${JOBS:-2}
export CTEST_OUTPUT_ON_FAILURE=1
# Tests that start processes must not inherit a core-dumping kill -9 habit from the caller.
ulimit -c 0 || true

echo "== build (g++, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBINLOG_BENCH=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build -j"$jobs" --timeout 900

echo "== build (clang, ASan+UBSan, fuzz targets)"
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBINLOG_SANITIZE=ON \
  -DBINLOG_FUZZ=ON -DBINLOG_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --timeout 1500

if [ -x scripts/fuzz.sh ]; then
  echo "== fuzz the segment reader and the syncer's event decoder"
  BINLOG_FUZZ_BUILD="$PWD/build-asan" scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
