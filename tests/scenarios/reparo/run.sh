#!/usr/bin/env bash
# reparo end to end with the real binaries: a production MariaDB archived by the syncer from a
# full backup's position, and replays into a second, fresh MariaDB.
#   a. the seed's recovery drill (TiDB-Binlog's "BR + Reparo" point-in-time recovery, with
#      mariadb-dump as BR): back up, delete a row, drop both databases, restore the backup into a
#      fresh server, replay up to just before the drop
#   b. windows: one between two transactions (nothing: exit 1), start and stop on a
#      transaction's ts (inclusive at both ends)
#   c. filters: a database, tables by regex, ignore over do (and DDL filtered on a real server)
#   d. a DDL inside the window (a column added, then rows that use it)
#   e. kill -9 at random points, each followed by -resume: the end state of an uninterrupted run
#      and no transaction applied twice (counted by a trigger in the destination)
#   f. -flashback restores the state from before the window
#   g. bad input: exit 2 and nothing applied; a duplicate key downstream names the ts, table and
#      statement, and -resume with safe-mode then completes
#   h. print output of fixed archives against testdata/golden/reparo/ (BINLOG_REGEN_GOLDEN=1
#      rewrites them); damaged input, with and without -skip-corrupt
# The kill points draw from a fixed seed; a soak takes BINLOG_CRASH_SEED (the seed) and
# BINLOG_CRASH_TRIALS (how many kills, default 10) from the environment. Kills by time land
# where the machine's speed puts them: a seed replays the choices, not the exact points.
set -euo pipefail

REPARO="$BINLOG_TOOLS_DIR/reparo/reparo"
SYNCER="$BINLOG_TOOLS_DIR/syncer/syncer"
SEGDUMP="$BINLOG_TOOLS_DIR/segdump/segdump"
LOADGEN="$BINLOG_TOOLS_DIR/loadgen/loadgen"
SANDBOX="$BINLOG_SOURCE_DIR/scripts/mariadb-sandbox.sh"
GOLDEN="$BINLOG_SOURCE_DIR/testdata/golden/reparo"
WORK="$(mktemp -d)"
ARCHIVE="$WORK/archive"
SYNCER_PID=""
REPARO_PID=""
cleanup() {
  for pid in "$REPARO_PID" "$SYNCER_PID"; do
    if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  for server in up dest; do
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
  # In a command substitution: stop the whole scenario, not only the subshell.
  if [[ $BASHPID != "$$" ]]; then kill -TERM "$$"; fi
  exit 1
}
# A reparo step may replay a large window: up to 300 s.
EXPECT_TIMEOUT=${STEP_SECONDS:-300}
# shellcheck source=../lib.sh
source "$BINLOG_SOURCE_DIR/tests/scenarios/lib.sh"

# ---- servers: the production server (up) and the one the backup is restored into (dest) ----
UP_PORT=$("$SANDBOX" start "$WORK/up")
DEST_PORT=$("$SANDBOX" start "$WORK/dest")
up() { mariadb --no-defaults --socket="$WORK/up/sock" -uroot -N -B "$@"; }
dest() { mariadb --no-defaults --socket="$WORK/dest/sock" -uroot -N -B "$@"; }
[[ $(up -e 'SELECT @@datadir') == "$WORK/up/data/" ]] || fail "the upstream is another server"
[[ $(dest -e 'SELECT @@datadir') == "$WORK/dest/data/" ]] || fail "the destination is another server"
# The workloads commit thousands of small transactions: no fsync per commit upstream.
up -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"

