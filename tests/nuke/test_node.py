"""The AIFill node as Nuke builds it (fake ``nuke``): knobs, inputs, internal nodes, host reads."""

from __future__ import annotations

import nuke
import pytest
from aifx_nuke import knobs, nodes


def test_aifill_is_a_group_with_the_documented_knobs_and_defaults():
    fill = nodes.create_aifill(connect_selected=False)
    assert isinstance(fill, nuke.Group) and fill.name() == "AIFill1"
    assert isinstance(fill["aifx"], nuke.Tab_Knob)
    expected = {
        "mask_channel": (nuke.Channel_Knob, "rgba.alpha"),
        "invert_mask": (nuke.Boolean_Knob, False),
        "backend": (nuke.Enumeration_Knob, "propagate"),
        "spatial_backend": (nuke.Enumeration_Knob, "auto"),
        "model": (nuke.String_Knob, ""),
        "prompt": (nuke.String_Knob, ""),
        "negative_prompt": (nuke.String_Knob, ""),
        "seed": (nuke.Int_Knob, 0),
        "steps": (nuke.Int_Knob, 30),
        "strength": (nuke.Double_Knob, 1.0),
        "dilate": (nuke.Int_Knob, 4),
        "feather": (nuke.Int_Knob, 2),
        "frame_range": (nuke.String_Knob, ""),
        "colorspace": (nuke.String_Knob, ""),
        "cache_dir": (nuke.File_Knob, ""),
        "aifx_env": (nuke.File_Knob, ""),
        "status": (nuke.Text_Knob, "not rendered"),
    }
    for name, (kind, default) in expected.items():
        knob = fill[name]
        assert type(knob) is kind, name
        assert knob.value() == default, name
        assert knob.tooltip(), name
    assert fill["backend"].values() == ["propagate", "telea", "lama", "diffusers", "video-diffusion"]
    for button in ("render", "cancel"):
        assert isinstance(fill[button], nuke.PyScript_Knob)
        assert f"aifx_nuke.nodes.on_{button}_button()" in fill[button].command()
    assert not fill["cancel"].getFlag(nuke.STARTLINE), "Cancel sits beside Render"


def test_inputs_are_source_then_mask_each_written_through_a_crop_to_the_format():
    fill = nodes.create_aifill(connect_selected=False)
    inputs = sorted((n["number"].value(), n.name()) for n in fill.nodes() if n.Class() == "Input")
    assert inputs == [(0, "Source"), (1, "Mask")]
    source, mask = fill.node("Source"), fill.node("Mask")
    for crop, write, upstream in (
        (knobs.CROP_SOURCE, knobs.WRITE_SOURCE, source),
        (knobs.CROP_MASK, knobs.WRITE_MASK, mask),
    ):
        assert fill.node(crop).Class() == "Crop" and fill.node(crop).input(0) is upstream
        assert fill.node(write).input(0) is fill.node(crop)
        assert fill.node(crop)["reformat"].value() is True and fill.node(crop)["intersect"].value() is False
    for write in (fill.node(knobs.WRITE_SOURCE), fill.node(knobs.WRITE_MASK)):
        assert write["disable"].value() is True, "nuke -x must not render the cache Writes"
        assert write["raw"].value() is True and write["file_type"].value() == "exr"
    output = [n for n in fill.nodes() if n.Class() == "Output"]
    switch = fill.node(knobs.SWITCH_RANGE)
    assert len(output) == 1 and output[0].input(0) is switch
    assert switch.input(0) is fill.node(knobs.READ_RESULT) and switch["which"].value() == 0, "the result"
    assert switch.input(1) is fill.node(knobs.READ_OUTSIDE), "after a render, outside the filled frames"
    assert nuke.root().nodes() == [fill], "internal nodes live inside the group"


def test_until_rendered_the_output_is_an_error_not_the_plate(comp):
    """A comp rendered before the fill (farm-only, or a script saved unrendered) must fail, not pass the plate."""
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(comp["fill"], 1001)
    assert nuke._pull(comp["plate_node"], 1001)["rgba.red"].any()


