"""#15 item 3 in real bpy: the AI Fill panel's Video Diffusion settings reach the job as its fields and
nothing else, and the operator runs a real (tiny, randomly initialised) Wan VACE pipeline end to end, with the
confidence pass on (#10 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from blender_addon import jobs

pytestmark = pytest.mark.blender


@pytest.fixture(scope="module")
def tiny_vace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    from tiny_models import cached_build

    return cached_build("wan-vace", tmp_path_factory.getbasetemp())


def test_panel_video_diffusion_settings_are_the_job_and_the_operator_runs_the_model(
    blender, exr_shot: Path, tiny_vace: Path
) -> None:
    from aifx_core.backends import check_options

    reference = exr_shot / "fire.png"
    cv2.imwrite(str(reference), np.full((32, 32, 3), (20, 120, 250), np.uint8))
    result = blender(
        f"""
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1003
panel = scene.aifx  # what the artist sets in the AI Fill panel; the menu entry / F3 call takes it from there
panel.backend = "video-diffusion"
panel.model = {str(tiny_vace)!r}
panel.prompt = "a fireball"
panel.negative_prompt = "blurry"
panel.reference = {str(reference)!r}
panel.window, panel.overlap, panel.steps, panel.model_size = 5, 2, 2, 64
panel.seed = 4
panel.confidence = True
RESULT["fill"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"))
RESULT["job"] = json.load(open(os.path.join(PLATE, "aifx_fill", "plate_fill.aifx.json")))
RESULT["groups"] = [g.name for g in bpy.data.node_groups if "Confidence" in g.name]
""",
        exr_shot,
        timeout=600,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    out = exr_shot / "aifx_fill"
    expected = jobs.build_job(
        input=str(exr_shot / "plate.####.exr"),
        output=str(out / "plate_fill.####.exr"),
        mask=str(exr_shot / "mask.####.png"),
        backend="video-diffusion",
        frames="1001-1003",
        options={
            "model": str(tiny_vace),
            "prompt": "a fireball",
            "negative_prompt": "blurry",
            "reference": str(reference),
            "window": 5,
            "overlap": 2,
            "steps": 2,
            "size": 64,
        },
        seed=4,
        colorspace="Linear Rec.709 (sRGB)",
        confidence=True,
    )
    assert result["job"] == json.loads(expected.to_json())  # the whole job: only fields of it
    check_options(result["job"]["backend"], result["job"]["options"])
    assert result["groups"] == ["plate.1001.exr AI Fill Confidence"]
    for frame in (1001, 1003):
        with OpenEXR.File(str(out / f"plate_fill.{frame}.exr"), separate_channels=True) as exr:
            conf = np.array(exr.channels()["fill.confidence"].pixels, np.float32)
        matte = cv2.imread(str(exr_shot / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert conf[matte].max() < 0.1, "a generated element is all invented"
        assert (conf == 1.0).mean() > 0.5, "the plate around it is kept"
