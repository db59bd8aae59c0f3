"""Clips and mattes linked from a shot library .blend (File > Link) with paths relative to that library."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.blender


def _matte(pattern: str, frame: int) -> np.ndarray:
    """Frame ``frame`` of a rasterised matte sequence, one channel in 0..1, indexed [row, column]."""
    image = cv2.imread(pattern.replace("####", f"{frame:04d}"), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    assert image is not None, pattern
    plane = image if image.ndim == 2 else image[..., 0]
    return plane.astype(np.float32) / (np.iinfo(plane.dtype).max if plane.dtype.kind == "u" else 1.0)


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


def test_the_panel_fills_the_linked_shot_when_a_local_one_has_its_name(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    """Blender names a clip after its file, so sh010's plate.1001.exr linked into a comp that opened sh020's
    plate.1001.exr has a local twin of the same name: the panel's button passed the name only and filled
    sh020 (the local one) while the editor showed sh010. The same for the Mask and the Matte image: each shot's
    roto is drawn over a box of its own, and the rasterised matte must be the one the editor shows."""
    result = blender(
        f"""
import shutil
root = {str(tmp_path)!r}
for shot in ("sh010", "sh020"):
    os.makedirs(os.path.join(root, shot, "plates"))
    for n in (1001, 1002):
        for name in (f"plate.{{n}}.exr", f"mask.{{n}}.png"):
            shutil.copy(os.path.join(PLATE, name), os.path.join(root, shot, "plates"))
def plates(shot, name):
    return os.path.join(root, shot, "plates", name)
BOXES = {{"sh010": (150, 60, 250, 160), "sh020": (20, 20, 80, 60)}}  # each shot's roto its own
def load(shot):
    clip = bpy.data.movieclips.load(plates(shot, "plate.1001.exr"))
    draw_mask("roto", BOXES[shot], tuple(clip.size))
    for name in ("plate.1001.exr", "mask.1001.png"):
        bpy.data.images.load(plates(shot, name)).source = "SEQUENCE"
    return clip
# the shot library: sh010's plate, roto and matte
bpy.ops.wm.read_homefile(use_empty=True)
load("sh010")
for block in (*bpy.data.movieclips, *bpy.data.masks, *bpy.data.images):
    block.use_fake_user = True
library = os.path.join(root, "sh010", "shot.blend")
bpy.ops.wm.save_as_mainfile(filepath=library)
# the comp: sh020 opened here (the same names), sh010 linked
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(root, "comp.blend"))
load("sh020")
with bpy.data.libraries.load(library, link=True) as (source, linked):
    linked.movieclips, linked.masks, linked.images = source.movieclips, source.masks, source.images
def linked_one(blocks, name):
    return [block for block in blocks if block.name == name and block.library is not None][0]
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
scene.aifx.backend = "telea"
panels = sys.modules[ADDON + ".panels"]
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]

def press_panel_button(editor, output_dir):
    area.type = editor
    space = area.spaces.active
    if editor == "CLIP_EDITOR":
        space.clip = linked_one(bpy.data.movieclips, "plate.1001.exr")
        space.mask = linked_one(bpy.data.masks, "roto")
    else:
        space.image = linked_one(bpy.data.images, "plate.1001.exr")
        space.image_user.frame_start, space.image_user.frame_offset = 1, 1000  # files 1001... at frames 1...
        space.image_user.frame_duration = 2
        scene.aifx.mask_image = linked_one(bpy.data.images, "mask.1001.png")
    scene.aifx.output_dir = output_dir
    with bpy.context.temp_override(window=window, area=area, space_data=space):
        return run_fill(load=False, **panels.fill_arguments(space, scene.aifx))

RESULT["clip"] = press_panel_button("CLIP_EDITOR", os.path.join(root, "clip_out"))
RESULT["image"] = press_panel_button("IMAGE_EDITOR", os.path.join(root, "image_out"))
scene.aifx.output_dir = ""
RESULT["by_name"] = run_fill(clip="plate.1001.exr", mask_datablock="roto", load=False)  # a script: the local
RESULT["missing"] = run_fill(clip="plate.1001.exr", clip_library="//elsewhere.blend", load=False)
""",
        exr_shot,
    )
    assert result["clip"] == result["image"] == result["by_name"] == ["FINISHED"], result["log"]
    sh010, sh020 = tmp_path / "sh010" / "plates", tmp_path / "sh020" / "plates"
    clip_job = json.loads((tmp_path / "clip_out" / "plate_fill.aifx.json").read_text())
    image_job = json.loads((tmp_path / "image_out" / "plate_fill.aifx.json").read_text())
    assert os.path.normpath(clip_job["input"]) == str(sh010 / "plate.####.exr")
    assert os.path.normpath(image_job["input"]) == str(sh010 / "plate.####.exr")
    assert os.path.normpath(image_job["mask"]) == str(sh010 / "mask.####.png")
    assert (sh020 / "aifx_fill" / "plate_fill.1001.exr").exists()  # named alone: the local clip, as before
    by_name_job = json.loads((sh020 / "aifx_fill" / "plate_fill.aifx.json").read_text())
    # The mattes rasterised: the linked roto's box (sh010's) for the editor's button, the local one's by name.
    for job, (inside, outside) in ((clip_job, ((110, 200), (40, 50))), (by_name_job, ((40, 50), (110, 200)))):
        matte = _matte(job["mask"], 1001)
        assert matte[inside] > 0.5 and matte[outside] < 0.5, job["mask"]
    assert "Movie Clip 'plate.1001.exr' linked from //elsewhere.blend not found" in result["missing"]["error"]
