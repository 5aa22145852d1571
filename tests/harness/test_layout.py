"""The harness stands alone: it never imports the worker, and its modules import in one direction.

Read from the source (ast), so an import hidden inside a function counts as much as one at the
top: a circle dodged by a late import is still a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def _module(path: Path) -> str:
    rel = path.relative_to(HARNESS.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in HARNESS.rglob("*.py")}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def test_no_harness_module_imports_the_worker() -> None:
    offenders = {
        name: sorted(i for i in _imports(path) if i == "worker" or i.startswith("worker."))
        for name, path in ((_module(p), p) for p in HARNESS.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_harness_module_imports_with_the_worker_unimportable() -> None:
    names = sorted(_graph())
    code = (
        "import importlib, sys\n"
        "sys.modules['worker'] = None  # any `import worker...` now raises ImportError\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=HARNESS.parent, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []
