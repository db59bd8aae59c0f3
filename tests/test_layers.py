"""The floors of aifx_core: no import cycle, and no module imports one that stands above it in the data flow.

Every ``import`` counts, also those inside functions (a lazy import is still a dependency). The floors, lowest
first (a unit may import its own floor's modules only inside itself, and any unit on a lower floor):

0. ``protocol`` — the job, errors, events, client; standard library only (copied into the adapters);
1. ``errors``, ``job`` (aliases of the floor), ``progress``, ``options`` (how backends declare options);
2. ``colour``;  3. ``sequence`` — frames in and out;
4. ``mask``, ``flow``;  5. ``composite``, ``metrics``, ``confidence`` — per-frame operations;
6. ``inpaint`` — what a backend is, and the spatial backends;
7. ``propagate``, ``generate`` — whole-shot backends built on the spatial ones (handed a factory);
8. ``backends`` — the registry above all backends: built-ins, plugins, the routing rule;
9. ``manifest``, ``anchors``, ``contact_sheet`` (beside the output);  10. ``pipeline`` — one job from start to end;
11. entry points: ``cli``, ``evaluate``, ``storyboard``, ``__main__`` and any module not listed here.

The package's ``__init__`` is the public façade (its lazy ``fill`` reaches the pipeline) and is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aifx_core"

FLOORS = {
    "protocol": 0,
    "errors": 1,
    "job": 1,
    "progress": 1,
    "options": 1,
    "workers": 1,
    "colour": 2,
    "sequence": 3,
    "mask": 4,
    "flow": 4,
    "composite": 5,
    "metrics": 5,
    "confidence": 5,
    "inpaint": 6,
    "propagate": 7,
    "generate": 7,
    "backends": 8,
    "manifest": 9,
    "anchors": 9,
    "contact_sheet": 9,
    "pipeline": 10,
}
TOP = 11


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Modules of aifx_core that ``path`` imports (absolute names; ``from . import x`` resolved to modules)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "aifx_core"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "aifx_core":
                continue
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # ``from .pkg import module``
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = {t for t in _imports(path, name) if t in modules and t != name}
        graph[name] = targets
    return graph


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _floor(module: str) -> int:
    return FLOORS.get(_unit(module), TOP)


def test_no_import_cycles():
    graph = {m: {t for t in ts if t != "aifx_core"} for m, ts in _graph().items() if m != "aifx_core"}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt in graph and not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_imports_one_above_it():
    upward = []
    for module, targets in _graph().items():
        if module == "aifx_core":
            continue
        for target in targets:
            if target == "aifx_core" and _unit(module) == "cli":
                continue  # ``from . import __version__``
            if _unit(target) != _unit(module) and _floor(target) >= _floor(module) and _floor(module) < TOP:
                upward.append(f"{module} (floor {_floor(module)}) imports {target} (floor {_floor(target)})")
    assert not upward, "\n".join(sorted(upward))


def test_inpaint_never_imports_propagate_or_generate():
    for module, targets in _graph().items():
        if _unit(module) == "inpaint":
            assert not {t for t in targets if _unit(t) in ("propagate", "generate", "backends")}, module


def test_the_rule_finds_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks can fail: a fake package with both faults trips both."""
    fake = tmp_path / "aifx_core"
    (fake / "inpaint").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "inpaint" / "__init__.py").write_text("")
    (fake / "inpaint" / "base.py").write_text("def f():\n    from ..propagate import engine\n")
    (fake / "propagate").mkdir()
    (fake / "propagate" / "__init__.py").write_text("")
    (fake / "propagate" / "engine.py").write_text("from ..inpaint import base\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    import pytest

    with pytest.raises(AssertionError, match="inpaint.base"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match="inpaint.base \\(floor 6\\) imports aifx_core.propagate"):
        test_no_module_imports_one_above_it()
