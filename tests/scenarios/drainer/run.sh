#!/usr/bin/env bash
# The drainer end to end with the real binaries:
#   a. the command line: -h, -V, a bad flag (exit 2), a bad config naming the file and key (1),
#      the seeds' drainer.toml and tiup-style keys load (the start fails only on the downstream)
#   b. replication: a MariaDB, the syncer writing to a pump, the drainer into a second MariaDB,
#      with a relay log; a workload with DDL runs while the drainer is killed (-9) and started
#      again several times; sync-diff then finds the servers equal, the checkpoint is consistent
#      after a SIGTERM, and the registry says paused
#   c. sync-diff finds a changed, a missing and an extra row and its fix SQL makes them equal
#   d. the file sink's output is a reparo input: reparo prints what the drainer wrote
set -euo pipefail

DRAINER="$BINLOG_TOOLS_DIR/drainer/drainer"
PUMP="$BINLOG_TOOLS_DIR/pump/pump"
SYNCER="$BINLOG_TOOLS_DIR/syncer/syncer"
SYNCDIFF="$BINLOG_TOOLS_DIR/sync-diff/sync-diff"
REPARO="$BINLOG_TOOLS_DIR/reparo/reparo"
SANDBOX="$BINLOG_SOURCE_DIR/scripts/mariadb-sandbox.sh"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for server in up down; do
    if [[ -f $WORK/$server/mariadbd.pid ]]; then
      kill -9 "$(cat "$WORK/$server/mariadbd.pid")" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# shellcheck source=../lib.sh
source "$BINLOG_SOURCE_DIR/tests/scenarios/lib.sh"

section "a. the command line"
expect_exit 0 "$DRAINER" -h
grep -q -- "-initial-commit-ts" "$WORK/out" || fail "-h does not list -initial-commit-ts"
expect_exit 0 "$DRAINER" -V
grep -q "drainer (binlog)" "$WORK/out" || fail "-V: $(cat "$WORK/out")"
expect_exit 2 "$DRAINER" -no-such-flag
printf '[syncer]\ndb-type = "kafka"\n' >"$WORK/bad.toml"
expect_exit 1 "$DRAINER" -config "$WORK/bad.toml"
expect_err "bad.toml"
expect_err "syncer.db-type"
# The seed's drainer.toml: it loads; the start then fails on the downstream it names.
dead_port=$(free_port)
cat >"$WORK/seed.toml" <<TOML
log-file="$WORK/seed.log"
[syncer]
db-type="mysql"
[syncer.to]
host="127.0.0.1"
user="root"
password=""
port=$dead_port
TOML
expect_exit 1 "$DRAINER" -config "$WORK/seed.toml" -registry-dir "$WORK/seed-registry" \
  -data-dir "$WORK/seed-data" -addr "127.0.0.1:$(free_port)"
expect_err "cannot reach the downstream [syncer.to]"
cat >"$WORK/tiup.toml" <<TOML
syncer.db-type = "mysql"
syncer.to.host = "127.0.0.1"
syncer.to.user = "root"
syncer.to.password = "123123"
syncer.to.port = $dead_port
syncer.relay.log-dir = "$WORK/tiup-relay"
syncer.relay.max-file-size = 10485760
TOML
expect_exit 1 "$DRAINER" -config "$WORK/tiup.toml" -registry-dir "$WORK/seed-registry" \
  -data-dir "$WORK/seed-data" -addr "127.0.0.1:$(free_port)"
expect_err "cannot reach the downstream [syncer.to]"

section "b. MariaDB -> syncer -> pump -> drainer -> MariaDB, the drainer killed -9 on the way"
UP_PORT=$("$SANDBOX" start "$WORK/up")
DOWN_PORT=$("$SANDBOX" start "$WORK/down")
up() { mariadb --no-defaults --socket="$WORK/up/sock" -uroot -N -B "$@"; }
down() { mariadb --no-defaults --socket="$WORK/down/sock" -uroot -N -B "$@"; }
up -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
PUMP_ADDR="127.0.0.1:$(free_port)"
"$PUMP" -addr "$PUMP_ADDR" -status-addr "127.0.0.1:$(free_port)" -data-dir "$WORK/pump" \
  -registry-dir "$WORK/registry" -log-file "$WORK/pump.log" &
