"""The filled result in Blender: shown in the editor the fill ran from, refreshed by a second run, and kept
in the .blend after save and reopen (issue 12 item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

IN_EDITOR = """
def editor(kind):
    # The bpy module has one window: turn its first area into the editor the artist would run AI Fill from.
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = kind
    region = [r for r in area.regions if r.type == "WINDOW"][0]
    return window, area, region


def fill_from(editor_parts, **kwargs):
    window, area, region = editor_parts
    with bpy.context.temp_override(window=window, area=area, region=region):
        return run_fill(**kwargs)


def describe(block):
    if block is None:
        return None
    return {"name": block.name, "users": block.users, "fake": block.use_fake_user,
            "path": bpy.path.abspath(block.filepath), "colorspace": block.colorspace_settings.name,
            "duration": getattr(block, "frame_duration", None), "start": getattr(block, "frame_start", None)}
"""


def test_second_clip_run_refreshes_the_result_shown_in_the_editor_and_saved(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    blend = tmp_path / "shot.blend"
    result = blender(
        IN_EDITOR
        + f"""
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
parts = editor("CLIP_EDITOR")
space = parts[1].spaces.active
space.clip = clip
mask = os.path.join(PLATE, "mask.####.png")
scene.frame_start, scene.frame_end = 1001, 1003
RESULT["first"] = fill_from(parts, mask=mask, backend="telea")
RESULT["after_first"] = describe(bpy.data.movieclips.get("plate.1001.exr AI Fill"))
scene.frame_end = 1006
RESULT["second"] = fill_from(parts, clip=clip.name, mask=mask, backend="telea")
RESULT["after_second"] = describe(bpy.data.movieclips.get("plate.1001.exr AI Fill"))
RESULT["shown"] = space.clip.name
RESULT["clips"] = sorted(c.name for c in bpy.data.movieclips)
bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r})
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
RESULT["reopened"] = describe(bpy.data.movieclips.get("plate.1001.exr AI Fill"))
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    assert result["second"] == ["FINISHED"], result["log"]
    first, second = result["after_first"], result["after_second"]
    assert first["duration"] == 3 and first["fake"] and first["users"] == 2  # the editor and the fake user
    assert second["duration"] == 6 and second["start"] == 1001  # the new frames are seen
    assert result["shown"] == "plate.1001.exr AI Fill"
    assert result["clips"] == ["plate.1001.exr", "plate.1001.exr AI Fill"]  # refreshed, not duplicated
    reopened = result["reopened"]
    assert reopened is not None, "the result clip was not saved with the file"
    assert reopened["path"] == str(exr_shot / "aifx_fill" / "plate_fill.1001.exr")
    assert (reopened["duration"], reopened["start"], reopened["colorspace"]) == (6, 1001, "Linear Rec.709")


def test_image_result_is_shown_reloaded_and_saved(blender, exr_shot: Path, tmp_path: Path) -> None:
    blend = tmp_path / "image.blend"
    result = blender(
        IN_EDITOR
        + f"""
image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
image.source = "SEQUENCE"
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1006
parts = editor("IMAGE_EDITOR")
space = parts[1].spaces.active
space.image = image
user = space.image_user  # files 1001.. at scene frames 1001..: what an artist sets in Image > Image User
user.frame_start, user.frame_offset, user.frame_duration = 1001, 1000, 6
mask = os.path.join(PLATE, "mask.####.png")
RESULT["first"] = fill_from(parts, mask=mask, backend="telea")
RESULT["second"] = fill_from(parts, image=image.name, mask=mask, backend="telea", overwrite=True)
RESULT["shown"] = space.image.name
RESULT["images"] = sorted(i.name for i in bpy.data.images if i.name.startswith("plate"))
bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r})
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
RESULT["reopened"] = describe(bpy.data.images.get("plate.1001.exr AI Fill"))
""",
        exr_shot,
    )
    assert result["first"] == result["second"] == ["FINISHED"], result["log"]
    assert result["shown"] == "plate.1001.exr AI Fill"
    assert result["images"] == ["plate.1001.exr", "plate.1001.exr AI Fill"]
    reopened = result["reopened"]
    assert reopened is not None and reopened["fake"], "the result image was not saved with the file"
    assert reopened["path"] == str(exr_shot / "aifx_fill" / "plate_fill.1001.exr")
