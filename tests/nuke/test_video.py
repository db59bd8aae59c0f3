"""#15 item 3 in the Nuke adapter, end to end: the AIFill node's video-diffusion knobs become the job (compared
whole) and the real worker runs a tiny, randomly initialised Wan VACE pipeline on the node's inputs; with
*confidence* on the output carries ``fill.confidence`` (#10 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import nuke
import numpy as np
import pytest
from aifx_nuke import knobs, nodes

from aifx_core.protocol.job import FillJob


@pytest.fixture(scope="module")
def tiny_vace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    from tiny_models import cached_build

    return cached_build("wan-vace", tmp_path_factory.getbasetemp())


def test_video_diffusion_node_renders_with_the_tiny_model(comp, tiny_vace: Path, tmp_path: Path):
    fill = comp["fill"]
    reference = tmp_path / "fire.png"
    cv2.imwrite(str(reference), np.full((16, 16, 3), (20, 120, 250), np.uint8))
    for name, value in (
        ("backend", "video-diffusion"),
        ("model", str(tiny_vace)),
        ("prompt", "a fireball"),
        ("reference", str(reference)),
        ("window", 5),
        ("overlap", 2),
        ("steps", 2),
        ("model_size", 32),
        ("seed", 9),
        ("confidence", True),
    ):
        fill[name].setValue(value)
    outcome = nodes.render_node(fill)
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)", fill["status"].value()

    job = json.loads((Path(outcome.result).parent / "job.json").read_text())
    inputs = Path(outcome.result).parent.parent
    expected = FillJob(
        input=(inputs / "source.####.exr").as_posix(),
        output=outcome.result,
        mask=(inputs / "mask.####.exr").as_posix(),
        mask_channel="R",
        frames="1001-1003",
        backend="video-diffusion",
        options={
            "model": str(tiny_vace),
            "prompt": "a fireball",
            "negative_prompt": "",
            "steps": 2,
            "window": 5,
            "overlap": 2,
            "size": 32,
            "reference": str(reference),
        },
        colorspace="linear",
        compression="zip",
        seed=9,
        confidence=True,
    )
    assert job == json.loads(expected.to_json())  # the whole job: the knobs are fields of it, nothing more

    out = nuke._pull(fill, 1002)
    plate = nuke._read(comp["plate"].replace("####", "1002"))
    matte = nuke._read(comp["mask"].replace("####", "1002"))["rgba.red"] > 0.5
    conf = out[knobs.CONFIDENCE_CHANNEL]
    assert conf[matte].max() < 0.1 and (conf == 1.0).mean() > 0.5
    kept = conf == 1.0
    np.testing.assert_array_equal(out["rgba.red"][kept], plate["rgba.red"][kept])  # outside: the plate
