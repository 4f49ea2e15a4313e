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


def receive_until_quiet(spec: dict, channels: list[str], quiet: float, out) -> None:
    """Receive from ``channels`` until nothing came for ``quiet`` seconds;
    put the list of received ``n`` values on the ``out`` queue."""
    backend = build_backend_in_child(spec)
    got = []
    out.put("ready")
    while True:
        channel, message = backend.receive_many(channels, block=True, timeout=quiet)
        if channel is None:
            break
        got.append(message["n"])
    backend.close()
    out.put(got)
