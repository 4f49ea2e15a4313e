"""Django signals a worker sends, with the names and arguments of Channels 1.x.

``consumer_started``
    just before a consumer runs; ``sender`` is the worker class (the test
    client's dispatcher class under ``channels.test``), ``environ={}``.
``consumer_finished``
    just after it returns or raises; ``sender`` as above.
``worker_ready``
    once per worker, when it is about to take its first message;
    ``sender`` is the worker (each thread of ``runworker --threads N`` and
    of ``runserver`` sends its own).
``worker_process_ready``
    once per ``runworker`` process, before its workers start; ``sender`` is
    the worker (or the group of worker threads). ``runserver`` does not send
    it, as Channels 1.x did not.

Unlike Channels 1.x, ``django.db.close_old_connections`` is not a receiver of
``consumer_finished``: the worker closes stale connections around every
consumer itself, and the test client keeps a test's transaction open, so
disconnecting it in tests (a 1.x idiom) is unnecessary and harmless.
"""

from django.dispatch import Signal

__all__ = ["consumer_started", "consumer_finished", "worker_ready", "worker_process_ready"]

consumer_started = Signal()
consumer_finished = Signal()
worker_ready = Signal()
worker_process_ready = Signal()
