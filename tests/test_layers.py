"""Every domain reads endpoints → service → policy / repository → models: checked on the
source's imports (at module level and inside functions), so a shortcut fails here rather
than in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in (SRC / "order_service").rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """The modules `path` imports: `from package import module` names the module, `from
    module import name` the module; third-party imports by their top-level name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                module = f"{node.module}.{alias.name}"
                found.add(module if module in MODULES else node.module)
    return found


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def _layer(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _of_layer(layer: str) -> list[str]:
    return sorted(module for module in MODULES if _layer(module) == layer)


@pytest.mark.parametrize("module", _of_layer("endpoints"))
def test_endpoints_reach_the_database_only_through_services(module: str) -> None:
    reached = {m for m in GRAPH[module] if _layer(m) in {"repository", "models", "timeline"}}
    assert not reached, f"{module} imports {sorted(reached)}: call a service instead"


@pytest.mark.parametrize("module", _of_layer("repository"))
def test_repositories_take_a_session_and_call_no_service(module: str) -> None:
    above = {m for m in GRAPH[module] if _layer(m) in {"service", "endpoints", "timeline"}}
    assert not above, f"{module} imports {sorted(above)}"
    assert "order_service.context" not in GRAPH[module], f"{module} takes a session, not ctx"


@pytest.mark.parametrize("module", _of_layer("policy"))
def test_policies_are_pure(module: str) -> None:
    impure = {
        m
        for m in GRAPH[module]
        if m.split(".")[0] == "sqlalchemy"
        or _layer(m) in {"service", "repository", "models", "endpoints", "context"}
    }
    assert not impure, f"{module} imports {sorted(impure)}"


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among `edges`, or None (a depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for dependency in sorted(edges[module]):
            if cycle := visit(dependency):
                return cycle
        path.pop()
        done.add(module)
        return None

    return next((cycle for start in sorted(edges) if (cycle := visit(start))), None)


def test_no_import_cycles() -> None:
    edges = {m: {d for d in deps if d in MODULES and d != m} for m, deps in GRAPH.items()}
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])
