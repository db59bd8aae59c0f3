"""The code base stays ruff-clean (lint and format) and mypy-clean (the core, see pyproject.toml), as the
developers' guide asks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if not found:
        pytest.fail("ruff is not installed: install the [dev] extra")
    return [found]


@pytest.mark.parametrize("args", [["check", "--output-format", "concise"], ["format", "--check"]])
def test_ruff(args):
    done = subprocess.run([*_ruff(), *args, "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_on_the_core():
    """``mypy`` with no arguments checks what pyproject.toml's ``[tool.mypy]`` lists (the core, minus the parts
    being reworked); the Nuke plugin is checked against types-nuke in tests/nuke."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


#: NumPy calls that go to BLAS/LAPACK (OpenBLAS here). OpenBLAS splits them over worker threads that then spin
#: after every call: on an idle machine that costs a core's share (the sixth speed pass, docs/method.md), and the
#: cut check's three ``np.dot`` of ~20 000 values a frame pair took the 432x240 moving blob from ~96 to ~140 CPU
#: ms a frame. ``np.linalg.norm`` with ``axis`` is a plain reduction and is allowed.
_BLAS_CALLS = {"dot", "vdot", "inner", "matmul", "einsum", "tensordot", "outer"}


def _blas_uses(path: Path) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append(f"{path.name}:{node.lineno} @")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            in_linalg = isinstance(owner, ast.Attribute) and owner.attr == "linalg"
            if name in _BLAS_CALLS and not in_linalg:
                found.append(f"{path.name}:{node.lineno} {name}")
            elif in_linalg and not (name == "norm" and any(k.arg == "axis" for k in node.keywords)):
                found.append(f"{path.name}:{node.lineno} linalg.{name}")
    return found


def test_the_core_makes_no_blas_call():
    uses = [use for path in sorted((REPO / "src" / "aifx_core").rglob("*.py")) for use in _blas_uses(path)]
    assert uses == [], f"BLAS calls in the core (write them element-wise): {uses}"


def test_the_blas_check_sees_a_product(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import numpy as np\nx = np.dot(a, b) + (a @ b)\ny = np.linalg.inv(m)\nz = np.linalg.norm(v)\n"
    )
    assert len(_blas_uses(probe)) == 4
    probe.write_text("import numpy as np\nn = np.linalg.norm(v, axis=-1)\ns = (a * b).sum()\n")
    assert _blas_uses(probe) == []


def test_the_readme_names_the_python_the_pinned_setup_needs():
    """The README said Python 3.10+, but the pinned test setup needs the Python bpy's wheels are built for
    (constraints.txt's header) and numpy 1.26 has no Python 3.13 wheel: the README says both."""
    import re

    constraints = (REPO / "constraints.txt").read_text(encoding="utf-8")
    (bpy_python,) = re.findall(r"bpy [\d.]+, Python (3\.\d+)", constraints)
    numpy = re.search(r"^numpy==(\d+)\.(\d+)", constraints, re.M)
    assert numpy is not None
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    heading = next(line for line in readme.splitlines() if line.startswith("## Try it on a fresh machine"))
    assert f"the tests need {bpy_python}" in heading, heading
    tests = readme.split("Run the tests", 1)[1].split("<!-- test-command -->", 1)[0]
    assert f"**Python {bpy_python}**" in tests, tests
    if (int(numpy[1]), int(numpy[2])) < (2, 1):  # numpy's first release with Python 3.13 wheels
        assert "3.10-3.12" in heading and "no wheels for Python 3.13" in readme


def test_the_results_files_the_docs_cite_are_in_the_repository():
    """docs/farm.md cited benchmarks/results/resume.json for the resume numbers, a file never committed."""
    import re

    cited = {
        (doc.name, name)
        for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
        for name in re.findall(r"benchmarks/results/[\w.-]+\.json", doc.read_text(encoding="utf-8"))
    }
    assert cited
    assert [(doc, name) for doc, name in sorted(cited) if not (REPO / name).is_file()] == []


def test_no_module_of_the_core_imports_another_modules_private_name():
    """A name with a leading underscore is its module's own: ``previz`` imported ``storyboard._file_name`` and
    ``submit`` imported ``cli._progress_printer``, so a change made for one module's sake broke another's
    without a word. What modules share is public (a private alias of a public name, ``import area as _area``,
    is the importer's own). Names imported for annotations only (under ``if TYPE_CHECKING:``) are not checked:
    propagate/seam.py annotates with pairs._Frame, a class it never makes or calls."""
    import ast

    found = []
    for path in sorted((REPO / "src" / "aifx_core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or id(node) in typing_only:
                continue
            if node.level == 0 and not (node.module or "").startswith("aifx_core"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}.{alias.name}")
    assert not found, "\n".join(found)
