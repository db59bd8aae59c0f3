"""Farm entry point: ``nuke -t <plugin>/aifx_nuke/render.py comp.nk AIFill1 1001-1100``, from a saved script."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

import nuke
import pytest
from aifx_nuke import jobs, knobs, render
from conftest import FAKE_NUKE, PLUGIN

RENDER_PY = PLUGIN / "aifx_nuke" / "render.py"


def _save(tmp_path: Path) -> Path:
    """Save the comp as the artist does before submitting, and close it: the farm starts from the file."""
    script = tmp_path / "comp.nk"
    nuke.scriptSave(str(script))
    nuke._reset()
    return script


def test_script_open_loads_only_what_was_saved(comp, tmp_path):
    comp["fill"]["seed"].setValue(7)
    comp["fill"]["mask_channel"].setValue("rgba.green")
    script = _save(tmp_path)
    assert nuke.toNode("AIFill1") is None, "closed"
    nuke.scriptOpen(str(script))
    fill = nuke.toNode("AIFill1")
    assert fill is not None and fill is not comp["fill"]
    assert (fill["seed"].value(), fill["mask_channel"].value()) == (7, "rgba.green")
    assert fill["mask_channel"].depth() == 1 and fill["render"].getFlag(nuke.STARTLINE)
    assert fill.input(0).name() == "Plate" and fill.input(1).name() == "Matte"
    assert fill.node(knobs.WRITE_SOURCE).input(0) is fill.node(knobs.CROP_SOURCE)
    assert nuke.root().name() == str(script)


def test_farm_renders_a_node_by_name_over_the_given_range(comp, tmp_path, capsys):
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill1", "1001-1002"]) == 0
    out = capsys.readouterr().out
    assert nuke.opened_scripts == [str(script)]
    assert nuke.execute_log == [
        ("AIFill1.aifx_write_source", 1001, 1002),
        ("AIFill1.aifx_write_mask", 1001, 1002),
    ]
    assert "AIFill AIFill1: 100%" in out, "progress lines for the farm log"
    assert "aifx: AIFill1 frames 1001-1002: filled 2 frame(s) -> " in out
    result = nuke.toNode("AIFill1").node(knobs.READ_RESULT)["file"].value()
    assert all(os.path.exists(jobs.frame_path(result, f)) for f in (1001, 1002))
    assert nuke.progress_tasks == [], "no dialog headless"

    # a retried task finds the result cached
    assert render.main([str(script), "AIFill1", "1001-1002"]) == 0
    assert "reused the cache" in capsys.readouterr().out
    assert len(nuke.execute_log) == 2


def test_a_comp_rendered_before_its_fill_fails_and_renders_the_fill_once_the_farm_made_it(comp, tmp_path):
    """The farm task does not save the artist's script. Until a result exists the comp's render fails (never the
    unfilled plate); once the farm task made it, opening the script (init.py's onScriptLoad) finds it."""
    import numpy as np

    runpy.run_path(str(PLUGIN / "init.py"))  # Nuke runs the plugin's init.py at startup, in every mode
    nuke.nodes.Write(name="CompOut", file=str(tmp_path / "out" / "comp.####.exr"), create_directories=True)
    nuke.toNode("CompOut").setInput(0, comp["fill"])
    script = _save(tmp_path)
    runpy.run_path(str(PLUGIN / "init.py"))  # a new session

    nuke.scriptOpen(str(script))  # the comp render (nuke -x) before the fill
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke.execute("CompOut", 1001, 1001)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

    assert render.main([str(script), "AIFill1"]) == 0  # the farm task: the node's own range
    assert (
        nuke.scriptSave.__name__ and (tmp_path / "comp.nk").read_text().count("AIFill not rendered yet") >= 1
    )

    nuke.scriptOpen(str(script))  # the comp render after the fill: the script on disk is unchanged
    fill = nuke.toNode("AIFill1")
    assert "found in the cache" in fill["status"].value()
    nuke.execute("CompOut", 1001, 1003)
    written = nuke._read(str(tmp_path / "out" / "comp.1002.exr"))["rgba.red"]
    result = jobs.frame_path(fill.node(knobs.READ_RESULT)["file"].value(), 1002)
    np.testing.assert_allclose(written, nuke._read(result)["rgba.red"], rtol=2e-3, atol=1e-3)  # half float
    assert not np.allclose(written, nuke._read(comp["plate"].replace("####", "1002"))["rgba.red"], atol=1e-4)


def test_opening_a_script_never_fails_on_an_aifill_it_cannot_plan(comp, tmp_path, capsys):
    runpy.run_path(str(PLUGIN / "init.py"))
    comp["fill"]["aifx_env"].setValue(str(tmp_path / "no" / "python"))
    script = _save(tmp_path)
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    assert nuke.toNode("AIFill1")["status"].value() == "not rendered"


def test_a_script_saved_after_a_render_whose_upstream_changed_opens_not_rendered(comp, tmp_path):
    """The saved Read points at the old fill: after the roto changed (and the fill task has not run) the comp
    must fail, not render the old fill (docs/nuke.md, Farm rendering)."""
    from aifx_nuke import nodes

    runpy.run_path(str(PLUGIN / "init.py"))
    nodes.render_node(comp["fill"])
    fix = nuke.nodes.Grade(name="MatteFix", white=0.0)
    fix.setInput(0, comp["matte_node"])
    comp["fill"].setInput(1, fix)
    script = _save(tmp_path)
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    fill = nuke.toNode("AIFill1")
    assert "inputs or settings changed" in fill["status"].value()
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)


