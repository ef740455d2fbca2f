#!/usr/bin/env bash
# syncer end to end with the real binary: command line and exit codes, then a private MariaDB,
# a real `mariadb-dump --master-data=2`, `syncer -meta-from` that dump, /status over HTTP, a
# clean stop on SIGTERM, and segdump showing exactly the changes made after the dump. Then the
# replication story: the dump restored into a second MariaDB, and a seed-style syncer.toml
# ([to] with a host) applying everything after the dump to it, live.
set -euo pipefail

SYNCER="$BINLOG_TOOLS_DIR/syncer/syncer"
SEGDUMP="$BINLOG_TOOLS_DIR/segdump/segdump"
WORK="$(mktemp -d)"
MARIADBD_PID=""
DOWN_PID=""
SYNCER_PID=""
cleanup() {
  if [[ -n $SYNCER_PID ]]; then kill -9 "$SYNCER_PID" 2>/dev/null || true; fi
  if [[ -n $MARIADBD_PID ]]; then kill -9 "$MARIADBD_PID" 2>/dev/null || true; fi
  if [[ -n $DOWN_PID ]]; then kill -9 "$DOWN_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# shellcheck source=../lib.sh
source "$BINLOG_SOURCE_DIR/tests/scenarios/lib.sh"

# Command line.
expect_exit 0 "$SYNCER" -h
grep -q "usage: syncer" "$WORK/out" || fail "-h prints no usage"
expect_exit 2 "$SYNCER"
grep -q "no -config" "$WORK/err" || fail "no config accepted: $(cat "$WORK/err")"
[[ ! -e data.syncer ]] || fail "the syncer without a config created ./data.syncer"
: >"$WORK/empty.toml"
expect_exit 1 "$SYNCER" -config "$WORK/empty.toml"
grep -q "holds no settings" "$WORK/err" || fail "empty config accepted: $(cat "$WORK/err")"
expect_exit 1 "$SYNCER" -config "$BINLOG_SOURCE_DIR/conf/pump.toml"
grep -q "are not syncer settings" "$WORK/err" || fail "pump.toml accepted: $(cat "$WORK/err")"
expect_exit 0 "$SYNCER" --help
grep -q -- "-meta-from" "$WORK/out" || fail "--help does not mention -meta-from"
expect_exit 0 "$SYNCER" -V
grep -q "syncer (binlog)" "$WORK/out" || fail "-V prints no version"
expect_exit 2 "$SYNCER" -bogus
grep -q "usage: syncer" "$WORK/err" || fail "no usage hint for a bad flag"
printf 'batch = 0\n' >"$WORK/bad.toml"
expect_exit 1 "$SYNCER" -config "$WORK/bad.toml"
grep -q 'bad.toml: key "batch"' "$WORK/err" || fail "bad value not named: $(cat "$WORK/err")"

# A private MariaDB with ROW binlog, FULL image and metadata.
mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db \
  --datadir="$WORK/data" --innodb-log-file-size=8M >"$WORK/install.log" 2>&1 ||
  fail "mariadb-install-db: $(tail -5 "$WORK/install.log")"
PORT=$(free_port)
mkdir "$WORK/tmp"
/usr/sbin/mariadbd --no-defaults --user=root --datadir="$WORK/data" --port="$PORT" \
  --bind-address=127.0.0.1 --socket="$WORK/sock" --pid-file="$WORK/pid" --tmpdir="$WORK/tmp" \
  --log-error="$WORK/error.log" --log-bin="$WORK/data/mariadb-bin" --server-id=1 \
  --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
  --character-set-server=utf8mb4 --innodb-log-file-size=8M &
MARIADBD_PID=$!
sql() { mariadb --no-defaults -h127.0.0.1 -P"$PORT" -uroot -N -B "$@"; }
wait_for 30 sql -e 'SELECT 1' || fail "mariadbd did not start: $(tail -5 "$WORK/error.log")"
[[ $(sql -e 'SELECT @@datadir') == "$WORK/data/" ]] || fail "port $PORT is another server's"
sql -e "CREATE USER syncer IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO syncer;
        CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20), qty INT);
        INSERT INTO shop.orders VALUES (1, 'before', 1), (2, 'before', 2);"

