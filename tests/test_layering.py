"""The layering docs/architecture.rst promises, checked on the import statements.

Backends know nothing of workers, interfaces or consumer helpers; interface
servers never import project-code machinery (views, consumers, sessions);
workers never import interface servers; the vocabulary imports no server.
The module-level imports of the package form no cycle, and every module
imports on its own, first, in a fresh interpreter.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "channels"

CONSUMER_HELPERS = (
    "channels.handler",
    "channels.generic",
    "channels.sessions",
    "channels.session_store",
    "channels.ordering",
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
    "backoff.py": SERVERS + CONSUMER_HELPERS,
    "consumer_call.py": SERVERS + CONSUMER_HELPERS,
    "operations.py": SERVERS + CONSUMER_HELPERS,
}


def module_name(path: Path) -> str:
    """The dotted name of the module in ``path`` (a package for ``__init__.py``)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_names(node: ast.Import | ast.ImportFrom, package: str) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return {module} | {f"{module}.{alias.name}" for alias in node.names}


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    package = _package_of(path)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= _import_names(node, package)
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_modules(path: Path) -> set[str]:
    """What ``path`` imports when it is imported: module-level statements
    (in ``try`` and ``if`` blocks too), not function bodies (deliberately
    lazy imports) nor ``if TYPE_CHECKING:`` blocks (never run)."""
    package = _package_of(path)
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update(_import_names(node, package))
            elif isinstance(node, ast.If) and not _is_type_checking(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text()).body)
    return names


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name (migrations left out: Django
    loads them by file, and they import only Django)."""
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one
    module (Tarjan's algorithm, iterative): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


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


def test_import_cycles_are_found():
    # The check below must be able to fail: a two-module cycle and a longer
    # one behind a module that is not in any cycle.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "f"}, "f": set()}
    assert sorted(import_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_no_module_level_import_cycles():
    modules = package_modules()
    graph = {
        name: {other for other in import_time_modules(path) if other in modules and other != name}
        for name, path in modules.items()
    }
    assert import_cycles(graph) == []


#: Run in a fresh interpreter: import each module first, alone (every module
#: of the package is dropped from sys.modules before the next one), and
#: report the ones that fail. Django is set up first, as in any process that
#: runs channels code, so models and app config can load.
IMPORT_EACH = """
import importlib, sys, traceback, warnings
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
        "django.contrib.staticfiles", "channels", "channels.delay",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    STATIC_URL="/static/",
)
django.setup()
# Models imported again register again: Django warns, which is expected here.
warnings.simplefilter("ignore", RuntimeWarning)
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "channels" or m.startswith("channels.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=-3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first_and_alone():
    # A __main__ module runs its program when imported: it is checked for
    # cycles above, not imported here.
    names = sorted(name for name in package_modules() if not name.endswith(".__main__"))
    assert "channels.ordering" in names and "channels.sessions" in names
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *names],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PACKAGE.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
