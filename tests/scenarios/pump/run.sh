#!/usr/bin/env bash
# The pump daemon end to end: flags and config errors, the seed pump.toml, start on free
# loopback ports, /status and /metrics, the registry record, SIGTERM -> paused, a close request
# that waits for a drainer -> offline, a pause request -> paused, the node id kept in data-dir.
set -euo pipefail

PUMP="$BINLOG_TOOLS_DIR/pump/pump"
WORK="$(mktemp -d)"
PID=""
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -KILL "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [[ -f $WORK/pump.log ]] && tail -20 "$WORK/pump.log" >&2
  exit 1
}
# expect_exit CODE CMD...: runs CMD with stdout in $WORK/out, stderr in $WORK/err.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [[ $got == "$want" ]] || fail "$* exited $got, want $want; stderr: $(cat "$WORK/err")"
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The seed pump.toml (../shared/seeds), verbatim.
SEED="$WORK/seed-pump.toml"
cat >"$SEED" <<'EOF'
log-file="pump.log"
data-dir="pump.data"
addr="127.0.0.1:8250"
advertise-addr="127.0.0.1:8250"
pd-urls="http://127.0.0.1:2379"
EOF

# -h, --help, -V, bad flags.
expect_exit 0 "$PUMP" -h
grep -q 'usage: pump' "$WORK/out" || fail "-h prints no usage"
expect_exit 0 "$PUMP" --help
for flag in config addr advertise-addr status-addr data-dir node-id pd-urls registry-dir gc L \
  log-file V; do
  grep -q -- " -$flag " "$WORK/out" || fail "--help does not mention -$flag"
done
expect_exit 0 "$PUMP" -V
grep -q '^pump (binlog) ' "$WORK/out" || fail "-V prints no version"
for args in "-bogus" "stray" "-data-dir" "-data x"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$PUMP" $args
  grep -q 'usage: pump' "$WORK/err" || fail "no usage for: $args"
done

# Bad configs: exit 1, naming the key and the file.
# The seed names PD's etcd; with nothing listening there the pump says it cannot reach it (the
# registry on a real etcd is tested in tests/registry, tests/pump and tests/drainer).
NO_ETCD="http://127.0.0.1:$(free_port)"
(cd "$WORK" && expect_exit 1 "$PUMP" -config "$SEED" -pd-urls "$NO_ETCD" -addr 127.0.0.1:0 \
  -advertise-addr 127.0.0.1:0 -status-addr 127.0.0.1:0 -log-file "$WORK/seed.log")
grep -q "record of pump.*no etcd endpoint answered: $NO_ETCD.*Couldn't connect" "$WORK/err" || fail "seed without etcd: $(cat "$WORK/err")"
printf 'gc = "soon"\n' >"$WORK/bad.toml"
expect_exit 1 "$PUMP" -config "$WORK/bad.toml" -registry-dir "$WORK/reg"
grep -q "$WORK/bad.toml: key \"gc\": expected" "$WORK/err" || fail "bad gc: $(cat "$WORK/err")"
expect_exit 1 "$PUMP" -advertise-addr 0.0.0.0:8250 -registry-dir "$WORK/reg"
grep -q 'advertise-addr.*0.0.0.0' "$WORK/err" || fail "0.0.0.0 advertise-addr accepted"
[[ ! -e $WORK/reg && ! -e pump.data ]] || fail "a rejected config created directories"
# Garbage for a config: the error quotes printable characters only.
head -c 300 /dev/urandom >"$WORK/garbage.toml"
expect_exit 1 "$PUMP" -config "$WORK/garbage.toml" -registry-dir "$WORK/reg"
python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); b.decode("utf-8"); sys.exit(any(c < 32 and c not in (9, 10) or c == 127 for c in b))' \
  "$WORK/err" || fail "control characters or bytes that are not UTF-8 echoed: $(od -c "$WORK/err" | head)"
