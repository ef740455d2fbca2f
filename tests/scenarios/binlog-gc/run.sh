#!/usr/bin/env bash
# binlog-gc end to end: flags and exit codes, directories that are missing, empty or not
# segments, the dry run against the real run, deletion by size, a wal refused; then a real pump
# written through gRPC while binlog-gc runs on its binlog/ over and over (two at once too): every
# write is acknowledged, the pump logs no error, the archive verifies, and the pump restarts
# (its recovery) while GC keeps running.
set -euo pipefail

GC="$BINLOG_TOOLS_DIR/binlog-gc/binlog-gc"
LOADGEN="$BINLOG_TOOLS_DIR/loadgen/loadgen"
SEGDUMP="$BINLOG_TOOLS_DIR/segdump/segdump"
PUMP="$BINLOG_TOOLS_DIR/pump/pump"
WORK="$(mktemp -d)"
PID=""
LOOP=""
cleanup() {
  for p in $LOOP $PID; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [[ -f $WORK/pump.log ]] && tail -20 "$WORK/pump.log" >&2
  exit 1
}
# shellcheck source=../lib.sh
source "$BINLOG_SOURCE_DIR/tests/scenarios/lib.sh"
segments() { find "$1" -maxdepth 1 -name 'binlog-*' | wc -l; }
# Names, sizes, times and bytes of every file: "nothing changed" when equal.
snapshot() { (cd "$1" && ls -lA --time-style=+%s.%N && find . -type f -exec md5sum {} + | sort); }

# -h, -V, bad flags: exit 2 with the usage line.
expect_exit 0 "$GC" -h
grep -q 'usage: binlog-gc' "$WORK/out" || fail "-h prints no usage"
for flag in data-dir retention max-size dry-run force pd-urls registry-dir gc-guard-lease \
  stop-write-at-available-space L log-file; do
  grep -q -- " -$flag " "$WORK/out" || fail "-h does not mention -$flag"
done
expect_exit 0 "$GC" --version
grep -qE '^binlog-gc \(binlog\) [0-9a-z.-]+$' "$WORK/out" || fail "--version: $(cat "$WORK/out")"
D="$WORK/j"
for args in "" "-data-dir $D" "-retention 7d" "-data-dir $D -retention 7x" \
  "-data-dir $D -retention 7d -max-size lots" "-data-dir $D -retention 0" "-bogus" \
  "-data-dir $D -retention 7d stray" "-data-dir $D -retention 7d -L loud" \
  "-data-dir $D -retention 7d -gc-guard-lease soon" "-data-dir $D -retention -1d"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$GC" $args
  grep -q 'usage: binlog-gc' "$WORK/err" || fail "no usage for: $args"
done
expect_exit 2 "$GC" -data-dir "$D" -retention 7d -gc-guard-lease soon
grep -q 'flag -gc-guard-lease: bad duration "soon"' "$WORK/err" || fail "lease: $(cat "$WORK/err")"

# Directories: missing (1), empty (0, nothing to do), a pump's data-dir instead of binlog/ (1).
expect_exit 1 "$GC" -data-dir "$WORK/missing" -retention 7d
grep -q "$WORK/missing does not exist" "$WORK/err" || fail "missing dir: $(cat "$WORK/err")"
mkdir -p "$WORK/empty" "$WORK/pumpdata/binlog"
expect_exit 0 "$GC" -data-dir "$WORK/empty" -retention 7d
grep -q 'nothing to delete: .* holds no segment' "$WORK/out" || fail "empty: $(cat "$WORK/out")"
[[ -z $(ls -A "$WORK/empty") ]] || fail "a run on an empty directory left files: $(ls -A "$WORK/empty")"
expect_exit 1 "$GC" -data-dir "$WORK/pumpdata" -retention 7d
grep -q "give -data-dir $WORK/pumpdata/binlog" "$WORK/err" || fail "no binlog/ hint: $(cat "$WORK/err")"

# A journal of many segments; after two seconds all are older than -retention 1s.
"$LOADGEN" --dir "$D" --count 3000 --max-file-size 64KiB --log-level warn
N=$(segments "$D")
((N >= 5)) || fail "expected several segments, got $N"
sleep 2
before=$(snapshot "$D")
expect_exit 0 "$GC" -data-dir "$D" -retention 1s -dry-run
cp "$WORK/out" "$WORK/dry"
[[ $(grep -c '^would delete binlog-' "$WORK/dry") == $((N - 1)) ]] || fail "dry run: $(cat "$WORK/dry")"
grep -q '^would free [0-9]* bytes' "$WORK/dry" || fail "dry run prints no total"
grep -q '^held back by newest: ' "$WORK/dry" || fail "dry run names no reason"
[[ $(snapshot "$D") == "$before" ]] || fail "the dry run changed the directory"
expect_exit 0 "$GC" -data-dir "$D" -retention 1s
sed 's/^deleted /would delete /; s/^freed /would free /' "$WORK/out" | cmp -s - "$WORK/dry" ||
  fail "the run differs from its dry run: $(diff <(sed 's/^deleted /would delete /' "$WORK/out") "$WORK/dry")"
