#!/usr/bin/env bash
# binlogctl against running pumps and drainers (the real binaries), for each registry backend
# (the embedded directory, then a private etcd):
#   a. the command line: -h, -V, usage errors (exit 2), generate_meta, encrypt
#   b. pumps / drainers / status list live nodes in TiDB-Binlog's shape
#   c. pause-pump: paused, the process ends; it comes back online when started again
#   d. offline-pump: closing, then offline once the drainer has read it all; hidden unless
#      -show-offline-nodes
#   e. kill -9 of the drainer: shown paused (its lease ran out), never offline; offline-drainer
#      on it fails and names update-drainer; a closing pump waiting on it is named by status and
#      by the pump's log; update-drainer -state offline lets the pump go offline; remove-drainer
#   f. pause-drainer on a live drainer
set -euo pipefail

PUMP="$BINLOG_TOOLS_DIR/pump/pump"
DRAINER="$BINLOG_TOOLS_DIR/drainer/drainer"
CTL="$BINLOG_TOOLS_DIR/binlogctl/binlogctl"
LOADGEN="$BINLOG_TOOLS_DIR/loadgen/loadgen"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fail() {
  echo "FAIL: $*" >&2
  for log in "$WORK"/*.log "$WORK"/*/*.log; do [[ -f $log ]] && { echo "--- $log"; tail -5 "$log"; } >&2; done
  exit 1
}
# shellcheck source=../lib.sh
source "$BINLOG_SOURCE_DIR/tests/scenarios/lib.sh"

section "a. the command line"
expect_exit 0 "$CTL" -h
expect_out "offline-drainer"
expect_out "-show-offline-nodes"
expect_exit 0 "$CTL" -V
expect_out "binlogctl (binlog)"
expect_exit 2 "$CTL" -no-such-flag
expect_exit 2 "$CTL" -cmd no-such-command
expect_err "unknown command"
expect_exit 2 "$CTL" -registry-dir "$WORK/r0" -cmd pause-pump
expect_err "needs -node-id"
expect_exit 2 "$CTL" -registry-dir "$WORK/r0" -cmd update-pump -node-id x:1
expect_err "needs -state"
expect_exit 0 "$CTL" -cmd generate_meta -data-dir "$WORK/meta"
expect_out '"save meta"'
grep -q '"commitTS":[1-9]' "$WORK/meta/savepoint" || fail "savepoint: $(cat "$WORK/meta/savepoint")"
expect_exit 1 "$CTL" -cmd generate_meta -data-dir "$WORK/meta"
expect_err "is not overwritten"
expect_exit 1 env -u BINLOG_SECRET_KEY "$CTL" -cmd encrypt -text secret
openssl rand -hex 32 >"$WORK/key"
expect_exit 0 "$CTL" -cmd encrypt -text 's3cret' -secret-key-file "$WORK/key"
[[ -s $WORK/out ]] && ! grep -q s3cret "$WORK/out" || fail "encrypt printed: $(cat "$WORK/out")"

