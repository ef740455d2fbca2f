#!/usr/bin/env bash
# big_txn_rows_per_s: one upstream transaction of BENCH_BIG_TXN_ROWS rows (default 5,000,000 of
# ~200 bytes: about 1 GiB of row events) carried end to end, MariaDB -> syncer -> pump ->
# drainer -> MariaDB, timed from the upstream COMMIT to the rows being visible downstream; then
# a DELETE of them all in one transaction, carried the same way.
# Baselines, on the same servers and rows: the upstream's binlog file replayed with
# `mariadb-binlog | mariadb` (which holds the statement on the client side), and LOAD DATA of
# the same rows. Then each process's peak RSS (VmHWM, through both) beside its limit (256 MiB):
#   big_txn_rows_per_s: V rows/s (baseline: B rows/s, ratio: r)        baseline mariadb-binlog
#   big_txn_vs_load_data_rows_per_s: V rows/s (baseline: B rows/s, ratio: r)
#   big_txn_peak_rss_mb_<process>: V MiB (baseline: 256 MiB, ratio: r)
# Usage: bench/big_txn_bench.sh TOOLS_DIR   (scripts/bench.sh runs it with the Release tools)
# The same 1 GiB with every check (sync-diff, segdump --verify, each process under 256 MiB) is
# the soak in README: tests/scenarios/bigtxn/run.sh with BIGTXN_LARGE_MB=1024.
set -euo pipefail

