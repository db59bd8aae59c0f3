"""The *confidence* knob (#10 item 5): the node's output carries ``fill.confidence`` (layer ``fill``) so a
compositor can view it in the Viewer's channel menu or Shuffle it into rgba; and the fake is as strict as Nuke
about channels and layers (one that does not exist cannot be used)."""

from __future__ import annotations

import json
from pathlib import Path

import nuke
import numpy as np
import OpenEXR
import pytest
from aifx_nuke import jobs, knobs, nodes
from conftest import press_render_in_gui

from aifx_core import confidence as core_confidence
from aifx_core.backends import check_options
from aifx_core.protocol.job import FillJob

#: ``nuke.layers()`` of a new script, as Foundry's "Working with Channels and Layers" prints it.
NUKE_DEFAULT_LAYERS = [
    "rgb",
    "rgba",
    "alpha",
    "depth",
    "motion",
    "forward",
    "backward",
    "disparity",
    "disparityL",
    "disparityR",
    "mask",
    "rotopaint_mask",
]


def _exr(path: str) -> dict[str, np.ndarray]:
    with OpenEXR.File(path, separate_channels=True) as exr:
        return {name: np.array(ch.pixels, dtype=np.float32) for name, ch in exr.channels().items()}


def test_the_plugins_channel_is_the_one_the_core_writes():
    assert knobs.CONFIDENCE_CHANNEL == core_confidence.CHANNEL
    assert knobs.CONFIDENCE_CHANNEL.split(".")[0] == knobs.CONFIDENCE_LAYER


def test_the_fake_knows_only_nukes_default_layers_until_one_is_added():
    assert nuke.layers() == NUKE_DEFAULT_LAYERS
    shuffle = nuke.nodes.Shuffle()
    with pytest.raises(ValueError, match="no layer 'fill'"):
        shuffle["in"].setValue("fill")
    with pytest.raises(ValueError, match="Shuffle has no knob|no layer"):
        nuke.nodes.Shuffle(**{"in": "fill"})
    picker = nuke.Channel_Knob("key", "key", 1)
    with pytest.raises(ValueError, match="no channel 'fill.confidence'"):
        picker.setValue("fill.confidence")
    with pytest.raises(ValueError, match="built-in layer"):
        nuke.Layer("rgba", ["rgba.confidence"])
    with pytest.raises(ValueError, match="no layer"):
        nuke.Layer("fill")  # naming a layer without channels does not make it

    layer = nuke.Layer("fill", ["fill.confidence"])
    assert (layer.name(), layer.channels()) == ("fill", ["fill.confidence"])
    assert nuke.layers() == [*NUKE_DEFAULT_LAYERS, "fill"]
    assert "fill.confidence" in nuke.channels()
    shuffle["in"].setValue("fill")
    picker.setValue("fill.confidence")
    assert nuke.Layer("fill", ["fill.confidence"]).channels() == ["fill.confidence"], (
        "adding twice is a no-op"
    )
    write = nuke.nodes.Write()
    with pytest.raises(ValueError, match="no layer 'beauty'"):
        write["channels"].setValue("beauty")


def test_a_saved_script_keeps_only_the_layers_its_knobs_use(tmp_path: Path):
    nuke.Layer("fill", ["fill.confidence"])
    nuke.Layer("scratch", ["scratch.x"])
    nuke.nodes.Shuffle(name="ShowConfidence")["in"].setValue("fill")
    script = tmp_path / "comp.nk"
    nuke.scriptSave(str(script))
    nuke._reset()
    nuke.scriptOpen(str(script))
    assert "fill" in nuke.layers(), "a layer a knob uses is saved (add_layer)"
    assert "scratch" not in nuke.layers(), "a layer no knob uses is dropped on save, as Nuke does"
    assert nuke.toNode("ShowConfidence")["in"].value() == "fill"


def test_confidence_is_off_by_default_and_a_field_of_the_job():
    fill = nodes.create_aifill(connect_selected=False)
    assert type(fill["confidence"]) is nuke.Boolean_Knob and fill["confidence"].value() is False
    settings = {**knobs.defaults(), "backend": "telea"}
    off = jobs.build_job(settings, jobs.CachePaths("/c", "/c/f"), 1, 2, "linear", True)
    on = jobs.build_job({**settings, "confidence": True}, jobs.CachePaths("/c", "/c/f"), 1, 2, "linear", True)
    expected = FillJob(
        input="/c/source.####.exr",
        output="/c/f/result.####.exr",
        mask="/c/mask.####.exr",
        mask_channel="A",
        frames="1-2",
        backend="telea",
        options={},
        colorspace="linear",
        compression="zip",
        confidence=True,
    )
    assert json.loads(on.to_json()) == json.loads(expected.to_json())  # the whole job, not one field
    assert "confidence" not in json.loads(off.to_json()), "off is the default: not written (job format 1)"
    assert jobs.fill_key("k", on) != jobs.fill_key("k", off), "the confidence is part of the result's key"


