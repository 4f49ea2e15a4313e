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


def is_own_key(prefix: str, key: bytes, cluster: bool = False) -> bool:
    """Whether ``key`` is one the backend of ``prefix`` makes (on a Redis
    Cluster, with the hash tags of :class:`KeyLayout`)."""
    if not key.startswith(prefix.encode()):
        return False
    try:
        rest = key[len(prefix.encode()) :].decode("ascii")
    except UnicodeDecodeError:
        return False
    family, colon, name = rest.partition(":")
    rule = _NAME_RULES.get(family)
    if rule is None or not colon or ":" in name:
        return False
    if cluster:
        tag, closed, after = name[1:].partition("}")
        if not name.startswith("{") or not closed:
            return False
        if family == "w":  # {channel}token
            return _NAME_RULES["q"](tag) and rule(after)
        if family == "h":  # {heartbeats}process
            return tag == "heartbeats" and rule(after)
        return after == "" and rule(tag)
    return rule(name)


def family_pattern(prefix: str) -> str:
    """A SCAN glob matching every key family of ``prefix`` (and a few keys
    that :func:`is_own_key` then turns away)."""
    return glob_escape(prefix) + "[" + "".join(f for f, _, _ in KEY_FAMILIES) + "]:*"


def glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class KeyLayout:
    """The key of each thing, under one PREFIX.

    On standalone servers a key is ``PREFIX + letter + ":" + name``. On a
    Redis Cluster the name is wrapped in a hash tag, ``{name}``, so every key
    of one channel (its list and count hash), of one inbox, or of one group
    hashes to one slot, and a script touching them stays on one node. Wake-up
    keys borrow the tag of the channel they wake a wait on; heartbeats all
    share the tag ``{heartbeats}``.
    """

    def __init__(self, prefix: str, cluster: bool = False) -> None:
        self.prefix = prefix
        self.cluster = cluster
        if cluster and ("{" in prefix or "}" in prefix):
            raise ValueError("a PREFIX for Redis Cluster may not hold '{' or '}'")
        # What a script puts around a member's name to make its keys
        # (scripts.fan_out): on a cluster the name goes inside the tag.
        self.open = "{" if cluster else ""
        self.close = "}" if cluster else ""

    def _key(self, family: str, name: str) -> str:
        return f"{self.prefix}{family}:{self.open}{name}{self.close}"

    def queue(self, name: str) -> str:
        """The list of channel or inbox ``name``."""
        return self._key("q", name)

    def counts(self, inbox: str) -> str:
        """The per-channel count hash of ``inbox``."""
        return self._key("n", inbox)

    def group(self, group: str) -> str:
        """The sorted set of ``group``'s members."""
        return self._key("g", group)

    def wake(self, token: str, near: str) -> str:
        """A wake-up key for a wait on channel ``near`` (same slot)."""
        if self.cluster:
            return f"{self.prefix}w:{{{near}}}{token}"
        return f"{self.prefix}w:{token}"

    def heartbeat(self, ident: str) -> str:
        """The heartbeat record of process ``ident``."""
        if self.cluster:
            return f"{self.prefix}h:{{heartbeats}}{ident}"
        return f"{self.prefix}h:{ident}"

    def heartbeat_prefix(self) -> str:
        """What every heartbeat key starts with."""
        return self.heartbeat("")

    def queue_prefix(self) -> str:
        """What every list key starts with."""
        return f"{self.prefix}q:{self.open}"

    def queue_name(self, key: bytes) -> str:
        """The channel or inbox name of list ``key``."""
        name = key.decode()[len(self.queue_prefix()) :]
        return name[: -len(self.close)] if self.close else name

    def script_prefixes(self) -> tuple[str, str, str]:
        """(list prefix, count prefix, closing) for scripts that make keys."""
        return f"{self.prefix}q:{self.open}", f"{self.prefix}n:{self.open}", self.close