tools=${1:?usage: big_txn_bench.sh TOOLS_DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${BENCH_BIG_TXN_ROWS:-5000000}
limit_mb=256
work=$(mktemp -d "${BENCH_DIR:-/tmp}/big-txn.XXXXXX")
declare -A PID
cleanup() {
  for pid in "${PID[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for s in up down; do "$repo/scripts/mariadb-sandbox.sh" stop "$work/$s" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "big_txn: $* (at ${SECONDS}s)" >&2; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_until() {  # SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
now() { date +%s.%N; }
figure() {  # NAME VALUE UNIT BASELINE UNIT
  awk -v n="$1" -v v="$2" -v u="$3" -v b="$4" -v bu="$5" \
    'BEGIN { printf "%s: %.0f %s (baseline: %.0f %s, ratio: %.2f)\n", n, v, u, b, bu, v / b }'
}

up_port=$("$repo/scripts/mariadb-sandbox.sh" start "$work/up")
down_port=$("$repo/scripts/mariadb-sandbox.sh" start "$work/down")
up() { mariadb --no-defaults --socket="$work/up/sock" -uroot -N -B "$@"; }
down() { mariadb --no-defaults --socket="$work/down/sock" -uroot -N -B "$@"; }
for s in up down; do
  "$s" -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2; SET GLOBAL max_binlog_cache_size = 17179869184;
           SET GLOBAL max_allowed_packet = 1073741824"
done
schema="CREATE DATABASE bt; CREATE TABLE bt.big (id BIGINT PRIMARY KEY, grp INT NOT NULL,
        pad VARCHAR(200) NOT NULL)"
up -e "$schema"
down -e "$schema"  # as a restored backup leaves it

pump_addr="127.0.0.1:$(free_port)"
"$tools/pump/pump" -addr "$pump_addr" -status-addr "127.0.0.1:$(free_port)" -data-dir "$work/pump" \
  -registry-dir "$work/registry" -log-file "$work/pump.log" &
PID[pump]=$!
wait_until 30 compgen -G "$work/registry/pumps/*.json"
cat >"$work/syncer.toml" <<TOML
log-file = "$work/syncer.log"
server-id = 101
meta = "$work/syncer.meta"
status-addr = ""
[from]
host = "127.0.0.1"
port = $up_port
user = "repl"
password = "repl-pw"
[to]
type = "pump"
pump-addrs = ["$pump_addr"]
TOML
cat >"$work/drainer.toml" <<TOML
addr = "127.0.0.1:$(free_port)"
data-dir = "$work/drainer"
registry-dir = "$work/registry"
initial-commit-ts = 0
detect-interval = 0.5
log-file = "$work/drainer.log"
[syncer]
db-type = "mysql"
[syncer.to]
host = "127.0.0.1"
port = $down_port
user = "root"
[syncer.relay]
log-dir = "$work/relay"
TOML
"$tools/syncer/syncer" -config "$work/syncer.toml" &
PID[syncer]=$!
"$tools/drainer/drainer" -config "$work/drainer.toml" &
PID[drainer]=$!
# Without a meta the syncer starts at the upstream's position when it connects.
wait_until 120 grep -q "starting at the upstream's current position" "$work/syncer.log" ||
  { echo "big_txn: the syncer did not connect: $(tail -3 "$work/syncer.log")" >&2; exit 1; }

insert="INSERT INTO bt.big (id, grp, pad)
        SELECT seq, 1, RPAD(CONCAT('row ', seq, ' '), 180, 'abcdefghij') FROM bt.seq_1_to_$rows"
say "upstream: one transaction of $rows rows"
read -r from_file from_pos _ < <(up -e "SHOW MASTER STATUS")
up -e "$insert"
committed=$(now)
size=$(up -e "SHOW BINARY LOGS" | awk '{ s += $2 } END { print s }')
say "committed ($((size >> 20)) MiB of binlog); waiting for the drainer's copy"
copied() { [ "$(down -e 'SELECT COUNT(*) FROM bt.big')" = "$rows" ]; }
wait_until 7200 copied ||
  { echo "big_txn: the copy did not arrive; $(tail -3 "$work/drainer.log")" >&2; exit 1; }
ours=$(awk -v a="$committed" -v b="$(now)" -v n="$rows" 'BEGIN { print n / (b - a) }')
read -r to_file to_pos _ < <(up -e "SHOW MASTER STATUS")
say "upstream: the $rows rows deleted in one transaction"
up -e "DELETE FROM bt.big"
emptied() { [ "$(down -e 'SELECT COUNT(*) FROM bt.big')" = 0 ]; }
wait_until 7200 emptied ||
  { echo "big_txn: the delete did not arrive; $(tail -3 "$work/drainer.log")" >&2; exit 1; }
declare -A HWM
for p in syncer pump drainer; do HWM[$p]=$(awk '/^VmHWM/ { print $2 }' "/proc/${PID[$p]}/status"); done
for p in "${!PID[@]}"; do kill -TERM "${PID[$p]}"; done
wait 2>/dev/null || true
PID=()

say "baseline: mariadb-binlog | mariadb"
down -e "DROP DATABASE bt; $schema"
binlogs=$(up -e "SHOW BINARY LOGS" | awk -v f="$from_file" -v t="$to_file" '$1 >= f && $1 <= t { print $1 }')
start=$(now)
# shellcheck disable=SC2086  # one argument per binlog file
(cd "$work/up/data" &&
  mariadb-binlog --no-defaults --start-position="$from_pos" --stop-position="$to_pos" $binlogs) |
  mariadb --no-defaults --socket="$work/down/sock" -uroot --max-allowed-packet=1G
mb=$(awk -v a="$start" -v b="$(now)" -v n="$rows" 'BEGIN { print n / (b - a) }')

say "baseline: LOAD DATA"
down -e "SELECT id, grp, pad INTO OUTFILE '$work/rows.tsv' FROM bt.big"
down -e "DROP DATABASE bt; $schema"
start=$(now)
down -e "LOAD DATA INFILE '$work/rows.tsv' INTO TABLE bt.big"
ld=$(awk -v a="$start" -v b="$(now)" -v n="$rows" 'BEGIN { print n / (b - a) }')

figure big_txn_rows_per_s "$ours" rows/s "$mb" rows/s
figure big_txn_vs_load_data_rows_per_s "$ours" rows/s "$ld" rows/s
for p in syncer pump drainer; do
  figure "big_txn_peak_rss_mb_$p" "$((HWM[$p] / 1024))" MiB "$limit_mb" MiB
done