PIDS+=($!)
cat >"$WORK/syncer.toml" <<TOML
log-file = "$WORK/syncer.log"
server-id = 101
meta = "$WORK/syncer.meta"
status-addr = ""
heartbeat-interval = 1
[from]
host = "127.0.0.1"
port = $UP_PORT
user = "repl"
password = "repl-pw"
[to]
type = "pump"
pump-addrs = ["$PUMP_ADDR"]
TOML
pump_registered() { compgen -G "$WORK/registry/pumps/*.json"; }
wait_for 20 pump_registered || fail "the pump did not register: $(tail -3 "$WORK/pump.log")"
"$SYNCER" -config "$WORK/syncer.toml" &
PIDS+=($!)
DRAINER_ADDR="127.0.0.1:$(free_port)"
cat >"$WORK/drainer.toml" <<TOML
addr = "$DRAINER_ADDR"
data-dir = "$WORK/drainer"
registry-dir = "$WORK/registry"
initial-commit-ts = 0
detect-interval = 0.5
log-file = "$WORK/drainer.log"
[syncer]
db-type = "mysql"
worker-count = 8
[syncer.to]
host = "127.0.0.1"
port = $DOWN_PORT
user = "root"
[syncer.relay]
log-dir = "$WORK/relay"
max-file-size = 65536
TOML
{
  echo "CREATE DATABASE shop;"
  echo "CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR(40));"
  echo "CREATE TABLE shop.counter (k INT PRIMARY KEY, n BIGINT);"
  echo "INSERT INTO shop.counter VALUES (1, 0);"
} | up
workload() {
  awk 'BEGIN { srand(11); for (i = 1; i <= 6000; i++) {
    print "BEGIN; INSERT INTO shop.orders (id, amount, note) VALUES (" i ", " int(rand() * 10000) / 100 ", \"n\");"
    print "UPDATE shop.counter SET n = n + 1 WHERE k = 1; COMMIT;"
    if (i % 5 == 0) print "UPDATE shop.orders SET note = \"é " i "\" WHERE id = " i - 3 ";"
    if (i % 30 == 0) print "DELETE FROM shop.orders WHERE id = " i - 10 ";"
    if (i == 3000) print "ALTER TABLE shop.orders ADD COLUMN shipped TINYINT NOT NULL DEFAULT 0;"
  } }' | up
}
workload &
WORKLOAD_PID=$!
for round in 1 2 3 4 5; do
  "$DRAINER" -config "$WORK/drainer.toml" &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  sleep 1
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "   round $round: killed; checkpoint $(down -e 'SELECT checkPoint FROM tidb_binlog.checkpoint' 2>/dev/null || echo none)"
done
wait "$WORKLOAD_PID"
"$DRAINER" -config "$WORK/drainer.toml" &
DRAINER_PID=$!
PIDS+=("$DRAINER_PID")
equal() { "$SYNCDIFF" -source-port "$UP_PORT" -target-port "$DOWN_PORT" -do-db shop -L warn; }
wait_for 180 equal || { "$SYNCDIFF" -source-port "$UP_PORT" -target-port "$DOWN_PORT" -do-db shop \
  -L warn | tail -5; fail "the replica did not converge: $(grep -E 'ERROR' "$WORK/drainer.log" | tail -3)"; }
[[ $(down -e "SELECT n FROM shop.counter") == 6000 ]] || fail "the counter is not 6000 downstream"
# The data may already be equal before the restarted drainer serves /status (slow under ASan).
wait_for 60 curl -sf "http://$DRAINER_ADDR/status" || fail "the drainer's /status does not answer"
curl -sf "http://$DRAINER_ADDR/status" >"$WORK/status.json" || fail "/status failed"
grep -q '"disorder-binlogs":0' "$WORK/status.json" ||
  fail "disorder counted: $(cat "$WORK/status.json") $(grep -i disorder "$WORK/drainer.log" | tail -3)"
kill -TERM "$DRAINER_PID"
wait "$DRAINER_PID" || fail "the drainer did not stop cleanly"
down -e "SELECT checkPoint FROM tidb_binlog.checkpoint" | grep -q '"consistent":true' ||
  fail "the checkpoint is not consistent after a clean stop"
grep -q '"state":"paused"' "$WORK"/registry/drainers/*.json || fail "the drainer is not paused"

section "c. sync-diff: a changed, a missing and an extra row, and the fix SQL"
down -e "UPDATE shop.orders SET amount = amount + 1 WHERE id = 7;
         DELETE FROM shop.orders WHERE id = 8;
         INSERT INTO shop.orders (id, amount, note) VALUES (100000, 1, 'extra')"
expect_exit 1 "$SYNCDIFF" -source-port "$UP_PORT" -target-port "$DOWN_PORT" -do-db shop \
  -fix-sql "$WORK/fix.sql" -L warn
[[ $(grep -c "" "$WORK/fix.sql") -ge 3 ]] || fail "the fix SQL: $(cat "$WORK/fix.sql")"
down <"$WORK/fix.sql"
expect_exit 0 "$SYNCDIFF" -source-port "$UP_PORT" -target-port "$DOWN_PORT" -do-db shop -L warn

section "d. the file sink's output is a reparo input"
cat >"$WORK/file.toml" <<TOML
addr = "127.0.0.1:$(free_port)"
data-dir = "$WORK/file-sink"
registry-dir = "$WORK/registry"
initial-commit-ts = 0
log-file = "$WORK/file-drainer.log"
[syncer]
db-type = "file"
replicate-do-db = ["shop"]
TOML
"$DRAINER" -config "$WORK/file.toml" &
pid=$!
wait_for 60 grep -q '"commitTS":[1-9]' "$WORK/file-sink/savepoint" || fail "no checkpoint"
sleep 2
kill -TERM "$pid"
wait "$pid" || fail "the file drainer did not stop cleanly"
"$REPARO" -data-dir "$WORK/file-sink" -log-file "$WORK/reparo.log" >"$WORK/printed" 2>/dev/null ||
  fail "reparo cannot read the file sink"
grep -q "schema: shop; table: orders; type: Insert" "$WORK/printed" || fail "reparo printed no order"
echo "PASS (${SECONDS}s)"