# The full backup, then the changes the archive must start with.
mariadb-dump --no-defaults -h127.0.0.1 -P"$PORT" -uroot --single-transaction --master-data=2 \
  --gtid shop >"$WORK/dump.sql"
for i in 3 4 5; do sql -e "INSERT INTO shop.orders VALUES ($i, 'after', $i)"; done
sql -e "UPDATE shop.orders SET qty = qty * 10 WHERE id <= 3"
sql -e "ALTER TABLE shop.orders ADD COLUMN note TEXT"
sql -e "DELETE FROM shop.orders WHERE id = 1"

cat >"$WORK/syncer.toml" <<CONF
log-file = "$WORK/syncer.log"
server-id = 101
meta = "$WORK/syncer.meta"
flavor = "mariadb"
status-addr = "127.0.0.1:0"
heartbeat-interval = "200ms"
[from]
host = "127.0.0.1"
port = $PORT
user = "syncer"
password = "pw"
[to]
type = "journal"
dir = "$WORK/archive"
CONF
"$SYNCER" -config "$WORK/syncer.toml" -meta-from "$WORK/dump.sql" &
SYNCER_PID=$!
END_POS=$(sql -e 'SHOW MASTER STATUS' | cut -f2)
caught_up() { grep -q "binlog-pos = $END_POS\$" "$WORK/syncer.meta"; }
wait_for 30 caught_up || fail "the syncer did not catch up: $(tail -5 "$WORK/syncer.log")"
# Port 0 takes any free port; the log says which.
STATUS=$(grep -o '"status service listening"\] \[addr=[0-9.:]*' "$WORK/syncer.log" | sed 's/.*addr=//')
[[ -n $STATUS ]] || fail "no status address in the log"
curl -sf "http://$STATUS/status" >"$WORK/status.json" || fail "no /status"
grep -q '"rows":7' "$WORK/status.json" || fail "status: $(cat "$WORK/status.json")"
curl -sf "http://$STATUS/metrics" | grep -q '^binlog_syncer_rows_total 7' ||
  fail "no rows metric"
kill -TERM "$SYNCER_PID"
code=0
wait "$SYNCER_PID" || code=$?
SYNCER_PID=""
[[ $code == 0 ]] || fail "syncer exited $code after SIGTERM"

# Exactly the changes after the dump, in order (heartbeat records say FAKE).
"$SEGDUMP" "$WORK/archive" | grep -vE ' FAKE( |$)' | sed -E 's/^[0-9]+ [0-9-]+ [0-9:.]+ //' \
  >"$WORK/archive.txt"
cat >"$WORK/want.txt" <<'WANT'
shop.orders +1 ~0 -0
shop.orders +1 ~0 -0
shop.orders +1 ~0 -0
shop.orders +0 ~3 -0
ALTER TABLE shop.orders ADD COLUMN note TEXT
shop.orders +0 ~0 -1
WANT
sed -E 's/COMMIT start_ts=[0-9]+ //; s/^DDL[^A-Z]*//' "$WORK/archive.txt" >"$WORK/got.txt"
diff -u "$WORK/want.txt" "$WORK/got.txt" || fail "the archive differs from the changes after the dump"
"$SEGDUMP" -v "$WORK/archive" >"$WORK/verbose.txt"
for line in "INSERT shop.orders: id=3, item='after', qty=3" "id=2, item='before', qty=2→20" \
  "DELETE shop.orders: id=1, item='before', qty=10, note=NULL"; do
  grep -qF "$line" "$WORK/verbose.txt" || fail "no \"$line\" in: $(cat "$WORK/verbose.txt")"
done

# The replication story: the backup restored into a second server, the syncer from where it
# ends, configured as TiDB-Binlog's syncer.toml is ([to] host, user, password, port; no type).
mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db \
  --datadir="$WORK/down" --innodb-log-file-size=8M >"$WORK/install-down.log" 2>&1 ||
  fail "mariadb-install-db (downstream): $(tail -5 "$WORK/install-down.log")"
