"""Consumers of the runtime project, written as the Channels 1.x docs show them."""

import os

from channels import Channel


def ws_connect(message):
    """Accept every socket."""
    message.reply_channel.send({"accept": True})


def ws_echo(message):
    """Send the frame back."""
    message.reply_channel.send({"text": message.content["text"]})


def report_signals(message):
    """Answer on the reply channel with what the signal receivers saw in this process."""
    from . import receivers

    Channel(message.content["reply_channel"]).send({"pid": os.getpid(), "seen": receivers.seen})