def test_knob_flags_as_nuke_lays_them_out():
    fill = nodes.create_aifill(connect_selected=False)
    assert fill["render"].getFlag(nuke.STARTLINE), "Render starts its own line (buttons join the line before)"
    assert not fill["cancel"].getFlag(nuke.STARTLINE), "Cancel sits beside Render"
    assert fill["mask_channel"].depth() == 1, "one channel, not a layer"
    for channel in ("rgba.red", "rgba.alpha", "mask.a"):
        fill["mask_channel"].setValue(channel)
        assert fill["mask_channel"].value() == channel


def test_created_from_the_menu_it_connects_under_the_selected_node_and_names_uncollide():
    plate = nuke.nodes.Read(name="Plate", first=1, last=10)
    nuke._select(plate)
    first = nodes.create_aifill()
    second = nodes.create_aifill()
    assert first.input(0) is plate and second.input(0) is plate
    assert (first.name(), second.name()) == ("AIFill1", "AIFill2")


def test_host_reads_settings_range_colour_and_upstream(comp):
    nuke.root()["colorManagement"].setValue("OCIO")
    nuke.root()["OCIO_config"].setValue("aces_1.2")
    nuke.root()["workingSpaceLUT"].setValue("ACES - ACEScg")
    host = nodes.NukeHost(comp["fill"])
    settings = host.settings()
    assert set(settings) == set(knobs.SETTING_NAMES)
    assert settings["backend"] == "telea" and settings["mask_channel"] == "rgba.red"
    assert host.input_range() == (1001, 1003)
    assert host.mask_connected()
    assert host.colour_settings() == ("OCIO", "aces_1.2", "ACES - ACEScg")
    rows = host.upstream()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Source", "Read", "Plate"),
        ("Mask", "Read", "Matte"),
        ("Project", "Root", "root"),
    ]
    assert rows[2][3].splitlines()[:5] == [
        "format 96x54",
        "view main",
        "colorManagement OCIO",
        "OCIO_config aces_1.2",
        "customOCIOConfigPath ",
    ]
    assert "file " + comp["plate"] in rows[0][3]


def test_host_refuses_a_node_that_is_not_an_aifill():
    from aifx_nuke import session

    with pytest.raises(session.RenderError, match="not an AIFill"):
        nodes.NukeHost(nuke.nodes.Read(name="Plate"))


def test_a_prompt_reaches_the_job_as_typed_not_evaluated_as_tcl(comp):
    """Foundry's String_Knob.value() (12.2 Python reference) is "the evaluated value of this knob", TCL
    substituted; getText() "the non-evaluated value". A prompt with brackets (``a neon sign reading [OPEN]``)
    was run as a TCL command: the render failed on it, or the prompt sent was not the one typed."""
    import os

    from aifx_nuke import session

    fill = comp["fill"]
    fill["backend"].setValue("diffusers")
    fill["model"].setValue("org/inpaint-model")
    fill["prompt"].setValue("a neon sign reading [OPEN] over a $20 bill")
    fill["negative_prompt"].setValue("[text], watermark")
    job = session.plan(nodes.NukeHost(fill), None, os.environ)[1]
    assert job.options["prompt"] == "a neon sign reading [OPEN] over a $20 bill"
    assert job.options["negative_prompt"] == "[text], watermark"


def test_a_model_path_spelt_with_tcl_is_evaluated_as_a_reads_path_is(comp, monkeypatch):
    """Only the free-text knobs are read as typed: a studio spells a model path with TCL as it does a Read's
    (``[getenv MODELS]/big-lama.pt``), and Nuke's ``value()`` evaluates it, as the plugin read it before."""
    import os

    from aifx_nuke import session

    monkeypatch.setenv("AIFX_TEST_MODELS", "/studio/models")
    fill = comp["fill"]
    fill["backend"].setValue("diffusers")
    fill["model"].setValue("[getenv AIFX_TEST_MODELS]/inpaint")
    job = session.plan(nodes.NukeHost(fill), None, os.environ)[1]
    assert job.options["model"] == "/studio/models/inpaint"
