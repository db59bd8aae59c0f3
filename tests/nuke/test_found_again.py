"""A finished fill is found again by its keys, wherever the script was opened from and whatever the node is called."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import nuke
import pytest
from aifx_nuke import knobs, nodes, session
from conftest import PLUGIN


def _reopen(script: Path) -> nuke.Node:
    """A new Nuke session (the plugin's init.py) opening ``script``; returns its AIFill."""
    nuke._reset()
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    found = [n for n in nuke.allNodes("Group") if n.knob("aifx_env") is not None]
    assert len(found) == 1
    return found[0]


def test_a_node_renamed_after_its_render_keeps_its_result(comp, tmp_path):
    nodes.render_node(comp["fill"])
    comp["fill"].setName("AIFill_rig")
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    fill = _reopen(tmp_path / "comp.nk")
    assert fill.name() == "AIFill_rig"
    assert "found in the cache" in fill["status"].value()
    nuke._pull(fill, 1002)
    assert nodes.render_node(fill).reused, "Render does not fill it again"
    assert nuke.execute_log == []


def test_a_script_opened_from_another_folder_keeps_its_result(comp, tmp_path):
    """The default cache folder is beside the script: a copy in another folder (Save As into publish/, a farm
    submitter copying the .nk) has another default folder, but its Read shows the fill of the same keys."""
    comp["fill"]["cache_dir"].setValue("")
    (tmp_path / "work").mkdir()
    (tmp_path / "publish").mkdir()
    nuke.scriptSave(str(tmp_path / "work" / "comp_v001.nk"))
    result = nodes.render_node(comp["fill"]).result
    assert result.startswith(str(tmp_path / "work" / "aifx_cache"))
    nuke.scriptSave(str(tmp_path / "work" / "comp_v001.nk"))
    shutil.copy(tmp_path / "work" / "comp_v001.nk", tmp_path / "publish" / "comp_v001.nk")

    fill = _reopen(tmp_path / "publish" / "comp_v001.nk")
    assert "found in the cache" in fill["status"].value()
    assert fill.node(knobs.READ_RESULT)["file"].value() == result.replace("####", "%04d"), "as Nuke gives it"
    outcome = nodes.render_node(fill)
    assert outcome.reused and outcome.result == result
    assert not (tmp_path / "publish" / "aifx_cache").exists()


def test_a_result_that_is_gone_says_where_it_was_looked_for_not_that_the_inputs_changed(comp, tmp_path):
    nodes.render_node(comp["fill"])
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    shutil.rmtree(comp["cache"])
    fill = _reopen(tmp_path / "comp.nk")
    status = fill["status"].value()
    assert status.startswith(
        f"not rendered: no finished result of these inputs and settings under {comp['cache']}"
    )
    assert "changed" not in status
    assert fill.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED


def test_a_fill_nuke_gives_back_in_printf_notation_renders_below_and_is_found_again(comp, tmp_path):
    """Nuke gives a Read's file in printf notation (``result.%04d.exr``, Foundry's File_Knob.value()): right
    after a render, the comp Write below the AIFill was refused ("its inputs or settings changed since its
    render") and the node forgot its fill, and a reopened script never found its result."""
    fill = comp["fill"]
    runpy.run_path(str(PLUGIN / "init.py"))
    result = nodes.render_node(fill).result
    assert fill.node(knobs.READ_RESULT)["file"].value() == result.replace("####", "%04d"), "as Nuke gives it"
    write = nuke.nodes.Write(name="CompOut", file=(tmp_path / "out" / "comp.####.exr").as_posix())
    write["create_directories"].setValue(True)
    write.setInput(0, fill)
    nuke.execute(write, 1001, 1003)
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)"
    nuke.scriptSave(str(tmp_path / "comp.nk"))

    fill = _reopen(tmp_path / "comp.nk")
    assert "found in the cache" in fill["status"].value()
    fill["cache_dir"].setValue(str(tmp_path / "elsewhere"))  # found by its keys: the Read's own folder
    nuke.execute_log.clear()
    outcome = nodes.render_node(fill)
    assert outcome.reused and outcome.result == result and nuke.execute_log == []


@pytest.mark.parametrize("in_flight", ["writing inputs 1001-1003", "rendering 1001-1003"])
def test_a_script_saved_while_its_aifill_rendered_does_not_say_rendering_when_reopened(
    comp, tmp_path, in_flight
):
    """Saved (or autosaved) while the node wrote its inputs or ran its worker, the script reopened with the status
    "rendering 1001-1003" for good: nothing renders in a script just opened. It says it is not rendered, unless
    the render finished meanwhile: then its result is found."""
    fill = comp["fill"]
    nodes.NukeHost(fill).set_status(in_flight)  # what the node shows while it renders
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    reopened = _reopen(tmp_path / "comp.nk")
    assert reopened["status"].value() == session.INTERRUPTED
    assert reopened.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED

    nuke._reset()
    nuke.scriptOpen(str(tmp_path / "comp.nk"))  # (no plugin: init.py not run)
    nodes.render_node(nuke.toNode("AIFill1"))  # the render finishes after the save
    reopened = _reopen(tmp_path / "comp.nk")
    assert "found in the cache" in reopened["status"].value()
