#!/usr/bin/env bash
# Local demo: the mock upstream on :9000 and ticketsvc under gunicorn on :8000, embedded
# engine, authentication off (a warning says so). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export AUTH_MODE="${AUTH_MODE:-off}"
export EXTERNAL_API_URL="${EXTERNAL_API_URL:-http://127.0.0.1:9000}"
export MONGO_URL="${MONGO_URL:-mongomock://}"

# The demo's upstream alerts endpoint fails one ticket in ten once (a realistic mode).
# MOCK_ARGS="" gives the brief's harsh default (every ticket's first two attempts fail,
# so the breaker keeps tripping and alerts arrive slowly, about ten a minute).
MOCK_ARGS="${MOCK_ARGS---notify-fail-share 0.1 --notify-fail-first-attempts 1}"
# shellcheck disable=SC2086
"$BIN/python" -m mock_api --host 127.0.0.1 --port 9000 --quiet $MOCK_ARGS &
MOCK_PID=$!
"$BIN/gunicorn" -c gunicorn.conf.py wsgi:app &
APP_PID=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$APP_PID" "$MOCK_PID" 2>/dev/null || true
  wait "$APP_PID" "$MOCK_PID" 2>/dev/null || true
  echo "stopped mock upstream and ticketsvc"
}
trap stop INT TERM EXIT

for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:8000/health >/dev/null 2>&1; then break; fi
  sleep 0.2
done
echo
echo "ticketsvc:     http://127.0.0.1:8000   (docs: /docs, health: /health)"
echo "mock upstream: http://127.0.0.1:9000   (report: /admin/report)"
echo "try: curl -X POST 'http://127.0.0.1:8000/ingest/run?tenant_id=tenant_a'"
echo "Ctrl-C stops both."
wait -n "$APP_PID" "$MOCK_PID"
