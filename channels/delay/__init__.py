"""``channels.delay``: the delay server (the ASGI delay protocol of Channels 1.x).

Add ``"channels.delay"`` to INSTALLED_APPS, run ``manage.py migrate`` and one
``manage.py rundelay`` process; then a message sent to ``asgi.delay``::

    Channel("asgi.delay").send(
        {"channel": "example_channel", "content": {"x": 1}, "delay": 10 * 1000},
        immediately=True,
    )

reaches ``example_channel`` with content ``{"x": 1}`` ten seconds later. The
pending messages are rows of a table (:class:`~channels.delay.models.DelayedMessage`),
so they survive a restart of the delay server. See :mod:`channels.delay.server`.
"""
