"""docs/compatibility.rst, checked row by row against the code.

The reference lists every public name of Channels 1.1.x in ``list-table``
directives whose caption says what kind of name they hold (``Python:``,
``Command:``, ``Setting``, ``Message:``, ``JavaScript:``); each row is a
name, a status (*same*, *differs*, *not provided*) and a note. The rows are
parsed here, so the page and this test cannot drift apart: a name marked
*same* or *differs* must exist, one marked *not provided* must not.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "compatibility.rst"
STATUSES = ("same", "differs", "not provided")


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    status: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.status})"


def parse_reference(text: str) -> list[Row]:
    """Every row of every list-table, with the kind its caption names."""
    rows: list[Row] = []
    kind = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        caption = re.match(r"\.\. list-table:: (\w+)", line)
        if caption:
            kind = caption.group(1)
            continue
        cell = re.match(r"   \* - ``(.+)``$", line)
        if cell and kind is not None:
            status = re.match(r"     - (.+)$", lines[i + 1])
            assert status, f"row {cell.group(1)!r} has no status cell"
            rows.append(Row(kind, cell.group(1), status.group(1).strip()))
    return rows


ROWS = parse_reference(REFERENCE.read_text())


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted``, then get the rest.

    Raises ImportError or AttributeError if the name does not exist.
    """
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr)
        return value
    raise ImportError(dotted)


def exists_python(name: str) -> bool:
    try:
        resolve(name)
    except (ImportError, AttributeError):
        return False
    return True


def exists_command(name: str) -> bool:
    words = name.split()
    assert words[0] == "manage.py", name
    command = words[1]
    if command not in get_commands():
        return False
    if len(words) == 2:
        return True
    parser = load_command_class(get_commands()[command], command).create_parser(
        "manage.py", command
    )
    return words[2] in parser._option_string_actions


def source_text(*patterns: str) -> str:
    return "\n".join(
        path.read_text() for pattern in patterns for path in sorted(ROOT.glob(pattern))
    )


CODE = source_text("channels/**/*.py")
SCRIPT = (ROOT / "channels/static/channels/js/websocketbridge.js").read_text()


def exists_setting(name: str) -> bool:
    # Read by the code, or a Django setting the code reads through Django.
    return f'"{name}"' in CODE or f"settings.{name}" in CODE


def exists_message_key(name: str) -> bool:
    return f'"{name}"' in CODE


def exists_javascript(name: str) -> bool:
    *_, last = name.split(".")
    return re.search(rf"\b{re.escape(last)}\b", SCRIPT) is not None


CHECKS = {
    "Python": exists_python,
    "Command": exists_command,
    "Setting": exists_setting,
    "Message": exists_message_key,
    "JavaScript": exists_javascript,
}


def test_the_reference_is_parsed_whole():
    """Every table has a known kind, every row a known status; and the
    reference covers at least the 1.x modules (a cut-off parse fails here)."""
    assert {row.kind for row in ROWS} == set(CHECKS)
    assert [row for row in ROWS if row.status not in STATUSES] == []
    names = {row.name for row in ROWS}
    for module in (
        "channels.asgi.get_channel_layer",
        "channels.routing.route",
        "channels.handler.AsgiRequest",
        "channels.generic.websockets.WebsocketDemultiplexer",
        "channels.binding.websockets.WebsocketBinding",
        "channels.test.WSClient",
        "channels.signals.worker_ready",
        "channels.delay.models.DelayedMessage",
        "manage.py runworker --threads",
        "CHANNEL_LAYERS",
        "channels.WebSocketBridge.demultiplex",
    ):
        assert module in names, module
    assert len(ROWS) > 200


@pytest.mark.filterwarnings("ignore:channels.tests is deprecated:DeprecationWarning")
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_row_is_true(row):
    exists = CHECKS[row.kind](row.name)
    if row.status == "not provided":
        assert not exists, f"{row} exists: mark it same or differs, and say how"
    else:
        assert exists, f"{row} is not there"
