#!/usr/bin/env bash
# The operator's story, end to end on one machine: installs what is missing, builds, then
#   1. point-in-time recovery (TiDB-Binlog's "full backup + Reparo" drill, with MariaDB): a
#      production server, the syncer archiving its binlog from where a full backup ends, the
#      backup, a day of business, a disaster (DROP DATABASE), the backup restored into a fresh
#      server, reparo replaying the archive up to just before the disaster, and the rows back;
#   2. the pump: transactions written through it as TiDB writes them (loadgen), its archive
#      inspected with segdump, and printed by reparo (which reads a pump's binlog/ as well);
#   3. replication: a MariaDB, the syncer writing its transactions to a pump, the drainer
#      applying them to a second MariaDB, and sync-diff saying the two are equal.
# Every process and datadir is removed on exit, also on failure. DEMO_DIR keeps the files
# (default build/demo); DEMO_TXNS sets the size of the day of business (default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target pump loadgen segdump syncer reparo drainer sync-diff \
  binlogctl

bin=build/tools
demo=${DEMO_DIR:-build/demo}
txns=${DEMO_TXNS:-20000}
rm -rf "$demo"
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)
sandboxes=$(mktemp -d /tmp/binlog-demo.XXXXXX)
syncer_pid=""
pump_pid=""
drainer_pid=""
stop_pid() {
  if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1"
    wait "$1" || true
  fi
}
cleanup() {
  stop_pid "$drainer_pid"
  stop_pid "$syncer_pid"
  stop_pid "$pump_pid"
  for server in production restored upstream replica; do
    scripts/mariadb-sandbox.sh stop "$sandboxes/$server" || true
  done
  rm -rf "$sandboxes"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
production() { mariadb --no-defaults --socket="$sandboxes/production/sock" -uroot "$@"; }
restored() { mariadb --no-defaults --socket="$sandboxes/restored/sock" -uroot "$@"; }
next_second() {
  local now
  now=$(date +%s)
  while [[ $(date +%s) == "$now" ]]; do sleep 0.02; done
}
# Per table: rows and a checksum of their contents.
show() { awk '{ printf "   %-10s %8s rows  checksum %s\n", $1, $2, $3 }' "$@"; }
census() {
  "$1" -N -e "
    SELECT 'customers', COUNT(*), BIT_XOR(CRC32(CONCAT_WS('|', id, name, city))) FROM shop.customers
    UNION ALL
    SELECT 'orders', COUNT(*), BIT_XOR(CRC32(CONCAT_WS('|', id, customer_id, amount, status, note)))
      FROM shop.orders
    UNION ALL
    SELECT 'stock', COUNT(*), BIT_XOR(CRC32(CONCAT_WS('|', sku, qty, price))) FROM shop.stock"
}
# The syncer's durable position has reached the end of the production server's binlog.
wait_archived() {
  local file pos
  read -r file pos < <(production -N -e 'SHOW MASTER STATUS' | cut -f1,2)
  for _ in $(seq 600); do
    grep -q "binlog-name = \"$file\"" "$demo/syncer.meta" 2>/dev/null &&
      grep -q "binlog-pos = $pos\$" "$demo/syncer.meta" && return 0
    sleep 0.1
  done
  echo "the syncer did not catch up" >&2
  tail "$demo/syncer.log" >&2
  exit 1
}

# ---- 1. point-in-time recovery ---------------------------------------------------------------
say "production: a private MariaDB (ROW binlog, FULL row image and metadata) with a shop"
port=$(scripts/mariadb-sandbox.sh start "$sandboxes/production")
note "127.0.0.1:$port, datadir $sandboxes/production"
# A demo server: no fsync per commit, so the day of business takes seconds.
production -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
{
  echo "CREATE DATABASE shop;"
  echo "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40), city VARCHAR(40));"
  echo "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2),"
  echo "  status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', note TEXT);"
  echo "CREATE TABLE shop.stock (sku CHAR(8) PRIMARY KEY, qty INT UNSIGNED, price DOUBLE);"
  for i in $(seq 1 200); do
    echo "INSERT INTO shop.customers VALUES ($i, 'customer $i', IF($i % 2, 'Zürich', 'Lyon'));"
  done
  for i in $(seq 1 50); do
    echo "INSERT INTO shop.stock VALUES (CONCAT('SKU-', LPAD($i, 4, '0')), 1000000, $i.5);"
  done
} | production
census production | show

say "the syncer archives production's binlog into $demo/archive"
cat >"$demo/syncer.toml" <<TOML
log-file = "$demo/syncer.log"
server-id = 101
meta = "$demo/syncer.meta"
flavor = "mariadb"
status-addr = ""
[from]
host = "127.0.0.1"
port = $port
user = "repl"
password = "repl-pw"
[to]
type = "journal"
dir = "$demo/archive"
TOML
sed 's/^/   /' "$demo/syncer.toml"

say "the full backup: mariadb-dump --master-data=2 --single-transaction (BR's role)"
backup_time=$(date '+%F %T')
mariadb-dump --no-defaults --socket="$sandboxes/production/sock" -uroot --master-data=2 \
  --single-transaction --databases shop >"$demo/full_backup.sql"
note "$backup_time: $demo/full_backup.sql, $(wc -c <"$demo/full_backup.sql") bytes, ending at"
note "$(grep -m1 -o "CHANGE MASTER TO.*" "$demo/full_backup.sql")"
"$bin/syncer/syncer" -config "$demo/syncer.toml" -meta-from "$demo/full_backup.sql" &
syncer_pid=$!
note "syncer -meta-from the dump: the archive starts with the first change after the backup"

say "a day of business: $txns orders placed, then paid, shipped, some cancelled"
awk -v n="$txns" 'BEGIN {
  srand(42)
  for (i = 1; i <= n; i++) {
    c = int(rand() * 200) + 1; s = sprintf("SKU-%04d", int(rand() * 50) + 1)
    print "BEGIN;"
    print "INSERT INTO shop.orders VALUES (" i ", " c ", " int(rand() * 10000) / 100 ", \"new\", NULL);"
    print "UPDATE shop.stock SET qty = qty - 1 WHERE sku = \"" s "\";"
    print "COMMIT;"
    if (i % 3 == 0) print "UPDATE shop.orders SET status = \"paid\" WHERE id = " i - 2 ";"
    if (i % 7 == 0) print "UPDATE shop.orders SET status = \"shipped\", note = \"tracking " i "\" WHERE id = " i - 6 ";"
    if (i % 50 == 0) print "DELETE FROM shop.orders WHERE id = " i - 25 ";"
    if (i % 500 == 0) print "UPDATE shop.customers SET city = \"Genève\" WHERE id = " c ";"
  }
}' | production
wait_archived
census production >"$demo/before-the-disaster.txt"
show "$demo/before-the-disaster.txt"
next_second
stop_time=$(date '+%F %T')
note "$stop_time: the last good moment"
next_second

