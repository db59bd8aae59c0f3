"""Plates with non-square pixels (anamorphic): Blender keeps a Mask drawn over a clip or an image in the
editor's aspect-corrected space, so the matte AI Fill rasterises must cover what the artist saw."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.blender

#: A box in plate pixels (x0, y0, x1, y1, y down) and how far the tracked object moves down per frame.
BOX = (100, 40, 160, 80)
STEP = 20

#: ``draw_in_editor(name, box, size, aspy)``: a Mask as the editor stores it over a picture whose pixels
#: show ``aspy`` times as tall as wide (BKE_mask_coord_from_movieclip / _from_image).
DRAW = """
def draw_in_editor(name, box, size, aspy):
    width, height = size
    shown = (width, height * aspy)
    mask = draw_mask(name, box, size)
    x0, y0, x1, y1 = box
    for point, (x, y) in zip(mask.layers[0].splines[0].points, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]):
        fx, fy = x / width, 1.0 - y / height
        if shown[0] >= shown[1]:
            point.co = (fx, (fy - 0.5) * shown[1] / shown[0] + 0.5)
        else:
            point.co = ((fx - 0.5) * shown[0] / shown[1] + 0.5, fy)
    return mask
"""


def _rows(path: Path) -> tuple[int, int]:
    ys, _ = np.nonzero(cv2.imread(str(path), cv2.IMREAD_UNCHANGED) > 32768)
    return int(ys.min()), int(ys.max())


def test_an_anamorphic_clips_matte_keeps_its_shape_and_follows_its_track(blender, plate: Path) -> None:
    """At Pixel Aspect 2 the matte came out half as tall (rasterised with square pixels), roto parented to a
    track moved half as far as the object, and the result clip showed with square pixels."""
    out = plate / "out"
    result = blender(
        DRAW
        + f"""
clip = load_clip()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
clip.tracking.camera.pixel_aspect = 2.0
clip.display_aspect = (1.0, 1.0)
width, height = clip.size
BOX, STEP = {BOX}, {STEP}
track = clip.tracking.tracks.new(name="object", frame=1)
for frame in (1, 2, 3):
    track.markers.insert_frame(frame, co=(0.5, 1.0 - (BOX[1] + STEP * (frame - 1)) / height))
clip.tracking.tracks.active = track
track.select = True
mask = draw_in_editor("roto", BOX, (width, height), 0.5)
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]
area.type = "CLIP_EDITOR"
space = area.spaces.active
space.clip, space.mode, space.mask = clip, "MASK", mask
region = [r for r in area.regions if r.type == "WINDOW"][0]
for point in mask.layers[0].splines[0].points:
    point.select = True
scene.frame_set(1)
with bpy.context.temp_override(window=window, area=area, region=region, space_data=space):
    assert bpy.ops.mask.parent_set() == {{"FINISHED"}}  # Mask > Parent > Make Parent: the roto rides the track
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", output_dir={str(out)!r})
loaded = bpy.data.movieclips[clip.name + " AI Fill"]
RESULT["result"] = [loaded.tracking.camera.pixel_aspect, list(loaded.display_aspect)]
""",
        plate,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    for frame in (1, 2, 3):
        top, bottom = _rows(out / "frames_mask" / f"frames_mask.{frame - 1:05d}.png")
        shift = STEP * (frame - 1)
        assert abs(top - (BOX[1] + shift)) <= 1 and abs(bottom - (BOX[3] - 1 + shift)) <= 1, (
            frame,
            top,
            bottom,
        )
    assert result["result"] == [2.0, [1.0, 1.0]]


def test_an_images_display_aspect_shapes_the_matte_and_its_result(blender, plate: Path) -> None:
    """The Image Editor stores a Mask through the image's Display Aspect; the result keeps that aspect."""
    out = plate / "out"
    result = blender(
        DRAW
        + f"""
image = bpy.data.images.load(os.path.join(PLATE, "frames", "00000.png"))
image.source = "SEQUENCE"
image.display_aspect = (2.0, 1.0)
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
mask = draw_in_editor("roto", {BOX}, tuple(image.size), 0.5)
RESULT["fill"] = run_fill(image=image.name, mask_datablock=mask.name, backend="telea", output_dir={str(out)!r})
RESULT["result"] = list(bpy.data.images[image.name + " AI Fill"].display_aspect)
""",
        plate,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    top, bottom = _rows(out / "frames_mask" / "frames_mask.00000.png")
    assert abs(top - BOX[1]) <= 1 and abs(bottom - (BOX[3] - 1)) <= 1, (top, bottom)
    assert result["result"] == [2.0, 1.0]


def test_a_mask_over_pixels_the_mask_node_cannot_match_is_refused(blender, plate: Path) -> None:
    """Pixel Aspect 0.5 shows the 320x180 plate as 320x360: the Mask node would scale the matte by 8/9
    about the centre, so AI Fill refuses it by name instead of filling the wrong place."""
    result = blender(
        """
clip = load_clip()
clip.tracking.camera.pixel_aspect = 0.5
mask = draw_mask("roto", (100, 40, 160, 80), tuple(clip.size))
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
RESULT["folder"] = os.path.exists(os.path.join(PLATE, "frames", "aifx_fill"))
""",
        plate,
    )
    error = result["fill"]["error"]
    assert "roto: cannot rasterise the mask" in error and "320x360 picture" in error, error
    assert "Matte" in error and "Traceback" not in error
    assert not result["folder"]  # nothing left behind
