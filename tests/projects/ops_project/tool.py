"""``python -m ops_project.tool send CHANNEL JSON [COUNT]``: send messages
from outside any server, as a test would from another host."""

import json
import sys

import django


def main(argv: list[str]) -> None:
    """Send ``COUNT`` copies of the JSON message to CHANNEL; print how many."""
    django.setup()
    from channels.backends.registry import channel_backends

    command, channel, content = argv[0], argv[1], json.loads(argv[2])
    count = int(argv[3]) if len(argv) > 3 else 1
    assert command == "send", command
    backend = channel_backends["default"]
    for _ in range(count):
        backend.send(channel, dict(content))
    print(f"sent {count}")


if __name__ == "__main__":
    main(sys.argv[1:])
