"""A seeded fuzz run of the front door: malformed HTTP request heads and
bodies, WebSocket handshakes with odd extension offers, and frames that are
fragmented, compressed, masked or sized wrongly, sent over raw sockets to a
real ``runwsserver``. Afterwards the server still serves HTTP and WebSocket
clients, its memory is bounded and its log holds no traceback.

Bounded: at most ``CASES`` cases or ``SECONDS`` seconds, whichever comes
first. Reproducible: the seed is printed (and named in every failure); run
again with ``CHANNELS_FUZZ_SEED=<seed>``. Case ``i`` is generated from
``seed`` and ``i`` alone, so the cases are the same whatever the timing.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .harness import RawWebSocket, wait_until
from .limits import MIB

pytestmark = pytest.mark.timeout(240)

CASES = int(os.environ.get("CHANNELS_FUZZ_CASES", 4000))
SECONDS = float(os.environ.get("CHANNELS_FUZZ_SECONDS", 45))
#: Interface RSS growth allowed over the whole run.
RSS_BOUND = 64 * MIB

HEAD_TIMEOUT = 2  # seconds; slow cases end with a 408 this soon


# --- HTTP ----------------------------------------------------------------------

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /echo/?a=1&b=%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=b\r\n\r\n",
    b"POST /echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /digest/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    b"HEAD /stream/ HTTP/1.0\r\n\r\n",
    b"GET http://127.0.0.1/echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"POST /echo/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /stream/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /__channels__/health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
]

ODD_BYTES = [b"\r", b"\n", b"\r\n", b"\0", b" ", b"\t", b":", b"\xff", b"%", b",", b";", b"\x7f"]
ODD_HEADERS = [
    b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity",
    b"Transfer-Encoding:\r\n chunked", b"Content-Length: -1",
    b"Content-Length: 99999999999999999999", b"Content-Length: 0x10", b"Content-Length: 5, 5",
    b"Content-Length:  7 ", b"Host: other", b"Host:", b"Expect: 100-continue",
    b"Connection: close", b"Connection: keep-alive, Upgrade", b"Upgrade: websocket",
    b"X-Forwarded-For: <script>", b" leading: space", b"No-Colon", b"\xff\xfe: \x80",
    b"Cookie: " + b"a=" + b"b" * 3000, b"Sec-WebSocket-Version: 8",
]  # fmt: skip


def mutate_http(rng: random.Random) -> list[bytes]:
    """A request from the seeds, mutated a few times, cut into pieces."""
    data = bytearray(rng.choice(SEEDS))
    for _ in range(rng.randint(1, 4)):
        what = rng.randrange(9)
        at = rng.randrange(len(data) + 1)
        if what == 0:  # flip a byte
            if data:
                data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif what == 1:
            data[at:at] = rng.choice(ODD_BYTES)
        elif what == 2:  # delete a run
            del data[at : at + rng.randint(1, 8)]
        elif what == 3:  # add a header line after the request line
            line_end = data.find(b"\r\n") + 2
            data[line_end:line_end] = rng.choice(ODD_HEADERS) + b"\r\n"
        elif what == 4:  # repeat a line
            lines = bytes(data).split(b"\r\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = bytearray(b"\r\n".join(lines))
        elif what == 5:  # a very long line or many headers
            line_end = data.find(b"\r\n") + 2
            if rng.random() < 0.5:
                data[line_end:line_end] = b"X-Long: " + b"a" * rng.randint(1000, 20000) + b"\r\n"
            else:
                many = b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(rng.randint(50, 300)))
                data[line_end:line_end] = many
        elif what == 6:  # an odd method, target or version
            first, _, rest = bytes(data).partition(b"\r\n")
            parts = first.split(b" ")
            i = rng.randrange(len(parts))
            parts[i] = rng.choice(
                [b"", b"GET", b"BREW", b"/%ff%fe", b"*", b"HTTP/9.9", b"HTTP/1.1x", b"//",
                 b"/" + bytes(rng.randrange(256) for _ in range(20)), b"\x16\x03\x01"]
            )  # fmt: skip
            data = bytearray(b" ".join(parts) + b"\r\n" + rest)
        elif what == 7:  # truncate
            del data[at:]
        else:  # a random chunked body
            body = b"".join(
                rng.choice([b"%x\r\n" % n + b"x" * n + b"\r\n" for n in (0, 1, 16, 4096)]
                           + [b"zz\r\n", b"-1\r\n", b"ffffffffffffffff\r\n", b"3\r\nab"])
                for _ in range(rng.randint(1, 5))
            )  # fmt: skip
            data += body
    return split(rng, bytes(data))


def split(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` in 1 to 4 pieces (sent with short pauses between them)."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(0, 3)))
    pieces, start = [], 0
    for cut in [*cuts, len(data)]:
        pieces.append(data[start:cut])
        start = cut
    return [p for p in pieces if p]


# --- WebSocket -----------------------------------------------------------------

EXTENSION_OFFERS = [
    "", "permessage-deflate", "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_max_window_bits=8; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=7", "permessage-deflate; bogus=1",
    "permessage-deflate; client_max_window_bits=16", "permessage-deflate, permessage-deflate",
    "x-webkit-deflate-frame", ";;;", "permessage-deflate; server_no_context_takeover=yes",
]  # fmt: skip


def handshake(rng: random.Random) -> tuple[bytes, bool]:
    """An upgrade head (sometimes odd) and whether it offers compression."""
    offer = rng.choice(EXTENSION_OFFERS)
    head = (
        b"GET /echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    if offer:
        head += b"Sec-WebSocket-Extensions: " + offer.encode() + b"\r\n"
    if rng.random() < 0.1:
        head += b"Sec-WebSocket-Protocol: " + rng.choice([b"chat", b"", b",,", b"\xff"]) + b"\r\n"
    return head + b"\r\n", "permessage-deflate" in offer


def frame(
    rng: random.Random, opcode: int, payload: bytes, fin: bool = True, rsv: int = 0
) -> bytes:
    """One frame, usually well formed: sometimes unmasked, with a length
    encoded too long, or announcing more or less than it carries."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    announced = n if rng.random() < 0.9 else rng.choice([0, n + 10, max(0, n - 1), 2**63 - 1])
    masked = rng.random() < 0.95
    if announced < 126 and rng.random() < 0.95:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | announced)
    elif announced < 65536 and rng.random() < 0.9:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, announced)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, announced)
    if not masked:
        return head + payload
    mask = bytes(rng.randrange(256) for _ in range(4))
    key = (mask * (n // 4 + 1))[:n]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
    return head + mask + masked.to_bytes(n, "big")


def deflated(data: bytes) -> bytes:
    """``data`` as permessage-deflate sends it (raw deflate, tail removed)."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def payload(rng: random.Random) -> bytes:
    """Text, invalid UTF-8, binary, or a highly compressible run."""
    kind = rng.randrange(5)
    if kind == 0:
        return "héllo wörld ✓".encode() * rng.randint(1, 20)
    if kind == 1:
        return b"ok \xff\xfe\xc3"
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    if kind == 3:
        return b"a" * rng.choice([1000, 70000, 1024 * 1024])
    return b""


def frames(rng: random.Random, compressed: bool) -> list[bytes]:
    """A sequence of frames: messages, fragments, controls, closes, garbage."""
    out = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(9)
        data = payload(rng)
        rsv = 0
        if compressed and rng.random() < 0.5:
            data, rsv = (deflated(data) if rng.random() < 0.8 else data), 4
        elif rng.random() < 0.03:
            rsv = rng.randrange(8)
        if kind <= 2:
            out.append(frame(rng, rng.choice([1, 2]), data, rsv=rsv))
        elif kind == 3:  # a fragmented message, a ping in the middle sometimes
            pieces = split(rng, data) or [b""]
            for i, piece in enumerate(pieces):
                opcode = rng.choice([1, 2]) if i == 0 else 0
                out.append(frame(rng, opcode, piece, fin=i == len(pieces) - 1,
                                 rsv=rsv if i == 0 else 0))  # fmt: skip
                if rng.random() < 0.3:
                    out.append(frame(rng, 9, b"ping"))
        elif kind == 4:  # a continuation nobody started
            out.append(frame(rng, 0, data[:100], fin=rng.random() < 0.5))
        elif kind == 5:  # control frames, sometimes too long or fragmented
            opcode = rng.choice([9, 10])
            size = rng.choice([10, 125, 200])
            out.append(frame(rng, opcode, data[:size], fin=rng.random() < 0.9))
        elif kind == 6:  # a reserved opcode
            out.append(frame(rng, rng.choice([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), data[:50]))
        elif kind == 7:  # a close with an odd code or reason
            code = rng.choice([1000, 1001, 1004, 1005, 1006, 999, 2999, 4000, 5000, 65535])
            reason = rng.choice([b"", b"bye", b"\xff\xfe", b"x" * 130])
            body = struct.pack("!H", code) + reason if rng.random() < 0.9 else b"x"
            out.append(frame(rng, 8, body))
        else:  # raw garbage
            out.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    return out


# --- running cases ---------------------------------------------------------------


def case(seed: int, index: int) -> tuple[str, list[bytes]]:
    """What case ``index`` of the run ``seed`` sends, in pieces."""
    rng = random.Random(f"{seed}:{index}")
    if rng.random() < 0.5:
        return "http", mutate_http(rng)
    head, compressed = handshake(rng)
    return "websocket", [head, *frames(rng, compressed)]


def send(port: int, pieces: list[bytes], abort: bool) -> bytes:
    """Send ``pieces`` with short pauses, close; the start of the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    answer = b""
    try:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:
                break  # the server closed: that is an answer too
            time.sleep(0.005)
        sock.settimeout(0.2)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and len(answer) < 4096:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not chunk:
                break
            answer += chunk
        return answer[:4096]
    finally:
        if abort:  # a reset instead of a close
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def serves(port: int) -> bool:
    """Whether HTTP and a WebSocket echo both work."""
    if requests.get(f"http://127.0.0.1:{port}/", timeout=10).text != "hello\n":
        return False
    ws = RawWebSocket(port)
    try:
        ws.send_frame(0x1, b"still here")
        ws.sock.settimeout(10)
        data = ws.buffer
        while len(data) < 12:
            data += ws.sock.recv(4096)
        return data[2:12] == b"still here"
    finally:
        ws.close()


def test_fuzz_the_front_door(fast_stack):
    seed = int(os.environ.get("CHANNELS_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fuzz seed {seed} (rerun with CHANNELS_FUZZ_SEED={seed})")
    # Short timeouts, so that connections the fuzzing left half open (a
    # socket paused on a full websocket.receive does not see its client go)
    # end within seconds rather than the production 30-50 s.
    server, port = fast_stack.start_server(
        "--head-timeout", str(HEAD_TIMEOUT), "--max-message-size", "262144",
        "--max-frame-size", "262144", "--http-timeout", "10", "--full-wait", "5",
        "--ping-interval", "5", "--ping-timeout", "5",
    )  # fmt: skip
    assert serves(port)
    before = server.rss()
    started = time.monotonic()

    def one(index: int) -> tuple[str, bytes]:
        if time.monotonic() - started > SECONDS:
            return "not run", b""
        kind, pieces = case(seed, index)
        answer = send(port, pieces, abort=random.Random(f"{seed}:{index}:abort").random() < 0.2)
        return kind, answer

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(CASES)))
    took = time.monotonic() - started
    kinds = [kind for kind, _ in results]
    statuses = collections.Counter(
        answer.split(b" ", 2)[1].decode("latin-1")
        for _, answer in results
        if answer.startswith(b"HTTP/1.")
    )
    print(f"fuzz seed {seed}: statuses {dict(statuses.most_common())}")
    # Malformed input is the client's fault: never a 500 (the server's).
    broken = [
        (index, answer[:200])
        for index, (_, answer) in enumerate(results)
        if answer.startswith((b"HTTP/1.1 500", b"HTTP/1.0 500"))
    ]
    assert not broken, f"seed {seed}: 500 for cases {broken[:5]}"
    print(
        f"fuzz seed {seed}: {len(kinds) - kinds.count('not run')} cases "
        f"({kinds.count('http')} HTTP, {kinds.count('websocket')} WebSocket) in {took:.1f} s"
    )

    assert server.popen.poll() is None, f"seed {seed}: the server died"
    # Every fuzzing connection is gone within the timeouts (the health
    # probe is the one left), and the server serves.
    health = f"http://127.0.0.1:{port}/__channels__/health"
    wait_until(lambda: requests.get(health, timeout=5).json()["connections"] == 1, timeout=30)
    assert serves(port)
    growth = server.rss() - before
    print(f"fuzz seed {seed}: interface RSS grew {growth / MIB:.1f} MiB")
    assert growth < RSS_BOUND, f"seed {seed}: RSS grew {growth / MIB:.1f} MiB"
    output = server.output()
    assert "Traceback" not in output and "Unhandled error" not in output, (
        f"seed {seed}: the server logged a traceback:\n{output[-6000:]}"
    )
