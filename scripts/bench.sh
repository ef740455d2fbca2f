#!/usr/bin/env bash
# Builds a Release tree in build-release and runs the benchmarks (bench/), printing one line per
# figure on stdout:
#   name: value unit (baseline: value unit, ratio: r)      ratio = value / baseline
# Every baseline is measured in the same run on the same disk.
#
# Usage: scripts/bench.sh [name...]
#   A name selects the figures whose name contains it (journal_append_throughput,
#   journal_ack_latency_4w, scan_verify_decompress, journal_seek, compression_ratio,
#   pump_inproc_txn_per_s, pump_inproc_async, pump_grpc_64p, pump_grpc_64p_async,
#   pump_grpc_64p_unary_async, pump_grpc_64p_shared_async, pump_grpc_64p_shared,
#   pump_grpc_64p_pump_cpu_per_binlog, pump_grpc_64p_cpu_ceiling, pump_peak_rss_mb, pump_pull,
#   ...;
#   "pump" runs every pump figure).
#   syncer_oltp_rows_per_s, syncer_bulk_rows_per_s, syncer_lag_p50, syncer_lag_p99
#   ("syncer": all four, about 4 minutes).
#   sync_diff_rows_per_s, sync_diff_vs_full_compare_rows_per_s, sync_diff_chunked_rows_per_s,
#   sync_diff_walk_rows_per_s ("sync_diff": all four, about a minute).
#   drainer_merge_binlogs_per_s, drainer_merge_peak_rss_mb, drainer_apply_rows_per_s,
#   drainer_apply_vs_mariadb_binlog_rows_per_s, drainer_apply_peak_rss_mb, drainer_lag_p50,
#   drainer_lag_p99 ("drainer": all seven, about 7 minutes).
#   gc_delete_segments_per_s (10,000 small segments, against find -delete; about a minute).
#   registry_heartbeats_per_s_etcd, registry_heartbeats_per_s_file ("registry": both, about 10 s;
#   the baseline is etcdctl put in a loop, from etcd-client).
#   big_txn_rows_per_s, big_txn_vs_load_data_rows_per_s, big_txn_peak_rss_mb_{syncer,pump,drainer}
#   ("big_txn": one 1 GiB upstream transaction end to end, bench/big_txn_bench.sh).
# Environment:
#   BENCH_DIR      scratch directory (default build-release/bench-tmp); must not be tmpfs
#   BENCH_SCAN_MB  payload of the scan journal in MB (default 200)
#   BENCH_JOBS     build parallelism (default 2)
#   BENCH_PUMP_SECONDS  length of each pump load (default 2)
#   BENCH_PUMP_PRODUCERS  in-process producers / async transactions in flight (default 64)
#   BENCH_PUMP_BATCH_PRODUCERS  producers of the batched-write figures (default 4)
#   BENCH_PULL_BINLOGS  binlogs in the PullBinlogs fixture (default 500000)
#   BENCH_SYNCER_ROWS  row changes in the syncer's binlog (default 1000000)
#   BENCH_SYNCER_LAG_SECONDS  length of the syncer's 10k rows/s lag load (default 20)
#   BENCH_SYNC_DIFF_ROWS  rows of each of sync-diff's tables (default 1000000)
#   BENCH_DRAINER_BINLOGS  binlogs in the pumps' archives of the merge figure (default 1000000)
#   BENCH_DRAINER_ROWS  row changes of the drainer's apply figure (default 1000000)
#   BENCH_DRAINER_CPU  the CPU the merge run is pinned to (default the last; -1: not pinned)
#   BENCH_DRAINER_LAG_SECONDS  length of the drainer's 5k rows/s lag load (default 30)
#   BENCH_BIG_TXN_ROWS  rows of the big transaction, ~200 bytes each (default 5000000: 1 GiB)
# Google Benchmark's tables and the build output go to build-release/bench.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build-release
log=$build/bench.log
mkdir -p "$build"
: >"$log"

fail() {
  echo "bench: $*" >&2
  echo "bench: last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

command -v zstd >/dev/null || { echo "bench: the zstd CLI is needed for the baselines" >&2; exit 1; }

echo "bench: building Release in $build" >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBINLOG_BENCH=ON >>"$log" 2>&1 ||
  fail "cmake configure failed"
cmake --build "$build" -j"${BENCH_JOBS:-2}" --target append_bench scan_bench seek_bench pump_bench \
  syncer_bench reparo_bench sync_diff_bench drainer_bench gc_bench registry_bench >>"$log" 2>&1 ||
  fail "build failed"

export BENCH_DIR=${BENCH_DIR:-$build/bench-tmp}
mkdir -p "$BENCH_DIR"
fstype=$(stat -f -c %T "$BENCH_DIR")
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
  echo "bench: $BENCH_DIR is on $fstype; durability figures need a real disk (set BENCH_DIR)" >&2
  exit 1
fi
echo "bench: scratch dir $BENCH_DIR ($fstype, $(df -h --output=source "$BENCH_DIR" | tail -1))" >&2

start=$SECONDS
results=$build/bench.out
: >"$results"
for bin in append_bench scan_bench seek_bench pump_bench syncer_bench reparo_bench sync_diff_bench \
  drainer_bench gc_bench registry_bench; do
  echo "== $bin $*" >>"$log"
  (cd "$BENCH_DIR" && "$build/bench/$bin" "$@") 2>>"$log" | tee -a "$results" ||
    fail "$bin failed"
done
# The big transaction runs the Release tools themselves (about 10 minutes for its default 1 GiB).
big_txn_wanted() {
  [ $# -eq 0 ] && return 0
  local name figure
  for name in "$@"; do
    for figure in big_txn_rows_per_s big_txn_vs_load_data_rows_per_s big_txn_peak_rss_mb_syncer \
      big_txn_peak_rss_mb_pump big_txn_peak_rss_mb_drainer; do
      [[ $figure == *"$name"* ]] && return 0
    done
  done
  return 1
}
if big_txn_wanted "$@"; then
  cmake --build "$build" -j"${BENCH_JOBS:-2}" --target pump syncer drainer >>"$log" 2>&1 ||
    fail "build failed"
  echo "== big_txn_bench.sh" >>"$log"
  bash "$repo/bench/big_txn_bench.sh" "$build/tools" 2>>"$log" | tee -a "$results" ||
    fail "big_txn_bench.sh failed"
fi
# The binaries remove their own fixtures; drop the directory only when it is ours.
if [ "$BENCH_DIR" = "$build/bench-tmp" ]; then rm -rf "$BENCH_DIR"; fi
printed=$(wc -l <"$results")

if [ "$printed" -eq 0 ]; then
  echo "bench: no figure matches: $*" >&2
  exit 1
fi
echo "bench: $printed figures in $((SECONDS - start)) s (tables in $log)" >&2
