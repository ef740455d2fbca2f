# Helpers the scenario scripts share; source it after setting WORK and defining fail().
# (Not a scenario itself: ctest runs only */run.sh.)

section() { echo "== $* (at ${SECONDS}s)"; }

# expect_exit CODE CMD...: runs CMD (at most EXPECT_TIMEOUT s, default 120) with its output in
# $WORK/out and $WORK/err, and fails unless it exits CODE.
expect_exit() {
  local want=$1 got=0
  shift
  timeout -k 5 "${EXPECT_TIMEOUT:-120}" "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [[ $got != 124 || $want == 124 ]] || fail "$* did not finish in ${EXPECT_TIMEOUT:-120} s"
  [[ $got == "$want" ]] ||
    fail "$* exited $got, want $want; out: $(head -c 2000 "$WORK/out") err: $(head -c 2000 "$WORK/err")"
}
expect_out() { grep -qF -- "$1" "$WORK/out" || fail "no \"$1\" in: $(cat "$WORK/out")"; }
expect_err() { grep -qF -- "$1" "$WORK/err" || fail "no \"$1\" in: $(cat "$WORK/err")"; }

# wait_for SECONDS CMD...: until CMD succeeds, polling every 0.1 s; 1 when the time is up.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
