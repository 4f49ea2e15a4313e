"""Tables of the database channel backend
(:class:`channels.backends.database.DatabaseChannelBackend`).

The backend reads and writes them with raw SQL where one statement must be
atomic (delivery, capacity-checked inserts); the models exist so that Django
migrations create them and the admin/ORM can inspect queues.

Every row carries ``backend``, the ``CHANNEL_BACKENDS`` alias that wrote it:
several aliases may share one database's tables, and each sees (and
``flush`` deletes) only its own rows, as Redis backends with different
PREFIXes share a server. Its database default is "default", so processes
still running the code from before the column (interface servers outlive a
worker deploy) keep sending into the "default" alias. Heartbeat ids are
unique per process, so they stay unique on their own.
"""

from django.db import models


class QueuedMessage(models.Model):
    """One message waiting on a channel.

    ``inbox`` is what receivers ask for: the channel name itself, or for a
    process-local channel ``prefix!suffix`` its inbox ``prefix!``. ``channel``
    is the full name, returned to the receiver and used for capacity.
    """

    #: Ordered ids give FIFO per channel.
    id = models.BigAutoField(primary_key=True)
    #: The CHANNEL_BACKENDS alias the message was sent through.
    backend = models.CharField(max_length=100, db_default="default")
    inbox = models.CharField(max_length=100)
    channel = models.CharField(max_length=100)
    #: The message as encoded by ``BaseChannelBackend.encode`` (msgpack).
    content = models.BinaryField()
    #: Unix timestamp (seconds) after which the message is never delivered.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_message"
        indexes = [
            # receive: WHERE backend = ? AND inbox IN (...) ORDER BY id LIMIT 1
            models.Index(fields=["backend", "inbox", "id"], name="channels_msg_backend_inbox"),
            # capacity: count(*) WHERE backend = ? AND channel = ? AND expires > ?
            models.Index(
                fields=["backend", "channel", "expires"], name="channels_msg_backend_chan"
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.id} on {self.channel}"


class GroupMembership(models.Model):
    """``channel`` belongs to group ``group_name`` until ``expires``."""

    #: The CHANNEL_BACKENDS alias the membership was added through.
    backend = models.CharField(max_length=100, db_default="default")
    group_name = models.CharField(max_length=100)
    channel = models.CharField(max_length=100)
    #: Unix timestamp (seconds) after which the membership no longer counts.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_group"
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "group_name", "channel"], name="channels_group_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} in {self.group_name}"


class Heartbeat(models.Model):
    """The latest heartbeat of one worker or interface server (``channels status``)."""

    #: The CHANNEL_BACKENDS alias the process beats through.
    backend = models.CharField(max_length=100, db_default="default")
    ident = models.CharField(max_length=200, unique=True)
    #: The heartbeat record, encoded like a message.
    content = models.BinaryField()
    #: Unix timestamp (seconds) after which the process counts as gone.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_heartbeat"

    def __str__(self) -> str:
        return f"heartbeat of {self.ident}"
