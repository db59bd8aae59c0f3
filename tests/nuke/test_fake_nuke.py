"""The fake ``nuke`` where it was kinder than Nuke: a plugin regression there must fail a test, not pass it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import nuke
import numpy as np
import pytest
from conftest import FAKE_NUKE


def test_execute_in_main_thread_with_result_from_the_main_thread_fails_where_nuke_would_hang():
    """Nuke's (executeInMain.py) queues the call and waits on an event only the main thread's loop sets."""
    nuke.GUI = True
    with pytest.raises(RuntimeError, match="from the main thread: Nuke would hang"):
        nuke.executeInMainThreadWithResult(lambda: "returned")
    results: list = []
    worker = threading.Thread(target=lambda: results.append(nuke.executeInMainThreadWithResult(lambda: 7)))
    worker.start()
    nuke._run_main_loop(worker, timeout=10)
    assert results == [7], "from another thread it still runs in the main thread"


def test_x_with_a_stepped_frame_range_renders_every_step(comp, tmp_path):
    """Foundry's command line: ``-F first-last[xstep]``; the fake's ``-x`` stopped on ``1001-1003x2``."""
    write = nuke.nodes.Write(
        name="Out", file=(tmp_path / "out" / "comp.####.exr").as_posix(), create_directories=True
    )
    write.setInput(0, comp["plate_node"])
    script = tmp_path / "comp.nk"
    nuke.scriptSave(str(script))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_NUKE), os.environ.get("PYTHONPATH", "")])}
    env.pop("NUKE_PATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "nuke", "-x", "-F", "1001-1003x2", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["comp.1001.exr", "comp.1003.exr"]


def test_time_offset_and_frame_range_move_and_set_the_range_and_offset_the_pixels(comp):
    plate = comp["plate_node"]
    offset = nuke.nodes.TimeOffset(name="TimeOffset1", time_offset=10)
    offset.setInput(0, plate)
    clip = nuke.nodes.FrameRange(name="FrameRange1", first_frame=1002, last_frame=1002)
    clip.setInput(0, plate)
    assert (offset.firstFrame(), offset.lastFrame()) == (1011, 1013)
    assert (clip.firstFrame(), clip.lastFrame()) == (1002, 1002)
    assert np.array_equal(nuke._pull(offset, 1012)["rgba.red"], nuke._pull(plate, 1002)["rgba.red"])
    assert np.array_equal(nuke._pull(offset, 1002)["rgba.red"], nuke._pull(plate, 1001)["rgba.red"]), "held"
    assert not np.array_equal(nuke._pull(offset, 1002)["rgba.red"], nuke._pull(plate, 1002)["rgba.red"])
    assert np.array_equal(nuke._pull(clip, 1003)["rgba.red"], nuke._pull(plate, 1003)["rgba.red"])
    offset["disable"].setValue(True)
    assert (offset.firstFrame(), offset.lastFrame()) == (1001, 1003)


def test_parent_in_an_expression_names_the_group_the_node_is_in():
    """Foundry's knob names go ``root.Group1.Blur1.size``: inside group Cleanup, ``parent`` is Cleanup (a gizmo's
    insides read its knobs as ``parent.gain``). The fake took it for Cleanup's parent, the project."""
    group = nuke.nodes.Group(name="Cleanup")
    group.addKnob(nuke.Double_Knob("gain", "gain"))
    outside = nuke.nodes.Blur(name="Soft", size="2")
    with group:
        grade = nuke.nodes.Grade(name="Pre", white="{{parent.gain}}")
        lift = nuke.nodes.Grade(name="Lift", black="{{parent.Pre.white}}")
        up = nuke.nodes.Grade(name="Up", black="{{parent.parent.Soft.size}}")
    assert grade.dependencies(nuke.EXPRESSIONS) == [group]
    assert lift.dependencies(nuke.EXPRESSIONS) == [grade]
    assert up.dependencies(nuke.EXPRESSIONS) == [outside]


def test_a_file_knobs_value_is_in_printf_notation_and_the_script_keeps_the_text(tmp_path):
    """Foundry's File_Knob.value(): "will be normalized to technical notation if sequence (%4d)"; the fake gave
    the text as set, so a plugin comparing a Read's file with ``####`` passed here and failed in Nuke."""
    read = nuke.nodes.Read(name="Plate", file="/shots/plate.####.exr")
    assert read["file"].value() == read["file"].getValue() == "/shots/plate.%04d.exr"
    assert read["file"].toScript() == "/shots/plate.####.exr"
    assert "file /shots/plate.####.exr" in read.writeKnobs(nuke.WRITE_NON_DEFAULT_ONLY | nuke.TO_SCRIPT)
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    assert nuke.toNode("Plate")["file"].toScript() == "/shots/plate.####.exr"


def test_a_string_knobs_value_is_evaluated_and_get_text_is_as_typed(monkeypatch):
    """Foundry's String_Knob (12.2 Python reference): value() "Get the evaluated value of this knob as a
    string", getText() "Get the non-evaluated value of this knob"; the fake gave the text either way."""
    monkeypatch.setenv("SHOW", "sh010")
    knob = nuke.String_Knob("note", "note")
    knob.setValue("shot [getenv SHOW]")
    assert knob.value() == "shot sh010" and knob.getText() == "shot [getenv SHOW]"
    knob.setValue("a neon sign reading [OPEN]")
    with pytest.raises(RuntimeError, match="invalid command name"):
        knob.value()
    assert knob.getText() == "a neon sign reading [OPEN]"


def test_a_reads_frame_mode_moves_its_range_and_its_frames_and_its_buttons_exist(comp):
    """Foundry's Read has a frame row (``frame_mode`` expression / start at / offset, and ``frame``) and the
    buttons ``reload`` and ``updateLocalization``; the fake had none, so a plugin that read a shifted Read as
    its files' numbers passed. Offset 10 (or start at 1011) shows file 1001 at 1011, the range moved with it."""
    plate = comp["plate_node"]
    file_1002 = nuke._pull(plate, 1002)["rgba.red"]
    for mode, value in (("offset", "10"), ("start at", "1011")):
        plate["frame_mode"].setValue(mode)
        plate["frame"].setValue(value)
        assert (plate.firstFrame(), plate.lastFrame()) == (1011, 1013), mode
        assert (plate["first"].value(), plate["last"].value()) == (1001, 1003), "the files' range stays"
        assert np.array_equal(nuke._pull(plate, 1012)["rgba.red"], file_1002), mode
        assert "frame_mode" in plate.writeKnobs(nuke.WRITE_NON_DEFAULT_ONLY), "saved, so keyed"
    plate["frame_mode"].setValue("expression")
    plate["frame"].setValue("frame*2")
    with pytest.raises(NotImplementedError, match="frame expression"):
        plate.firstFrame()  # (the fake reads none: never the wrong files)
    plate["frame"].setValue("")
    assert (plate.firstFrame(), plate.lastFrame()) == (1001, 1003)
    plate["reload"].execute()
    plate["updateLocalization"].execute()
