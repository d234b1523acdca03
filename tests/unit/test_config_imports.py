"""The configuration package imports in one direction: no module of config/ is on an import
cycle, counting imports made inside functions (lazy ones) as well as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "asgi_master"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the package that ``module`` imports, at any depth but ``if TYPE_CHECKING``."""
    found: set[str] = set()
    base = module.split(".") if is_package else module.split(".")[:-1]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            continue  # never executed: annotations only
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            # ``from pkg import sub`` needs only pkg.sub; ``from mod import name`` needs mod
            if target in known and len(submodules) < len(node.names):
                found.add(target)
        stack.extend(ast.iter_child_nodes(node))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {
        name: _imported(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
        for name, path in paths.items()
    }


def cycles_through(graph: dict[str, set[str]], prefix: str) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)
    that contain a module whose name starts with ``prefix``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [c for c in components if len(c) > 1 and any(m.startswith(prefix) for m in c)]


def test_no_module_of_config_is_on_an_import_cycle():
    assert cycles_through(import_graph(), "asgi_master.config") == []


def test_the_log_set_up_and_the_command_line_are_on_no_import_cycle():
    graph = import_graph()
    for module in ("asgi_master.logs", "asgi_master.__main__", "asgi_master.worker.tls"):
        assert cycles_through(graph, module) == [], module


def test_the_cycle_finder_sees_a_lazy_import_cycle():
    graph = {"a.x": {"a.y"}, "a.y": {"a.x"}, "b": set()}
    assert cycles_through(graph, "a.") == [["a.x", "a.y"]]
    tree = ast.parse("def f():\n    from .y import thing\n")
    assert _imported(tree, "a.x", False, {"a.x", "a.y"}) == {"a.y"}