say "the disaster: DROP DATABASE shop"
production -e "DROP DATABASE shop"
wait_archived
note "the archive holds it, after the last good moment:"
"$bin/segdump/segdump" "$demo/archive" | grep -i 'drop database' | sed 's/^/   /'
"$bin/segdump/segdump" --stats "$demo/archive" | grep -E '^(records|first ts|last ts)' | sed 's/^/   /'
stop_pid "$syncer_pid"
syncer_pid=""

say "restore the full backup into a fresh server"
restored_port=$(scripts/mariadb-sandbox.sh start "$sandboxes/restored")
restored <"$demo/full_backup.sql"
note "127.0.0.1:$restored_port now holds the shop as it was at $backup_time:"
census restored | show

say "reparo: the archive from the backup up to the last good moment"
cat >"$demo/reparo.toml" <<TOML
data-dir = "$demo/archive"
log-file = "$demo/reparo.log"
start-datetime = "$backup_time"
stop-datetime = "$stop_time"
dest-type = "mysql"
txn-batch = 20
worker-count = 16
safe-mode = false

[dest-db]
host = "127.0.0.1"
port = $restored_port
user = "root"
password = ""
TOML
sed 's/^/   /' "$demo/reparo.toml"
echo "   \$ reparo -config $demo/reparo.toml    (on a terminal: a progress line each second)"
"$bin/reparo/reparo" -config "$demo/reparo.toml"