# A table's rows in a stable order, as one line per row (for comparing servers and states).
rows() { "$1" -e "SELECT * FROM $2 ORDER BY $3"; }
# The user tables of the destination, for "nothing applied".
fingerprint() {
  local dbs
  dbs=$(dest -e "SELECT GROUP_CONCAT(schema_name ORDER BY schema_name SEPARATOR ' ')
                 FROM information_schema.schemata WHERE schema_name NOT IN
                 ('mysql', 'information_schema', 'performance_schema', 'sys')")
  # shellcheck disable=SC2086
  mariadb-dump --no-defaults --socket="$WORK/dest/sock" -uroot --skip-dump-date --skip-comments \
    --databases $dbs | md5sum
}
# The archive holds everything the upstream wrote (the syncer's durable position is the end of
# the upstream's binlog).
caught_up() {
  local file pos
  read -r file pos < <(up -e 'SHOW MASTER STATUS' | cut -f1,2)
  grep -q "binlog-name = \"$file\"" "$WORK/syncer.meta" &&
    grep -q "binlog-pos = $pos\$" "$WORK/syncer.meta"
}
# The commit ts of the newest transaction in the archive (heartbeats left out), once caught up.
last_ts() {
  wait_for 30 caught_up || fail "the syncer did not catch up: $(tail -5 "$WORK/syncer.log")"
  "$SEGDUMP" --format json "$ARCHIVE" 2>/dev/null | grep '"type":"COMMIT"' | tail -1 |
    sed 's/^{"version":1,"ts":"\([0-9]*\)".*/\1/'
}
# The commit ts of every transaction in the archive from $1 on, oldest first.
commit_ts_from() {
  "$SEGDUMP" --format json --from "$1" "$ARCHIVE" 2>/dev/null | grep '"type":"COMMIT"' |
    sed 's/^{"version":1,"ts":"\([0-9]*\)".*/\1/'
}
# Sleeps until the wall clock is in a later second than when called.
next_second() {
  local now
  now=$(date +%s)
  while [[ $(date +%s) == "$now" ]]; do sleep 0.02; done
}

# The reparo.toml of every mysql run below; flags select the window, task and workers.
cat >"$WORK/reparo.toml" <<CONF
data-dir = "$ARCHIVE"
dest-type = "mysql"
[dest-db]
host = "127.0.0.1"
port = $DEST_PORT
user = "root"
password = ""
CONF
replay=("$REPARO" -config "$WORK/reparo.toml")

# ---- command line --------------------------------------------------------------------------
expect_exit 0 "$REPARO" -h
grep -q "usage: reparo" "$WORK/out" || fail "-h prints no usage"
for flag in -resume -flashback -skip-corrupt -start-tso -stop-datetime -safe-mode; do
  grep -q -- "$flag" "$WORK/out" || fail "-h does not mention $flag"
done
expect_exit 0 "$REPARO" -V
grep -qE '^reparo \(binlog\) [0-9a-z.-]+$' "$WORK/out" || fail "-V printed: $(cat "$WORK/out")"
expect_exit 2 "$REPARO" -bogus
expect_err "usage: reparo"
expect_exit 2 "$REPARO"
expect_err "data-dir is not set"

# ---- a. the seed's drill -------------------------------------------------------------------
section "a. the recovery drill"
up <<'SQL'
create database full_backup_point_recover_1;
create database full_backup_point_recover_2;
use full_backup_point_recover_1;
create table jan_test_1(id int auto_increment primary key, name varchar(20));
use full_backup_point_recover_2;
create table jan_test_2(id int auto_increment primary key, name varchar(20));
insert into full_backup_point_recover_1.jan_test_1(name) values ('jan_test_1'),('jan_test_2'),('jan_test_3');
insert into full_backup_point_recover_2.jan_test_2(name) values ('jan_test_1');
SQL
START_TIME=$(date '+%F %T')
# The full backup ("BR backup full"), with its binlog position.
mariadb-dump --no-defaults --socket="$WORK/up/sock" -uroot --master-data=2 --single-transaction \
  --databases full_backup_point_recover_1 full_backup_point_recover_2 >"$WORK/full_backup.sql"
cat >"$WORK/syncer.toml" <<CONF
log-file = "$WORK/syncer.log"
server-id = 101
meta = "$WORK/syncer.meta"
flavor = "mariadb"
status-addr = ""
heartbeat-interval = "200ms"
[from]
host = "127.0.0.1"
port = $UP_PORT
user = "repl"
password = "repl-pw"
[to]
type = "journal"
dir = "$ARCHIVE"
CONF
"$SYNCER" -config "$WORK/syncer.toml" -meta-from "$WORK/full_backup.sql" &
SYNCER_PID=$!

up -e "delete from full_backup_point_recover_1.jan_test_1 where id = 1"
# A commit ts is the time the syncer archived the transaction, at the earliest its upstream
# event's second; a datetime is the first millisecond of its second. So the stop time is taken in
# a second after the delete is archived, and the drop runs in a second after that.
last_ts >/dev/null
next_second
STOP_TIME=$(date '+%F %T')
next_second
up -e "drop database full_backup_point_recover_1; drop database full_backup_point_recover_2"
DRILL_END=$(last_ts)
# The archive starts with the first change after the backup.
"$SEGDUMP" "$ARCHIVE" | grep -v ' FAKE' | sed -n 1p >"$WORK/first.txt"
grep -q ' full_backup_point_recover_1.jan_test_1 +0 ~0 -1$' "$WORK/first.txt" ||
  fail "the archive starts with: $(cat "$WORK/first.txt")"

# "BR restore full" into a fresh server: the databases as they were at the backup.
dest <"$WORK/full_backup.sql"
[[ $(rows dest full_backup_point_recover_1.jan_test_1 id | wc -l) == 3 ]] ||
  fail "the restored backup does not hold the 3 rows"
# The seed's reparo.toml, with this machine's directory and server.
cat >"$WORK/drill.toml" <<CONF
# The directory of segments (Drainer's protobuf files in the seed; here the syncer's journal).
data-dir = "$ARCHIVE"
log-level = "info"
start-datetime = "$START_TIME"
stop-datetime = "$STOP_TIME"
dest-type = "mysql"
txn-batch = 20
worker-count = 16
safe-mode = false
# replicate-do-db = ["~^b.*","s1"]

[dest-db]
host = "127.0.0.1"
port = $DEST_PORT
user = "root"
password = ""
CONF
expect_exit 0 "$REPARO" -config "$WORK/drill.toml"
expect_err "applied 1 transactions (1 rows, 0 DDL)"
expect_err "full_backup_point_recover_1.jan_test_1  1"
diff -u <(printf '2\tjan_test_2\n3\tjan_test_3\n') \
  <(rows dest full_backup_point_recover_1.jan_test_1 id) || fail "jan_test_1 is not as before the drop"
diff -u <(printf '1\tjan_test_1\n') <(rows dest full_backup_point_recover_2.jan_test_2 id) ||
  fail "jan_test_2 is not as before the drop"
# The same run again is refused (its progress is in the destination); -resume has nothing left.
expect_exit 2 "$REPARO" -config "$WORK/drill.toml"
expect_err "-resume continues it"
expect_exit 0 "$REPARO" -config "$WORK/drill.toml" -resume
expect_err "applied 0 transactions"
# Without the stop time the drop is replayed too: the stop time is what saves the data.
expect_exit 0 "$REPARO" -config "$WORK/drill.toml" -dest-type print -stop-tso "$DRILL_END"
grep -q "DDL query: drop database full_backup_point_recover_1" "$WORK/out" ||
  fail "the drop is not in the archive: $(cat "$WORK/out")"

# ---- g. bad input: exit 2, nothing applied -------------------------------------------------
section "g. bad input"
BEFORE=$(fingerprint)
mkdir "$WORK/empty"
printf 'replicate-do-db = ["~^(shop"]\n' >"$WORK/regex.toml"
check_bad() {
  local want=$1
  shift
  expect_exit 2 "${replay[@]}" -task bad "$@"
  expect_err "$want"
}
check_bad 'key "dest-type": expected print or mysql, got "kafka"' -dest-type kafka
expect_err "usage: reparo"
check_bad "the window ends before it starts: stop-datetime \"$START_TIME\"" \
  -start-datetime "$STOP_TIME" -stop-datetime "$START_TIME"
check_bad 'start-datetime: bad datetime "2021-02-30 10:00:00"' -start-datetime "2021-02-30 10:00:00"
check_bad "data-dir $WORK/missing does not exist" -data-dir "$WORK/missing"
check_bad "data-dir $WORK/empty holds no segment" -data-dir "$WORK/empty"
expect_exit 2 "$REPARO" -config "$WORK/regex.toml" -data-dir "$ARCHIVE"
expect_err "^(shop"
[[ $(fingerprint) == "$BEFORE" ]] || fail "a refused run changed the destination"
[[ $(dest -e "SELECT COUNT(*) FROM tidb_binlog.replay_progress WHERE task = 'bad'") == 0 ]] ||
  fail "a refused run recorded progress"

# ---- b. windows ----------------------------------------------------------------------------
section "b. windows"
B0=$(last_ts)
up -e "CREATE DATABASE win; CREATE TABLE win.t (id INT PRIMARY KEY, v VARCHAR(10))"
for v in x y z; do up -e "INSERT INTO win.t VALUES (ASCII('$v'), '$v')"; done
last_ts >/dev/null
next_second
next_second
up -e "INSERT INTO win.t VALUES (ASCII('w'), 'w')"
last_ts >/dev/null
mapfile -t TS < <(commit_ts_from "$((B0 + 1))")
((${#TS[@]} == 6)) || fail "want 6 transactions (2 DDL, x, y, z, w), got ${#TS[@]}"
X=${TS[2]} Y=${TS[3]} Z=${TS[4]} W=${TS[5]}
# Between z and w: heartbeats only.
"$SEGDUMP" --from "$((Z + 1))" --to "$((W - 1))" "$ARCHIVE" >"$WORK/gap.txt"
grep -q ' FAKE' "$WORK/gap.txt" || fail "no heartbeat between z and w: $(cat "$WORK/gap.txt")"
expect_exit 1 "${replay[@]}" -task gap -start-tso "$((Z + 1))" -stop-tso "$((W - 1))"
expect_err "matches no transaction in $ARCHIVE"
printed_ts() { sed -n 's/^# commit ts \([0-9]*\) .*/\1/p' "$WORK/out" | tr '\n' ' '; }
expect_exit 0 "${replay[@]}" -dest-type print -start-tso "$Y" -stop-tso "$Y"
[[ $(printed_ts) == "$Y " ]] || fail "start = stop = y printed: $(printed_ts)"
grep -q '^v(varchar(10)): "y"$' "$WORK/out" || fail "y not printed: $(cat "$WORK/out")"
expect_exit 0 "${replay[@]}" -dest-type print -start-tso "$X" -stop-tso "$Z"
[[ $(printed_ts) == "$X $Y $Z " ]] || fail "x..z printed: $(printed_ts)"
expect_exit 0 "${replay[@]}" -dest-type print -start-tso "$((X + 1))" -stop-tso "$((Z - 1))"
[[ $(printed_ts) == "$Y " ]] || fail "x+1..z-1 printed: $(printed_ts)"
# The same window by datetime: from w's second on.
W_SECOND=$("$SEGDUMP" --from "$W" --to "$W" "$ARCHIVE" | cut -d' ' -f2,3 | cut -d. -f1)
expect_exit 0 "${replay[@]}" -dest-type print -start-datetime "$W_SECOND" -stop-tso "$W"
[[ $(printed_ts) == "$W " ]] || fail "from $W_SECOND printed: $(printed_ts)"

# ---- c. filters ----------------------------------------------------------------------------
section "c. filters"
C0=$(last_ts)
up <<'SQL'
CREATE DATABASE f1;
CREATE TABLE f1.keep_a (id INT PRIMARY KEY);
CREATE TABLE f1.keep_b (id INT PRIMARY KEY);
CREATE TABLE f1.other (id INT PRIMARY KEY);
CREATE DATABASE f2;
CREATE TABLE f2.keep_a (id INT PRIMARY KEY);
INSERT INTO f1.keep_a VALUES (1);
INSERT INTO f1.keep_b VALUES (2);
INSERT INTO f1.other VALUES (3);
INSERT INTO f2.keep_a VALUES (4);
BEGIN; INSERT INTO f1.keep_a VALUES (5); INSERT INTO f2.keep_a VALUES (6); COMMIT;
SQL
C1=$(last_ts)
# filter_run NAME TOML: prints the window with the filter rules, lists the tables changed.
filter_run() {
  {
    echo "data-dir = \"$ARCHIVE\""
    echo "start-tso = $((C0 + 1))"
    echo "stop-tso = $C1"
    printf '%b\n' "$2"
  } >"$WORK/$1.toml"
  expect_exit 0 "$REPARO" -config "$WORK/$1.toml"
  grep -o '^schema: [a-z0-9_]*; table: [a-z0-9_]*' "$WORK/out" | sed 's/schema: //; s/; table: /./' |
    sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '
}
got=$(filter_run do-db 'replicate-do-db = ["f1"]')
[[ $got == "f1.keep_a=2 f1.keep_b=1 f1.other=1 " ]] || fail "replicate-do-db f1: $got"
grep -q "DDL query: CREATE DATABASE f2" "$WORK/out" && fail "do-db f1 printed f2's DDL"
grep -q "DDL query: CREATE TABLE f1.other" "$WORK/out" || fail "do-db f1 left out f1's DDL"
got=$(filter_run do-table '[[replicate-do-table]]\ndb-name = "~^f"\ntbl-name = "~^keep_"')
[[ $got == "f1.keep_a=2 f1.keep_b=1 f2.keep_a=2 " ]] || fail "do-table ~^keep_: $got"
got=$(filter_run ignore-table 'replicate-do-db = ["f1"]\n[[replicate-ignore-table]]\ndb-name = "f1"\ntbl-name = "keep_a"')
[[ $got == "f1.keep_b=1 f1.other=1 " ]] || fail "ignore-table over do-db: $got"
got=$(filter_run ignore-db 'replicate-do-db = ["~^f[0-9]$"]\nreplicate-ignore-db = ["f2"]')
[[ $got == "f1.keep_a=2 f1.keep_b=1 f1.other=1 " ]] || fail "ignore-db over do-db: $got"
# f2's DDL and its insert alone; the transaction into both keeps f1's row.
grep -q "skipped: 3 by the filters" "$WORK/err" || fail "f2's changes not counted: $(cat "$WORK/err")"
# On a server: the DDL of the database left out is not run either.
{
  cat "$WORK/do-db.toml"
  sed -n '/^\[dest-db\]/,$p' "$WORK/reparo.toml"
} >"$WORK/do-db-mysql.toml"
expect_exit 0 "$REPARO" -config "$WORK/do-db-mysql.toml" -dest-type mysql -task filters
got=$(dest -e "SELECT GROUP_CONCAT(schema_name) FROM information_schema.schemata
               WHERE schema_name IN ('f1', 'f2')")
[[ $got == f1 ]] || fail "do-db f1 on a server created: $got"
diff <(rows up f1.keep_a id) <(rows dest f1.keep_a id) >/dev/null || fail "f1.keep_a differs"

# ---- d. a DDL inside the window ------------------------------------------------------------
section "d. DDL in the window"
D0=$(last_ts)
up <<'SQL'
CREATE DATABASE d;
CREATE TABLE d.t (id INT PRIMARY KEY, a INT);
INSERT INTO d.t VALUES (1, 10), (2, 20);
ALTER TABLE d.t ADD COLUMN b VARCHAR(10) NOT NULL DEFAULT 'x' AFTER id;
INSERT INTO d.t VALUES (3, 'new', 30);
UPDATE d.t SET b = 'set' WHERE id = 1;
ALTER TABLE d.t DROP COLUMN a, ADD COLUMN c DECIMAL(6,2);
INSERT INTO d.t VALUES (4, 'late', 4.25);
UPDATE d.t SET c = 1.5 WHERE id = 2;
DELETE FROM d.t WHERE id = 3;
SQL
D1=$(last_ts)
expect_exit 0 "${replay[@]}" -task ddl -start-tso "$((D0 + 1))" -stop-tso "$D1" -c 4
expect_err "(7 rows, 4 DDL)"
diff -u <(rows up d.t id) <(rows dest d.t id) || fail "d.t differs after the DDL"
diff -u <(up -e "SHOW CREATE TABLE d.t") <(dest -e "SHOW CREATE TABLE d.t") ||
  fail "d.t's definition differs"

# ---- f. flashback --------------------------------------------------------------------------
section "f. flashback"
F0=$(last_ts)
up <<'SQL'
CREATE DATABASE fb;
CREATE TABLE fb.acct (id INT PRIMARY KEY, owner VARCHAR(20), bal DECIMAL(10,2));
CREATE TABLE fb.notes (n INT, txt VARCHAR(40));
INSERT INTO fb.acct VALUES (1, 'ann', 100.00), (2, 'bob', 50.00), (3, 'cy', 0.00);
INSERT INTO fb.notes VALUES (1, 'first'), (2, 'second'), (2, 'second');
SQL
F1=$(last_ts)
FB_BEFORE=$(rows up fb.acct id; rows up fb.notes "n, txt")
up <<'SQL'
BEGIN; UPDATE fb.acct SET bal = bal - 30 WHERE id = 1; UPDATE fb.acct SET bal = bal + 30 WHERE id = 2; COMMIT;
INSERT INTO fb.acct VALUES (4, 'dee', 9.99);
DELETE FROM fb.acct WHERE id = 3;
UPDATE fb.acct SET id = 30 WHERE id = 2;
UPDATE fb.notes SET txt = 'changed' WHERE n = 1;
DELETE FROM fb.notes WHERE n = 2 LIMIT 1;
BEGIN; INSERT INTO fb.notes VALUES (3, 'third'); UPDATE fb.acct SET owner = 'ANN' WHERE id = 1; COMMIT;
SQL
F2=$(last_ts)
FB_AFTER=$(rows up fb.acct id; rows up fb.notes "n, txt")
expect_exit 0 "${replay[@]}" -task fb -start-tso "$((F0 + 1))" -stop-tso "$F2"
[[ $(rows dest fb.acct id; rows dest fb.notes "n, txt") == "$FB_AFTER" ]] ||
  fail "fb differs from the upstream after the window"
# A window with DDL cannot be undone: refused before anything changes.
expect_exit 2 "${replay[@]}" -flashback -start-tso "$((F0 + 1))" -stop-tso "$F2"
expect_err "-flashback cannot undo DDL"
[[ $(rows dest fb.acct id; rows dest fb.notes "n, txt") == "$FB_AFTER" ]] ||
  fail "a refused flashback changed fb"
expect_exit 0 "${replay[@]}" -flashback -start-tso "$((F1 + 1))" -stop-tso "$F2" -c 4
expect_err "undid 7 transactions"
diff -u <(echo "$FB_BEFORE") <(rows dest fb.acct id; rows dest fb.notes "n, txt") ||
  fail "the flashback did not restore fb as it was before the window"

# ---- g. a duplicate key downstream ---------------------------------------------------------
section "g. duplicate key"
up -e "CREATE DATABASE dup; CREATE TABLE dup.t (id INT PRIMARY KEY, v VARCHAR(20))"
G1=$(last_ts)
for i in $(seq 1 10); do up -e "INSERT INTO dup.t VALUES ($i, 'upstream $i')"; done
G2=$(last_ts)
mapfile -t TS < <(commit_ts_from "$((G1 + 1))")
TS6=${TS[5]}
dest -e "CREATE DATABASE dup; CREATE TABLE dup.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO dup.t VALUES (6, 'already here')"
expect_exit 2 "${replay[@]}" -task dup -start-tso "$((G1 + 1))" -stop-tso "$G2" -c 1 -txn-batch 1
expect_err "commit ts $TS6, table dup.t"
expect_err "Duplicate entry '6'"
# shellcheck disable=SC2016 # backquotes: the statement's own quoting
expect_err 'in: INSERT INTO `dup`.`t`'
expect_err "-resume continues from there"
[[ $(dest -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM dup.t") == "1,2,3,4,5,6" ]] ||
  fail "after the refusal dup.t holds $(dest -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM dup.t")"
expect_exit 2 "${replay[@]}" -task dup -start-tso "$((G1 + 1))" -stop-tso "$G2"
expect_err "holds the progress of an earlier run"
expect_exit 0 "${replay[@]}" -task dup -start-tso "$((G1 + 1))" -stop-tso "$G2" -resume -safe-mode true
# Had the progress been lost, safe mode would have applied all ten again, silently.
expect_err "applied 5 transactions"
diff -u <(rows up dup.t id) <(rows dest dup.t id) || fail "dup.t differs after -resume -safe-mode"

# ---- e. kill -9 and -resume ----------------------------------------------------------------
section "e. kill -9 rounds"
K_TABLES="CREATE TABLE k.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(40));
          CREATE TABLE k.events (n INT NOT NULL, acct INT, v VARCHAR(40));"
up -e "CREATE DATABASE k; $K_TABLES"
E0=$(last_ts)
# Small transactions into a table with a key and one without, two DDL on the way.
KILL_TXNS=4000
awk -v n="$KILL_TXNS" 'BEGIN {
  for (i = 1; i <= n; i++) {
    a = i % 400 + 1
    if (i == int(n / 3)) print "ALTER TABLE k.acct ADD COLUMN tier TINYINT NOT NULL DEFAULT 0;"
    if (i == int(2 * n / 3)) print "ALTER TABLE k.events ADD INDEX by_acct (acct);"
    print "BEGIN;"
    print "INSERT INTO k.events VALUES (" i ", " a ", \"event " i "\");"
    if (i <= 400) print "INSERT INTO k.acct (id, bal, note) VALUES (" a ", 0, \"opened\");"
    else if (i % 11 == 0) print "DELETE FROM k.acct WHERE id = " a ";"
    else if (i % 11 == 1) print "INSERT IGNORE INTO k.acct (id, bal, note) VALUES (" a ", " i ", \"reopened\");"
    else if (i > n / 3 && i % 11 == 2) print "UPDATE k.acct SET tier = tier + 1 WHERE id = " a ";"
    else print "UPDATE k.acct SET bal = bal + " i " WHERE id = " a ";"
    if (i % 5 == 0) print "UPDATE k.events SET v = \"touched\" WHERE n = " i - 1 ";"
    print "COMMIT;"
  }
}' >"$WORK/kill.sql"
up <"$WORK/kill.sql"
E1=$(last_ts)
# The destination as the window starts (the tables as created), with a trigger on each that logs
# every row inserted: a transaction applied twice shows there, whatever the keys.
reset_k() {
  dest <<SQL
DROP DATABASE IF EXISTS k;
DROP DATABASE IF EXISTS audit;
CREATE DATABASE k;
$K_TABLES
CREATE DATABASE audit;
CREATE TABLE audit.ins (seq INT AUTO_INCREMENT PRIMARY KEY, tbl VARCHAR(10), n INT);
CREATE TRIGGER k.acct_ins AFTER INSERT ON k.acct FOR EACH ROW
  INSERT INTO audit.ins (tbl, n) VALUES ('acct', NEW.id);
CREATE TRIGGER k.events_ins AFTER INSERT ON k.events FOR EACH ROW
  INSERT INTO audit.ins (tbl, n) VALUES ('events', NEW.n);
SQL
}
k_state() {
  rows dest k.acct id | md5sum
  rows dest k.events "n, acct, v" | md5sum
  dest -e "SHOW CREATE TABLE k.acct; SHOW CREATE TABLE k.events" | md5sum
}
audit_state() { dest -e "SELECT tbl, n, COUNT(*) FROM audit.ins GROUP BY tbl, n ORDER BY tbl, n" | md5sum; }
logged() { dest -e "SELECT COUNT(*) FROM audit.ins"; }
kill_window=(-start-tso "$((E0 + 1))" -stop-tso "$E1" -c 4 -txn-batch 20)
reset_k
t0=$SECONDS
expect_exit 0 "${replay[@]}" -task e-full "${kill_window[@]}"
echo "   uninterrupted: $(grep -o 'applied .*rows/s' "$WORK/err") ($((SECONDS - t0)) s)"
diff <(rows up k.acct id; rows up k.events "n, acct, v") \
  <(rows dest k.acct id; rows dest k.events "n, acct, v") >/dev/null ||
  fail "the uninterrupted run differs from the upstream"
[[ $(dest -e "SELECT COUNT(*), COUNT(DISTINCT n) FROM audit.ins WHERE tbl = 'events'") == "$KILL_TXNS	$KILL_TXNS" ]] ||
  fail "the uninterrupted run logged $(dest -e "SELECT COUNT(*), COUNT(DISTINCT n) FROM audit.ins WHERE tbl = 'events'") event inserts"
FULL_STATE=$(k_state)
FULL_AUDIT=$(audit_state)
FULL_LOGGED=$(logged)

SEED=${BINLOG_CRASH_SEED:-20261203}
RANDOM=$SEED
KILLS=${BINLOG_CRASH_TRIALS:-10}
echo "   kill rounds: seed $SEED (replay: BINLOG_CRASH_SEED=$SEED)"
kills=0 chains=0 rounds=0 points=""
while ((kills < KILLS)); do
  # A chain: a fresh destination, runs killed at random points, each followed by -resume, the
  # last one let run to the end; then the state and the inserts logged are the uninterrupted
  # run's. A run that ends before its kill closes the chain early: another one follows.
  chains=$((chains + 1))
  ((chains <= 5)) || fail "the replay ended before the kills in 5 chains ($kills kills, seed $SEED)"
  reset_k
  resume=()
  while true; do
    rounds=$((rounds + 1))
    "$REPARO" -config "$WORK/reparo.toml" -task "e-kill-$chains" "${kill_window[@]}" \
      "${resume[@]}" >"$WORK/kill.out" 2>"$WORK/kill.err" &
    REPARO_PID=$!
    resume=(-resume)
    if ((kills < KILLS)); then
      if ((rounds % 2)); then
        # By time: anywhere from the start-up on.
        sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
      else
        # By progress: a random share of what is left, about 1/(kills left + 1) of it on
        # average, so the kills spread over the whole replay.
        done_rows=$(logged)
        share=$((RANDOM % (200 / (KILLS - kills + 1) + 1)))
        target=$((done_rows + (FULL_LOGGED - done_rows) * share / 100))
        deadline=$((SECONDS + 300))
        while kill -0 "$REPARO_PID" 2>/dev/null && (($(logged) < target)); do
          ((SECONDS < deadline)) || fail "round $rounds (seed $SEED) made no progress in 300 s"
        done
      fi
      if kill -9 "$REPARO_PID" 2>/dev/null; then
        wait "$REPARO_PID" 2>/dev/null || true
        REPARO_PID=""
        kills=$((kills + 1))
        points+=" $(logged)"
        continue
      fi
    fi
    wait_for 300 bash -c "! kill -0 $REPARO_PID" ||
      fail "round $rounds (seed $SEED) did not finish in 300 s: $(cat "$WORK/kill.err")"
    code=0
    wait "$REPARO_PID" || code=$?
    REPARO_PID=""
    [[ $code == 0 ]] || fail "round $rounds (seed $SEED) exited $code: $(cat "$WORK/kill.err")"
    break
  done
  [[ $(audit_state) == "$FULL_AUDIT" ]] ||
    fail "chain $chains (seed $SEED): the inserts logged differ: a transaction applied twice, or not at all"
  [[ $(k_state) == "$FULL_STATE" ]] ||
    fail "chain $chains (seed $SEED): k differs from the uninterrupted run"
done
echo "   inserts logged (of $FULL_LOGGED) after each kill:$points"
echo "   $kills kills in $rounds runs, $chains chain(s); the last run: $(grep -o 'applied [0-9]* trans.*' "$WORK/kill.err")"
echo "     $(grep -o 'skipped: .*' "$WORK/kill.err")"

# ---- h. print output against golden files --------------------------------------------------
section "h. print golden, damaged input"
# check_golden NAME FILE: FILE must equal testdata/golden/reparo/NAME (BINLOG_REGEN_GOLDEN=1
# writes it instead).
check_golden() {
  if [[ ${BINLOG_REGEN_GOLDEN:-} == 1 ]]; then
    cp "$2" "$GOLDEN/$1"
    return
  fi
  diff -u "$GOLDEN/$1" "$2" || fail "reparo's print output differs from $1"
}
# The segdump fixture: every kind of value, DDL, and the records a replay skips (a heartbeat, a
# PREWRITE, a ROLLBACK).
mkdir "$WORK/typed"
cp "$BINLOG_SOURCE_DIR/testdata/golden/segdump/typed.seg" \
  "$WORK/typed/binlog-445644800000000000-20231114221320"
expect_exit 0 "$REPARO" -data-dir "$WORK/typed"
check_golden typed-print.txt "$WORK/out"
# loadgen's rows are the seed's; its commit ts are the clock's, so the headers lose them.
"$LOADGEN" --dir "$WORK/loadgen" --count 30 --seed 7 --txn-rows 2 --ddl-ratio 0.1 --threads 1 \
  --log-level warn
expect_exit 0 "$REPARO" -data-dir "$WORK/loadgen" -dest-type print
sed -E 's/^# commit ts [0-9]+ \(.*\)$/# commit ts (normalised)/' "$WORK/out" >"$WORK/loadgen.txt"
check_golden loadgen-print.txt "$WORK/loadgen.txt"

# Damaged input: named (file and offset) and exit 1; -skip-corrupt goes on past it and counts it.
"$LOADGEN" --dir "$WORK/damaged" --count 400 --max-file-size 64KiB --log-level warn
SEG=$(find "$WORK/damaged" -name 'binlog-*' | sort | sed -n 2p)
printf '\xff\xff\xff\xff' | dd of="$SEG" bs=1 seek=$(($(stat -c %s "$SEG") / 2)) conv=notrunc 2>/dev/null
expect_exit 1 "$REPARO" -data-dir "$WORK/damaged"
expect_err "$SEG: block at offset"
expect_exit 0 "$REPARO" -data-dir "$WORK/damaged" -skip-corrupt
expect_err "damaged input skipped (-skip-corrupt): 1 regions"

kill -TERM "$SYNCER_PID"
code=0
wait "$SYNCER_PID" || code=$?
SYNCER_PID=""
[[ $code == 0 ]] || fail "syncer exited $code after SIGTERM"
echo "PASS: reparo scenario (${SECONDS}s)"
