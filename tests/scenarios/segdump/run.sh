#!/usr/bin/env bash
# segdump end to end over a journal that loadgen writes: record lines, JSON, ts selection,
# stats against the files on disk, verify on clean, damaged and torn segments; the three modes
# agreeing on damage; inputs that are not files; the golden outputs of the typed fixture.
set -euo pipefail

LOADGEN="$BINLOG_TOOLS_DIR/loadgen/loadgen"
SEGDUMP="$BINLOG_TOOLS_DIR/segdump/segdump"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_exit CODE CMD...: runs CMD with stdout in $WORK/out, stderr in $WORK/err.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [[ $got == "$want" ]] || fail "$* exited $got, want $want; stderr: $(cat "$WORK/err")"
}
lines() { wc -l <"$1" | tr -d ' '; }

N=2000
DIR="$WORK/journal"
"$LOADGEN" --dir "$DIR" --count $N --max-file-size 64KiB --log-level warn
mapfile -t SEGS < <(find "$DIR" -name 'binlog-*' | sort)
((${#SEGS[@]} >= 4)) || fail "expected several segments, got ${#SEGS[@]}"

# --help, --version and bad arguments.
expect_exit 0 "$SEGDUMP" --help
for opt in verbose format from to tz limit verify stats version; do
  grep -q -- "--$opt" "$WORK/out" || fail "--help does not mention --$opt"
done
grep -q '1 damage found' "$WORK/out" || fail "--help does not give the exit codes"
for flag in -V --version; do
  expect_exit 0 "$SEGDUMP" $flag
  grep -qE '^segdump \(binlog\) [0-9a-z.-]+$' "$WORK/out" ||
    fail "$flag printed: $(cat "$WORK/out")"
done
for args in "" "--format xml $DIR" "--from yesterday $DIR" "--to 2024-13-01 $DIR" \
  "--verify --stats $DIR" "--limit -1 $DIR" "--bogus $DIR" "--tz Mars/Base $DIR" \
  "--from 20 --to 10 $DIR" "--verify --from 1 $DIR" "--limit"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$SEGDUMP" $args
  grep -q 'usage: segdump' "$WORK/err" || fail "no usage hint for: $args"
done

# One line per record, in ts order.
expect_exit 0 "$SEGDUMP" "$DIR"
cp "$WORK/out" "$WORK/all.txt"
[[ $(lines "$WORK/all.txt") == "$N" ]] || fail "text dump has $(lines "$WORK/all.txt") lines"
grep -qvE '^[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ COMMIT start_ts=[0-9]+ ' "$WORK/all.txt" &&
  fail "a line does not look like: ts datetime COMMIT start_ts=..."
grep -qE ' sbtest\.sbtest[0-9]+ \+[0-9]+ ~[0-9]+ -[0-9]+' "$WORK/all.txt" || fail "no table counts"

# Each file on its own gives the same records, and Go-style flags work.
: >"$WORK/files.txt"
for f in "${SEGS[@]}"; do "$SEGDUMP" "$f" >>"$WORK/files.txt"; done
cmp -s "$WORK/all.txt" "$WORK/files.txt" || fail "per-file dumps differ from the directory dump"
"$SEGDUMP" "${SEGS[@]}" | cmp -s "$WORK/all.txt" - || fail "all files at once differ"
[[ $("$SEGDUMP" -limit 10 "$DIR" | wc -l) == 10 ]] || fail "-limit 10"

# JSON lines parse, carry their location, and counts agree with -v rows.
expect_exit 0 "$SEGDUMP" --format json -v "$DIR"
python3 - "$WORK/out" "$N" <<'EOF'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == int(sys.argv[2]), len(recs)
assert all(r["version"] == 1 for r in recs)
ts = [int(r["ts"]) for r in recs]
assert all(a < b for a, b in zip(ts, ts[1:])), "ts not strictly increasing"
for r in recs:
    for key in ("ts", "datetime", "type", "start_ts", "commit_ts", "ddl", "tables"):
        assert key in r, (key, r)
    assert os.path.isfile(r["segment"]) and r["block_offset"] >= 32, r
    for t in r["tables"]:
        kinds = [row["type"] for row in t["rows"]]
        assert kinds.count("INSERT") == t["inserts"] and kinds.count("UPDATE") == t["updates"]
        assert kinds.count("DELETE") == t["deletes"]
        assert all("before" in row for row in t["rows"] if row["type"] == "UPDATE")
EOF

# --from/--to select an inclusive ts range, given as TSOs or as datetimes.
from=$(sed -n 301p "$WORK/all.txt" | cut -d' ' -f1)
to=$(sed -n 1200p "$WORK/all.txt" | cut -d' ' -f1)
[[ $("$SEGDUMP" --from "$from" --to "$to" "$DIR" | wc -l) == 900 ]] || fail "--from/--to TSO"
[[ $("$SEGDUMP" -from="$from" -to="$to" "${SEGS[@]}" | wc -l) == 900 ]] || fail "-from/-to files"
[[ $("$SEGDUMP" --from "$from" "$DIR" | wc -l) == 1700 ]] || fail "--from alone"
[[ $("$SEGDUMP" --to "$to" "$DIR" | wc -l) == 1200 ]] || fail "--to alone"
"$SEGDUMP" --format json --tz UTC "$DIR" >"$WORK/utc.json"
# Records share a datetime within a millisecond, so the expected count is exact.
mid=$(sed -n 1000p "$WORK/utc.json" | jq -r .datetime)
want=$(jq -r .datetime "$WORK/utc.json" | awk -v m="$mid" '$0 >= m' | wc -l)
((want > 1000 && want < N)) || fail "datetime $mid should split the records ($want)"
got=$("$SEGDUMP" --tz UTC --from "$mid" "$DIR" | wc -l)
[[ $got == "$want" ]] || fail "--from '$mid' (UTC) printed $got records, want $want"
mid8=$(python3 -c 'import datetime, sys
t = datetime.datetime.fromisoformat(sys.argv[1]) + datetime.timedelta(hours=8)
print(t.strftime("%Y-%m-%d %H:%M:%S.%f"))' "$mid")
got=$("$SEGDUMP" --tz +08:00 --from "$mid8" "$DIR" | wc -l)
[[ $got == "$want" ]] || fail "--tz +08:00 shifts --from wrongly: $got, want $want"

# --stats agrees with the files on disk and with the dump.
expect_exit 0 "$SEGDUMP" --stats --format json "$DIR"
stored=$(stat -c %s "${SEGS[@]}" | awk '{s += $1} END {print s}')
first=$(head -1 "$WORK/all.txt" | cut -d' ' -f1)
last=$(tail -1 "$WORK/all.txt" | cut -d' ' -f1)
jq -e --argjson n $N --argjson segs ${#SEGS[@]} --argjson stored "$stored" \
  --arg first "$first" --arg last "$last" \
  '.records == $n and .segments == $segs and .sealed == $segs - 1 and .stored_bytes == $stored
   and .first_ts == $first and .last_ts == $last and .raw_bytes > 0 and .blocks > 0
   and .compression_ratio > 1' "$WORK/out" >/dev/null || fail "stats wrong: $(cat "$WORK/out")"
expect_exit 0 "$SEGDUMP" --stats "$DIR"
grep -qx "records: $N" "$WORK/out" || fail "text stats: $(cat "$WORK/out")"
grep -qx "stored bytes: $stored" "$WORK/out" || fail "text stats stored bytes"

# --verify: clean, then one flipped byte in the middle of a sealed segment.
expect_exit 0 "$SEGDUMP" --verify "$DIR"
grep -q '^verify: OK' "$WORK/out" || fail "no OK summary"
cp -r "$DIR" "$WORK/damaged"
victim="$WORK/damaged/$(basename "${SEGS[1]}")"
size=$(stat -c %s "$victim")
flip=$((size / 2))
python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0xFF; open(p, "wb").write(b)' "$victim" "$flip"
expect_exit 1 "$SEGDUMP" --verify "$WORK/damaged"
grep -q '^verify: FAILED' "$WORK/out" || fail "no FAILED summary"
good=$(sed -n 's/^verify: FAILED: [0-9]* segments, \([0-9]*\) records.*/\1/p' "$WORK/out")
line=$(grep "^ERROR.*$victim: offset [0-9]*" "$WORK/out") || fail "no error naming $victim"
offset=$(sed -E 's/.*: offset ([0-9]+):.*/\1/' <<<"$line")
((offset <= flip && flip - offset < 65536 + 48)) || fail "damage at $offset, flipped $flip"
expect_exit 1 "$SEGDUMP" --verify "$victim"
# The dump and --stats report the same damage, exit 1, and read every other record: the rest
# of the damaged segment too.
expect_exit 1 "$SEGDUMP" "$WORK/damaged"
grep -q "^ERROR   $victim: offset $offset: [0-9]* unreadable bytes skipped" "$WORK/err" ||
  fail "dump error lacks file, offset and bytes: $(cat "$WORK/err")"
kept=$(lines "$WORK/out")
((kept == good && kept > N - 200)) || fail "dump printed $kept records, --verify counted $good"
expect_exit 1 "$SEGDUMP" --stats "$WORK/damaged"
grep -qx "records: $good" "$WORK/out" || fail "--stats counts differ: $(cat "$WORK/out")"
grep -q "^ERROR   $victim: offset $offset" "$WORK/err" || fail "--stats does not name the damage"

# A sealed segment has no torn tail: a flipped trailer magic is damage in every mode.
cp -r "$DIR" "$WORK/magic"
victim="$WORK/magic/$(basename "${SEGS[-2]}")"
size=$(stat -c %s "$victim")
python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0x01; open(p, "wb").write(b)' "$victim" $((size - 64))
for mode in "" --verify --stats; do
  # shellcheck disable=SC2086
  expect_exit 1 "$SEGDUMP" $mode "$WORK/magic"
  grep -q "^ERROR   $victim: offset [0-9]*: damaged footer" "$WORK/out" "$WORK/err" ||
    fail "segdump $mode: no error for the flipped trailer magic"
done
expect_exit 1 "$SEGDUMP" "$victim"
[[ $(lines "$WORK/out") -gt 0 ]] || fail "no records printed from a segment with a damaged footer"

# A torn tail in the newest segment is what a crash leaves: a warning, exit 0.
cp -r "$DIR" "$WORK/torn"
newest="$WORK/torn/$(basename "${SEGS[-1]}")"
truncate -s -50 "$newest"
expect_exit 0 "$SEGDUMP" --verify "$WORK/torn"
grep -q "^WARNING.*$newest: offset [0-9]*: torn tail" "$WORK/out" || fail "no torn-tail warning"
expect_exit 0 "$SEGDUMP" --verify "$newest"
grep -q "^WARNING" "$WORK/out" || fail "no torn-tail warning for a single file"
expect_exit 0 "$SEGDUMP" "$WORK/torn"
grep -q "^WARNING.*$newest: offset [0-9]*: torn tail" "$WORK/err" || fail "dump: no warning"
# ... but an older segment was sealed: what is cut from its end is damage, in every mode.
older="$WORK/torn/$(basename "${SEGS[0]}")"
truncate -s -50 "$older"
for mode in "" --verify --stats; do
  # shellcheck disable=SC2086
  expect_exit 1 "$SEGDUMP" $mode "$WORK/torn"
  grep -q "^ERROR   $older: offset [0-9]*: " "$WORK/out" "$WORK/err" ||
    fail "segdump $mode: no error for the cut older segment"
done

# Zeros past the newest segment's data are a live pump's preallocated space: a note, exit 0,
# and not stored bytes.
cp -r "$DIR" "$WORK/ahead"
newest="$WORK/ahead/$(basename "${SEGS[-1]}")"
data_bytes=$(stat -c %s "$newest")
truncate -s +1048576 "$newest"
expect_exit 0 "$SEGDUMP" --verify "$WORK/ahead"
grep -q "^NOTE.*$newest: offset $data_bytes: 1048576 zero bytes written ahead" "$WORK/out" ||
  fail "no note for zeros written ahead: $(cat "$WORK/out")"
grep -q "warnings: 0" "$WORK/out" || fail "zeros written ahead counted as a warning"
expect_exit 0 "$SEGDUMP" --stats "$WORK/ahead"
grep -qx "stored bytes: $stored" "$WORK/out" || fail "stats count the zeros: $(cat "$WORK/out")"
expect_exit 0 "$SEGDUMP" "$WORK/ahead"
[[ $(lines "$WORK/out") == "$N" ]] || fail "dump over zeros written ahead"
grep -q "^NOTE    $newest: offset $data_bytes: 1048576 zero bytes" "$WORK/err" ||
  fail "dump: no note for the zeros written ahead"

# A FIFO, a device: refused unread with what they are, exit 1, in every mode (bounded by a
# timeout: reading a FIFO that nobody writes would block forever).
mkfifo "$WORK/fifo"
for mode in "" --verify --stats; do
  # shellcheck disable=SC2086
  expect_exit 1 timeout 20 "$SEGDUMP" $mode "$WORK/fifo"
  grep -q "$WORK/fifo: a FIFO (named pipe), not a regular file" "$WORK/out" "$WORK/err" ||
    fail "segdump $mode: no clear error for a FIFO: $(cat "$WORK/out" "$WORK/err")"
done
expect_exit 1 timeout 20 "$SEGDUMP" /dev/zero
grep -q "/dev/zero: a character device" "$WORK/err" || fail "no clear error for a device"

# Not a segment, or missing: exit 1 with the path named.
echo "hello" >"$WORK/not-a-segment"
expect_exit 1 "$SEGDUMP" "$WORK/not-a-segment"
grep -q "not-a-segment" "$WORK/err" || fail "error does not name the file"
expect_exit 1 "$SEGDUMP" --verify "$WORK/not-a-segment"
expect_exit 1 "$SEGDUMP" "$WORK/missing"

# The typed fixture: the binary prints exactly the golden outputs.
GOLDEN="$BINLOG_SOURCE_DIR/testdata/golden/segdump"
cp "$GOLDEN/typed.seg" "$WORK/typed.seg"
check_golden() {
  local want=$1
  shift
  (cd "$WORK" && "$SEGDUMP" --tz UTC "$@" typed.seg) >"$WORK/golden.out" ||
    fail "segdump $* typed.seg failed"
  diff -u "$GOLDEN/$want" "$WORK/golden.out" || fail "segdump $* differs from $want"
}
check_golden typed.txt
check_golden typed-v.txt -v
check_golden typed.jsonl --format json
check_golden typed-v.jsonl --format json -v
check_golden typed-stats.json --stats --format json
check_golden typed-verify.txt --verify -v
# What a reader needs to tell apart stays apart through jq: the string '0x41' and the bytes
# 0x41, SQL NULL and an absent column, a TSO and its neighbours.
jq -e -s 'map(select(.tables[0].table == "typed"))[0].tables[0].rows[0].row
  | .s == {"string": "0x41"} and .b == {"bytes": "41"} and .n == {"null": true}' \
  "$GOLDEN/typed-v.jsonl" >/dev/null || fail "typed values"
jq -e -s 'map(select(.tables[0].table == "minimal"))[0].tables[0].rows[0].row.id
  == {"absent": true}' "$GOLDEN/typed-v.jsonl" >/dev/null || fail "absent columns"
[[ $(jq -r .ts "$GOLDEN/typed.jsonl" | head -1) == 445644800000000000 ]] || fail "ts not exact"

echo "PASS: segdump"
