"""``channels.handler``: ``AsgiRequest(message)`` and ``AsgiHandler`` as in 1.x."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.test import override_settings

from channels import Channel
from channels.handler import AsgiHandler, AsgiRequest
from channels.routing import route
from channels.test import ChannelTestCase, Client, apply_routes


def request_content(path="/form/", method="POST", query=b"", body=b"", headers=(), **extra):
    return {
        "reply_channel": "http.response.test",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "headers": list(headers),
        "body": body,
        "client": ["127.0.0.1", 5000],
        "server": ["testserver", 80],
        **extra,
    }


def form_consumer(message):
    """A 1.x consumer that reads a request itself and answers by hand."""
    request = AsgiRequest(message)
    message.reply_channel.send(
        {
            "status": 200,
            "content": f"{request.method} {request.GET['q']} {request.POST['name']} "
            f"{request.COOKIES['flavour']} {request.path}".encode(),
        }
    )


@override_settings(ROOT_URLCONF="views_project.urls")
@apply_routes([route("http.request", form_consumer, path=r"^/form/$")])
class AsgiRequestTests(ChannelTestCase):
    def test_a_consumer_builds_the_request_from_the_message(self):
        client = Client()
        content = request_content(
            query=b"q=search",
            body=b"name=ann",
            headers=[
                [b"content-type", b"application/x-www-form-urlencoded"],
                [b"cookie", b"flavour=mint"],
            ],
        )
        del content["reply_channel"]  # the client's own
        client.send_and_consume("http.request", content)
        self.assertEqual(client.receive()["content"], b"POST search ann mint /form/")

    def test_body_chunks_from_the_body_channel(self):
        client = Client()
        body_channel = client.backend.new_channel("http.request.body?")
        Channel(body_channel).send({"content": b"me=bo", "more_content": True})
        Channel(body_channel).send({"content": b"b", "more_content": False})
        Channel("http.request").send(
            request_content(
                body=b"na",
                body_channel=body_channel,
                headers=[[b"content-type", b"application/x-www-form-urlencoded"]],
            )
        )
        request = AsgiRequest(self.get_next_message("http.request", require=True))
        self.assertEqual(request.POST["name"], "bob")
        self.assertEqual(request.message["path"], "/form/")
        self.assertEqual(request.reply_channel.name, "http.response.test")

    def test_a_websocket_connect_message_reads_as_a_get(self):
        Channel("websocket.connect").send(
            {
                "reply_channel": "websocket.send.x",
                "path": "/chat/",
                "query_string": b"room=blue",
                "headers": [[b"cookie", b"sessionid=abc"]],
            }
        )
        request = AsgiRequest(self.get_next_message("websocket.connect", require=True))
        self.assertEqual((request.method, request.GET["room"]), ("GET", "blue"))
        self.assertEqual(request.COOKIES["sessionid"], "abc")


@override_settings(ROOT_URLCONF="views_project.urls")
class AsgiHandlerTests(ChannelTestCase):
    def test_the_handler_yields_the_response_messages(self):
        Channel("http.request").send(request_content(path="/hello/", method="GET"))
        message = self.get_next_message("http.request", require=True)
        replies = list(AsgiHandler()(message))
        self.assertEqual(len(replies), 1)
        self.assertEqual(replies[0]["status"], 200)
        self.assertEqual(replies[0]["content"], b"Hello, channels!")
        self.assertFalse(replies[0]["more_content"])
        # Yielded, not sent.
        self.assertIsNone(self.get_next_message("http.response.test"))

    def test_encode_response_is_a_classmethod_that_chunks(self):
        class SmallChunks(AsgiHandler):
            chunk_size = 4

        response = HttpResponse(b"0123456789", content_type="text/plain", status=201)
        response.set_cookie("a", "b")
        messages = SmallChunks.encode_response(response)
        self.assertIsInstance(messages, list)
        self.assertEqual([m["content"] for m in messages], [b"0123", b"4567", b"89"])
        self.assertEqual([m["more_content"] for m in messages], [True, True, False])
        self.assertEqual(messages[0]["status"], 201)
        headers = dict(messages[0]["headers"])
        self.assertEqual(headers[b"content-type"], b"text/plain")
        self.assertTrue(headers[b"set-cookie"].startswith(b"a=b"))
        self.assertNotIn("status", messages[1])

        streamed = AsgiHandler.encode_response(StreamingHttpResponse(iter([b"ab", b"", b"cd"])))
        self.assertEqual([m["content"] for m in streamed], [b"ab", b"cd"])
        self.assertEqual(AsgiHandler.encode_response(HttpResponse(b""))[0]["content"], b"")
        self.assertEqual(
            list(SmallChunks.chunk_bytes(b"abcdefgh")), [(b"abcd", False), (b"efgh", True)]
        )
        self.assertEqual(list(SmallChunks.chunk_bytes(b"")), [(b"", True)])
