#!/usr/bin/env bash
# Local demo: the mock upstream and ticketsvc under gunicorn, embedded engine, authentication
# off (a warning says so), both on 127.0.0.1 only (BIND_HOST=0.0.0.0 opens them to the network:
# with AUTH_MODE=off that opens key management and circuit reset to it too).
#
# The banner is printed only once /health answers; when the service cannot start, the script
# repeats its error line and exits non-zero. Ctrl-C stops the service first (its running jobs
# end cancelled, its alerts in flight finish), then the mock, and exits 0.
#
# Knobs: BIND_HOST (127.0.0.1), APP_PORT (8000), MOCK_PORT (9000), MOCK_ARGS, START_TIMEOUT_S
# (60), EMBEDDED_DATA_FILE (.data/ticketsvc-embedded.bson; empty: keep nothing across restarts),
# and every variable of the service itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
BIND_HOST="${BIND_HOST:-127.0.0.1}"
APP_PORT="${APP_PORT:-8000}"
MOCK_PORT="${MOCK_PORT:-9000}"
START_TIMEOUT_S="${START_TIMEOUT_S:-60}"
export AUTH_MODE="${AUTH_MODE:-off}"
export EXTERNAL_API_URL="${EXTERNAL_API_URL:-http://127.0.0.1:$MOCK_PORT}"
export MONGO_URL="${MONGO_URL:-mongomock://}"
export GUNICORN_BIND="${GUNICORN_BIND:-$BIND_HOST:$APP_PORT}"
if [ "$MONGO_URL" = "mongomock://" ]; then
  # The embedded engine's data survives a restart of the demo (EMBEDDED_DATA_FILE= keeps nothing).
  export EMBEDDED_DATA_FILE="${EMBEDDED_DATA_FILE-.data/ticketsvc-embedded.bson}"
fi

# The demo's upstream alerts endpoint fails one ticket in ten once (a realistic mode).
# MOCK_ARGS="" gives the brief's harsh default (every ticket's first two attempts fail,
# so the breaker keeps tripping and alerts arrive slowly, about ten a minute).
MOCK_ARGS="${MOCK_ARGS---notify-fail-share 0.1 --notify-fail-first-attempts 1}"

LOG_DIR="$(mktemp -d)"
APP_LOG="$LOG_DIR/ticketsvc.log"
: >"$APP_LOG"
APP_PID="" MOCK_PID="" TAIL_PID=""

# Each server runs in its own session, so the terminal's Ctrl-C reaches only this script,
# which then stops them in order (the service before the upstream it calls).
detached() {
  if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; else exec "$@"; fi
}

stop_process() {  # pid name: TERM, wait until it has exited, say so
  [ -n "$1" ] || return 0
  if kill -TERM "$1" 2>/dev/null; then
    wait "$1" 2>/dev/null || true
    echo "$2 stopped"
  fi
}

stop() {  # the service first: it may still be sending alerts to the mock
  trap - INT TERM EXIT
  stop_process "$APP_PID" ticketsvc
  stop_process "$MOCK_PID" "mock upstream"
  if [ -n "$TAIL_PID" ]; then kill "$TAIL_PID" 2>/dev/null || true; wait "$TAIL_PID" 2>/dev/null || true; fi
  rm -rf "$LOG_DIR"
}

interrupted() {
  echo
  echo "stopping ticketsvc, then the mock upstream ..."
  stop
  exit 0
}

fail() {  # status message: say why the demo is not running, stop what runs, exit non-zero
  local status="$1"
  [ "$status" -ne 0 ] || status=1
  echo >&2
  echo "error: $2" >&2
  stop
  exit "$status"
}

answers() {  # url: true once it answers HTTP at all (a degraded 503 still answers)
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}

trap interrupted INT TERM
trap stop EXIT

# shellcheck disable=SC2086
detached "$BIN/python" -m mock_api --host "$BIND_HOST" --port "$MOCK_PORT" --quiet $MOCK_ARGS &
MOCK_PID=$!
detached "$BIN/gunicorn" -c gunicorn.conf.py wsgi:app >>"$APP_LOG" 2>&1 &
APP_PID=$!
tail -n +1 -f "$APP_LOG" >&2 &
TAIL_PID=$!

deadline=$(( $(date +%s) + START_TIMEOUT_S ))
until answers "http://127.0.0.1:$APP_PORT/health"; do
  if ! kill -0 "$APP_PID" 2>/dev/null; then
    set +e; wait "$APP_PID"; status=$?; set -e
    sleep 0.2  # let tail copy the last lines
    reason="$(grep -E '^ticketsvc: ' "$APP_LOG" | tail -n 1 || true)"
    fail "$status" "ticketsvc did not start (gunicorn exit $status): ${reason:-see its log above}"
  fi
  if ! kill -0 "$MOCK_PID" 2>/dev/null; then
    fail 1 "the mock upstream did not start (is port $MOCK_PORT in use?)"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    fail 1 "ticketsvc did not answer /health within ${START_TIMEOUT_S}s"
  fi
  sleep 0.2
done

echo
echo "ticketsvc:     http://$BIND_HOST:$APP_PORT   (docs: /docs, health: /health)"
echo "mock upstream: http://$BIND_HOST:$MOCK_PORT   (report: /admin/report)"
if [ -n "${EMBEDDED_DATA_FILE:-}" ]; then
  echo "data kept across restarts in $EMBEDDED_DATA_FILE (a demo convenience, not a database)"
fi
echo "try: curl -X POST 'http://127.0.0.1:$APP_PORT/ingest/run?tenant_id=tenant_a'"
echo "Ctrl-C stops both."

set +e
wait -n "$APP_PID" "$MOCK_PID"
status=$?
set -e
if kill -0 "$APP_PID" 2>/dev/null; then
  fail "$status" "the mock upstream exited (status $status)"
fi
fail "$status" "ticketsvc exited (status $status)"
