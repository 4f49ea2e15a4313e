"""Every error the runtime raises, defined once.

Backend errors derive from :class:`ChannelError`; the consumer-flow exceptions
(:class:`DenyConnection`, :class:`ConsumeLater`, ...) keep the names Channels
1.x gave them so existing project code keeps importing them from here.
"""

from django.core.exceptions import ImproperlyConfigured


class ChannelError(Exception):
    """Base class of every error raised by a channel backend."""


class ChannelFull(ChannelError):
    """The channel already holds as many messages as its capacity allows."""


class InvalidChannelName(ChannelError, ValueError):
    """A channel or group name breaks the naming rules."""


class InvalidMessage(ChannelError, TypeError):
    """A message is not a dict of str keys with serializable values."""


class MessageTooLarge(ChannelError, ValueError):
    """A message, once encoded, is larger than the backend accepts."""


class BackendUnavailable(ChannelError):
    """The backend's server could not be reached (after bounded retries)."""


class ImproperlyConfiguredBackend(ChannelError, ImproperlyConfigured):
    """A ``CHANNEL_BACKENDS`` entry cannot be used as written."""


# --- consumer flow (Channels 1.x names) -----------------------------------


class ConsumeLater(Exception):
    """Raised by a consumer to put its message back and run it later."""


class ResponseLater(Exception):
    """Raised by the view handler when a response will be sent afterwards."""


class RequestTimeout(Exception):
    """A request body chunk did not arrive within the body timeout."""


class RequestAborted(Exception):
    """The client went away while its request body was still arriving."""


class DenyConnection(Exception):
    """Raised in a ``websocket.connect`` consumer to refuse the socket (403)."""


class ChannelSocketException(Exception):
    """Base for exceptions that carry their own reply to the client.

    Subclasses implement :meth:`run`, which the worker calls with the message
    in hand instead of logging a traceback.
    """

    def run(self, message) -> None:
        """Send whatever reply this exception stands for."""
        raise NotImplementedError


class WebsocketCloseException(ChannelSocketException):
    """Raised in a WebSocket consumer to close its socket with ``code``.

    ``code`` is 1000 or an application code from 3000 to 4999; ``None``
    closes with 1000. The worker (and the test client) call :meth:`run`,
    which sends the close to the message's reply channel.
    """

    def __init__(self, code: int | None = None) -> None:
        if code is not None and code != 1000 and not (
            isinstance(code, int) and 3000 <= code <= 4999
        ):
            raise ValueError(f"invalid close code {code!r}: use 1000 or 3000-4999")
        super().__init__(code)
        self.code = code

    def run(self, message) -> None:
        """Close the socket of ``message``."""
        if message.reply_channel is None:
            raise ValueError(f"cannot close a socket: {message.channel.name} has no reply_channel")
        message.reply_channel.send({"close": self.code or True}, immediately=True)


class SendNotAvailableOnDemultiplexer(Exception):
    """``send`` was called on a demultiplexer, which only routes streams."""
