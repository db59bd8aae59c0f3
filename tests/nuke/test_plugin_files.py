"""The plugin's files: the worker copy, the type check against types-nuke, lint target, init.py and menu.py."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys

import nuke
from conftest import PLUGIN, REPO


def test_plugin_type_checks_against_the_types_nuke_stubs():
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "nuke_plugin"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


def test_plugin_imports_no_nuke_outside_the_nuke_modules():
    """Only nodes.py, render.py (lazily), init.py and menu.py may import nuke: the logic stays testable without it."""
    allowed = {"nodes.py", "render.py", "menu.py", "init.py"}
    for path in PLUGIN.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name not in allowed:
            assert "import nuke" not in text, path


def test_init_py_only_makes_the_package_importable(monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(PLUGIN)])
    runpy.run_path(str(PLUGIN / "init.py"))
    assert str(PLUGIN) in sys.path
    assert nuke.menus == {}, "init.py must not build GUI menus (it also runs in nuke -t / -x)"
    assert len(nuke._on_script_load) == 1, "one onScriptLoad callback: cached results for AIFill nodes"
    assert [c[3] for c in nuke._knob_changed] == ["*"], (
        "knobChanged: an AIFill's edited settings, whatever its class (a gizmo's is its name)"
    )
    assert [c[3] for c in nuke._update_ui] == ["*"], (
        "updateUI: an AIFill reconnected or set with its panel closed, whatever its class"
    )
    assert [c[3] for c in nuke._before_render_calls] == ["Write"], (
        "beforeRender: no Write renders a stale fill"
    )


def test_menu_py_adds_an_aifx_toolbar_menu_with_aifill():
    runpy.run_path(str(PLUGIN / "menu.py"))
    command = nuke.menu("Nodes").items["AIFX"].items["AIFill"]
    exec(command, {})
    made = [n for n in nuke.allNodes("Group") if n.knob("aifx_env") is not None]
    assert [n.name() for n in made] == ["AIFill1"]


def test_docs_knob_table_lists_every_knob_with_its_default():
    from aifx_nuke import knobs

    rows = {
        line.split("|")[1].strip(" `"): line
        for line in (REPO / "docs" / "nuke.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for spec in knobs.KNOBS:
        assert spec.name in rows, f"docs/nuke.md knob table is missing {spec.name}"
        if spec.kind not in ("PyScript_Knob", "Boolean_Knob") and spec.default != "":
            assert str(spec.default) in rows[spec.name], spec.name
        for value in spec.values:  # every choice of a menu is documented (video-diffusion was missing)
            assert f"`{value}`" in rows[spec.name], (spec.name, value)


def _python39() -> str | None:
    """A Python 3.9 (Nuke 14's) if this machine has one: $AIFX_TEST_PYTHON39 or a pyenv install."""
    import glob
    import os

    found = [os.environ.get("AIFX_TEST_PYTHON39", "")] + sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))
    )
    return next((p for p in found if p and os.path.exists(p)), None)


def test_plugin_parses_as_python_3_9():
    import ast

    for path in PLUGIN.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 9))


def test_plugin_logic_runs_under_python_3_9(tmp_path):
    """Nuke 14 embeds Python 3.9: import the nuke-free modules there and build a job."""
    import pytest

    python = _python39()
    if python is None:
        pytest.skip("no Python 3.9 on this machine (set AIFX_TEST_PYTHON39)")
    code = (
        "import json, sys\n"
        "from aifx_nuke import jobs, knobs, session\n"
        "from aifx_nuke.aifx_protocol import client, events\n"
        "import py_compile\n"
        "for name in ('nodes', 'render'):\n"
        "    py_compile.compile(sys.argv[1] + '/aifx_nuke/' + name + '.py', doraise=True, cfile=sys.argv[2] + '/' + name)\n"
        "paths = jobs.CachePaths.make('/c', 'AIFill1', 'a', 'b')\n"
        "job = jobs.build_job(knobs.defaults(), paths, *jobs.parse_frame_range('1001-1010'), 'linear', True)\n"
        "job.validate()\n"
        "print(job.to_json())\n"
    )
    done = subprocess.run(
        [python, "-c", code, str(PLUGIN), str(tmp_path)],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(PLUGIN), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    from aifx_nuke import jobs, knobs

    expected = jobs.build_job(
        knobs.defaults(), jobs.CachePaths.make("/c", "AIFill1", "a", "b"), 1001, 1010, "linear", True
    )
    assert json.loads(done.stdout) == expected.to_dict()


#: The Python each Nuke release embeds (Foundry's release notes).
NUKE_PYTHON = {12: (2, 7), 13: (3, 7), 14: (3, 9), 15: (3, 10), 16: (3, 11)}


def test_the_oldest_nuke_the_docs_name_runs_the_python_the_plugin_is_written_for():
    """docs/nuke.md said "Nuke 13 and later (Python 3.9+)", but Nuke 13 embeds Python 3.7, where the plugin
    fails to import (typing.Protocol): the oldest Nuke named must embed the Python ruff.toml lints for."""
    import re

    import tomllib

    target = tomllib.loads((PLUGIN / "ruff.toml").read_text())["target-version"]
    wanted = (int(target[2]), int(target[3:]))
    text = (REPO / "docs" / "nuke.md").read_text(encoding="utf-8")
    (oldest,) = {int(n) for n in re.findall(r"Nuke (\d+) and later", text)}
    assert NUKE_PYTHON[oldest] >= wanted and NUKE_PYTHON[oldest - 1] < wanted, oldest
    assert f"Python {wanted[0]}.{wanted[1]}+" in text


def test_the_model_knob_says_a_model_is_required_as_the_core_does():
    """The model knob and docs/nuke.md said an empty model meant the backend's default, but every backend
    that reads a model refuses an empty one (LaMa needs its TorchScript file)."""
    import pytest
    from aifx_nuke import knobs

    from aifx_core.errors import InputError
    from aifx_core.inpaint.models import load_torchscript, locate_model

    for call in (lambda: locate_model(""), lambda: load_torchscript("", "cpu")):
        with pytest.raises(InputError, match="no (LaMa )?model given"):
            call()
    (spec,) = [s for s in knobs.KNOBS if s.name == "model"]
    row = next(
        line for line in (REPO / "docs" / "nuke.md").read_text().splitlines() if line.startswith("| `model`")
    )
    for text in (spec.tooltip, row):
        assert "default" not in text and "Required by" in text and "TorchScript" in text, text
