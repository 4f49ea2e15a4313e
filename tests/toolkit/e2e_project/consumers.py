"""Every decorator and class-based consumer of the toolkit, for real workers."""

from __future__ import annotations

import json
import os
import random
import time

from channels.auth import (
    channel_session_user,
    channel_session_user_from_http,
    http_session_user,
    login_required,
)
from channels.generic.http import LongPollConsumer, ServerSentEventsConsumer
from channels.generic.websockets import (
    JsonWebsocketConsumer,
    WebsocketConsumer,
    WebsocketDemultiplexer,
)
from channels.security.websockets import allowed_hosts_only
from channels.sessions import channel_session, enforce_ordering, http_session


def reply(message, **data):
    message.reply_channel.send({"text": json.dumps({"pid": os.getpid(), **data})})


# --- enforce_ordering + channel_session ------------------------------------


@enforce_ordering
@channel_session
def ordered_connect(message):
    message.channel_session["count"] = 0
    message.reply_channel.send({"accept": True})


@enforce_ordering
@channel_session
def ordered_receive(message):
    # Jitter so the workers really race: long enough that an idle worker
    # polling SQLite (up to 100 ms between looks) wakes before one busy
    # worker has drained all sixty messages on a loaded machine.
    time.sleep(random.random() * 0.02)
    message.channel_session["count"] += 1
    reply(message, order=message.content["order"], count=message.channel_session["count"])


@enforce_ordering
def ordered_disconnect(message):
    reply(message, bye=message.channel_session.get("count"))


@enforce_ordering
async def async_ordered_receive(message):
    reply(message, order=message.content["order"])


# --- sessions and auth -----------------------------------------------------


@http_session
def http_visits(message):
    session = message.http_session
    session["visits"] = session.get("visits", 0) + 1
    reply(message, visits=session["visits"])


@allowed_hosts_only
@channel_session_user_from_http
@login_required(close_code=4001)
def auth_connect(message):
    message.reply_channel.send({"accept": True})


@channel_session_user
def auth_receive(message):
    reply(message, user=message.user.get_username())


@http_session_user
async def async_http_user(message):
    reply(message, user=message.user.get_username())


# --- class-based ------------------------------------------------------------


class Chat(JsonWebsocketConsumer):
    """Rooms: login required, one group per room, in order."""

    http_user = True
    login_required = True
    strict_ordering = True

    def connection_groups(self, room):
        return [f"e2e-room-{room}"]

    def receive(self, content, room):
        self.group_send(
            f"e2e-room-{room}", {"user": self.message.user.get_username(), **content}
        )


class Echo(JsonWebsocketConsumer):
    def receive(self, content, multiplexer, **kwargs):
        multiplexer.send({"echo": content})


class Upper(JsonWebsocketConsumer):
    def connect(self, message, multiplexer, **kwargs):
        multiplexer.send({"hello": "upper"})

    def receive(self, content, multiplexer, **kwargs):
        multiplexer.send({"upper": content["text"].upper()})


class Multiplexed(WebsocketDemultiplexer):
    consumers = {"echo": Echo, "upper": Upper}


class Raw(WebsocketConsumer):
    channel_session = True
    groups = ["e2e-raw"]

    def receive(self, text=None, bytes=None, **kwargs):
        self.send(bytes=bytes[::-1] if bytes is not None else None, text=text and text[::-1])

    def disconnect(self, message, **kwargs):
        self.group_send("e2e-raw", text="someone left")


class Events(ServerSentEventsConsumer):
    groups = ["e2e-events"]


class Poll(LongPollConsumer):
    groups = ["e2e-poll"]
