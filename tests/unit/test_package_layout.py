"""The package's shape, read from its sources: no import cycle (at run time or through a lazy
import inside a function), no module over 500 lines, a sans-IO HTTP/1.1 connection that never
imports asyncio, and a request cycle that knows nothing of HTTP/1.1."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asgi_master._build import COMPILED

PACKAGE = Path(__file__).resolve().parents[2] / "asgi_master"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and (node.test.id == "TYPE_CHECKING")
    )


def _imports(name: str, path: Path) -> set[str]:
    """Every module of the package that ``name`` imports, at the top or inside functions (lazy
    imports), but not under ``if TYPE_CHECKING`` (never executed: annotations only)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules)
            # ``from pkg import sub`` needs only pkg.sub; ``from mod import name`` needs mod
            if module in MODULES and len(submodules) < len(node.names):
                found.add(module)
    # importing ``a.b.c`` runs the ``__init__`` of ``a.b`` first: an edge to each package on
    # the way (but not to the importer's own, which are imported before it)
    own = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
    for module in list(found):
        while "." in module:
            module = module.rpartition(".")[0]
            if module in MODULES and module not in own:
                found.add(module)
    found.discard(name)
    return found


GRAPH: dict[str, set[str]] = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return components


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(GRAPH[node])
    return seen


def _third_party(name: str) -> set[str]:
    """Top-level names of what ``name`` imports from outside the package."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.partition(".")[0])
    return out


def test_the_package_has_no_import_cycle():
    assert _cycles() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_500_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_the_http11_connection_and_all_it_imports_never_import_asyncio():
    modules = _reachable("asgi_master.worker.http.connection")
    assert "asgi_master.worker.http.reader" in modules  # the graph is read, not empty
    assert [m for m in sorted(modules) if "asyncio" in _third_party(m)] == []


def test_the_request_cycle_imports_nothing_of_http11():
    modules = _reachable("asgi_master.worker.cycle")
    assert "asgi_master.worker.stream" in modules
    assert [m for m in sorted(modules) if m.startswith("asgi_master.worker.http")] == []


def test_the_import_graph_sees_lazy_imports_and_leaves_out_type_checking_ones():
    # a lazy import inside a function is an edge (a cycle through it would be found) ...
    assert "asgi_master.config.cpus" in GRAPH["asgi_master.config.types"]  # auto_workers()
    # ... an import for annotations only is not (scope.py reads context.py's types)
    assert "asgi_master.worker.context" not in GRAPH["asgi_master.worker.scope"]


def _except_names_of_two_types(source: str) -> list[str]:
    """Functions that bind one ``except ... as NAME`` to two exception types."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            types: dict[str, set[str]] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type is not None:
                    types.setdefault(node.name, set()).add(ast.unparse(node.type))
            found += [f"{fn.name}: {n} {sorted(t)}" for n, t in types.items() if len(t) > 1]
    return found


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_no_compiled_function_binds_one_except_name_to_two_types(name):
    # mypyc 2.4.1 types such a name by its first handler: the second then raises TypeError
    # ("MalformedRequest object expected; got RejectedRequest") instead of handling its error
    assert _except_names_of_two_types(MODULES[name].read_text()) == []


def test_the_except_name_check_finds_the_pattern():
    source = (
        "def f():\n    try:\n        pass\n    except OSError as exc:\n        pass\n"
        "    try:\n        pass\n    except ValueError as exc:\n        pass\n"
    )
    assert _except_names_of_two_types(source) == ["f: exc ['OSError', 'ValueError']"]
