"""Send a message and print the reply, from a separate process.

    python -m views_project.client CHANNEL '{"n": 1}' [TIMEOUT]

Adds a fresh reply channel to the message, waits for one reply and prints it
as JSON (bytes as latin-1 text); prints "TIMEOUT" if none came.
"""

import json
import sys

import django


def main() -> None:
    django.setup()
    from channels import channel_backends

    channel, content = sys.argv[1], json.loads(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    backend = channel_backends["default"]
    reply = backend.new_channel("test.client!")
    backend.send(channel, {**content, "reply_channel": reply})
    print("SENT", flush=True)
    name, message = backend.receive_many(
        [reply[: reply.index("!") + 1]], block=True, timeout=timeout
    )
    print(json.dumps(message) if name else "TIMEOUT", flush=True)


if __name__ == "__main__":
    main()
