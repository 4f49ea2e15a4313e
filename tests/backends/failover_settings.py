"""The echo project (tests/projects/echo_project) on Redis backend options
given as JSON in CHANNELS_TEST_REDIS_OPTIONS: HOSTS with Sentinel entries or
several shards, CLUSTER; what a URL cannot say. For the failover tests' and
status tests' real runworker, runwsserver and CLI."""

import json
import os

from echo_project.settings import *  # noqa: F403

CHANNEL_BACKENDS["default"].update(json.loads(os.environ["CHANNELS_TEST_REDIS_OPTIONS"]))  # noqa: F405
