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


def test_a_rerun_on_an_earlier_range_or_past_a_gap_refreshes_the_one_result(blender, exr_shot: Path) -> None:
    """Filled 1004-1005 then 1001-1002: a second clip 'AI Fill.001' (the result was matched by its lowest file,
    now 1001), and the same for an image; then filling past a gap loaded the clip from the lowest file, so it
    stopped at the gap and the new frames were not shown. Now one result per output, on this run's frames,
    with a warning saying what a clip cannot show."""
    result = blender(
        IN_EDITOR
        + """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
image.source = "SEQUENCE"
scene = bpy.context.scene
mask = os.path.join(PLATE, "mask.####.png")
RESULT["runs"] = []
for first, last in ((1004, 1005), (1001, 1002), (1003, 1003)):
    scene.frame_start, scene.frame_end = first, last
    RESULT["runs"].append({
        "fill": run_fill(clip=clip.name, mask=mask, backend="telea"),
        "clips": [describe(c) for c in bpy.data.movieclips if "AI Fill" in c.name],
    })
parts = editor("IMAGE_EDITOR")
parts[1].spaces.active.image = image
user = parts[1].spaces.active.image_user  # the image's files 1001.. at scene frames 1..
user.frame_start, user.frame_offset, user.frame_duration = 1, 1000, 6
scene.frame_start, scene.frame_end = 3, 4  # files 1003-1004
fill_from(parts, image=image.name, mask=mask, backend="telea", output_dir=os.path.join(PLATE, "image_fill"))
scene.frame_start, scene.frame_end = 1, 1  # then file 1001, lower than those on disk
fill_from(parts, image=image.name, mask=mask, backend="telea", output_dir=os.path.join(PLATE, "image_fill"))
RESULT["image_files"] = sorted(os.listdir(os.path.join(PLATE, "image_fill")))
RESULT["images"] = sorted(i.name for i in bpy.data.images if "AI Fill" in i.name)
""",
        exr_shot,
    )
    assert [f for f in result["image_files"] if f.endswith(".exr")] == [
        f"plate_fill.{n}.exr" for n in (1001, 1003, 1004)
    ]
    assert result["images"] == ["plate.1001.exr AI Fill"]
    runs = result["runs"]
    assert [r["fill"] for r in runs] == [["FINISHED"]] * 3, result["log"]
    for run, (path, start, duration) in zip(
        runs, ((1004, 1004, 2), (1001, 1001, 2), (1001, 1001, 5)), strict=True
    ):
        assert [c["name"] for c in run["clips"]] == ["plate.1001.exr AI Fill"], result["log"]
        clip = run["clips"][0]
        assert (clip["path"], clip["start"], clip["duration"]) == (
            str(exr_shot / "aifx_fill" / f"plate_fill.{path}.exr"),
            start,
            duration,
        )
    gap = "Warning: AI Fill: the result clip shows files 1001-1002 of "
    assert result["log"].count(gap) == 1, result["log"]
    assert (
        "a Movie Clip cannot play across missing frames to files 1004-1005: fill the frames between"
        in result["log"]
    )


STILL = (
    IN_EDITOR
    + """
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 10
image = bpy.data.images.load(os.path.join(PLATE, "still", "photo.png"))
mask = draw_mask("player", (150, 60, 250, 150), tuple(image.size))
"""
)


def _still(plate: Path) -> Path:
    """``plate/still/photo.png``: a still (no frame number in its name), the plate's third frame."""
    still = plate / "still"
    still.mkdir()
    (still / "photo.png").write_bytes((plate / "frames" / "00002.png").read_bytes())
    return plate


def test_a_rejected_still_plate_leaves_nothing_behind(blender, plate: Path) -> None:
    """A job the core rejected left the still's matte photo_mask.0000.png and the aifx_fill folder beside the
    photo: the mattes to remove were listed with a '#' pattern, which a still's matte name has not."""
    result = blender(
        STILL
        + """
RESULT["rejected"] = run_fill(image=image.name, mask_datablock=mask.name, backend="lama",
                              model="/nonexistent/big-lama.pt")
RESULT["left"] = sorted(os.listdir(os.path.join(PLATE, "still")))
""",
        _still(plate),
    )
    assert "big-lama.pt" in result["rejected"]["error"], result["log"]
    assert result["left"] == ["photo.png"]


def test_a_still_plates_result_opens_as_one_image(blender, plate: Path) -> None:
    """The result of a still opened as an image sequence, which showed a missing image on every frame but 1."""
    result = blender(
        STILL
        + """
parts = editor("IMAGE_EDITOR")
space = parts[1].spaces.active
space.image = image
scene.frame_set(4)
RESULT["fill"] = fill_from(parts, mask_datablock=mask.name, backend="telea")
shown = space.image
RESULT["shown"] = [shown.name, shown.source]
RESULT["at_frame_4"] = os.path.exists(shown.filepath_from_user(image_user=space.image_user))
""",
        _still(plate),
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    assert result["shown"] == ["photo.png AI Fill", "FILE"]
    assert result["at_frame_4"]