[[ $(wc -c <"$WORK/err") -lt 600 ]] || fail "the garbage config echoed $(wc -c <"$WORK/err") bytes"
# The syncer's config is not a pump's.
expect_exit 1 "$PUMP" -config "$BINLOG_SOURCE_DIR/conf/syncer.toml" -registry-dir "$WORK/reg"
grep -q 'are not pump settings' "$WORK/err" || fail "syncer.toml accepted: $(cat "$WORK/err")"
# An address that does not resolve is said to be one, in the project's words only.
expect_exit 1 "$PUMP" -addr 256.1.1.1:8250 -data-dir "$WORK/d0" -registry-dir "$WORK/reg0"
grep -q 'does not resolve' "$WORK/err" || fail "unresolvable addr: $(cat "$WORK/err")"
grep -q -e 'in use' -e 'chttp2' "$WORK/err" && fail "unresolvable addr: $(cat "$WORK/err")"
[[ ! -e $WORK/d0/.node ]] || fail "a pump that did not start kept a node id"

GRPC_PORT=$(free_port)
STATUS_PORT=$(free_port)
ID="127.0.0.1:$GRPC_PORT"
REG="$WORK/reg"
RECORD="$REG/pumps/$ID.json"
# The seed config, with flags for what this machine needs; heartbeats fast for the test.
cat "$SEED" >"$WORK/pump.toml"
printf 'heartbeat-interval = 0.2\n' >>"$WORK/pump.toml"
start_pump() {
  "$PUMP" -config "$WORK/pump.toml" -addr "$ID" -advertise-addr "$ID" \
    -status-addr "127.0.0.1:$STATUS_PORT" -data-dir "$WORK/data" -registry-dir "$REG" \
    -log-file "$WORK/pump.log" &
  PID=$!
  for _ in $(seq 200); do
    # /status answers from the start, and says "starting" until the node is registered.
    if curl -fsS "http://127.0.0.1:$STATUS_PORT/status" >"$WORK/status.json" 2>/dev/null &&
      ! grep -q '"state":"starting"' "$WORK/status.json"; then
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || fail "pump exited during start"
    sleep 0.05
  done
  fail "pump /status did not answer"
}
# wait_exit CODE: waits (bounded) for the pump to exit by itself with CODE.
wait_exit() {
  for _ in $(seq 300); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  ! kill -0 "$PID" 2>/dev/null || fail "pump did not exit"
  local got=0
  wait "$PID" || got=$?
  PID=""
  [[ $got == "$1" ]] || fail "pump exited $got, want $1"
}
field() { jq -r ".$1" "$2"; }

# Start: online in /status and in the registry, node id kept in data-dir/.node.
start_pump
[[ $(field state "$WORK/status.json") == online ]] || fail "not online: $(cat "$WORK/status.json")"
[[ $(field '"node-id"' "$WORK/status.json") == "$ID" ]] || fail "node id is not advertise-addr"
[[ $(field state "$RECORD") == online ]] || fail "registry record not online"
[[ $(field statusAddr "$RECORD") == "127.0.0.1:$STATUS_PORT" ]] || fail "no StatusAddr in record"
[[ $(cat "$WORK/data/.node") == "$ID" ]] || fail "data-dir/.node does not hold the node id"
grep -q '"Welcome to pump"' "$WORK/pump.log" || fail "no startup line"
grep -q "\"pump config\".*\[data-dir=$WORK/data\]" "$WORK/pump.log" || fail "no config line"
curl -fsS "http://127.0.0.1:$STATUS_PORT/metrics" >"$WORK/metrics"
grep -q '^binlog_pump_writes_total 0$' "$WORK/metrics" || fail "no writes metric"
grep -q '^binlog_pump_state{state="online"} 1$' "$WORK/metrics" || fail "no state metric"
# The registry record is refreshed every heartbeat-interval.
ts1=$(field updateTS "$RECORD")
for _ in $(seq 100); do
  [[ $(field updateTS "$RECORD") != "$ts1" ]] && break
  sleep 0.05
done
[[ $(field updateTS "$RECORD") != "$ts1" ]] || fail "no heartbeat to the registry"

# A second pump on the same gRPC port is refused.
expect_exit 1 "$PUMP" -addr "$ID" -status-addr "127.0.0.1:$(free_port)" -data-dir "$WORK/d2" \
  -registry-dir "$WORK/reg2"
grep -q 'cannot listen on addr.*in use by another process' "$WORK/err" ||
  fail "no clear port-in-use error: $(cat "$WORK/err")"
grep -q 'chttp2' "$WORK/err" && fail "gRPC's own line reached stderr: $(cat "$WORK/err")"
[[ ! -e $WORK/d2/.node ]] || fail "a pump that did not start kept a node id"
# So is a second process on the same status port, with exit 1.
expect_exit 1 "$PUMP" -addr "127.0.0.1:$(free_port)" -status-addr "127.0.0.1:$STATUS_PORT" \
  -data-dir "$WORK/d3" -registry-dir "$WORK/reg3"
