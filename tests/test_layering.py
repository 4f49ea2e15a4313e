"""The layering docs/architecture.rst promises, checked on the import statements.

Backends know nothing of workers, interfaces or consumer helpers; interface
servers never import project-code machinery (views, consumers, sessions);
workers never import interface servers; the vocabulary imports no server.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "channels"

CONSUMER_HELPERS = (
    "channels.handler",
    "channels.generic",
    "channels.sessions",
    "channels.auth",
    "channels.binding",
    "channels.security",
    "channels.test",
)
SERVERS = ("channels.interfaces", "channels.workers", "channels.management")

RULES = {
    "backends": SERVERS + CONSUMER_HELPERS,
    "interfaces": ("channels.workers",) + CONSUMER_HELPERS,
    "workers": ("channels.interfaces",),
    "channel.py": SERVERS + CONSUMER_HELPERS,
    "message.py": SERVERS + CONSUMER_HELPERS,
    "routing.py": SERVERS + CONSUMER_HELPERS,
    "exceptions.py": SERVERS + CONSUMER_HELPERS,
    "names.py": SERVERS + CONSUMER_HELPERS,
    "serialization.py": SERVERS + CONSUMER_HELPERS,
    "outbox.py": SERVERS + CONSUMER_HELPERS,
}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("part", sorted(RULES))
def test_layer_imports_nothing_it_must_not(part):
    target = PACKAGE / part
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files
    broken = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == banned or name.startswith(banned + ".") for banned in RULES[part])
    ]
    assert broken == []
