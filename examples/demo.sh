#!/usr/bin/env bash
# Run the chat demo: one interface server (HTTP + WebSocket) and two workers,
# on the database channel backend over SQLite -- nothing else to install.
# Open http://127.0.0.1:8000/ in two browser windows. Ctrl+C stops it all.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CHANNELS_VENV:-$root/.venv}"
addr="${1:-127.0.0.1:8000}"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# Install (again) only when pyproject.toml changed since the last install.
stamp="$venv/.channels-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet -e "$root" && touch "$stamp"
fi
py="$venv/bin/python"
cd "$root/examples/chatdemo"
"$py" manage.py migrate --noinput -v 0

trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
trap 'exit 0' INT TERM
"$py" manage.py runworker &
"$py" manage.py runworker &
"$py" manage.py runwsserver --accept-all "$addr" &
echo "Chat demo on http://$addr/ (Ctrl+C to stop)"
wait -n