DOWN_PORT=$(free_port)
mkdir "$WORK/tmp-down"
/usr/sbin/mariadbd --no-defaults --user=root --datadir="$WORK/down" --port="$DOWN_PORT" \
  --bind-address=127.0.0.1 --socket="$WORK/sock-down" --pid-file="$WORK/pid-down" \
  --tmpdir="$WORK/tmp-down" --log-error="$WORK/error-down.log" --server-id=2 \
  --character-set-server=utf8mb4 --innodb-log-file-size=8M &
DOWN_PID=$!
down() { mariadb --no-defaults -h127.0.0.1 -P"$DOWN_PORT" -uroot -N -B "$@"; }
wait_for 30 down -e 'SELECT 1' || fail "downstream mariadbd did not start: $(tail -5 "$WORK/error-down.log")"
down -e 'CREATE DATABASE shop'
down shop <"$WORK/dump.sql" || fail "restoring the dump downstream"
[[ $(down -e 'SELECT COUNT(*) FROM shop.orders') == 2 ]] || fail "the restored backup is not the dump"

cat >"$WORK/replica.toml" <<CONF
log-level = "info"
log-file = "$WORK/replica.log"
log-rotate = "day"
server-id = 102
meta = "$WORK/replica.meta"
worker-count = 16
batch = 1000
flavor = "mysql"
status-addr = ""
stop-on-ddl = false
max-retry = 100
heartbeat-interval = "200ms"

[from]
host = "127.0.0.1"
user = "syncer"
password = "pw"
port = $PORT

[to]
host = "127.0.0.1"
user = "root"
password = ""
port = $DOWN_PORT
CONF
"$SYNCER" -config "$WORK/replica.toml" -meta-from "$WORK/dump.sql" &
SYNCER_PID=$!
# Changes while it runs, after those it catches up with.
sql -e "INSERT INTO shop.orders VALUES (6, 'live', 6, 'n'); UPDATE shop.orders SET note = 'x' WHERE id = 2"
END_POS=$(sql -e 'SHOW MASTER STATUS' | cut -f2)
replicated() { grep -q "binlog-pos = $END_POS\$" "$WORK/replica.meta"; }
wait_for 30 replicated || fail "the syncer did not replicate everything: $(tail -5 "$WORK/replica.log")"
kill -TERM "$SYNCER_PID"
code=0
wait "$SYNCER_PID" || code=$?
SYNCER_PID=""
[[ $code == 0 ]] || fail "syncer ([to] host) exited $code after SIGTERM"
grep -q '"resuming from the downstream' "$WORK/replica.log" &&
  fail "a first start found a downstream position"
sql -e 'SELECT * FROM shop.orders ORDER BY id' >"$WORK/up.txt"
down -e 'SELECT * FROM shop.orders ORDER BY id' >"$WORK/down.txt"
diff -u "$WORK/up.txt" "$WORK/down.txt" || fail "the downstream differs from the upstream"
[[ $(down -e 'SELECT binlog_pos FROM tidb_binlog.syncer_position WHERE server_id = 102') == "$END_POS" ]] ||
  fail "tidb_binlog.syncer_position is not at $END_POS"

# A second start resumes from the downstream's position and applies nothing again.
"$SYNCER" -config "$WORK/replica.toml" &
SYNCER_PID=$!
resumed() { grep -q '"resuming from the downstream' "$WORK/replica.log"; }
wait_for 30 resumed || fail "the second start did not resume from the downstream: $(tail -5 "$WORK/replica.log")"
sql -e "DELETE FROM shop.orders WHERE id = 6"
END_POS=$(sql -e 'SHOW MASTER STATUS' | cut -f2)
wait_for 30 replicated || fail "the restarted syncer did not replicate: $(tail -5 "$WORK/replica.log")"
kill -TERM "$SYNCER_PID"
code=0
wait "$SYNCER_PID" || code=$?
SYNCER_PID=""
[[ $code == 0 ]] || fail "syncer ([to] host) exited $code after the second SIGTERM"
sql -e 'SELECT * FROM shop.orders ORDER BY id' >"$WORK/up.txt"
down -e 'SELECT * FROM shop.orders ORDER BY id' >"$WORK/down.txt"
diff -u "$WORK/up.txt" "$WORK/down.txt" || fail "the downstream differs after the restart"
echo "PASS: syncer scenario"
