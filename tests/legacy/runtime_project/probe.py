"""Send to or receive from a channel of the runtime project, from a child process.

    python -m tests.legacy.runtime_project.probe send CHANNEL JSON
    python -m tests.legacy.runtime_project.probe receive CHANNEL SECONDS [COUNT]

``send`` sends JSON (each item of it, if a list) and prints
``SENT <time.time() just before sending>``. ``receive``
prints READY once it is waiting, then one JSON line
``{"channel", "content", "at"}`` per message (``at``: time.time() of
arrival), for up to COUNT messages (default 1) within SECONDS, then DONE.
"""

import json
import sys
import time

import django


def main(argv: list[str]) -> None:
    django.setup()
    from channels import channel_backends

    backend = channel_backends["default"]
    command, channel = argv[0], argv[1]
    if command == "send":
        content = json.loads(argv[2])
        before = time.time()
        for message in content if isinstance(content, list) else [content]:
            backend.send(channel, message)
        print(f"SENT {before!r}", flush=True)
        return
    deadline = time.monotonic() + float(argv[2])
    wanted = int(argv[3]) if len(argv) > 3 else 1
    print("READY", flush=True)
    while wanted and time.monotonic() < deadline:
        name, content = backend.receive_many([channel], block=True, timeout=0.5)
        if name is not None:
            print(json.dumps({"channel": name, "content": content, "at": time.time()}), flush=True)
            wanted -= 1
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
