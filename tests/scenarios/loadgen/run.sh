#!/usr/bin/env bash
# loadgen end to end: arguments, segments on disk, the ack log, ordering, reproducible rows,
# rate limiting, concurrent appenders and the journal lock.
set -euo pipefail

LOADGEN="$BINLOG_TOOLS_DIR/loadgen/loadgen"
SEGDUMP="$BINLOG_TOOLS_DIR/segdump/segdump"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_exit CODE CMD...: runs CMD, fails unless it exits with CODE.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [[ $got == "$want" ]] || fail "$* exited $got, want $want; stderr: $(cat "$WORK/err")"
}

# --help documents every option and exits 0.
expect_exit 0 "$LOADGEN" --help
for opt in dir count rate txn-rows ddl-ratio seed batch threads max-file-size sync-log ack-log; do
  grep -q -- "--$opt" "$WORK/out" || fail "--help does not mention --$opt"
done
grep -q '512MiB' "$WORK/out" || fail "--help does not show the --max-file-size default"

# -V/--version print the build's version and exit 0, like the other tools.
for flag in -V --version; do
  expect_exit 0 "$LOADGEN" $flag
  grep -qE '^loadgen \(binlog\) [0-9a-z.-]+$' "$WORK/out" ||
    fail "$flag printed: $(cat "$WORK/out")"
done

# Bad arguments: exit 2 with a usage hint on stderr.
for args in "" "--count 5" "--dir $WORK/x --pump 127.0.0.1:8250" "--dir $WORK/x --count -1" \
  "--dir $WORK/x --threads 0" "--dir $WORK/x --max-file-size lots" "--dir $WORK/x stray" \
  "--dir $WORK/x --count many" "--dir $WORK/x --txn-rows 0" "--dir $WORK/x --bogus"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$LOADGEN" $args
  grep -q 'usage: loadgen' "$WORK/err" || fail "no usage hint for: $args"
done
[[ ! -e "$WORK/x" ]] || fail "a rejected command line created the journal directory"

# N transactions with a small max-file-size: several segments, named as the design says.
N=3000
DIR="$WORK/journal"
ACK="$WORK/ack.log"
expect_exit 0 "$LOADGEN" -dir "$DIR" -count $N -max-file-size 128KiB -ack-log "$ACK" \
  -ddl-ratio 0.02
grep -q '"loadgen finished".*\[transactions=3000\]' "$WORK/err" || fail "no summary line"
segments=$(find "$DIR" -name 'binlog-*' | wc -l)
((segments >= 3)) || fail "expected several segments, got $segments"
for f in "$DIR"/binlog-*; do
  [[ $(basename "$f") =~ ^binlog-[0-9]{16,}-[0-9]{14}$ ]] || fail "bad segment name $f"
done

# Every acknowledged ts is in the journal, in strictly increasing order, and nothing else is.
[[ $(wc -l <"$ACK") == "$N" ]] || fail "ack log has $(wc -l <"$ACK") lines, want $N"
"$SEGDUMP" --format json "$DIR" >"$WORK/dump.json"
[[ $(wc -l <"$WORK/dump.json") == "$N" ]] || fail "segdump shows $(wc -l <"$WORK/dump.json") records"
python3 - "$WORK/dump.json" "$ACK" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
acks = [int(l) for l in open(sys.argv[2])]
ts = [int(r["ts"]) for r in recs]
assert ts == acks, "journal ts differ from the acknowledged ts"
assert all(a < b for a, b in zip(ts, ts[1:])), "ts not strictly increasing"
for r in recs:
    assert r["type"] == "COMMIT", r
    assert r["commit_ts"] == r["ts"], r
    assert 0 < int(r["start_ts"]) < int(r["commit_ts"]), r
