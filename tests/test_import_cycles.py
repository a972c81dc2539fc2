"""No import cycles in calltape: not between modules, not between packages, lazy imports included.

Every ``import`` and ``from … import`` in ``src/calltape`` counts, wherever it stands: at the top, inside a
function, or under ``TYPE_CHECKING``. A cycle hidden in a function is still a cycle in the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "calltape"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The calltape modules *name* imports (``from pkg import module`` counts as the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return {module for module in found if module in known and module != name}


def _package(module: str, modules: dict[str, Path]) -> str:
    """``calltape.switch.call`` → ``calltape.switch``; a top-level module is its own package."""
    parts = module.split(".")
    is_package = modules[module].name == "__init__.py"
    return ".".join(parts[:2]) if len(parts) > 2 or (is_package and len(parts) == 2) else module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
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
                        found.append(sorted(component))
    return found


def _graph() -> tuple[dict[str, set[str]], dict[str, Path]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}, modules


def test_the_cycle_finder_finds_a_cycle_and_its_members() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others() -> None:
    graph, _ = _graph()
    assert len(graph) > 100  # the walk found the source
    assert _cycles(graph) == []


def _package_graph() -> dict[str, set[str]]:
    graph, modules = _graph()
    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = _package(module, modules)
        packages.setdefault(here, set()).update(_package(other, modules) for other in imported)
        packages[here].discard(here)
    return packages


def test_no_package_imports_itself_through_others() -> None:
    assert _cycles(_package_graph()) == []


# The house, bottom up (docs/architecture.md): a package imports only packages on floors below its own.
FLOORS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (name, frozenset(f"calltape.{package}" if package != "calltape" else package for package in packages.split()))
    for name, packages in (
        ("tools", "calltape logs digits tasks s3_bucket http_client manifest prometheus runtime ui at_rest failures"),
        (
            "SIP messages and media (sans-IO SIP, RTP, codecs), text patterns, retry schedules",
            "sip media patterns retry",
        ),
        ("SIP over WebSocket connections", "sip_websocket"),
        ("sockets, the store, carriers' rules", "sip_transport worker store carriers worker_metrics"),
        ("settings, health, the outbox loop", "config health node_metrics outbox_worker worker_control"),
        ("e-mail, webhooks, the receiver, the test phone", "notify webhooks receiver softphone"),
        ("delivery, the directory", "delivery directory demo"),
        ("recording", "recording"),
        ("the call model", "switch"),
        ("callflows", "callflow"),
        ("the front door, the API, the checks", "frontdoor api check verify edge keys"),
        ("the node, a local cluster of them", "node cluster"),
        ("the service", "service"),
        ("its workers", "workers"),
        ("the command line", "cli"),
        ("python -m calltape", "__main__"),
    )
)


def _upward(graph: dict[str, set[str]], floor_of: dict[str, int]) -> list[str]:
    """The imports that go sideways or up."""
    return sorted(
        f"{here} (floor {floor_of[here]}) imports {there} (floor {floor_of[there]})"
        for here, imported in graph.items()
        for there in imported
        if floor_of[there] >= floor_of[here]
    )


def test_the_floor_check_finds_an_import_going_up_or_sideways() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert _upward(graph, {"a": 2, "b": 1, "c": 0}) == []
    assert _upward(graph, {"a": 1, "b": 1, "c": 0}) == ["a (floor 1) imports b (floor 1)"]
    assert _upward(graph, {"a": 2, "b": 0, "c": 1}) == ["b (floor 0) imports c (floor 1)"]


def test_every_package_is_on_a_floor_and_imports_only_below_it() -> None:
    floor_of = {package: level for level, (_, packages) in enumerate(FLOORS) for package in packages}
    graph = _package_graph()
    assert set(graph) - set(floor_of) == set(), "a new package: give it a floor here and in docs/architecture.md"
    assert _upward(graph, floor_of) == []
