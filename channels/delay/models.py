"""The delay server's one table: messages waiting for their time."""

from django.db import models


class DelayedMessage(models.Model):
    """A message to send to ``channel_name`` at ``due_date``.

    ``content`` is the message encoded as on the wire
    (:func:`channels.serialization.encode`), so bytes values survive.
    """

    id = models.BigAutoField(primary_key=True)
    due_date = models.DateTimeField(db_index=True)
    channel_name = models.CharField(max_length=100)
    content = models.BinaryField()

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return f"message for {self.channel_name} due {self.due_date.isoformat()}"
