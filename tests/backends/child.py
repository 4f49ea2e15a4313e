"""Code run in child processes by the conformance suite (spawned, so it
configures Django from scratch, exactly as a separate worker would)."""

from __future__ import annotations


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
    spec: dict, channels: list[str], quiet: float, out, exchange: bool = False
) -> None:
    """Receive from ``channels`` until nothing came for ``quiet`` seconds;
    put the list of received ``n`` values on the ``out`` queue. With
    ``exchange``, receive as :func:`exchange_until_quiet` does."""
    backend = build_backend_in_child(spec)
    got = []
    out.put("ready")
    if exchange:
        got = exchange_until_quiet(backend, channels, quiet)
    else:
        while True:
            channel, message = backend.receive_many(channels, block=True, timeout=quiet)
            if channel is None:
                break
            got.append(message["n"])
    backend.close()
    out.put(got)


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
        answers = [(channels[0] + ".answers", {"n": turn.message["n"]})]
