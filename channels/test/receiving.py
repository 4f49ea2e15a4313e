"""Reading one channel in a test, process-local names included.

A backend receives a process-local channel ``"prefix!suffix"`` only through
its inbox ``"prefix!"`` (docs/architecture.rst, "The ``!`` process inbox").
Channels 1.x tests read such a channel by its full name --
``client.get_next_message(client.reply_channel)`` -- so test helpers read
the inbox instead and keep the messages of the inbox's *other* channels
aside, for the reads that ask for them. Nothing read is lost, and each
channel stays first in, first out.
"""

from __future__ import annotations

import weakref
from collections import deque

from ..backends.base import BaseChannelBackend, Received
from ..names import inbox_of, is_process_local

#: backend -> {full channel name: deque of contents read from the inbox early}
_set_aside: weakref.WeakKeyDictionary[BaseChannelBackend, dict[str, deque]] = (
    weakref.WeakKeyDictionary()
)


def receive_from(backend: BaseChannelBackend, channel: str) -> Received:
    """The next message on ``channel`` without waiting, or ``(None, None)``.

    ``channel`` may be a plain name, an inbox ``"prefix!"`` (any of its
    channels) or one process-local channel ``"prefix!suffix"``.
    """
    aside = _set_aside.setdefault(backend, {})
    if not is_process_local(channel):
        return backend.receive_many([channel])
    inbox = inbox_of(channel)
    wanted = (lambda name: True) if channel == inbox else (lambda name: name == channel)
    for name, waiting in aside.items():
        if waiting and wanted(name):
            return name, waiting.popleft()
    while True:
        name, content = backend.receive_many([inbox])
        if name is None or wanted(name):
            return name, content
        aside.setdefault(name, deque()).append(content)
