"""Send to or receive from a channel of the runtime project, from a child process.

    python -m tests.legacy.runtime_project.probe send CHANNEL JSON
    python -m tests.legacy.runtime_project.probe receive CHANNEL TIMEOUT

``receive`` prints READY once it is waiting, then one JSON line
``{"channel", "content", "at"}`` (``at``: time.time() of arrival) or TIMEOUT.
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
        backend.send(channel, json.loads(argv[2]))
        print("SENT", flush=True)
        return
    deadline = time.monotonic() + float(argv[2])
    print("READY", flush=True)
    while time.monotonic() < deadline:
        name, content = backend.receive_many([channel], block=True, timeout=0.5)
        if name is not None:
            print(json.dumps({"channel": name, "content": content, "at": time.time()}), flush=True)
            return
    print("TIMEOUT", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
