"""The echo project (tests/projects/echo_project) on Redis ``HOSTS`` given
as JSON in CHANNELS_TEST_REDIS_HOSTS: Sentinel entries, several shards, what
a URL cannot say. For the failover tests' real runworker and runwsserver."""

import json
import os

from echo_project.settings import *  # noqa: F403

CHANNEL_BACKENDS["default"]["HOSTS"] = json.loads(os.environ["CHANNELS_TEST_REDIS_HOSTS"])  # noqa: F405
