"""Drive the chat demo's pages and consumers with channels.test; print JSON.

Run with DJANGO_SETTINGS_MODULE=chatdemo.settings and the demo on sys.path,
after ``manage.py migrate``.
"""

import json

import django


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User

    from channels import channel_backends
    from channels.backends.memory import InMemoryChannelBackend
    from channels.test import WSClient

    # The demo's routing from its settings, on an in-memory backend.
    channel_backends.set("default", InMemoryChannelBackend())
    result = {}
    page = WSClient()
    page.send_and_consume("http.request", {"method": "GET", "headers": [[b"host", b"127.0.0.1"]]})
    result["index"] = page.receive(json=False)["status"]
    page.send_and_consume(
        "http.request",
        {"method": "GET", "headers": [[b"host", b"127.0.0.1"]]},
        path="/accounts/login/",
    )
    login_page = page.receive(json=False)
    result["login"] = [login_page["status"], b"Log in" in login_page["content"]]

    user = User.objects.create_user("demo-user")
    alice, bob = WSClient(ordered=True), WSClient(ordered=True)
    for client in (alice, bob):
        client.force_login(user)
        client.set_header("origin", "http://127.0.0.1:8000")
    alice.send_and_consume("websocket.connect", path="/chat/lobby/")
    bob.send_and_consume("websocket.connect", path="/chat/lobby/")
    alice.send_and_consume("websocket.receive", text={"message": "hi"}, path="/chat/lobby/")
    result["alice"] = [alice.receive(), alice.receive(), alice.receive()]
    result["bob"] = [bob.receive(), bob.receive()]

    anonymous = WSClient(ordered=True)
    anonymous.set_header("origin", "http://127.0.0.1:8000")
    anonymous.send_and_consume("websocket.connect", path="/chat/lobby/", check_accept=False)
    result["anonymous"] = anonymous.receive(json=False)
    foreign = WSClient(ordered=True)
    foreign.force_login(user)
    foreign.set_header("origin", "http://evil.example")
    foreign.send_and_consume("websocket.connect", path="/chat/lobby/", check_accept=False)
    result["foreign"] = foreign.receive(json=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