# $1: the backend's flag for every tool, e.g. "-registry-dir DIR" or "-pd-urls URL".
run_backend() {
  local reg_key=$1 reg_val=$2
  local ctl=("$CTL" "-$reg_key" "$reg_val")
  local b=$WORK/$3
  mkdir -p "$b"

  start_pump() {  # $1 name, $2 addr, $3 status addr
    cat >"$b/$1.toml" <<TOML
addr = "$2"
advertise-addr = "$2"
status-addr = "$3"
data-dir = "$b/$1"
$reg_key = "$reg_val"
heartbeat-interval = 0.5
log-file = "$b/$1.log"
TOML
    "$PUMP" -config "$b/$1.toml" &
    PIDS+=($!)
    eval "${1}_PID=$!"
  }
  start_drainer() {  # $1 name, $2 addr
    cat >"$b/$1.toml" <<TOML
addr = "$2"
data-dir = "$b/$1"
$reg_key = "$reg_val"
initial-commit-ts = 0
detect-interval = 0.5
heartbeat-interval = 0.5
log-file = "$b/$1.log"
[syncer]
db-type = "file"
TOML
    "$DRAINER" -config "$b/$1.toml" &
    PIDS+=($!)
    eval "${1}_PID=$!"
  }
  state_of() {  # $1 pumps|drainers, $2 node id: the State shown
    "${ctl[@]}" -cmd "$1" -show-offline-nodes | grep -F "NodeID: $2," | sed 's/.*State: \([a-z]*\),.*/\1/'
  }
  shows() { [[ $(state_of "$1" "$2") == "$3" ]]; }

  section "b. [$3] pumps, drainers, status"
  local p1="127.0.0.1:$(free_port)" p1s="127.0.0.1:$(free_port)"
  local p2="127.0.0.1:$(free_port)" p2s="127.0.0.1:$(free_port)"
  local d1="127.0.0.1:$(free_port)"
  start_pump p1 "$p1" "$p1s"
  start_pump p2 "$p2" "$p2s"
  wait_for 20 shows pumps "$p1" online || fail "pump 1 not online"
  wait_for 20 shows pumps "$p2" online || fail "pump 2 not online"
  "$LOADGEN" --pump "$p1" --pump "$p2" --count 200 --batch 1 >"$b/loadgen.out" 2>&1 ||
    fail "loadgen: $(tail -3 "$b/loadgen.out")"
  start_drainer d1 "$d1"
  wait_for 20 shows drainers "$d1" online || fail "drainer not online"
  expect_exit 0 "${ctl[@]}" -cmd pumps
  expect_out '["query node"] [type=pump]'
  expect_out "{NodeID: $p1, Addr: $p1, State: online, MaxCommitTS: "
  expect_out "UpdateTime: $(date +%Y-)"
  expect_exit 0 "${ctl[@]}" -cmd status
  expect_out "| NodeID"
  expect_out "| Max_Commit_Ts"
  expect_out "| $d1"

  section "c. [$3] pause-pump, then started again"
  expect_exit 0 "${ctl[@]}" -cmd pause-pump -node-id "$p1"
  expect_out '["Apply action on node success"] [action=pause]'
  wait_for 20 shows pumps "$p1" paused || fail "pump 1 not paused"
  wait_for 20 bash -c "! kill -0 $p1_PID" || fail "the paused pump still runs"
  expect_exit 1 "${ctl[@]}" -cmd pause-pump -node-id "$p1"  # nothing answers for it
  expect_err "update-pump -node-id $p1"
  start_pump p1 "$p1" "$p1s"
  wait_for 20 shows pumps "$p1" online || fail "pump 1 not back online"

  section "d. [$3] offline-pump: closing, offline once the drainer read it all"
  expect_exit 0 "${ctl[@]}" -cmd offline-pump -node-id "$p2"
  wait_for 40 shows pumps "$p2" offline || fail "pump 2 not offline: $(state_of pumps "$p2")"
  wait_for 20 bash -c "! kill -0 $p2_PID" || fail "the offline pump still runs"
  expect_exit 0 "${ctl[@]}" -cmd pumps
  grep -qF "NodeID: $p2," "$WORK/out" && fail "an offline pump is listed without -show-offline-nodes"
  expect_exit 0 "${ctl[@]}" -cmd pumps -show-offline-nodes
  expect_out "{NodeID: $p2, Addr: $p2, State: offline"

  section "e. [$3] kill -9 of the drainer: paused, not offline; the trap named"
  kill -9 "$d1_PID"
  wait_for 20 shows drainers "$d1" paused || fail "killed drainer shows $(state_of drainers "$d1")"
  expect_exit 1 "${ctl[@]}" -cmd offline-drainer -node-id "$d1"
  expect_err "does not answer"
  expect_err "update-drainer -node-id $d1 -state offline"
  "$LOADGEN" --pump "$p1" --count 20 --batch 1 >"$b/loadgen.out" 2>&1 || fail "loadgen 2"
  expect_exit 0 "${ctl[@]}" -cmd offline-pump -node-id "$p1"
  wait_for 20 shows pumps "$p1" closing || fail "pump 1 not closing"
  wait_for 20 grep -q "waiting on a drainer that is not alive.*$d1" "$b/p1.log" ||
    fail "the pump's log does not name the dead drainer"
  grep -q "update-drainer -node-id $d1 -state offline" "$b/p1.log" || fail "no fix in the log"
  expect_exit 0 "${ctl[@]}" -cmd status
  expect_out "WARNING: drainer $d1 is not alive since"
  expect_out "waiting on it: pump $p1 (closing)"
  expect_out "binlogctl -cmd update-drainer -node-id $d1 -state offline"
  sleep 1
  shows pumps "$p1" closing || fail "the pump did not wait for the dead drainer"
  expect_exit 0 "${ctl[@]}" -cmd update-drainer -node-id "$d1" -state offline
  expect_out '["update node state"]'
  wait_for 20 shows pumps "$p1" offline || fail "pump 1 not offline after the drainer was"
  expect_exit 0 "${ctl[@]}" -cmd drainers
  grep -qF "NodeID: $d1," "$WORK/out" && fail "an offline drainer is listed"
  expect_exit 1 "${ctl[@]}" -cmd update-drainer -node-id no-such:1 -state offline
  expect_err "no drainer with node id no-such:1"
  expect_exit 2 "${ctl[@]}" -cmd update-drainer -node-id "$d1" -state sleeping
  expect_exit 0 "${ctl[@]}" -cmd remove-drainer -node-id "$d1"
  expect_exit 0 "${ctl[@]}" -cmd drainers -show-offline-nodes
  grep -qF "NodeID: $d1," "$WORK/out" && fail "a removed drainer is listed"

  section "f. [$3] pause-drainer on a live drainer"
  local d2="127.0.0.1:$(free_port)"
  start_drainer d2 "$d2"
  wait_for 20 shows drainers "$d2" online || fail "drainer 2 not online"
  expect_exit 1 "${ctl[@]}" -cmd remove-drainer -node-id "$d2"
  expect_err "offline it first"
  expect_exit 0 "${ctl[@]}" -cmd pause-drainer -node-id "$d2"
  wait_for 20 shows drainers "$d2" paused || fail "drainer 2 not paused"
  wait_for 30 bash -c "! kill -0 $d2_PID" || fail "the paused drainer still runs"
}

run_backend registry-dir "$WORK/registry" file

# A private etcd on loopback, as PD embeds it.
start_etcd() {
  local client="127.0.0.1:$(free_port)" peer="127.0.0.1:$(free_port)"
  etcd --name s1 --data-dir "$WORK/etcd" --listen-client-urls "http://$client" \
    --advertise-client-urls "http://$client" --listen-peer-urls "http://$peer" \
    --initial-advertise-peer-urls "http://$peer" --initial-cluster "s1=http://$peer" \
    >"$WORK/etcd.out" 2>&1 &
  PIDS+=($!)
  ETCD_URL="http://$client"
  wait_for 30 curl -sf "$ETCD_URL/health" || fail "etcd did not start: $(tail -5 "$WORK/etcd.out")"
}
start_etcd
run_backend pd-urls "$ETCD_URL" etcd
echo "PASS"