grep -q 'cannot listen on status-addr.*in use by another process' "$WORK/err" ||
  fail "a status port in use was not refused: $(cat "$WORK/err")"
# Unknown routes are answered at once, with what exists.
code=$(curl -sS -m 2 -o "$WORK/put.json" -w '%{http_code}' -X POST "http://127.0.0.1:$STATUS_PORT/nowhere")
[[ $code == 404 ]] && grep -q '"routes"' "$WORK/put.json" || fail "POST /nowhere answered $code"
code=$(curl -sS -m 2 -o "$WORK/put.json" -w '%{http_code}' -X PUT "http://127.0.0.1:$STATUS_PORT/state/$ID/")
[[ $code == 404 ]] || fail "PUT /state/<id>/ answered $code"
code=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$STATUS_PORT/status")
[[ $code == 405 ]] || fail "PUT /status answered $code"

# SIGTERM: paused in the registry, exit 0.
kill -TERM "$PID"
wait_exit 0
[[ $(field state "$RECORD") == paused ]] || fail "SIGTERM did not leave the pump paused"
grep -q 'pausing the pump' "$WORK/pump.log" || fail "no log line for the signal"

# The node id is kept: another one for the same data dir is refused, naming both.
expect_exit 1 "$PUMP" -config "$WORK/pump.toml" -data-dir "$WORK/data" -registry-dir "$REG" \
  -node-id other -addr "127.0.0.1:$(free_port)" -log-file "$WORK/other.log"
grep -q "other.*$ID" "$WORK/err" || fail "node-id conflict not named: $(cat "$WORK/err")"

# Close with a drainer behind: closing until its checkpoint reaches the pump, then offline.
mkdir -p "$REG/drainers"
drainer() {
  printf '{"nodeId":"d1","host":"127.0.0.1:8249","state":"online","maxCommitTS":%s,"updateTS":1}\n' \
    "$1" >"$REG/drainers/d1.json.tmp"
  mv "$REG/drainers/d1.json.tmp" "$REG/drainers/d1.json"
}
drainer 1
start_pump
curl -fsS -X PUT "http://127.0.0.1:$STATUS_PORT/state/$ID/close" >"$WORK/put.json" ||
  fail "PUT close failed"
[[ $(field state "$WORK/put.json") == closing ]] || fail "close answered $(cat "$WORK/put.json")"
for _ in $(seq 100); do
  [[ $(field state "$RECORD") == closing ]] && break
  sleep 0.05
done
[[ $(field state "$RECORD") == closing ]] || fail "record not closing"
sleep 1
kill -0 "$PID" 2>/dev/null || fail "pump went away while the drainer was behind"
curl -fsS "http://127.0.0.1:$STATUS_PORT/status" >"$WORK/status.json"
[[ $(field state "$WORK/status.json") == closing ]] || fail "status not closing"
grep -q 'closing: waiting for drainers.*behind="d1=1"' "$WORK/pump.log" ||
  fail "the log does not say who is behind"
# Not through jq: it reads numbers as doubles, and a TSO needs all 64 bits.
target=$(grep -o '"max-commit-ts":[0-9]*' "$WORK/status.json" | cut -d: -f2)
drainer "$target"
wait_exit 0
[[ $(field state "$RECORD") == offline ]] || fail "close did not end offline"

# The repair of a pump holding a ts from the future runs on a stopped pump and says what it did.
expect_exit 0 "$PUMP" -config "$WORK/pump.toml" -data-dir "$WORK/data" -registry-dir "$REG" \
  -drop-future-heartbeats
grep -q 'nothing to drop' "$WORK/out" || fail "-drop-future-heartbeats: $(cat "$WORK/out" "$WORK/err")"

# Pause over HTTP: paused, exit 0.
start_pump
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$STATUS_PORT/state/nobody/pause")
[[ $code == 404 ]] || fail "PUT for another node answered $code"
curl -fsS -X PUT "http://127.0.0.1:$STATUS_PORT/state/$ID/pause" >/dev/null || fail "PUT pause"
wait_exit 0
[[ $(field state "$RECORD") == paused ]] || fail "pause did not end paused"

echo "PASS: pump"
