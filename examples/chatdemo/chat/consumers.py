"""The chat room consumer: logged-in users, one group per room, in order."""

from channels.generic.websockets import JsonWebsocketConsumer
from channels.security.websockets import allowed_hosts_only

#: Longest chat line kept.
MAX_LINE = 1000


class ChatRoom(JsonWebsocketConsumer):
    """One socket in one room (``/chat/<room>/``).

    The user comes from the session cookie of the page that opened the
    socket; anonymous sockets are closed with code 4001, which the page
    turns into a "please log in" link.
    """

    http_user = True
    login_required = True
    # Lines of one socket are relayed in the order they were typed, even
    # with several workers.
    strict_ordering = True

    def connection_groups(self, room):
        """Everyone in the room hears everyone else."""
        return [f"chat-{room}"]

    @allowed_hosts_only
    def connect(self, message, **kwargs):
        """Accept sockets opened from this site's own pages only."""
        message.reply_channel.send({"accept": True})
        self.group_send(
            f"chat-{kwargs['room']}", {"name": message.user.get_username(), "joined": True}
        )

    def receive(self, content, room):
        """Relay a line to the room, signed with the sender's user name."""
        if not isinstance(content, dict):
            return
        text = str(content.get("message", "")).strip()[:MAX_LINE]
        if text:
            self.group_send(
                f"chat-{room}", {"name": self.message.user.get_username(), "message": text}
            )
