#!/usr/bin/env bash
# A private MariaDB for the demo, started the way the tests' helper starts one
# (tests/testutil/mariadb_server.cc): its own datadir under DIR, a free loopback port, ROW binlog
# with FULL row image and FULL row metadata, utf8mb4, and a replication user.
#
#   scripts/mariadb-sandbox.sh start DIR   prints the port once the server accepts connections
#   scripts/mariadb-sandbox.sh stop DIR    SIGTERM, waits for the exit (SIGKILL after 30 s)
#
# Connect as root through DIR/sock, or over TCP as repl / repl-pw (REPLICATION SLAVE,
# BINLOG MONITOR, SELECT).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  [[ -f $dir/mariadbd.pid ]] || return 0
  local pid
  pid=$(cat "$dir/mariadbd.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  mkdir -p "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  if [[ ! -d $dir/data/mysql ]]; then
    mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db \
      --datadir="$dir/data" --innodb-log-file-size=8M >"$dir/install.log" 2>&1 ||
      { cat "$dir/install.log" >&2; exit 1; }
  fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # --user=root: the demo runs as root on a fresh machine; mariadbd refuses root without it.
  setsid /usr/sbin/mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" \
    --port="$port" --bind-address=127.0.0.1 --socket="$dir/sock" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --log-bin="$dir/data/mariadb-bin" --server-id=1 \
    --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-log-file-size=8M --innodb-buffer-pool-size=64M --tmpdir="$dir/tmp" \
    </dev/null >"$dir/stdout.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    if mariadb --no-defaults --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      mariadb --no-defaults --socket="$dir/sock" -uroot -e "
        CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-pw';
        GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'repl'@'%';"
      echo "$port" >"$dir/port"
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/error.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "mariadbd did not accept connections in 30 s" >&2
  tail -20 "$dir/error.log" >&2
  exit 1
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