def test_a_rendered_node_that_cannot_be_planned_on_open_says_why_and_errors(comp):
    from aifx_nuke import nodes

    nodes.render_node(comp["fill"])
    comp["fill"].setInput(0, None)
    assert nodes.attach_cached_results() == []
    assert comp["fill"]["status"].value().startswith("not rendered: no frame range")
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(comp["fill"], 1002)


def test_a_comp_machine_without_the_aifx_python_still_finds_the_farms_result(comp, tmp_path, monkeypatch):
    """Showing a cached result needs only its key: the comp blades need not have the aifx environment."""
    monkeypatch.setenv("AIFX_VENV", os.path.dirname(os.path.dirname(sys.executable)))
    comp["fill"]["aifx_env"].setValue("$AIFX_VENV/bin/" + os.path.basename(sys.executable))
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill1"]) == 0  # the fill task, on a machine with the environment
    monkeypatch.delenv("AIFX_VENV")  # the comp render blade
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    fill = nuke.toNode("AIFill1")
    assert "found in the cache" in fill["status"].value()
    assert nuke._pull(fill, 1002)["rgba.red"].any()


def test_farm_without_range_uses_the_nodes_own_range(comp, tmp_path, capsys):
    comp["fill"]["frame_range"].setValue("1003")
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill1"]) == 0
    assert nuke.execute_log[0] == ("AIFill1.aifx_write_source", 1003, 1003)


def test_farm_reports_an_unknown_node_with_the_names_that_exist(comp, tmp_path, capsys):
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill9", "1001-1002"]) == 1
    err = capsys.readouterr().err
    assert "no AIFill node named AIFill9" in err and "AIFill nodes: AIFill1" in err
    assert nuke.execute_log == []


def test_farm_bad_arguments_exit_2_with_usage(tmp_path, capsys):
    assert render.main(["comp.nk"]) == 2
    assert "usage: nuke -t" in capsys.readouterr().err


