"""Rules for channel and group names, defined once for every backend.

A name is ASCII letters, digits, ``.``, ``-`` and ``_``, at most 100
characters. A channel name may hold one ``!``: everything up to and including
it names the *process inbox* that receives the channel (docs/architecture.rst,
"The ``!`` process inbox"), so one blocking receive serves every reply
channel of an interface server.
"""

from __future__ import annotations

import re
import secrets

from .exceptions import InvalidChannelName

MAX_NAME_LENGTH = 100

_PLAIN = r"[a-zA-Z0-9\-_.]+"
_CHANNEL_RE = re.compile(rf"^{_PLAIN}(!{_PLAIN[:-1]}*)?$")
_GROUP_RE = re.compile(rf"^{_PLAIN}$")


def validate_channel_name(name: object, *, receive: bool = False) -> str:
    """Return ``name`` if it is a valid channel name, else raise.

    With ``receive=True`` a bare inbox name ending in ``!`` is also valid,
    since that is what a receiver listens on.
    """
    _check_str(name, "channel")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidChannelName(
            f"channel name {name[:20]!r}... is {len(name)} characters; "
            f"the limit is {MAX_NAME_LENGTH}"
        )
    if not _CHANNEL_RE.match(name):
        raise InvalidChannelName(
            f"invalid channel name {name!r}: use ASCII letters, digits, '.', '-', '_' "
            "and at most one '!'"
        )
    if name.endswith("!") and not receive:
        raise InvalidChannelName(
            f"cannot send to {name!r}: it names a process inbox; send to a channel "
            "made by new_channel()"
        )
    return name


def validate_group_name(name: object) -> str:
    """Return ``name`` if it is a valid group name, else raise."""
    _check_str(name, "group")
    if len(name) > MAX_NAME_LENGTH or not _GROUP_RE.match(name):
        raise InvalidChannelName(
            f"invalid group name {name!r}: use at most {MAX_NAME_LENGTH} ASCII "
            "letters, digits, '.', '-' or '_'"
        )
    return name


def _check_str(name: object, kind: str) -> None:
    if not isinstance(name, str):
        raise InvalidChannelName(f"{kind} name must be a str, not {type(name).__name__}")


def is_process_local(name: str) -> bool:
    """Whether ``name`` is delivered to a process inbox (it holds ``!``)."""
    return "!" in name


def inbox_of(name: str) -> str:
    """The inbox name (up to and including ``!``) that receives ``name``.

    A channel without ``!`` is its own inbox.
    """
    bang = name.find("!")
    return name if bang < 0 else name[: bang + 1]


def random_suffix() -> str:
    """24 characters carrying 128 random bits, safe inside a channel name."""
    return secrets.token_hex(16)


def new_channel_name(prefix: str) -> str:
    """A fresh, unguessable channel name starting with ``prefix``.

    ``prefix`` ending in ``!`` gives a process-local channel of that inbox;
    a plain prefix gives ``prefix`` + ``.`` + random characters, as does a
    prefix ending in ``?`` (the Channels 1.x spelling).
    """
    if prefix.endswith("?"):
        prefix = prefix[:-1]
    if prefix.endswith("!"):
        validate_channel_name(prefix, receive=True)
        name = prefix + random_suffix()
    else:
        name = f"{prefix}.{random_suffix()}"
    return validate_channel_name(name)
