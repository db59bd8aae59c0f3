"""The inputs cache key sees every upstream change: a stale key reuses an old fill as "cached, nothing changed"."""

from __future__ import annotations

import os
import shutil

import nuke
import pytest
from aifx_nuke import nodes, session


def _inputs_key(fill) -> str:
    paths = session.plan(nodes.NukeHost(fill), None, os.environ)[0]
    return os.path.basename(paths.inputs_dir)


def test_the_fake_input_node_has_no_inputs_and_no_dependencies_like_nukes(comp):
    group = nuke.nodes.Group(name="Wrap")
    group.setInput(0, comp["plate_node"])
    with group:
        inside = nuke.nodes.Input(number=0)
    assert inside.inputs() == 0 and inside.input(0) is None
    assert inside.dependencies(nuke.INPUTS | nuke.HIDDEN_INPUTS | nuke.EXPRESSIONS) == []
    assert inside.parent() is group and group.input(0) is comp["plate_node"]


def test_an_aifill_inside_a_group_sees_the_plate_that_feeds_the_group(comp):
    group = nuke.nodes.Group(name="Cleanup")
    group.setInput(0, comp["plate_node"])
    group.setInput(1, comp["matte_node"])
    with group:
        plate, matte = nuke.nodes.Input(name="plate", number=0), nuke.nodes.Input(name="matte", number=1)
        inner = nodes.create_aifill(connect_selected=False)
        inner.setInput(0, plate)
        inner.setInput(1, matte)
        for name in ("mask_channel", "backend", "aifx_env", "cache_dir"):
            inner[name].setValue(comp["fill"][name].value())
        nuke.nodes.Output().setInput(0, inner)
    before = _inputs_key(inner)
    copy = comp["dir"].parent / "plates_v2"
    shutil.copytree(comp["dir"], copy)
    comp["plate_node"]["file"].setValue((copy / "plate.####.exr").as_posix())  # the plate is versioned up
    assert _inputs_key(inner) != before
    rows = nodes.NukeHost(inner).upstream()
    assert ("Source", "Read", "Plate") in [r[:3] for r in rows]
    assert ("Mask", "Read", "Matte") in [r[:3] for r in rows]


def test_a_change_inside_a_nested_upstream_group_changes_the_key(comp):
    outer = nuke.nodes.Group(name="Prep")
    outer.setInput(0, comp["plate_node"])
    with outer:
        inner = nuke.nodes.Group(name="Inner")
        inner.setInput(0, nuke.nodes.Input(number=0))
        with inner:
            grade = nuke.nodes.Grade(name="Grade1", white=1.0)
            grade.setInput(0, nuke.nodes.Input(number=0))
            nuke.nodes.Output().setInput(0, grade)
        nuke.nodes.Output().setInput(0, inner)
    comp["fill"].setInput(0, outer)
    before = _inputs_key(comp["fill"])
    grade["white"].setValue(2.0)
    assert _inputs_key(comp["fill"]) != before


def test_a_knob_linked_by_expression_to_a_node_not_upstream_changes_the_key(comp):
    tracker = nuke.nodes.Tracker4(name="Tracker1", translate="{100 20}")
    follow = nuke.nodes.Transform(
        name="MatteTrack", translate="{{Tracker1.translate.x} {Tracker1.translate.y}}"
    )
    follow.setInput(0, comp["matte_node"])
    comp["fill"].setInput(1, follow)
    before = _inputs_key(comp["fill"])
    tracker["translate"].setValue("{140 25}")  # re-tracked: the matte moves
    assert _inputs_key(comp["fill"]) != before


def test_an_expression_naming_the_aifill_itself_keeps_the_key_stable_over_a_render(comp):
    """The node's own Read changes with each render: walking it would make every result stale."""
    grade = nuke.nodes.Grade(name="Lift", white="{{AIFill1.seed}}")
    grade.setInput(0, comp["plate_node"])
    comp["fill"].setInput(0, grade)
    before = _inputs_key(comp["fill"])
    nodes.render_node(comp["fill"])
    assert _inputs_key(comp["fill"]) == before
    assert nodes.render_node(comp["fill"]).reused


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("colorManagement", "OCIO"),
        ("OCIO_config", "aces_1.2"),
        ("customOCIOConfigPath", "/show/ocio/config.ocio"),
        ("workingSpaceLUT", "ACES - ACEScg"),
        ("int8Lut", "rec709"),
        ("int16Lut", "linear"),
        ("logLut", "AlexaV3LogC"),
        ("floatLut", "sRGB"),
    ],
)
def test_the_projects_colour_management_is_part_of_the_inputs_key(comp, knob, value):
    """A Read turns the plate into the working space: in another one the written inputs are other pixels."""
    before = _inputs_key(comp["fill"])
    nuke.root()[knob].setValue(value)
    assert _inputs_key(comp["fill"]) != before


def test_a_root_without_a_colour_knob_still_keys(comp):
    """Older Nukes lack some of these knobs: they are read only where the root has them."""
    del nuke.root()._knobs["customOCIOConfigPath"]
    rows = nodes.NukeHost(comp["fill"]).upstream()
    assert "customOCIOConfigPath" not in rows[-1][3] and "floatLut linear" in rows[-1][3]
