"""Clips and mattes linked from a shot library .blend (File > Link) with paths relative to that library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender


def test_a_linked_clip_and_matte_resolve_against_their_library(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    """A linked datablock's // path is relative to its library's folder; it used to be resolved against the
    open .blend's folder, so AI Fill said the frames were not on disk though Blender showed them."""
    assets, comp = tmp_path / "assets", tmp_path / "comp"
    result = blender(
        f"""
import shutil
assets, comp = {str(assets)!r}, {str(comp)!r}
os.makedirs(os.path.join(assets, "plates"))
os.makedirs(comp)
for n in (1001, 1002):
    for name in (f"plate.{{n}}.exr", f"mask.{{n}}.png"):
        shutil.copy(os.path.join(PLATE, name), os.path.join(assets, "plates"))
library = os.path.join(assets, "shot.blend")
bpy.ops.wm.save_as_mainfile(filepath=library)
clip = bpy.data.movieclips.load(os.path.join(assets, "plates", "plate.1001.exr"))
clip.filepath, clip.name, clip.use_fake_user = "//plates/plate.1001.exr", "sh010_plate", True
matte = bpy.data.images.load(os.path.join(assets, "plates", "mask.1001.png"))
matte.source = "SEQUENCE"
matte.filepath, matte.name, matte.use_fake_user = "//plates/mask.1001.png", "sh010_matte", True
bpy.ops.wm.save_as_mainfile(filepath=library)
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(comp, "comp.blend"))
with bpy.data.libraries.load(library, link=True, relative=True) as (source, linked):
    linked.movieclips, linked.images = ["sh010_plate"], ["sh010_matte"]
clip = bpy.data.movieclips["sh010_plate"]
RESULT["linked"] = clip.library is not None and bpy.data.images["sh010_matte"].library is not None
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
RESULT["fill"] = run_fill(clip=clip.name, mask_image="sh010_matte", backend="telea")
RESULT["job"] = json.load(open(os.path.join(assets, "plates", "aifx_fill", "plate_fill.aifx.json")))
""",
        exr_shot,
    )
    assert result["linked"]
    assert result["fill"] == ["FINISHED"], result["log"]
    plates = assets / "plates"
    assert os.path.normpath(result["job"]["input"]) == str(plates / "plate.####.exr")
    assert os.path.normpath(result["job"]["mask"]) == str(plates / "mask.####.png")
    assert sorted(p.name for p in (plates / "aifx_fill").glob("*.exr")) == [
        "plate_fill.1001.exr",
        "plate_fill.1002.exr",
    ]