say "the rows are back"
census restored >"$demo/after-the-restore.txt"
paste "$demo/after-the-restore.txt" "$demo/before-the-disaster.txt" |
  awk '{ printf "   %-10s %8s rows  checksum %-10s %s\n", $1, $2, $3,
           ($2 == $5 && $3 == $6 ? "as before the disaster" : "DIFFERENT from " $5 " " $6) }'
cmp -s "$demo/after-the-restore.txt" "$demo/before-the-disaster.txt" ||
  { echo "the restored shop differs from production before the disaster" >&2; exit 1; }
note "progress kept in the restored server (a killed run continues with -resume):"
restored -e "SELECT task, low_ts, updated FROM tidb_binlog.replay_progress" | sed 's/^/   /'

# ---- 2. the pump -----------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pump_addr="127.0.0.1:$(free_port)"
status_addr="127.0.0.1:$(free_port)"
say "a pump: gRPC on $pump_addr, status on http://$status_addr, data in $demo/pump"
"$bin/pump/pump" -addr "$pump_addr" -status-addr "$status_addr" -data-dir "$demo/pump" \
  -registry-dir "$demo/registry" -log-file "$demo/pump.log" &
pump_pid=$!
for _ in $(seq 100); do
  curl -sf "http://$status_addr/status" | grep -q '"state":"online"' && break
  kill -0 "$pump_pid" 2>/dev/null || { tail "$demo/pump.log"; exit 1; }
  sleep 0.1
done
curl -s "http://$status_addr/status" | sed 's/^/   /'
echo

say "loadgen: 20000 transactions through the pump as TiDB writes them (PREWRITE, then COMMIT)"
"$bin/loadgen/loadgen" --pump "$pump_addr" --count 20000 --threads 4 --batch 16 --seed 42 \
  --ack-log "$demo/acked.log" --log-level warn
acked_last=$(sort -n "$demo/acked.log" | tail -1)
for _ in $(seq 100); do
  emitted=$(curl -s "http://$status_addr/status" | sed -n 's/.*"emitted-ts":\([0-9]*\).*/\1/p')
  [[ -n $emitted && $emitted -ge $acked_last ]] && break
  sleep 0.1
done
note "acknowledged: $(wc -l <"$demo/acked.log") transactions"

say "segdump: the pump's commit-ordered archive"
first=$(sort -n "$demo/acked.log" | sed -n 1p)
"$bin/segdump/segdump" --from "$first" --limit 4 "$demo/pump/binlog" | sed 's/^/   /'
"$bin/segdump/segdump" --stats "$demo/pump/binlog" | sed 's/^/   /'
"$bin/segdump/segdump" --verify "$demo/pump/binlog" | tail -1 | sed 's/^/   /'

say "reparo -dest-type print: the first transaction of the pump's archive"
"$bin/reparo/reparo" -data-dir "$demo/pump/binlog" -start-tso "$first" -stop-tso "$first" \
  -log-file "$demo/reparo-print.log" 2>/dev/null | sed 's/^/   /'
stop_pid "$pump_pid"
pump_pid=""

# ---- 3. replication --------------------------------------------------------------------------
say "replication: MariaDB -> syncer -> pump -> drainer -> a second MariaDB"
up_port=$(scripts/mariadb-sandbox.sh start "$sandboxes/upstream")
replica_port=$(scripts/mariadb-sandbox.sh start "$sandboxes/replica")
upstream() { mariadb --no-defaults --socket="$sandboxes/upstream/sock" -uroot "$@"; }
replica() { mariadb --no-defaults --socket="$sandboxes/replica/sock" -uroot "$@"; }
upstream -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
note "upstream 127.0.0.1:$up_port, replica 127.0.0.1:$replica_port"
pump_addr="127.0.0.1:$(free_port)"
status_addr="127.0.0.1:$(free_port)"
drainer_addr="127.0.0.1:$(free_port)"
"$bin/pump/pump" -addr "$pump_addr" -status-addr "$status_addr" -data-dir "$demo/repl-pump" \
  -registry-dir "$demo/repl-registry" -log-file "$demo/repl-pump.log" &
