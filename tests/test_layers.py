"""The import direction of docs/architecture.md, checked on the source (ast only: nothing is imported).

Every module under src/synthloom belongs to a layer; a module may import its own layer and the
layers below it, never one above. Packages import each other without cycles, and so do modules.
Lazy imports inside a function count the same as those at the top: they are real dependencies.

An exception would be listed below, and the test fails when one of them is gone, so that the list
only ever shrinks; there are none.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "synthloom"

# bottom to top; the names are top-level modules or packages of synthloom ("" is synthloom/__init__.py)
LAYERS: list[set[str]] = [
    {"errors", "records", "userfiles", "registry", "prompts", "cores"},
    {"config"},
    {"runs"},
    {"llm", "sources"},
    {"quality"},
    {"generators"},
    {"engine"},
    {"review"},
    {"export"},
    {"train"},
    {"", "pipeline", "cli", "__main__"},
]

# (importer, imported) arrows that still point upward
ALLOWED_UPWARD = {
}
# module cycles, inside a package too: none (a cycle is fixed by moving what both sides share down a module)
ALLOWED_CYCLES: set[frozenset[str]] = set()


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports() -> dict[str, set[str]]:
    """module -> the synthloom modules it imports (a package means its __init__)."""
    files = {_name(p): p for p in PKG.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:  # `from . import x` imports the module x when there is one
                    sub = f"{target}.{alias.name}"
                    edges[mod].add(sub if sub in files else target)
            elif isinstance(node, ast.Import):
                edges[mod].update(a.name for a in node.names)
    return {m: {t for t in ts if t in files and t != m} for m, ts in edges.items()}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: str) -> int:
    for i, names in enumerate(LAYERS):
        if top(module) in names:
            return i
    raise AssertionError(f"{module}: in no layer; add {top(module)!r} to LAYERS here and to docs/architecture.md")


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.add(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        found.append(comp)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_module_has_a_layer():
    for mod in module_imports():
        layer_of(mod)


def test_no_module_imports_a_higher_layer():
    upward = sorted((a, b) for a, targets in module_imports().items() for b in targets
                    if layer_of(b) > layer_of(a) and (a, b) not in ALLOWED_UPWARD)
    assert not upward, "imports that point up a layer (see docs/architecture.md):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in upward)


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, targets in module_imports().items():
        graph[top(a)]
        for b in targets:
            if top(a) != top(b) and (a, b) not in ALLOWED_UPWARD:
                graph[top(a)].add(top(b))
    assert not cycles(graph), f"packages that import each other: {cycles(graph)}"


def test_no_import_cycle_between_modules():
    graph = module_imports()
    for a, b in ALLOWED_UPWARD:
        graph[a].discard(b)
    found = [c for c in cycles(graph) if frozenset(c) not in ALLOWED_CYCLES]
    assert not found, "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(sorted(c)) for c in found)


def test_the_allowed_exceptions_still_exist():
    """An exception that the code no longer has is struck from the lists above."""
    edges = module_imports()
    gone = [f"{a} -> {b}" for a, b in ALLOWED_UPWARD if b not in edges.get(a, set())]
    present = {frozenset(c) for c in cycles(edges)}
    gone += [" <-> ".join(sorted(c)) for c in ALLOWED_CYCLES if c not in present]
    assert not gone, "fixed: remove from ALLOWED_UPWARD / ALLOWED_CYCLES in tests/test_layers.py: " + "; ".join(gone)


def test_the_cycle_finder_sees_a_loop_round_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []
