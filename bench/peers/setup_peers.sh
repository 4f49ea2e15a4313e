#!/usr/bin/env bash
# Create one virtualenv per benchmark peer under $BENCH_PEERS_ROOT
# (default /tmp/bench-peers/<name>).  Idempotent: a venv whose marker file
# records the same requirement set is left alone; anything else is rebuilt.
#
#   bash bench/peers/setup_peers.sh                 # all peers
#   bash bench/peers/setup_peers.sh channels4 ours  # some of them
#
# Peers:
#   ours       this repository (editable) + redis-py + websockets (client)
#   channels4  channels 4.3.2 + daphne 4.2.3 + channels_redis 4.3.0, redis 7.4.1, Django 5.2
#   channels1  channels 1.1.8 + daphne 1.4.2 + asgi_redis 1.4.3 on Django 2.1.15,
#              autobahn/redis/txredisapi pinned, msgpack-python 0.5.6 rebuilt
#              from the sdist with Cython < 3 (see shared PEERS.md)
#   uvicorn    uvicorn[standard] + Django 5.2 (HTTP ceiling)
#   client     the load generator's venv: websockets (asyncio client)
set -euo pipefail

ROOT="${BENCH_PEERS_ROOT:-/tmp/bench-peers}"
PY="${BENCH_PYTHON:-python3.11}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$ROOT"

log() { printf '== %s\n' "$*" >&2; }

# make_venv NAME SPEC... : (re)create venv NAME unless its marker matches SPEC
make_venv() {
    local name="$1"; shift
    local dir="$ROOT/$name"
    local want
    want="$(printf '%s\n' "$@")"
    if [[ -x "$dir/bin/python" && -f "$dir/.bench-spec" ]] \
        && [[ "$(cat "$dir/.bench-spec")" == "$want" ]]; then
        log "$name: up to date ($dir)"
        return 1
    fi
    log "$name: creating $dir"
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip 'setuptools<70' wheel
    return 0
}

mark_done() { printf '%s\n' "${@:2}" > "$ROOT/$1/.bench-spec"; }

setup_client() {
    local spec=("websockets==15.0.1")
    if make_venv client "${spec[@]}"; then
        "$ROOT/client/bin/pip" install -q "${spec[@]}"
        mark_done client "${spec[@]}"
    fi
}

setup_channels4() {
    local spec=("Django>=5.2,<5.3" "channels==4.3.2" "daphne==4.2.3"
                "channels_redis==4.3.0" "redis==7.4.1")
    if make_venv channels4 "${spec[@]}"; then
        "$ROOT/channels4/bin/pip" install -q "${spec[@]}"
        mark_done channels4 "${spec[@]}"
    fi
}

setup_uvicorn() {
    local spec=("Django>=5.2,<5.3" "uvicorn[standard]")
    if make_venv uvicorn "${spec[@]}"; then
        "$ROOT/uvicorn/bin/pip" install -q "${spec[@]}"
        mark_done uvicorn "${spec[@]}"
    fi
}

setup_ours() {
    # our project, installed editable from this checkout, with redis-py
    local spec=("-e $REPO" "redis>=5" "msgpack")
    if make_venv ours "${spec[@]}"; then
        "$ROOT/ours/bin/pip" install -q -e "$REPO" "redis>=5" msgpack
        mark_done ours "${spec[@]}"
    fi
}

setup_channels1() {
    local spec=("Django==2.1.15" "channels==1.1.8" "daphne==1.4.2"
                "asgi_redis==1.4.3" "autobahn==24.4.2" "redis==2.10.6"
                "txredisapi==1.6.0" "msgpack-python==0.5.6(cython<3 rebuild)")
    if ! make_venv channels1 "${spec[@]}"; then return 0; fi
    local pip="$ROOT/channels1/bin/pip"
    local build="$ROOT/_build/msgpack-python"
    # 1. everything but msgpack-python's native build
    "$pip" install -q "Django==2.1.15" "channels==1.1.8" "daphne==1.4.2" \
        "asgi_redis==1.4.3" "autobahn==24.4.2" "redis==2.10.6" "txredisapi==1.6.0"
    # 2. msgpack-python 0.5.6 from the sdist, compiled with Cython < 3 after
    #    removing the shipped (stale, Python-3.11-incompatible) .cpp files;
    #    without this pip silently installs the pure-Python fallback.
    "$pip" install -q "cython<3"
    rm -rf "$build" && mkdir -p "$build"
    "$pip" download -q --no-deps --no-binary :all: -d "$build" "msgpack-python==0.5.6"
    tar -xzf "$build"/msgpack-python-0.5.6.tar.gz -C "$build"
    find "$build/msgpack-python-0.5.6/msgpack" -name '*.cpp' -delete
    "$pip" uninstall -q -y msgpack-python msgpack >/dev/null 2>&1 || true
    "$pip" install -q --no-build-isolation --no-deps "$build/msgpack-python-0.5.6"
    # 3. check: the compiled unpacker and the old API asgi_redis uses
    "$ROOT/channels1/bin/python" - <<'PY'
import msgpack, msgpack._unpacker  # noqa: F401  (fails on the fallback)
assert msgpack.version[:2] == (0, 5), msgpack.version
msgpack.unpackb(msgpack.packb({"a": b"x"}), encoding="utf8")
print("msgpack", msgpack.version, "compiled")
PY
    mark_done channels1 "${spec[@]}"
}

peers=("$@")
if [[ ${#peers[@]} -eq 0 ]]; then
    peers=(client channels4 uvicorn ours channels1)
fi
for p in "${peers[@]}"; do
    "setup_$p"
done
log "done: $(ls "$ROOT")"
