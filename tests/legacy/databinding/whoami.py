"""Class-based consumers with ``http_user`` / ``http_user_and_session`` that
answer every frame with the user they see (issue: the user on every message)."""

from channels.generic.websockets import JsonWebsocketConsumer


class WhoAmI(JsonWebsocketConsumer):
    http_user = True

    def connect(self, message, **kwargs):
        message.reply_channel.send({"accept": True})
        self.send({"on": "connect", "user": message.user.get_username()})

    def receive(self, content, **kwargs):
        self.send({"on": "receive", "user": self.message.user.get_username()})


class WhoAmIWithSession(WhoAmI):
    http_user = False
    http_user_and_session = True

    def receive(self, content, **kwargs):
        session = self.message.http_session
        self.send(
            {
                "on": "receive",
                "user": self.message.user.get_username(),
                "colour": session.get("colour") if session is not None else None,
            }
        )
