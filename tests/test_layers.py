"""The import rule of ARCHITECTURE.md: imports only point down the layers, and no module
imports another in a circle (type-checking and function-level imports included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import from any earlier layer and from its own package; two
# packages on one line are siblings that never import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("server.core",),
    ("models",),
    ("server.observability",),
    ("server.signing",),
    ("server.schema",),
    ("server.db", "server.security"),
    ("server.mail", "server.ratelimit", "server.http"),
    ("server.services",),
    ("middlewares", "handlers"),
    ("server.web",),
    ("server.runtime",),
    ("run",),
)
OURS = ("server", "models", "middlewares", "handlers", "run")


def package_of(module: str) -> tuple[int, str]:
    """(layer index, layer package) of one of our modules."""
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                return index, package
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


def source_modules() -> Iterator[tuple[str, Path]]:
    for top in ("server", "models", "middlewares", "handlers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts == ("server",):  # the namespace's docstring only (checked below)
                continue
            yield ".".join(parts), path
    yield "run", ROOT / "run.py"


def imports_of(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of ours, wherever it sits in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from models import users` imports models.users
                yield node.lineno, f"{base}.{alias.name}"


def graph() -> dict[str, set[tuple[int, str]]]:
    modules = dict(source_modules())
    edges: dict[str, set[tuple[int, str]]] = {}
    for module, path in modules.items():
        found = edges.setdefault(module, set())
        for line, target in imports_of(module, path):
            if target.split(".")[0] in OURS and target in modules and target != module:
                found.add((line, target))
    return edges


def wrong_direction(edges: dict[str, set[tuple[int, str]]]) -> list[str]:
    wrong = []
    for module, targets in sorted(edges.items()):
        layer, package = package_of(module)
        for line, target in sorted(targets):
            their_layer, their_package = package_of(target)
            if their_package == package or their_layer < layer:
                continue
            wrong.append(f"{module}:{line} imports {target} "
                         f"({package} may not import {their_package})")
    return wrong


def circles(edges: dict[str, set[tuple[int, str]]]) -> list[list[str]]:
    """Every import circle, one path each (depth-first search for back edges)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted({target for _, target in edges.get(module, ())}):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_every_import_points_down_the_layers() -> None:
    wrong = wrong_direction(graph())
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    found = circles(graph())
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_rule_catches_a_wrong_import() -> None:
    edges = {"server.core.errors": {(3, "server.web.app")}, "server.web.app": set()}
    assert wrong_direction(edges) == [
        "server.core.errors:3 imports server.web.app (server.core may not import server.web)"]


def test_the_rule_catches_a_circle() -> None:
    edges = {"models.users": {(1, "models.sessions")}, "models.sessions": {(2, "models.users")}}
    assert circles(edges) == [["models.sessions", "models.users", "models.sessions"]]


def test_siblings_never_import_each_other() -> None:
    edges = {"middlewares.sanitize": {(5, "handlers.auth")}, "handlers.auth": set()}
    assert wrong_direction(edges) == [
        "middlewares.sanitize:5 imports handlers.auth (middlewares may not import handlers)"]


def test_the_server_package_itself_imports_nothing() -> None:
    tree = ast.parse((ROOT / "server" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
