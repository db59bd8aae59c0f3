"""Farm entry point: ``nuke -t <plugin>/aifx_nuke/render.py comp.nk AIFill1 1001-1100``."""

from __future__ import annotations

import os
import subprocess
import sys

import nuke
from aifx_nuke import knobs, render
from conftest import FAKE_NUKE, PLUGIN

RENDER_PY = PLUGIN / "aifx_nuke" / "render.py"


def test_farm_renders_a_node_by_name_over_the_given_range(comp, tmp_path, capsys):
    script = tmp_path / "comp.nk"
    script.write_text("# saved by Nuke\n")
    assert render.main([str(script), "AIFill1", "1001-1002"]) == 0
    out = capsys.readouterr().out
    assert nuke.opened_scripts == [str(script)]
    assert nuke.execute_log == [
        ("AIFill1.aifx_write_source", 1001, 1002),
        ("AIFill1.aifx_write_mask", 1001, 1002),
    ]
    assert "AIFill AIFill1: 100%" in out, "progress lines for the farm log"
    assert "aifx: AIFill1 frames 1001-1002: filled 2 frame(s) -> " in out
    result = comp["fill"].node(knobs.READ_RESULT)["file"].value()
    assert all(os.path.exists(result.replace("####", str(f))) for f in (1001, 1002))
    assert nuke.progress_tasks == [], "no dialog headless"

    # a retried task finds the result cached
    assert render.main([str(script), "AIFill1", "1001-1002"]) == 0
    assert "reused the cache" in capsys.readouterr().out
    assert len(nuke.execute_log) == 2


def test_farm_without_range_uses_the_nodes_own_range(comp, tmp_path, capsys):
    script = tmp_path / "comp.nk"
    script.write_text("# saved by Nuke\n")
    comp["fill"]["frame_range"].setValue("1003")
    assert render.main([str(script), "AIFill1"]) == 0
    assert nuke.execute_log[0] == ("AIFill1.aifx_write_source", 1003, 1003)


def test_farm_reports_an_unknown_node_with_the_names_that_exist(comp, tmp_path, capsys):
    script = tmp_path / "comp.nk"
    script.write_text("# saved by Nuke\n")
    assert render.main([str(script), "AIFill9", "1001-1002"]) == 1
    err = capsys.readouterr().err
    assert "no AIFill node named AIFill9" in err and "AIFill nodes: AIFill1" in err
    assert nuke.execute_log == []


def test_farm_bad_arguments_exit_2_with_usage(tmp_path, capsys):
    assert render.main(["comp.nk"]) == 2
    assert "usage: nuke -t" in capsys.readouterr().err


def _run_as_script(*args: str) -> subprocess.CompletedProcess:
    """As ``nuke -t render.py ...`` runs it: a script, not an imported module (fake nuke on the path)."""
    env = {**os.environ, "PYTHONPATH": str(FAKE_NUKE)}
    return subprocess.run(
        [sys.executable, str(RENDER_PY), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_render_py_runs_as_a_script(tmp_path):
    script = tmp_path / "empty.nk"
    script.write_text("# an empty script\n")
    done = _run_as_script(str(script), "AIFill1", "1-10")
    assert done.returncode == 1, done.stderr
    assert "no AIFill node named AIFill1" in done.stderr
    usage = _run_as_script()
    assert usage.returncode == 2 and "usage:" in usage.stderr
