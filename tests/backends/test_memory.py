"""The memory backend against the conformance suite."""

from channels.backends.memory import InMemoryChannelBackend

from .conformance import BackendConformance, OpsConformance


class TestInMemoryBackend(BackendConformance, OpsConformance):
    cross_process = False

    def make_backend(self, **options):
        # One store shared by every backend object of a test, as in a process.
        if getattr(self, "_shared", None) is None:
            self._shared = InMemoryChannelBackend("default", **options)
            return self._shared
        backend = InMemoryChannelBackend("default", **options)
        backend._queues = self._shared._queues
        backend._counts = self._shared._counts
        backend._groups = self._shared._groups
        backend._heartbeat_records = self._shared._heartbeat_records
        backend._cond = self._shared._cond
        return backend