[[ $(segments "$D") == 1 ]] || fail "$(segments "$D") segments left, want the newest only"
expect_exit 0 "$SEGDUMP" --verify "$D"
expect_exit 0 "$GC" -data-dir "$D" -retention 1s
grep -q '^freed 0 bytes (0 B) in 0 segments' "$WORK/out" || fail "second run: $(cat "$WORK/out")"

# By size: the oldest until the directory fits; the bytes printed are the files'.
S="$WORK/sized"
"$LOADGEN" --dir "$S" --count 3000 --max-file-size 64KiB --log-level warn
total=$(find "$S" -name 'binlog-*' -printf '%s\n' | awk '{ s += $1 } END { print s }')
expect_exit 0 "$GC" -data-dir "$S" -retention 0 -max-size $((total / 2))
left=$(find "$S" -name 'binlog-*' -printf '%s\n' | awk '{ s += $1 } END { print s }')
((left <= total / 2)) || fail "$left bytes left, max-size $((total / 2))"
freed=$(sed -n 's/^freed \([0-9]*\) bytes.*/\1/p' "$WORK/out")
[[ $((total - left)) == "$freed" ]] || fail "freed $freed, the files lost $((total - left))"

cat >"$WORK/pump.toml" <<EOF
max-file-size = "64KiB"
heartbeat-interval = 0.2
EOF

# A real pump written through gRPC, binlog-gc looping on its binlog/ meanwhile.
GRPC="127.0.0.1:$(free_port)"
STATUS="127.0.0.1:$(free_port)"
DATA="$WORK/pump"
start_pump() {
  "$PUMP" -config "$WORK/pump.toml" -addr "$GRPC" -status-addr "$STATUS" \
    -data-dir "$DATA" -registry-dir "$WORK/reg" -log-file "$WORK/pump.log" &
  PID=$!
  for _ in $(seq 200); do
    curl -fsS "http://$STATUS/status" 2>/dev/null | grep -q '"state":"online"' && return 0
    kill -0 "$PID" 2>/dev/null || fail "pump exited during start"
    sleep 0.05
  done
  fail "pump did not come online"
}
# gc_loop NAME: binlog-gc on the pump's binlog/ every 0.1 s; failures go to gc.fail.
gc_loop() {
  while :; do
    local got=0
    "$GC" -data-dir "$DATA/binlog" -retention 1s -registry-dir "$WORK/reg" \
      -stop-write-at-available-space 0 >"$WORK/gc.$1.out" 2>&1 || got=$?
    if ((got != 0)); then
      echo "exit $got: $(cat "$WORK/gc.$1.out")" >>"$WORK/gc.fail"
    fi
    grep -h '^freed' "$WORK/gc.$1.out" >>"$WORK/gc.freed" || true
    sleep 0.1
  done
}
start_pump
gc_loop a &
LOOP="$!"
gc_loop b &
LOOP="$LOOP $!"
expect_exit 0 "$LOADGEN" --pump "$GRPC" --count 6000 --rate 1500 --batch 4 --log-level warn
# The pump restarts (recovery lists and opens its segments) while the GCs go on.
kill -TERM "$PID"
wait "$PID" || fail "pump exited $? on SIGTERM"
PID=""
start_pump
expect_exit 0 "$LOADGEN" --pump "$GRPC" --count 1000 --rate 1000 --log-level warn
sleep 1.5
for p in $LOOP; do kill "$p"; done
# shellcheck disable=SC2086 # two pids
wait $LOOP 2>/dev/null || true
LOOP=""
[[ ! -s $WORK/gc.fail ]] || fail "a binlog-gc run failed beside the pump: $(head -20 "$WORK/gc.fail")"
deleted=$(awk '{ s += $7 } END { print s + 0 }' "$WORK/gc.freed")
((deleted > 10)) || fail "the GC loops deleted only $deleted segments: $(tail -3 "$WORK/gc.freed")"
curl -fsS "http://$STATUS/status" | grep -q '"writable":true' || fail "pump not writable"
grep -q '\[ERROR\]' "$WORK/pump.log" && fail "the pump logged errors: $(grep '\[ERROR\]' "$WORK/pump.log" | head -3)"
expect_exit 0 "$SEGDUMP" --verify "$DATA/binlog"
# The wal is the pump's: binlog-gc refuses it and leaves it as it is.
kill -TERM "$PID"
wait "$PID" || fail "pump exited $? on SIGTERM"
PID=""
wal_before=$(snapshot "$DATA/wal")
expect_exit 1 "$GC" -data-dir "$DATA/wal" -retention 1s
grep -q "arrival-order journal (a pump's wal/)" "$WORK/err" || fail "wal: $(cat "$WORK/err")"
[[ $(snapshot "$DATA/wal") == "$wal_before" ]] || fail "the refused run changed the wal"

echo "PASS: binlog-gc ($deleted segments deleted beside the running pump, by $(wc -l <"$WORK/gc.freed") runs)"
