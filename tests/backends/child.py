"""Code run in child processes by the conformance suite (spawned, so it
configures Django from scratch, exactly as a separate worker would)."""

from __future__ import annotations

import time


def build_backend_in_child(spec: dict):
    """Configure Django from ``spec["settings"]`` and build the backend."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**spec["settings"])
        django.setup()
    from channels.backends.registry import build_backend

    return build_backend("default", dict(spec["backend"]))


def receive_until_quiet(
    spec: dict, channels: list[str], quiet: float, out, mode: str = "receive"
) -> None:
    """Receive from ``channels`` until nothing came for ``quiet`` seconds;
    put the list of received ``n`` values on the ``out`` queue. ``mode``:
    see :func:`take_until_quiet`."""
    backend = build_backend_in_child(spec)
    out.put("ready")
    got = take_until_quiet(backend, channels, quiet, mode)
    backend.close()
    out.put(got)


#: How long a receiver "works" on each message it took, as a worker runs a
#: consumer. Without it, nothing guarantees that competing receivers share
#: the messages: on SQLite, whichever thread wins the write lock first tends
#: to win it again (the losers' busy handler sleeps), and one receiver could
#: take all 300. The concurrency tests then could not show that several
#: receivers really raced.
WORK_PER_MESSAGE = 0.001


def take_until_quiet(backend, channels: list[str], quiet: float, mode: str) -> list[int]:
    """The ``n`` of every message taken until nothing came for ``quiet``
    seconds: one ``receive_many`` at a time (``"receive"``), up to 10 per
    ``receive_batch`` (``"batch"``), or as :func:`exchange_until_quiet`."""
    if mode == "exchange":
        return exchange_until_quiet(backend, channels, quiet)
    got: list[int] = []
    while True:
        if mode == "batch":
            taken = backend.receive_batch(channels, limit=10, block=True, timeout=quiet)
        else:
            taken = [backend.receive_many(channels, block=True, timeout=quiet)]
        taken = [(channel, message) for channel, message in taken if channel is not None]
        if not taken:
            return got
        got.extend(message["n"] for _, message in taken)
        time.sleep(WORK_PER_MESSAGE * len(taken))


def exchange_until_quiet(backend, channels: list[str], quiet: float) -> list[int]:
    """Take turns as a worker would: answer the message in hand on
    ``<first channel>.answers`` and take the next one in one
    ``send_and_receive``, until nothing came for ``quiet`` seconds."""
    got: list[int] = []
    answers: list = []
    while True:
        turn = backend.send_and_receive(answers, channels, block=True, timeout=quiet)
        assert turn.error is None, turn.error
        if turn.channel is None:
            return got
        got.append(turn.message["n"])
        time.sleep(WORK_PER_MESSAGE)
        answers = [(channels[0] + ".answers", {"n": turn.message["n"]})]
