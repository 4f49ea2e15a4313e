"""The view consumer: messages in, Django views run, http.response messages out."""

import hashlib
import json

from django.test import override_settings

from channels.test import ChannelTestCase, Client

SETTINGS = {
    "CHANNEL_BACKENDS": {
        "default": {"BACKEND": "memory", "ROUTING": "views_project.routing.channel_routing"}
    },
    "ROOT_URLCONF": "views_project.urls",
}


def request(path, method="GET", query=b"", headers=(), body=b"", **extra):
    return {
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "root_path": "",
        "headers": list(headers),
        "body": body,
        "client": ["127.0.0.1", 5000],
        "server": ["testserver", 80],
        **extra,
    }


@override_settings(**SETTINGS)
class ViewConsumerTests(ChannelTestCase):
    def test_simple_response(self):
        client = Client()
        client.send_and_consume("http.request", request("/hello/"))
        reply = client.receive()
        assert reply["status"] == 200
        assert reply["content"] == b"Hello, channels!"
        assert reply["more_content"] is False
        headers = dict(reply["headers"])
        assert headers[b"content-type"] == b"text/plain"
        assert (
            b"greeted=yes"
            in [v.split(b";")[0] for k, v in reply["headers"] if k == b"set-cookie"][0]
        )

    def test_body_in_chunks_on_a_body_channel(self):
        client = Client()
        data = bytes(range(256)) * 1000
        boundary = b"XyZ"
        multipart = (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"'
            b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--XyZ--\r\n"
        )
        body_channel = client.backend.new_channel("http.request.body")
        pieces = [multipart[i : i + 50_000] for i in range(0, len(multipart), 50_000)]
        for i, piece in enumerate(pieces[1:], start=1):
            client.backend.send(
                body_channel, {"content": piece, "more_content": i < len(pieces) - 1}
            )
        client.send_and_consume(
            "http.request",
            request(
                "/upload/",
                "POST",
                body=pieces[0],
                body_channel=body_channel,
                headers=[
                    (b"content-type", b"multipart/form-data; boundary=" + boundary),
                    (b"content-length", str(len(multipart)).encode()),
                ],
            ),
        )
        reply = client.receive()
        assert reply["status"] == 200, reply
        assert json.loads(reply["content"])["sha256"] == hashlib.sha256(data).hexdigest()

    def test_client_gone_during_body_sends_nothing(self):
        client = Client()
        body_channel = client.backend.new_channel("http.request.body")
        client.backend.send(body_channel, {"closed": True})
        client.send_and_consume(
            "http.request", request("/form/", "POST", body=b"a=1", body_channel=body_channel)
        )
        assert client.receive() is None

    def test_streaming_response_is_several_messages(self):
        client = Client()
        client.send_and_consume("http.request", request("/file/", query=b"size=600000"))
        replies = [client.receive()]
        while replies[-1].get("more_content"):
            replies.append(client.receive())
        assert replies[0]["status"] == 200
        assert len(replies) == 3  # 256 KiB chunks
        assert b"".join(r["content"] for r in replies) == bytes(i % 251 for i in range(600000))

    def test_root_path_becomes_script_name(self):
        client = Client()
        client.send_and_consume("http.request", dict(request("/prefix/meta/"), root_path="/prefix"))
        meta = json.loads(client.receive()["content"])
        assert meta["SCRIPT_NAME"] == "/prefix"
        assert meta["PATH_INFO"] == "/meta/"
        assert meta["path"] == "/prefix/meta/"

    def test_view_error_is_a_500_and_the_worker_goes_on(self):
        client = Client()
        client.send_and_consume("http.request", request("/boom/"))
        assert client.receive()["status"] == 500
        client.send_and_consume("http.request", request("/nowhere/"))
        assert client.receive()["status"] == 404
