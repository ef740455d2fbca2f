#!/usr/bin/env bash
# The main job on the embedded default, end to end on one machine: installs what is missing,
# builds, starts a pump (embedded registry, loopback ports), writes ~100k transactions through it
# with loadgen as TiDB would (PREWRITE, then COMMIT), and inspects the pump's commit-ordered
# archive offline with segdump.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target pump loadgen segdump

bin=build/tools
demo=${DEMO_DIR:-build/demo}
rm -rf "$demo"
mkdir -p "$demo"
pump_pid=""
cleanup() {
  if [[ -n $pump_pid ]] && kill -0 "$pump_pid" 2>/dev/null; then
    kill -TERM "$pump_pid"
    wait "$pump_pid" || true
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
grpc_port=$(free_port)
status_port=$(free_port)
pump_addr="127.0.0.1:$grpc_port"
status_addr="127.0.0.1:$status_port"

echo "== pump: gRPC on $pump_addr, status on http://$status_addr, data in $demo/pump"
"$bin/pump/pump" -addr "$pump_addr" -status-addr "$status_addr" -data-dir "$demo/pump" \
  -registry-dir "$demo/registry" -log-file "$demo/pump.log" &
pump_pid=$!
for _ in $(seq 100); do
  curl -sf "http://$status_addr/status" | grep -q '"state":"online"' && break
  kill -0 "$pump_pid" 2>/dev/null || { tail "$demo/pump.log"; exit 1; }
  sleep 0.1
done
curl -s "http://$status_addr/status"
echo

echo
echo "== loadgen: 100000 transactions through the pump (8 producers, 16 per call)"
"$bin/loadgen/loadgen" --pump "$pump_addr" --count 100000 --threads 8 --batch 16 --seed 42 \
  --ack-log "$demo/acked.log"
acked_last=$(tail -n 1 "$demo/acked.log")
for _ in $(seq 100); do
  emitted=$(curl -s "http://$status_addr/status" | sed -n 's/.*"emitted-ts":\([0-9]*\).*/\1/p')
  [[ -n $emitted && $emitted -ge $acked_last ]] && break
  sleep 0.1
done

echo
echo "== the pump's registry record and status"
cat "$demo/registry/pumps/$pump_addr.json"
curl -s "http://$status_addr/status"
echo
echo
echo "== segdump: the first committed transactions in $demo/pump/binlog"
"$bin/segdump/segdump" --limit 6 "$demo/pump/binlog"
echo
echo "== segdump -v: one record with its row values"
"$bin/segdump/segdump" -v --limit 1 "$demo/pump/binlog"
echo
echo "== segdump --stats"
"$bin/segdump/segdump" --stats "$demo/pump/binlog"
echo
echo "== segdump --verify"
"$bin/segdump/segdump" --verify "$demo/pump/binlog"
echo
echo "== stopping the pump (SIGTERM: it stays registered as paused)"
kill -TERM "$pump_pid"
wait "$pump_pid" || true
pump_pid=""
cat "$demo/registry/pumps/$pump_addr.json"
echo
echo "acknowledged transactions: $(wc -l <"$demo/acked.log") (in $demo/acked.log); pump log: $demo/pump.log"
