"""Imports flow one way: no circle among credhelper's modules, and nothing imports the CLI.

The graph is read from the source (ast), not from a running interpreter, so a circle hidden by
a function-level import counts: it is still a circle a reader has to untangle. Imports under
``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "credhelper"

# Edges that exist today and are being removed by another change; each must still exist (so
# the entry is deleted when its edge goes) -- the list can only shrink.
KNOWN_CLI_IMPORTS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every credhelper module ``name`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "credhelper")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "credhelper":
                # `from . import x` and `from .pkg import mod` name modules, not attributes
                subs = {f"{target}.{a.name}" for a in node.names} & known
                found.update(subs or {target})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found & known


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example path for each circle found by a depth-first walk."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    return found


def test_the_graph_reader_sees_relative_absolute_and_function_level_imports() -> None:
    graph = _graph()
    assert "credhelper.aws_errors" in graph["credhelper.tokens"]  # from . import aws_errors
    assert "credhelper.fast_token" in graph["credhelper.tokens"]  # inside fetch()
    assert "credhelper.token_cache.base" in graph["credhelper.token_cache"]  # from .base
    assert "credhelper.config" in graph["credhelper.cli.whoami"]  # from .. import config
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_nothing_outside_cli_imports_cli() -> None:
    graph = _graph()
    edges = {
        (name, target)
        for name, targets in graph.items()
        if not name.startswith("credhelper.cli")
        for target in targets
        if target.startswith("credhelper.cli")
    }
    assert edges - KNOWN_CLI_IMPORTS == set()
    assert KNOWN_CLI_IMPORTS <= edges, "an allowed edge is gone: delete it from the list"


def test_aws_errors_is_a_leaf() -> None:
    assert _graph()["credhelper.aws_errors"] <= {
        "credhelper.errors",
        "credhelper.logs",
        "credhelper.registry",
    }


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = sorted(_modules())
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
