"""Tables of the database channel backend
(:class:`channels.backends.database.DatabaseChannelBackend`).

The backend reads and writes them with raw SQL where one statement must be
atomic (delivery, capacity-checked inserts); the models exist so that Django
migrations create them and the admin/ORM can inspect queues.
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
    inbox = models.CharField(max_length=100)
    channel = models.CharField(max_length=100)
    #: The message as encoded by ``BaseChannelBackend.encode`` (msgpack).
    content = models.BinaryField()
    #: Unix timestamp (seconds) after which the message is never delivered.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_message"
        indexes = [
            # receive: WHERE inbox IN (...) ORDER BY id LIMIT 1
            models.Index(fields=["inbox", "id"], name="channels_msg_inbox_id"),
            # capacity: count(*) WHERE channel = ? AND expires > ?
            models.Index(fields=["channel", "expires"], name="channels_msg_channel_exp"),
        ]

    def __str__(self) -> str:
        return f"message {self.id} on {self.channel}"


class GroupMembership(models.Model):
    """``channel`` belongs to group ``group_name`` until ``expires``."""

    group_name = models.CharField(max_length=100)
    channel = models.CharField(max_length=100)
    #: Unix timestamp (seconds) after which the membership no longer counts.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_group"
        constraints = [
            models.UniqueConstraint(
                fields=["group_name", "channel"], name="channels_group_unique_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} in {self.group_name}"


class Heartbeat(models.Model):
    """The latest heartbeat of one worker or interface server (``channels status``)."""

    ident = models.CharField(max_length=200, unique=True)
    #: The heartbeat record, encoded like a message.
    content = models.BinaryField()
    #: Unix timestamp (seconds) after which the process counts as gone.
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "channels_heartbeat"

    def __str__(self) -> str:
        return f"heartbeat of {self.ident}"
