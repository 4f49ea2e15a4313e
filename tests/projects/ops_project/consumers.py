"""Consumers of the ops project."""

import json

from channels.exceptions import ConsumeLater, DenyConnection


def meta(message):
    """Answer with what the interface server put in the ``http.request`` message."""
    fields = ["client", "server", "scheme", "path", "root_path", "method", "http_version"]
    body = json.dumps({name: message.get(name) for name in fields}).encode()
    message.reply_channel.send(
        {
            "status": 200,
            "headers": [[b"content-type", b"application/json"]],
            "content": body,
        }
    )


def ws_connect(message):
    """Accept, except on /deny/ (DenyConnection: the handshake gets a 403).

    On /meta/ the first frame tells what ``websocket.connect`` carried.
    """
    if message["path"].startswith("/deny"):
        raise DenyConnection
    reply = {"accept": True}
    if message["path"].startswith("/meta"):
        fields = ["client", "server", "scheme", "path", "root_path"]
        reply["text"] = json.dumps({name: message.get(name) for name in fields})
    message.reply_channel.send(reply)


def ws_receive(message):
    """Echo text and bytes frames."""
    if message.get("text") is not None:
        message.reply_channel.send({"text": message["text"]})
    else:
        message.reply_channel.send({"bytes": message["bytes"]})


def ws_disconnect(message):
    """Nothing to clean up."""


def task(message):
    """ok: return; fail: raise; later: ConsumeLater once, then return."""
    action = message["action"]
    if action == "fail":
        raise RuntimeError("ops.task asked to fail")
    if action == "later" and not message.get("__retries__"):
        raise ConsumeLater
