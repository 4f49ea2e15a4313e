"""The message format on the wire, defined once for every backend.

A message is a dict of str keys whose values are str, bytes, int, float,
bool, None, list or dict (tuples travel as lists). It is encoded with msgpack,
so bytes stay bytes and text stays text across any backend.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from .exceptions import InvalidMessage

_ALLOWED = "str, bytes, int, float, bool, None, list or dict"


def _refuse(value: Any) -> Any:
    # msgpack calls this only for types it cannot pack itself.
    raise InvalidMessage(
        f"message values must be {_ALLOWED}; got {type(value).__name__} ({value!r:.60})"
    )


def check_message(message: object) -> dict:
    """Raise :class:`InvalidMessage` unless ``message`` is a dict of str keys."""
    if not isinstance(message, dict):
        raise InvalidMessage(f"a message must be a dict, not {type(message).__name__}")
    for key in message:
        if not isinstance(key, str):
            raise InvalidMessage(f"message keys must be str; got {key!r}")
    return message


# One packer per thread: ``msgpack.packb`` builds (and frees) a packer and
# its buffer on every call, which was more than half the cost of encoding a
# small message. A packer is not thread-safe, hence one each.
_local = threading.local()


def _packer() -> msgpack.Packer:
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True, default=_refuse)
    return packer


def encode(message: dict) -> bytes:
    """Encode a message to bytes, refusing anything outside the format."""
    check_message(message)
    try:
        # (a packer that raises empties its buffer, so it stays usable)
        return _packer().pack(message)
    except InvalidMessage:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        # e.g. an int wider than 64 bits, or a dict nested too deep.
        raise InvalidMessage(f"message cannot be encoded: {exc}") from exc


def decode(data: bytes) -> dict:
    """Decode bytes made by :func:`encode` back into a message dict."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
