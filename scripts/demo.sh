#!/usr/bin/env bash
# The main job on the embedded default, end to end on one machine: installs what is missing,
# builds, starts a pump (embedded registry, loopback ports), then
#   1. the real pipeline: a private MariaDB (scripts/mariadb-sandbox.sh), the syncer reading it
#      as a replica and writing to the pump ([to] type = "pump"), a short mixed workload, and
#      the pump's archive of it shown with segdump (-v: row values);
#   2. ~100k transactions written through the pump with loadgen as TiDB would (PREWRITE, then
#      COMMIT), and the pump's commit-ordered archive inspected offline with segdump.
# Every process and the MariaDB datadir are removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target pump loadgen segdump syncer

bin=build/tools
demo=${DEMO_DIR:-build/demo}
rm -rf "$demo"
mkdir -p "$demo"
pump_pid=""
syncer_pid=""
mariadb_dir=""
stop_pid() {
  if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1"
    wait "$1" || true
  fi
}
cleanup() {
  stop_pid "$syncer_pid"
  stop_pid "$pump_pid"
  if [[ -n $mariadb_dir ]]; then
    scripts/mariadb-sandbox.sh stop "$mariadb_dir" || true
    rm -rf "$mariadb_dir"
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

# Waits up to 10 s until the status server at $1 reports state $2; if process $3 dies first,
# shows the end of its log $4 and fails.
wait_state() {
  for _ in $(seq 100); do
    curl -sf "http://$1/status" | grep -q "\"state\":\"$2\"" && return 0
    kill -0 "$3" 2>/dev/null || { tail "$4"; exit 1; }
    sleep 0.1
  done
}

echo "== pump: gRPC on $pump_addr, status on http://$status_addr, data in $demo/pump"
"$bin/pump/pump" -addr "$pump_addr" -status-addr "$status_addr" -data-dir "$demo/pump" \
  -registry-dir "$demo/registry" -log-file "$demo/pump.log" &
pump_pid=$!
wait_state "$status_addr" online "$pump_pid" "$demo/pump.log"
curl -s "http://$status_addr/status"
echo

# ---- 1. MariaDB -> syncer -> pump -----------------------------------------------------------
mariadb_dir=$(mktemp -d /tmp/binlog-demo-mariadb.XXXXXX)
echo
echo "== MariaDB: a private server in $mariadb_dir (ROW binlog, FULL row image and metadata)"
db_port=$(scripts/mariadb-sandbox.sh start "$mariadb_dir")
sql() { mariadb --no-defaults --socket="$mariadb_dir/sock" -uroot "$@"; }
sql -e "SELECT VERSION() AS version, @@server_id AS server_id, @@binlog_format AS binlog_format,
               @@binlog_row_image AS row_image, @@binlog_row_metadata AS row_metadata"

syncer_status="127.0.0.1:$(free_port)"
cat >"$demo/syncer.toml" <<TOML
log-file = "$demo/syncer.log"
server-id = 101
meta = "$demo/syncer.meta"
flavor = "mariadb"
status-addr = "$syncer_status"
batch = 100
max-retry = 10

[from]
host = "127.0.0.1"
port = $db_port
user = "repl"
password = "repl-pw"

[to]
type = "pump"
pump-addrs = ["$pump_addr"]
TOML
echo
echo "== syncer: replica of 127.0.0.1:$db_port, writing to the pump $pump_addr ($demo/syncer.toml)"
"$bin/syncer/syncer" -config "$demo/syncer.toml" &
syncer_pid=$!
wait_state "$syncer_status" running "$syncer_pid" "$demo/syncer.log"

echo
echo "== workload on MariaDB: 3 tables, inserts, updates, deletes, a DDL between DML"
{
  echo "CREATE DATABASE shop;"
  echo "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40), city VARCHAR(40));"
  echo "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2),"
  echo "  placed DATETIME(3), note TEXT);"
  echo "CREATE TABLE shop.stock (sku CHAR(8) PRIMARY KEY, qty INT UNSIGNED, price DOUBLE);"
  for i in $(seq 1 20); do
    echo "INSERT INTO shop.customers VALUES ($i, 'customer $i', IF($i % 2, 'Zürich', 'Lyon'));"
    echo "INSERT INTO shop.stock VALUES (CONCAT('SKU-', LPAD($i, 4, '0')), $((i * 10)), $i.5);"
  done
  for i in $(seq 1 60); do
    echo "BEGIN;"
    echo "INSERT INTO shop.orders VALUES ($i, $((i % 20 + 1)), $i.99, '2024-05-0$((i % 9 + 1)) 12:00:00.$((i % 1000))', NULL);"
    echo "UPDATE shop.stock SET qty = qty - 1 WHERE sku = CONCAT('SKU-', LPAD($((i % 20 + 1)), 4, '0'));"
    echo "COMMIT;"
  done
  echo "ALTER TABLE shop.orders ADD COLUMN status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new';"
  echo "UPDATE shop.orders SET status = 'paid', note = 'paid by card' WHERE id % 3 = 0;"
  echo "DELETE FROM shop.orders WHERE id > 55;"
  echo "UPDATE shop.customers SET city = NULL WHERE id = 7;"
} | sql
sql -e "SELECT (SELECT COUNT(*) FROM shop.orders) AS orders, (SELECT COUNT(*) FROM shop.customers) AS customers;
        SHOW MASTER STATUS"

# Caught up: the syncer's durable position is the server's end of binlog, and the pump has
# written what the syncer sent to binlog/ (commit order).
read -r master_file master_pos < <(sql -N -e "SHOW MASTER STATUS" | cut -f1,2)
for _ in $(seq 300); do
  st=$(curl -s "http://$syncer_status/status")
  pos=$(jq -r '."binlog-pos"' <<<"$st")
  file=$(jq -r '."binlog-name"' <<<"$st")
  [[ $file == "$master_file" && $pos -ge $master_pos ]] && break
  sleep 0.1
done
[[ $file == "$master_file" && $pos -ge $master_pos ]] ||
  { echo "the syncer did not catch up: $st" >&2; tail "$demo/syncer.log" >&2; exit 1; }
# sed, not jq: jq 1.6 reads numbers as doubles, and a TSO has more digits than a double keeps.
syncer_last=$(curl -s "http://$syncer_status/status" | sed -n 's/.*"last-ts":\([0-9]*\).*/\1/p')
for _ in $(seq 300); do
  emitted=$(curl -s "http://$status_addr/status" | sed -n 's/.*"emitted-ts":\([0-9]*\).*/\1/p')
  [[ $emitted -ge $syncer_last ]] && break
  sleep 0.1
done
echo
echo "== syncer status"
curl -s "http://$syncer_status/status"
echo
echo
# Files rather than pipes into head: a reader closing early must not fail the script.
echo "== segdump: the pump's archive of the MariaDB changes (heartbeats left out)"
"$bin/segdump/segdump" "$demo/pump/binlog" >"$demo/syncer-archive.txt"
grep -v FAKE "$demo/syncer-archive.txt" >"$demo/syncer-commits.txt" || true
sed -n '1,12p' "$demo/syncer-commits.txt"
echo "   ... $(wc -l <"$demo/syncer-commits.txt") lines in all ($demo/syncer-commits.txt)"
echo
echo "== segdump -v: the DDL and the transactions after it, with row values"
"$bin/segdump/segdump" --format json "$demo/pump/binlog" >"$demo/syncer-archive.json"
ddl_ts=$(sed -n 's/^{"version":1,"ts":"\([0-9]*\)",.*"query":"ALTER.*/\1/p' \
  "$demo/syncer-archive.json" | sed -n 1p)
"$bin/segdump/segdump" -v --from "$ddl_ts" "$demo/pump/binlog" >"$demo/syncer-after-ddl.txt"
grep -v FAKE "$demo/syncer-after-ddl.txt" | sed -n '1,40p' || true
echo
echo "== stopping the syncer (SIGTERM); its position is in $demo/syncer.meta"
stop_pid "$syncer_pid"
syncer_pid=""
cat "$demo/syncer.meta"

# ---- 2. loadgen -> pump ----------------------------------------------------------------------
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
loadgen_first=$(sort -n "$demo/acked.log" | sed -n 1p)
echo "== segdump: the first loadgen transactions in $demo/pump/binlog"
"$bin/segdump/segdump" --from "$loadgen_first" --limit 6 "$demo/pump/binlog"
echo
echo "== segdump -v: one record with its row values"
"$bin/segdump/segdump" -v --from "$loadgen_first" --limit 1 "$demo/pump/binlog"
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
