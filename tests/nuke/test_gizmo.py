"""An AIFill exported as a gizmo is an AIFill everywhere: its class is the gizmo's name, not "Group".

``nuke.Gizmo`` subclasses ``nuke.Group``; the plugin once tested "is an AIFill" two ways (a Group with the AIFill
knobs when rendering, the class "Group" when a script opened, for knobChanged and for render.py's list), so a
gizmo rendered but never found its result again on open and kept showing a fill of older settings."""

from __future__ import annotations

import runpy
from pathlib import Path

import nuke
import pytest
from aifx_nuke import knobs, nodes, session
from conftest import PLUGIN

GIZMO = "AIFill_studio"


@pytest.fixture
def gizmo(comp) -> nuke.Node:
    """The comp's AIFill exported as a gizmo and made again from it, wired and set as the comp's was."""
    nuke._install_gizmo(comp["fill"], GIZMO)
    made = nuke.nodes.AIFill_studio()
    assert isinstance(made, nuke.Gizmo) and isinstance(made, nuke.Group) and made.Class() == GIZMO
    made.setInput(0, comp["plate_node"])
    made.setInput(1, comp["matte_node"])
    nuke.delete(comp["fill"])
    made.setName("AIFill1")
    return made


def _reopen(script: Path) -> nuke.Node:
    """A new session on the same machine (its gizmos, the plugin's init.py) opening ``script``."""
    nuke._reset(gizmos=True)
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    fill = nuke.toNode("AIFill1")
    assert fill is not None and fill.Class() == GIZMO
    return fill


def test_the_fake_saves_a_gizmos_knobs_not_its_insides(gizmo, tmp_path):
    """Foundry: "Saved scripts only contain the name and control settings for the gizmo"."""
    gizmo["seed"].setValue(7)
    gizmo.node(knobs.READ_RESULT)["file"].setValue("/somewhere/result.####.exr")
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    fill = _reopen(tmp_path / "comp.nk")
    assert fill["seed"].value() == 7
    assert fill.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED
    nuke._reset()
    with pytest.raises(RuntimeError, match=f"unknown command {GIZMO}"):
        nuke.scriptOpen(str(tmp_path / "comp.nk"))


def test_a_gizmo_finds_its_result_again_when_its_script_opens(gizmo, tmp_path):
    result = nodes.render_node(gizmo).result
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    fill = _reopen(tmp_path / "comp.nk")
    assert "found in the cache" in fill["status"].value()
    assert fill.node(knobs.READ_RESULT)["file"].value() == result.replace("####", "%04d"), "as Nuke gives it"
    assert nuke._pull(fill, 1002)["rgba.red"].shape == (54, 96)


def test_a_gizmos_setting_changed_in_its_panel_forgets_its_fill(gizmo):
    runpy.run_path(str(PLUGIN / "init.py"))
    nodes.render_node(gizmo)
    gizmo.showControlPanel()
    nuke._user_set(gizmo["seed"], 7)
    assert gizmo["status"].value() == session.CHANGED_SETTING
    assert nodes.NukeHost(gizmo).shown_result() is None


def test_render_py_finds_a_gizmo_by_name_and_lists_it(gizmo):
    assert nodes.find_node("AIFill1") is gizmo
    with pytest.raises(session.RenderError, match="AIFill nodes: AIFill1$"):
        nodes.find_node("AIFill9")


def test_knob_changed_of_any_other_node_is_left_alone(comp):
    runpy.run_path(str(PLUGIN / "init.py"))
    nodes.render_node(comp["fill"])
    comp["plate_node"].showControlPanel()
    nuke._user_set(comp["plate_node"]["first"], 1001)  # a Read's knob named like no AIFill setting
    grade = nuke.nodes.Grade(name="seed_grade", seed=0)
    grade.showControlPanel()
    nuke._user_set(grade["seed"], 3)  # a knob that shares an AIFill setting's name, on another node
    assert nodes.NukeHost(comp["fill"]).shown_result() is not None
