"""WebSocket consumers of the liveblog (as the 1.x liveblog example wrote them)."""

import json

from channels import Group

from .models import Liveblog


def connect_blog(message, slug):
    try:
        liveblog = Liveblog.objects.get(slug=slug)
    except Liveblog.DoesNotExist:
        # Some text for the client, then close (Daphne 1.x accepted, sent it, closed).
        message.reply_channel.send({"text": json.dumps({"error": "bad_slug"}), "close": True})
        return
    message.reply_channel.send({"accept": True})
    Group(liveblog.group_name).add(message.reply_channel)


def disconnect_blog(message, slug):
    try:
        liveblog = Liveblog.objects.get(slug=slug)
    except Liveblog.DoesNotExist:
        return
    Group(liveblog.group_name).discard(message.reply_channel)
