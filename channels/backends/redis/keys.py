"""The names of the Redis backend's keys: its PREFIX, the key families of the
layout (:mod:`.scripts`), and telling its keys from everyone else's, which is
what ``flush`` relies on to delete nothing of another application or
deployment sharing the server."""

from __future__ import annotations

import re
from collections.abc import Callable

from ...exceptions import InvalidChannelName
from ...names import validate_channel_name, validate_group_name

#: The key families: letter, what the keys hold, and what follows
#: ``<PREFIX><letter>:`` in their names. Those names never hold ``:``, while
#: every other PREFIX that starts with ours goes on with one
#: (``<PREFIX>staging:q:...``), so no key of theirs passes :func:`is_own_key`.
KEY_FAMILIES = (
    ("q", "queued messages", "<channel>"),
    ("n", "message counts of process inboxes", "<inbox>"),
    ("g", "group memberships", "<group>"),
    ("w", "wake-up keys of blocked receives", "<token>"),
    ("h", "heartbeats of workers and interface servers", "<process>"),
)


def own_prefix(prefix: str) -> str:
    """``PREFIX`` as keys begin: ending in ``:``, so that no other
    application's keys (``myapp_cache:...``, ``myappointments:...``) start
    with ours."""
    return prefix if prefix.endswith(":") else prefix + ":"


def _valid(check: Callable[[str], object]) -> Callable[[str], bool]:
    def valid(name: str) -> bool:
        try:
            check(name)
        except InvalidChannelName:
            return False
        return True

    return valid


_NAME_RULES: dict[str, Callable[[str], bool]] = {
    "q": _valid(lambda name: validate_channel_name(name, receive=True)),
    "n": _valid(lambda name: validate_channel_name(name, receive=True)),
    "g": _valid(validate_group_name),
    "w": lambda name: re.fullmatch(r"[0-9a-f]+", name) is not None,
    "h": bool,
}


def is_own_key(prefix: str, key: bytes) -> bool:
    """Whether ``key`` is one the backend of (normalised) ``prefix`` makes."""
    if not key.startswith(prefix.encode()):
        return False
    try:
        rest = key[len(prefix.encode()) :].decode("ascii")
    except UnicodeDecodeError:
        return False
    family, colon, name = rest.partition(":")
    rule = _NAME_RULES.get(family)
    return rule is not None and bool(colon) and ":" not in name and rule(name)


def family_pattern(prefix: str) -> str:
    """A SCAN glob matching every key family of ``prefix`` (and a few keys
    that :func:`is_own_key` then turns away)."""
    return glob_escape(prefix) + "[" + "".join(f for f, _, _ in KEY_FAMILIES) + "]:*"


def glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