def _nuke_t(*args: str) -> subprocess.CompletedProcess:
    """``nuke -t render.py ...`` as Nuke runs it: a script, its trailing frame range stripped from sys.argv."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_NUKE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "nuke", "-t", str(RENDER_PY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_fake_strips_a_trailing_frame_range_like_nuke(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import sys, nuke\nprint(sys.argv[1:], nuke.rawArgs[-3:])\n")
    done = subprocess.run(
        [sys.executable, "-m", "nuke", "-t", str(probe), "comp.nk", "AIFill1", "1001-1100"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(FAKE_NUKE)},
        timeout=60,
    )
    assert done.stdout.strip() == "['comp.nk', 'AIFill1'] ['comp.nk', 'AIFill1', '1001-1100']", done.stderr


@pytest.mark.parametrize("frames", ["1002-1003", "frames=1002-1003", "1002,1003"])
def test_nuke_t_renders_the_range_given_on_the_command_line(comp, tmp_path, frames):
    script = _save(tmp_path)
    done = _nuke_t(str(script), "AIFill1", frames)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "aifx: AIFill1 frames 1002-1003: filled 2 frame(s)" in done.stdout, done.stdout
    results = sorted(p.name for p in comp["cache"].glob("AIFill1/*/fill_*/result.*.exr"))
    assert results == ["result.1002.exr", "result.1003.exr"]


def test_the_farm_chain_in_fresh_nuke_processes(comp, tmp_path):
    """Comp render before the fill fails; fill task (-t); comp render (-x) reads the fill: NUKE_PATH's init.py
    runs at each start and the script on disk is never saved by the farm."""
    nuke.nodes.Write(name="CompOut", file=str(tmp_path / "out" / "comp.####.exr"), create_directories=True)
    nuke.toNode("CompOut").setInput(0, comp["fill"])
    script = _save(tmp_path)
    saved = script.read_bytes()
    env = {
        **os.environ,
        "NUKE_PATH": str(PLUGIN),
        "PYTHONPATH": os.pathsep.join([str(FAKE_NUKE), os.environ.get("PYTHONPATH", "")]),
    }

    def nuke_cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "nuke", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    early = nuke_cli("-x", "-F", "1001-1003", str(script))
    assert early.returncode == 1 and "AIFill not rendered yet" in early.stderr, early.stdout + early.stderr
    assert not list(tmp_path.glob("out/*.exr")), "no unfilled plate rendered"
    fill = nuke_cli("-t", str(RENDER_PY), str(script), "AIFill1")
    assert fill.returncode == 0, fill.stdout + fill.stderr
    comp_render = nuke_cli("-x", "-F", "1001-1003", str(script))
    assert comp_render.returncode == 0, comp_render.stdout + comp_render.stderr
    assert sorted(p.name for p in tmp_path.glob("out/*.exr")) == [f"comp.{f}.exr" for f in (1001, 1002, 1003)]
    assert script.read_bytes() == saved


def test_render_py_runs_as_a_script(tmp_path):
    script = tmp_path / "empty.nk"
    nuke.scriptSave(str(script))
    done = _nuke_t(str(script), "AIFill1", "1-10")
    assert done.returncode == 1, done.stderr
    assert "no AIFill node named AIFill1" in done.stderr
    usage = _nuke_t()
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_a_cache_folder_that_cannot_be_written_is_one_line_naming_it(comp, tmp_path, capsys):
    blocker = tmp_path / "cache_is_a_file"
    blocker.write_text("x")
    comp["fill"]["cache_dir"].setValue(str(blocker))
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "Traceback" not in err[0]
    assert err[0].startswith(f"aifx: error: AIFill1: cannot write the cache folder ({blocker}")
    assert err[0].endswith("; set cache folder to a folder this machine can write")


def test_a_cache_folder_that_cannot_be_written_reaches_the_artist_in_the_gui(comp, tmp_path):
    from conftest import press_render_in_gui

    blocker = tmp_path / "cache_is_a_file"
    blocker.write_text("x")
    comp["fill"]["cache_dir"].setValue(str(blocker))
    press_render_in_gui(comp["fill"])
    assert comp["fill"]["status"].value().startswith(f"error: cannot write the cache folder ({blocker}")
    assert len(nuke.messages) == 1 and "set cache folder to a folder" in nuke.messages[0]


def test_an_aifx_environment_that_does_not_run_is_named_not_the_cache_folder(comp, tmp_path, capsys):
    """The cache-folder message covered every OSError of a render, so an aifx environment pointing at a
    folder (the virtualenv, not its python) sent the artist to the cache folder knob."""
    venv = tmp_path / "venv"
    venv.mkdir()
    comp["fill"]["aifx_env"].setValue(str(venv))
    script = _save(tmp_path)
    assert render.main([str(script), "AIFill1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "cache folder" not in err[0], err
    assert err[0].startswith(f"aifx: error: AIFill1: cannot run the aifx Python at {venv}")
    assert err[0].endswith("; set aifx environment to the python executable of an environment with aifx-core")


def test_a_file_that_is_not_a_nuke_script_is_exit_2_in_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.nk"
    broken.write_text("this is not a nuke script\n")
    assert render.main([str(broken), "AIFill1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"aifx: error: {broken}: Nuke cannot open it (not a Nuke script); give the .nk path of the comp, "
        "and make the gizmos and plug-ins it uses available to this Nuke"
    ]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_farm_task_stopped_by_a_signal_cancels_its_worker_and_exits_130(
    comp, tmp_path, capsys, monkeypatch, number
):
    """Deadline/OpenCue cancel a task with SIGTERM, a terminal with Ctrl-C (SIGINT): render.py stops the worker
    (finished frames kept), says so and exits 130, as docs/nuke.md says, instead of a KeyboardInterrupt
    traceback or death by the signal. The signal arrives as the worker starts."""
    from aifx_nuke import session

    started = []
    original = session.WorkerProcess.start

    def start_then_signal(self):
        started.append(original(self))
        os.kill(os.getpid(), number)
        return started[-1]

    monkeypatch.setattr(session.WorkerProcess, "start", start_then_signal)
    script = _save(tmp_path)
    before = signal.getsignal(number)
    assert render.main([str(script), "AIFill1"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "aifx: AIFill1 cancelled"
    assert started and started[0].returncode is not None, "the worker was stopped and waited for"
    assert nuke.toNode("AIFill1")["status"].value().startswith("cancelled")
    assert signal.getsignal(number) is before, "the handlers are put back"