pump_pid=$!
for _ in $(seq 100); do
  curl -sf "http://$status_addr/status" | grep -q '"state":"online"' && break
  sleep 0.1
done
cat >"$demo/repl-syncer.toml" <<TOML
log-file = "$demo/repl-syncer.log"
server-id = 102
meta = "$demo/repl-syncer.meta"
status-addr = ""
heartbeat-interval = 1
[from]
host = "127.0.0.1"
port = $up_port
user = "repl"
password = "repl-pw"
[to]
type = "pump"
pump-addrs = ["$pump_addr"]
TOML
"$bin/syncer/syncer" -config "$demo/repl-syncer.toml" &
syncer_pid=$!
cat >"$demo/drainer.toml" <<TOML
addr = "$drainer_addr"
data-dir = "$demo/drainer"
registry-dir = "$demo/repl-registry"
initial-commit-ts = 0
detect-interval = 1
log-file = "$demo/drainer.log"
[syncer]
db-type = "mysql"
[syncer.to]
host = "127.0.0.1"
port = $replica_port
user = "root"
password = ""
[syncer.relay]
log-dir = "$demo/drainer/relay_log"
TOML
sed 's/^/   /' "$demo/drainer.toml"
"$bin/drainer/drainer" -config "$demo/drainer.toml" &
drainer_pid=$!
sleep 1
{
  echo "CREATE DATABASE shop;"
  echo "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer INT, amount DECIMAL(10,2),"
  echo "  status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', note TEXT);"
  awk 'BEGIN { srand(7); for (i = 1; i <= 3000; i++) {
    print "INSERT INTO shop.orders VALUES (" i ", " int(rand() * 100) ", " int(rand() * 10000) / 100 ", \"new\", NULL);"
    if (i % 3 == 0) print "UPDATE shop.orders SET status = \"paid\", note = \"Zürich\" WHERE id = " i - 2 ";"
    if (i % 40 == 0) print "DELETE FROM shop.orders WHERE id = " i - 20 ";" } }'
  echo "ALTER TABLE shop.orders ADD COLUMN shipped_at DATETIME NULL;"
  echo "UPDATE shop.orders SET status = 'shipped', shipped_at = '2026-12-03 10:00:00' WHERE id % 7 = 0;"
} | upstream
note "upstream: 3000 orders placed, paid, some deleted, a column added, some shipped"
diff_args=(-source-port "$up_port" -target-port "$replica_port" -do-db shop -L warn)
for _ in $(seq 120); do
  "$bin/sync-diff/sync-diff" "${diff_args[@]}" >/dev/null 2>&1 && break
  sleep 0.5
done
echo "   \$ sync-diff -source-port $up_port -target-port $replica_port -do-db shop"
"$bin/sync-diff/sync-diff" "${diff_args[@]}" 2>&1 | sed 's/^/   /'
note "the drainer's status:"
curl -s "http://$drainer_addr/status" | sed 's/^/   /'
stop_pid "$drainer_pid"
drainer_pid=""
note "stopped (paused, expected back); its checkpoint in the replica:"
replica -e "SELECT * FROM tidb_binlog.checkpoint" | sed 's/^/   /'
echo "   \$ binlogctl -registry-dir $demo/repl-registry -cmd status"
"$bin/binlogctl/binlogctl" -registry-dir "$demo/repl-registry" -cmd status 2>&1 | sed 's/^/   /'
stop_pid "$syncer_pid"
syncer_pid=""
stop_pid "$pump_pid"
pump_pid=""
say "done: files in $demo (syncer, reparo, pump and drainer logs, the backup, the archives)"
