#!/usr/bin/env bash
# bench/autobahn.sh [PROFILE]
#
# Runs the Autobahn TestSuite fuzzing client against runwsserver + one
# runworker of the echo test project (tests/projects/echo_project, path
# /echo/) and prints "N passed, N failed, N skipped".
#
#   PROFILE              nocompress1m (default) | quick | nocompress | full
#   CHANNELS_AB_BACKEND  redis (default) | database
#   CONFORMANCE          the conformance kit (default: ../shared/conformance)
#   PYTHON               interpreter with the project installed (default: /work/venv/bin/python)
#
# Needs a runner: python3 -m venv /tmp/kosoku-venv && /tmp/kosoku-venv/bin/pip install kosoku==0.1.0
# Results are recorded in bench/autobahn.md.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${1:-nocompress1m}"
BACKEND="${CHANNELS_AB_BACKEND:-redis}"
CONFORMANCE="${CONFORMANCE:-$ROOT/../shared/conformance}"
PYTHON="${PYTHON:-/work/venv/bin/python}"
PORT="${PORT:-$($PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
WORK="$(mktemp -d /tmp/channels-autobahn.XXXXXX)"

export DJANGO_SETTINGS_MODULE=echo_project.settings
export PYTHONPATH="$ROOT/tests/projects:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export CHANNELS_TEST_BACKEND="$BACKEND" CHANNELS_TEST_SQLITE="$WORK/db.sqlite3"
if [ "$BACKEND" = redis ]; then
  export CHANNELS_TEST_REDIS="${CHANNELS_TEST_REDIS:-redis://127.0.0.1:6379/0}"
  export CHANNELS_TEST_PREFIX="ab$$"
fi
# Autobahn sends up to 1 MiB messages (nocompress1m) or 16 MiB (other profiles).
MAXMSG=1048576
case "$PROFILE" in nocompress|full) MAXMSG=16777216 ;; esac
export CHANNELS_TEST_MAX_MESSAGE_SIZE=$((MAXMSG * 2))

$PYTHON -m django migrate --noinput -v 0
$PYTHON -m django runworker -v 0 > "$WORK/worker.log" 2>&1 &
WORKER=$!
COMPRESS=--no-compression
case "$PROFILE" in full) COMPRESS= ;; esac
$PYTHON -m django runwsserver "127.0.0.1:$PORT" -v 0 $COMPRESS \
  --max-message-size "$MAXMSG" --max-frame-size "$MAXMSG" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER $WORKER 2>/dev/null; wait $SERVER $WORKER 2>/dev/null' EXIT
for _ in $(seq 100); do
  grep -q "Listening on" "$WORK/server.log" && break
  sleep 0.1
done
ABTS_PROFILE="$PROFILE" ABTS_OUT="$WORK/report" ABTS_AGENT=channels-runwsserver \
  bash "$CONFORMANCE/run_autobahn.sh" 127.0.0.1 "$PORT" echo/
echo "report: $WORK/report/index.json"
