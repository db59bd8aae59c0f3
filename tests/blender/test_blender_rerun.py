"""Pressing AI Fill again: it resumes with an unchanged Mask, and fills the plate, not the result it showed."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.blender


def test_second_press_with_an_unchanged_mask_resumes(blender, exr_shot: Path) -> None:
    """Each rasterise used to stamp the date and render time into the matte PNGs, so the core took an
    unchanged Mask for new roto and refused the second press (tick Redo Finished Frames)."""
    result = blender(
        """
import hashlib, time
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
matte = os.path.join(PLATE, "aifx_fill", "plate_mask", "plate_mask.1001.png")
RESULT["first"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
first = hashlib.sha256(open(matte, "rb").read()).hexdigest()
time.sleep(1.1)  # a stamped date would differ now
RESULT["second"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
RESULT["same_bytes"] = first == hashlib.sha256(open(matte, "rb").read()).hexdigest()
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    assert result["second"] == ["FINISHED"], result["log"]
    assert result["same_bytes"]
    assert "0 frames written, 3 already done" in result["log"]