ddl = [r for r in recs if r["ddl"]]
assert ddl, "no DDL at --ddl-ratio 0.02"
assert all(r["ddl"]["schema"] and not r["tables"] for r in ddl)
assert all(r["ddl"]["query"].startswith(("ALTER TABLE", "CREATE INDEX")) for r in ddl)
tables = {(t["schema"], t["table"]) for r in recs for t in r["tables"]}
assert ("shop", "orders") in tables and ("sbtest", "sbtest1") in tables, tables
rows = sum(t["inserts"] + t["updates"] + t["deletes"] for r in recs for t in r["tables"])
avg = rows / (len(recs) - len(ddl))
assert 3.5 < avg < 4.5, f"average rows per transaction {avg}, want about 4"
EOF

# Rows carry self-describing values: updates with before images, NULLs, blobs, multi-byte text.
"$SEGDUMP" -v --limit 300 "$DIR" >"$WORK/rows.txt"
grep -q '^  UPDATE sbtest.sbtest[0-9]*: id=[0-9]*, k=' "$WORK/rows.txt" || fail "no sbtest update"
grep -q '→' "$WORK/rows.txt" || fail "no before→after values"
grep -q "^  INSERT shop.orders: .*=NULL" "$WORK/rows.txt" || fail "no NULL in shop.orders"
grep -q "attachment=x'" "$WORK/rows.txt" || fail "no blob values"

# Appending again continues the same journal with higher ts; the ack log grows.
expect_exit 0 "$LOADGEN" --dir "$DIR" --count 2000 --threads 3 --batch 8 \
  --max-file-size 128KiB --ack-log "$ACK"
[[ $(wc -l <"$ACK") == 5000 ]] || fail "ack log should hold 5000 lines after the second run"
sort -n -c -u "$ACK" || fail "ack log not strictly increasing across runs"
[[ $("$SEGDUMP" "$DIR" | wc -l) == 5000 ]] || fail "journal should hold 5000 records"
expect_exit 0 "$SEGDUMP" --verify "$DIR"

# The same seed gives the same rows; another seed different ones.
contents() {
  "$SEGDUMP" --format json -v "$1" | jq -c 'del(.ts, .datetime, .start_ts, .commit_ts,
    .segment, .block_offset)' | md5sum
}
for d in s1 s2 s3; do
  seed=7
  [[ $d == s3 ]] && seed=8
  expect_exit 0 "$LOADGEN" --dir "$WORK/$d" --count 300 --seed $seed --sync-log=false
done
[[ $(contents "$WORK/s1") == $(contents "$WORK/s2") ]] || fail "same seed, different rows"
[[ $(contents "$WORK/s1") != $(contents "$WORK/s3") ]] || fail "different seeds, same rows"

# --rate paces the run: 600 transactions at 1000/s take at least about half a second.
start=$(date +%s%N)
expect_exit 0 "$LOADGEN" --dir "$WORK/rate" --count 600 --rate 1000 --batch 10
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
((elapsed_ms >= 450)) || fail "--rate 1000 for 600 txns took only ${elapsed_ms}ms"

# A second writer on the same directory is refused with a clear message, not exit 0.
"$LOADGEN" --dir "$WORK/locked" --count 400 --rate 200 --log-level warn &
writer=$!
for _ in $(seq 50); do
  [[ -n $(find "$WORK/locked" -name 'binlog-*' 2>/dev/null) ]] && break
  sleep 0.1
done
expect_exit 1 "$LOADGEN" --dir "$WORK/locked" --count 10
grep -q 'already open' "$WORK/err" || fail "no clear message for a locked journal"
wait $writer || fail "the first writer failed"

# A failure after the append (here: the ack log's disk is full) stops the run with exit 1.
if [[ -w /dev/full ]]; then
  expect_exit 1 "$LOADGEN" --dir "$WORK/full" --count 500 --threads 2 --ack-log /dev/full
  grep -q '"loadgen failed".*ack log.*No space' "$WORK/err" || fail "no clear ack-log error"
fi

echo "PASS: loadgen"
