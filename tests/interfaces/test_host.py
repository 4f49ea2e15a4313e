"""The server depends on its protocols, not the reverse (docs/architecture.rst,
"Threads of an interface server"): nothing in ``channels.interfaces`` imports
``server.py`` but the commands, and ``Server`` has every member of the
interface its connections use."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from channels.backends.memory import InMemoryChannelBackend
from channels.interfaces.host import ConnectionHost, ServerState
from channels.interfaces.server import Server

INTERFACES = Path(__file__).resolve().parents[2] / "channels" / "interfaces"


def imports_of(path: Path) -> set[str]:
    """Module names imported by ``path``, relative ones as written (``.server``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_of_the_interface_server_imports_server_py():
    importers = [
        str(path.relative_to(INTERFACES))
        for path in INTERFACES.rglob("*.py")
        if path.name != "server.py"
        and imports_of(path) & {".server", "..server", "channels.interfaces.server"}
    ]
    assert importers == []


def members(protocol: type) -> set[str]:
    """Attributes and methods a Protocol class declares (with its bases)."""
    names = set()
    for klass in protocol.__mro__:
        if klass in (object,) or klass.__module__ == "typing":
            continue
        names.update(getattr(klass, "__annotations__", {}))
        names.update(name for name, _ in inspect.getmembers(klass, inspect.isfunction))
    return {name for name in names if not name.startswith("_")}


def test_server_has_every_member_its_connections_and_health_use():
    server = Server(InMemoryChannelBackend(), [])
    wanted = members(ConnectionHost) | members(ServerState)
    assert "register" in wanted and "inbound_budget" in wanted and "stopping" in wanted
    missing = sorted(name for name in wanted if not hasattr(server, name))
    assert missing == []
