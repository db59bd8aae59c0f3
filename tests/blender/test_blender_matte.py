"""A Matte image picked in the AI Fill panel is read from its file by the worker: one that is not a file, or
not the file as painted, is refused with what to do in Blender (never replaced by the plate's alpha)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.blender


def test_a_matte_painted_in_blender_must_be_saved_first(blender, exr_shot: Path, tmp_path: Path) -> None:
    """A generated (never saved) matte used to become job.mask = None: the core then took the plate's alpha
    as the matte; a saved matte painted on afterwards was read stale from disk."""
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(tmp_path / "matte.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (320, 180))
    for _ in range(2):
        writer.write(np.zeros((180, 320, 3), np.uint8))
    writer.release()
    result = blender(
        f"""
import numpy as np
plate = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
plate.source = "SEQUENCE"
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1002
pixels = np.zeros((180, 320, 4), np.float32)
pixels[..., 3] = 1
pixels[60:120, 200:260, :3] = 1.0
matte = bpy.data.images.new("painted", 320, 180)
matte.pixels.foreach_set(pixels.ravel())
def fill(name):
    return run_fill(image=plate.name, mask_image=name, backend="telea", output_dir={str(tmp_path / "out")!r})
RESULT["generated"] = fill(matte.name)
matte.filepath_raw = {str(tmp_path / "matte.png")!r}
matte.file_format = "PNG"
matte.save()
RESULT["saved"] = fill(matte.name)
pixels[100:170, 20:80, :3] = 1.0
matte.pixels.foreach_set(pixels.ravel())
RESULT["dirty"] = fill(matte.name)
matte.save()
matte.pack()
RESULT["packed"] = fill(matte.name)
movie = bpy.data.images.load({str(tmp_path / "matte.avi")!r})
RESULT["movie_source"] = movie.source
RESULT["movie"] = fill(movie.name)
""",
        exr_shot,
    )
    assert "Matte 'painted' is not an image file" in result["generated"]["error"], result["log"]
    assert "Image > Save As" in result["generated"]["error"]
    assert result["saved"] == ["FINISHED"], result["log"]
    dirty = "Matte 'painted' has unsaved paint; save it (Image > Save) so AI Fill reads what you see"
    assert dirty in result["dirty"]["error"]  # the plate's words: one check for both
    assert "Matte 'painted' is packed in the .blend, and AI Fill reads its files" in result["packed"]["error"]
    assert "unpack it (File > External Data > Unpack Resources)" in result["packed"]["error"]
    assert result["movie_source"] == "MOVIE"  # (not "made in Blender and never saved")
    assert "is a movie; give the matte as an image or an image sequence" in result["movie"]["error"]
    assert "Traceback" not in result["log"]


def test_udim_tiles_and_a_packed_plate_are_refused_with_what_to_do(blender, exr_shot: Path) -> None:
    """Plates numbered 1001... opened as UDIM tiles got 'source is tiled'; a packed plate with no file on disk
    reached the core, which found no file."""
    result = blender(
        """
mask = os.path.join(PLATE, "mask.####.png")
tiles = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
tiles.source = "TILED"
RESULT["tiled"] = run_fill(image=tiles.name, mask=mask, backend="telea")
import shutil
os.makedirs(os.path.join(PLATE, "packed"))
shutil.copy(os.path.join(PLATE, "plate.1002.exr"), os.path.join(PLATE, "packed", "still.exr"))
still = bpy.data.images.load(os.path.join(PLATE, "packed", "still.exr"))
still.pack()
os.remove(os.path.join(PLATE, "packed", "still.exr"))  # only the packed copy is left
RESULT["packed"] = run_fill(image=still.name, mask=mask, backend="telea")
""",
        exr_shot,
    )
    assert "set its Source to Image Sequence" in result["tiled"]["error"], result["log"]
    assert "untick UDIM Tiles when opening it" in result["tiled"]["error"]
    assert "unpack it (File > External Data > Unpack Resources)" in result["packed"]["error"], result["log"]


def test_a_plate_with_unsaved_paint_or_packed_is_refused_not_read_stale_from_disk(
    blender, exr_shot: Path
) -> None:
    """The Matte with unsaved paint was refused, the plate was not: clone-stamped in the Image Editor and not
    saved, the fill read the file on disk and the result kept the painted-out object (its left 40 columns, red
    in Blender, were the plate's colours in the output). A packed plate whose file was still on disk was read
    from that file too, which may not be what Blender shows. Both are refused, the job folder never made."""
    result = blender(
        """
import numpy as np, shutil
mask = os.path.join(PLATE, "mask.1001.png")
photo = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
width, height = photo.size
pixels = np.empty(width * height * 4, np.float32)
photo.pixels.foreach_get(pixels)
pixels = pixels.reshape(height, width, 4)
pixels[:, :40] = (1, 0, 0, 1)  # the artist paints over part of the frame and does not save
photo.pixels.foreach_set(pixels.ravel())
RESULT["dirty"] = photo.is_dirty
RESULT["painted"] = run_fill(image=photo.name, mask=mask, backend="telea")
os.makedirs(os.path.join(PLATE, "packed"))
shutil.copy(os.path.join(PLATE, "plate.1002.exr"), os.path.join(PLATE, "packed", "still.exr"))
still = bpy.data.images.load(os.path.join(PLATE, "packed", "still.exr"))
still.pack()  # its file stays on disk
RESULT["packed"] = run_fill(image=still.name, mask=mask, backend="telea")
RESULT["folders"] = sorted(n for n in os.listdir(PLATE) if "aifx" in n) + os.listdir(os.path.join(PLATE, "packed"))
""",
        exr_shot,
    )
    assert result["dirty"] is True
    assert result["painted"] == {
        "error": "Error: plate.1001.exr: has unsaved paint; save it (Image > Save) so AI Fill reads what you see\n"
    }, result["log"]
    assert result["packed"] == {
        "error": "Error: still.exr: is packed in the .blend, and AI Fill reads its files, which need not be what "
        "Blender shows; unpack it (File > External Data > Unpack Resources)\n"
    }, result["log"]
    assert result["folders"] == ["still.exr"]  # no aifx_fill folder, beside the plate or the packed still


def test_a_matte_opened_as_one_numbered_file_is_noted_in_the_panels_words(blender, exr_shot: Path) -> None:
    """The roto's first file opened alone (Image > Open: Source 'Single Image') and picked as the Matte of a
    4-frame plate is held on every frame, with the core's note: it said 'give /…/mask.####.png as the mask', a
    command-line fix, where the artist changes the Matte's Source in Blender."""
    result = blender(
        """
plate = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
plate.source = "SEQUENCE"
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1004
matte = bpy.data.images.load(os.path.join(PLATE, "mask.1001.png"))
RESULT["source"] = matte.source
RESULT["fill"] = run_fill(image=plate.name, mask_image=matte.name, backend="telea")
""",
        exr_shot,
    )
    assert result["source"] == "FILE" and result["fill"] == ["FINISHED"], result["log"]
    notes = [line for line in result["log"].splitlines() if line.startswith("Warning: AI Fill note:")]
    pattern = str(exr_shot / "mask.####.png")
    assert notes == [
        f"Warning: AI Fill note: the mask {exr_shot / 'mask.1001.png'} is one frame of the sequence {pattern} "
        "beside it, held as the matte of every frame (1001-1004); if what it covers moves, set the Matte's Source "
        f"to Image Sequence (Image Editor sidebar > Image), or in a script give mask={pattern}"
    ], result["log"]
