"""The names of the Redis backend's keys: the key families of the layout
(:mod:`.scripts`) under its PREFIX, and telling its keys from everyone
else's, which is what ``flush`` relies on to delete nothing of another
application or deployment sharing the server.

A key of ours is ``PREFIX`` + one family letter + ``:`` + a name without
``:``. The key of another deployment whose PREFIX extends ours,
``PREFIX + x`` with ``x`` non-empty, is ``PREFIX + x + letter + ":" + name``:
to pass for ours, ``x`` would have to start with a family letter followed by
``:``, and then the rest of its key, which holds another ``:``, would be our
"name". So no deployment's keys are ever taken, whatever the PREFIXes, and
another application's only if they are named exactly like ours (with
``PREFIX="myapp"``, ``myappq:<word>``; a PREFIX ending in ``:`` makes even
that a key inside our own namespace).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ...exceptions import InvalidChannelName
from ...names import validate_channel_name, validate_group_name

#: The key families: letter, what the keys hold, and what follows
#: ``<PREFIX><letter>:`` in their names (which never hold ``:``).
KEY_FAMILIES = (
    ("q", "queued messages", "<channel>"),
    ("n", "message counts of process inboxes", "<inbox>"),
    ("g", "group memberships", "<group>"),
    ("w", "wake-up keys of blocked receives", "<token>"),
    ("h", "heartbeats of workers and interface servers", "<process>"),
)


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
    """Whether ``key`` is one the backend of ``prefix`` makes."""
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
