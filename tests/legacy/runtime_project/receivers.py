"""Receivers of the channels signals: each call is recorded in :data:`seen`."""

from channels.signals import consumer_finished, consumer_started, worker_process_ready, worker_ready

#: One entry per signal received in this process: [signal, sender class, kwargs keys].
seen: list[list] = []


def _recorder(name: str):
    def receive(sender, signal, **kwargs):
        sender_class = sender if isinstance(sender, type) else type(sender)
        entry = [name, sender_class.__name__, sorted(kwargs)]
        if "environ" in kwargs:
            entry.append(kwargs["environ"])
        seen.append(entry)

    return receive


_RECEIVERS = {
    signal: _recorder(name)
    for signal, name in [
        (consumer_started, "consumer_started"),
        (consumer_finished, "consumer_finished"),
        (worker_ready, "worker_ready"),
        (worker_process_ready, "worker_process_ready"),
    ]
}


def connect() -> None:
    """Connect every recorder (strong references: they live in _RECEIVERS)."""
    for signal, receiver in _RECEIVERS.items():
        signal.connect(receiver)
