"""The layers of DESIGN.md hold: imports point down only, there are no import cycles,
and Ray is imported only under ``halving/backends/``. Checked statically from every
import statement in the source (those inside functions too), so a lazy import cannot
hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import halving

ROOT = Path(halving.__file__).parent

# Modules every layer may use: they import nothing of halving but each other.
BASE = {"halving.errors", "halving.checks", "halving.trainable", "halving.scripts", "halving.synthetic",
        "halving.signing", "halving.runlock"}


def _layer(module: str) -> int:
    if module == "policies" or module.startswith("policies."):
        return 0
    if module in BASE:
        return 1
    if module.startswith("halving.backends"):
        return 2
    if module == "halving.cli" or module.startswith("halving.cli."):
        return 4
    return 3  # the engine layer: spec, engine, log, results, tune, simulate


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if "examples" in parts:
            continue  # the bundled examples are users of the public API
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The halving/policies modules ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and not target.startswith("policies"):
                target = target.rpartition(".")[0]
            if target.startswith("policies"):
                found.add("policies")
            elif target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_imports_point_down_only():
    upward = []
    for name, deps in _graph().items():
        if name == "halving":
            continue  # the package facade re-exports the public names of every layer
        for dep in deps:
            if dep != "halving" and _layer(dep) > _layer(name):
                upward.append(f"{name} (layer {_layer(name)}) imports {dep} (layer {_layer(dep)})")
            if dep == "halving" and _layer(name) < 3:
                upward.append(f"{name} imports the halving package facade")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = {n: {d for d in deps if d in _modules()} for n, deps in _graph().items()}
    graph.pop("halving", None)
    for deps in graph.values():
        deps.discard("halving")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_only_backends_import_ray():
    outside = []
    for path in ROOT.rglob("*.py"):
        if "backends" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "ray" or n.startswith("ray.") for n in names):
                outside.append(str(path.relative_to(ROOT.parent)))
    assert not outside, outside


def test_the_checker_sees_an_upward_import(tmp_path):
    # The checks above must be able to fail: a backend module importing the engine is caught.
    fake = tmp_path / "halving" / "backends"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from ..engine import Engine\n")
    deps = _imports("halving.backends.bad", fake / "bad.py", {"halving.engine", "halving.backends.bad"})
    assert deps == {"halving.engine"} and _layer("halving.engine") > _layer("halving.backends.bad")