def test_video_diffusion_with_confidence_is_only_fields_of_the_job():
    """#15 item 3: the node's video-diffusion knobs are fields of the job and nothing else (whole JSON)."""
    settings = {
        **knobs.defaults(),
        "backend": "video-diffusion",
        "model": "/models/wan-vace",
        "prompt": "a car explodes, fireball and black smoke",
        "negative_prompt": "blurry",
        "reference": "/refs/fire.png",
        "window": 41,
        "overlap": 8,
        "steps": 20,
        "model_size": 960,
        "seed": 5,
        "confidence": True,
    }
    job = jobs.build_job(settings, jobs.CachePaths("/c", "/c/f"), 1001, 1100, "ACEScg", mask_connected=True)
    expected = FillJob(
        input="/c/source.####.exr",
        output="/c/f/result.####.exr",
        mask="/c/mask.####.exr",
        mask_channel="A",
        frames="1001-1100",
        backend="video-diffusion",
        options={
            "model": "/models/wan-vace",
            "prompt": "a car explodes, fireball and black smoke",
            "negative_prompt": "blurry",
            "steps": 20,
            "window": 41,
            "overlap": 8,
            "size": 960,
            "reference": "/refs/fire.png",
        },
        colorspace="ACEScg",
        compression="zip",
        seed=5,
        confidence=True,
    )
    assert json.loads(job.to_json()) == json.loads(expected.to_json())
    check_options(job.backend, job.options)  # what the core checks before it reads a frame


def test_rendered_with_confidence_the_output_carries_fill_confidence(comp):
    fill = comp["fill"]
    plain = nodes.render_node(fill)  # confidence off: what the rgb must stay
    rgb_off = nuke._pull(fill, 1002)
    assert "fill.confidence" not in fill.channels() and "fill" not in nuke.layers()

    fill["confidence"].setValue(True)
    press_render_in_gui(fill)
    assert fill["status"].value().startswith("done"), nuke.messages
    result = nodes.NukeHost(fill).shown_result()[0]
    assert result != plain.result, "a result with the channel is cached apart from one without"

    # the layer is in the script (the Viewer's channel menu, a Shuffle's in) and in the node's output
    assert "fill" in nuke.layers()
    assert nuke.layers(fill)[:2] == ["rgb", "rgba"] and "fill" in nuke.layers(fill)
    assert "fill.confidence" in fill.channels()
    out = nuke._pull(fill, 1002)
    written = _exr(jobs.frame_path(result, 1002))["fill.confidence"]
    np.testing.assert_array_equal(out["fill.confidence"], written)
    for name in ("rgba.red", "rgba.green", "rgba.blue"):
        np.testing.assert_array_equal(out[name], rgb_off[name])  # the fill itself is unchanged

    # 1 where the plate is kept, below 1 in the (filled) hole: telea invents all of it
    matte = nuke._read(comp["mask"].replace("####", "1002"))["rgba.red"] > 0.5
    conf = out["fill.confidence"]
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    assert conf[matte].mean() < 0.1, "telea's fill is a guess"
    assert np.all(conf[~_grown(matte, 4 + 2 + 1)] == 1.0)

    # a compositor keys on it: Shuffle in=fill puts the confidence into rgba (red red, green red, blue red)
    shuffle = nuke.nodes.Shuffle(**{"in": "fill", "green": "red", "blue": "red"})
    shuffle.setInput(0, fill)
    shown = nuke._pull(shuffle, 1002)
    for name in ("rgba.red", "rgba.green", "rgba.blue"):
        np.testing.assert_array_equal(shown[name], conf)


def test_reopened_script_gets_the_layer_back_with_the_cached_result(comp, tmp_path: Path):
    fill = comp["fill"]
    fill["confidence"].setValue(True)
    nodes.render_node(fill)
    script = tmp_path / "comp.nk"
    nuke.scriptSave(str(script))
    nuke._reset()  # a new session: nothing in memory, only Nuke's default layers
    nuke.scriptOpen(str(script))
    assert "fill" not in nuke.layers(), "no knob uses the layer, so the saved script does not keep it"
    assert nodes.attach_cached_results() == ["AIFill1"]  # what init.py's onScriptLoad does
    assert "fill" in nuke.layers()
    reopened = nuke.toNode("AIFill1")
    assert "fill.confidence" in reopened.channels()
    shuffle = nuke.nodes.Shuffle(**{"in": "fill"})
    shuffle.setInput(0, reopened)
    assert nuke._pull(shuffle, 1001)["rgba.red"].min() < 0.1


def test_the_host_adds_the_layer_only_for_a_confidence_result(comp):
    host = nodes.NukeHost(comp["fill"])
    host.show_result("/nowhere/result.####.exr", 1001, 1003)
    assert "fill" not in nuke.layers()
    host.show_result("/nowhere/result.####.exr", 1001, 1003, True)
    assert "fill" in nuke.layers()


def _grown(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0
