"""The ``channels`` command for operators.

::

    channels status            queue depths, live workers and interface servers
    channels latency           end-to-end latency probes answered by workers
    channels bench http|ws     load generator against a running deployment
    channels flush             delete one backend's messages, groups and heartbeats
                               (says exactly what, then asks)

Settings come from ``--settings`` or ``DJANGO_SETTINGS_MODULE``, as with
``django-admin``; ``--backend`` picks the ``CHANNEL_BACKENDS`` alias.
"""

from __future__ import annotations

import os
import sys

import click

from .bench import bench
from .status import flush, latency, status


@click.group()
@click.option("--settings", help="Django settings module (default: $DJANGO_SETTINGS_MODULE).")
@click.option(
    "--pythonpath",
    type=click.Path(exists=True, file_okay=False),
    help="Directory to add to the import path (e.g. your project root).",
)
@click.version_option(package_name="channels")
def cli(settings: str | None, pythonpath: str | None) -> None:
    """Operate a channels deployment."""
    if pythonpath:
        sys.path.insert(0, pythonpath)
    elif os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings


cli.add_command(status)
cli.add_command(latency)
cli.add_command(flush)
cli.add_command(bench)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="channels")
