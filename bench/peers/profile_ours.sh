#!/usr/bin/env bash
# Profile our interface server and worker under one load (py-spy), as the
# benchmark runs them: both and a private Redis pinned to CPU 0, load on CPU 1.
#
#   bash bench/peers/profile_ours.sh http   # wrk -c10 on /hello/
#   bash bench/peers/profile_ours.sh ws     # 50 WebSocket echo clients
#
# Writes collapsed stacks (flamegraph.pl / speedscope input) and a top list
# of the hottest functions to $OUT (default /tmp/bench-peers/profile). By default
# only samples holding the GIL count (PYSPY_FLAGS=--gil): py-spy cannot tell idle
# threads here, so without it waits in Condition.wait and recv dominate.
# py-spy comes from PyPI into its own venv ($PYSPY_VENV, default /tmp/pyspy-venv).
set -euo pipefail
load="${1:-http}"
secs="${SECS:-15}"
here="$(cd "$(dirname "$0")" && pwd)"
py="${BENCH_OURS_PYTHON:-/work/venv/bin/python}"
root="${BENCH_PEERS_ROOT:-/tmp/bench-peers}"
out="${OUT:-$root/profile}"
pyspy_venv="${PYSPY_VENV:-/tmp/pyspy-venv}"
port="${PORT:-8790}"
rport="${REDIS_PORT:-6398}"
mkdir -p "$out"
[[ -x "$pyspy_venv/bin/py-spy" ]] || { python3 -m venv "$pyspy_venv"; "$pyspy_venv/bin/pip" install -q py-spy; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

taskset -c 0 redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no \
    >"$out/redis.log" 2>&1 &
pids+=($!)
sleep 0.5
export BENCH_REDIS_URL="redis://127.0.0.1:$rport/13" PYTHONPATH="$here/projects/ours"
cd "$here/projects/ours"
taskset -c 0 "$py" manage.py runworker >"$out/worker.log" 2>&1 &
wpid=$!; pids+=($wpid)
taskset -c 0 "$py" manage.py runwsserver --accept-all --no-compression --ping-interval 0 \
    "127.0.0.1:$port" >"$out/server.log" 2>&1 &
spid=$!; pids+=($spid)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/hello/" >/dev/null && break; sleep 0.2; done

"$pyspy_venv/bin/py-spy" record --pid "$spid" --threads ${PYSPY_FLAGS---gil} --duration "$((secs + 2))" --rate 250 \
    --format raw -o "$out/server-$load.txt" >/dev/null 2>&1 &
s1=$!
"$pyspy_venv/bin/py-spy" record --pid "$wpid" ${PYSPY_FLAGS---gil} --duration "$((secs + 2))" --rate 250 \
    --format raw -o "$out/worker-$load.txt" >/dev/null 2>&1 &
s2=$!
sleep 1
if [[ "$load" == http ]]; then
    taskset -c 1 wrk -t1 -c10 -d"${secs}s" --latency "http://127.0.0.1:$port/hello/" | tee "$out/load-$load.txt"
else
    taskset -c 1 "$root/client/bin/python" "$here/loadgen_ws.py" echo \
        --url "ws://127.0.0.1:$port/ws/echo/" --clients 50 --duration "$secs" | tee "$out/load-$load.txt"
fi
wait "$s1" "$s2" || true

# hottest functions: share of samples a function is on the stack (total) and on top (self)
for f in "$out/server-$load.txt" "$out/worker-$load.txt"; do
    python3 - "$f" <<'PY'
import collections, sys
total = collections.Counter(); own = collections.Counter(); n = 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    if not stack:
        continue
    c = int(count); n += c
    frames = stack.split(";")
    for fr in set(frames):
        total[fr] += c
    own[frames[-1]] += c
print(f"== {sys.argv[1]}: {n} samples")
print("-- self")
for fr, c in own.most_common(15):
    print(f"{100 * c / n:5.1f}%  {fr[:150]}")
print("-- total")
for fr, c in total.most_common(25):
    print(f"{100 * c / n:5.1f}%  {fr[:150]}")
PY
done | tee "$out/top-$load.txt"
