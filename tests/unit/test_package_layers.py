"""The packages of taxiway import each other without cycles: each sits on the ones below it.

Read from the source (every import, function-level ones included), not from what happens to be
loaded; a top-level module (taxiway/context.py) counts as a package of its own.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import taxiway

ROOT = Path(taxiway.__file__).parent


def _unit(path: Path) -> str | None:
    """The package (or top-level module) a source file belongs to; None for taxiway/__init__.py."""
    parts = path.relative_to(ROOT).parts
    if len(parts) == 1:
        return None if parts[0] == "__init__.py" else parts[0].removesuffix(".py")
    return parts[0]


def _imports() -> dict[str, dict[str, list[str]]]:
    """unit -> unit it imports -> where ("file:line")."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    units = {_unit(path) for path in ROOT.rglob("*.py")} - {None}
    for path in ROOT.rglob("*.py"):
        source = _unit(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "taxiway" and len(parts) > 1 and parts[1] in units and parts[1] != source:
                    graph[source or "taxiway"][parts[1]].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return graph


def _cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One import cycle between units, if there is any."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = "open"
        path.append(unit)
        for target in graph.get(unit, {}):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[unit] = "done"
        path.pop()
        return None

    for unit in list(graph):
        if unit not in state and (found := visit(unit)):
            return found
    return None


def test_no_two_packages_import_each_other_even_through_others() -> None:
    graph = _imports()
    cycle = _cycle(graph)
    if cycle:
        hops = [f"{a} -> {b} ({', '.join(graph[a][b][:3])})" for a, b in pairwise(cycle)]
        raise AssertionError("import cycle between packages:\n" + "\n".join(hops))


def test_the_lowest_packages_import_no_domain_package() -> None:
    graph = _imports()
    domain = {"accounts", "assets", "tasks", "users", "webhooks", "scheduler", "executors", "api", "cli"}
    for low in ("core", "media", "store", "blobs", "engines", "worker"):
        assert not set(graph.get(low, {})) & domain, f"{low} imports {sorted(set(graph[low]) & domain)}"
