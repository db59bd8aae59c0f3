"""The filled result in Blender: shown in the editor the fill ran from, refreshed by a second run, and kept
in the .blend after save and reopen (issue 12 item 3)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
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


def test_a_rerun_keeps_the_artists_work_on_the_result_clip(blender, exr_shot: Path) -> None:
    """A rerun loaded a new result clip and removed the old one: the tracks, camera, custom properties and
    proxy setting the artist had added to the result were gone. The clip is now reloaded in place, also when
    the rerun starts it on an earlier file, and without a Clip Editor (this runs as blender -b does)."""
    result = blender(
        """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
mask = os.path.join(PLATE, "mask.####.png")
name = "plate.1001.exr AI Fill"

def work(block):
    return {"tracks": [t.name for t in block.tracking.tracks], "focal": block.tracking.camera.focal_length,
            "note": block.get("note"), "proxy": block.use_proxy, "duration": block.frame_duration,
            "start": block.frame_start, "file": os.path.basename(block.filepath)}

scene.frame_start, scene.frame_end = 1002, 1003
RESULT["fills"] = [run_fill(clip=clip.name, mask=mask, backend="telea")]
filled = bpy.data.movieclips[name]
filled.tracking.tracks.new(name="roto ref", frame=1002).markers.insert_frame(1003, co=(0.5, 0.5))
filled.tracking.camera.focal_length = 35.0
filled["note"] = "artist data"
filled.use_proxy = True
for first, last in ((1002, 1004), (1001, 1005)):  # a later frame added; then an earlier first file
    scene.frame_start, scene.frame_end = first, last
    RESULT["fills"].append(run_fill(clip=clip.name, mask=mask, backend="telea"))
    RESULT.setdefault("work", []).append(work(bpy.data.movieclips[name]))
RESULT["clips"] = sorted(c.name for c in bpy.data.movieclips)
""",
        exr_shot,
    )
    assert result["fills"] == [["FINISHED"]] * 3, result["log"]
    kept = {"tracks": ["roto ref"], "focal": 35.0, "note": "artist data", "proxy": True}
    later, earlier = result["work"]
    assert later == {**kept, "duration": 3, "start": 1002, "file": "plate_fill.1002.exr"}
    assert earlier == {**kept, "duration": 5, "start": 1001, "file": "plate_fill.1001.exr"}
    assert result["clips"] == ["plate.1001.exr", "plate.1001.exr AI Fill"]


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


def test_a_single_image_from_a_folder_of_frames_fills_as_a_still(blender, plate: Path) -> None:
    """``bpy.data.images.load("renders/shot_0001.png")`` (Source: Single Image) beside ``shot_0002.png`` was
    refused by the core as one frame of ``renders/shot_####.png`` ("give that pattern with the frame range ...
    1"), which a Single Image cannot do, where it had filled: a still asked for its one frame is refused no
    more (only a still served for several frames is). It fills that one image, over a scene of 10 frames."""
    renders = plate / "renders"
    renders.mkdir()
    for index, name in enumerate(("shot_0001.png", "shot_0002.png")):
        (renders / name).write_bytes((plate / "frames" / f"{index:05d}.png").read_bytes())
    result = blender(
        """
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 10
image = bpy.data.images.load(os.path.join(PLATE, "renders", "shot_0001.png"))
RESULT["source"] = image.source
RESULT["fill"] = run_fill(image=image.name, mask=os.path.join(PLATE, "masks", "00000.png"), backend="telea")
shown = bpy.data.images.get("shot_0001.png AI Fill")
RESULT["result"] = shown and [shown.source, os.path.isfile(bpy.path.abspath(shown.filepath))]
""",
        plate,
    )
    assert result["source"] == "FILE"
    assert result["fill"] == ["FINISHED"], result["fill"]
    assert result["result"] == ["FILE", True], result["log"]
    assert sorted(p.name for p in renders.iterdir() if p.is_file()) == ["shot_0001.png", "shot_0002.png"]


SHOWN_AS_BLENDER_RENDERS = """
def render(block, out):
    # What Blender makes of a clip or an image: the compositor's RGBA (premultiplied, linear) at frame 1.
    scene = bpy.data.scenes.new("look")
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 64, 48, 100
    tree = bpy.data.node_groups.new("look", "CompositorNodeTree")
    tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    if isinstance(block, bpy.types.MovieClip):
        node = tree.nodes.new("CompositorNodeMovieClip")
        node.clip = block
    else:
        node = tree.nodes.new("CompositorNodeImage")
        node.image = block
        node.frame_duration, node.frame_offset = 3, 1000
    tree.links.new(node.outputs[0], tree.nodes.new("NodeGroupOutput").inputs[0])
    scene.compositing_node_group = tree
    scene.render.use_compositing, scene.render.use_sequencer = True, False
    settings = scene.render.image_settings
    settings.file_format, settings.color_mode, settings.color_depth = "OPEN_EXR", "RGBA", "32"
    scene.view_settings.view_transform = "Standard"
    scene.render.filepath, scene.frame_current = out, 1
    bpy.ops.render.render(write_still=True, scene=scene.name)
    bpy.data.scenes.remove(scene)
    bpy.data.node_groups.remove(tree)
"""


def _straight_alpha_plate(root: Path) -> Path:
    """Three 64x48 RGBA PNGs with straight alpha (1 at the top row, 0.25 at the bottom) and a box matte."""
    import cv2

    root.mkdir()
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 2], bgr[..., 1], bgr[..., 0] = 200, np.linspace(0, 255, 64)[None, :], 60
    alpha = np.tile(np.linspace(255, 64, 48)[:, None], (1, 64)).astype(np.uint8)
    matte = np.zeros((48, 64), np.uint8)
    matte[18:30, 24:40] = 255
    for number in (1001, 1002, 1003):
        cv2.imwrite(str(root / f"plate.{number}.png"), np.dstack([bgr, alpha]))
        cv2.imwrite(str(root / f"mask.{number}.png"), matte)
    return root


@pytest.mark.parametrize("kind", ["image", "clip"])
def test_a_straight_alpha_plates_result_shows_as_the_plate_outside_the_hole(
    blender, tmp_path: Path, kind: str
) -> None:
    """The core copies a straight-alpha PNG's values into the result as stored, and Blender reads an EXR as
    premultiplied: outside the hole the result rendered up to 10x too bright where alpha is below 1 (R 2.17
    for the plate's 0.21). The Image result takes the plate's Alpha mode; a clip, which has none, gets its
    result in the plate's own format."""
    import OpenEXR

    plate = _straight_alpha_plate(tmp_path / "rgba")
    result = blender(
        SHOWN_AS_BLENDER_RENDERS
        + f"""
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
first = os.path.join(PLATE, "plate.1001.png")
if {kind!r} == "clip":
    plate = bpy.data.movieclips.load(first)
    RESULT["fill"] = run_fill(clip=plate.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea")
    filled = bpy.data.movieclips.get(plate.name + " AI Fill")
else:
    plate = bpy.data.images.load(first)
    plate.source = "SEQUENCE"
    RESULT["fill"] = run_fill(image=plate.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea")
    filled = bpy.data.images.get(plate.name + " AI Fill")
    RESULT["alpha_mode"] = filled.alpha_mode
RESULT["result_file"] = os.path.basename(filled.filepath)
render(plate, os.path.join(PLATE, "look_plate.exr"))
render(filled, os.path.join(PLATE, "look_result.exr"))
""",
        plate,
    )
    assert result["fill"] == ["FINISHED"], result["log"]

    def look(name: str) -> np.ndarray:
        with OpenEXR.File(str(plate / name), separate_channels=True) as exr:
            channels = exr.channels()
            return np.dstack([channels[c].pixels for c in "RGBA"])

    shown, plate_shown = look("look_result.exr"), look("look_plate.exr")
    outside = np.ones(shown.shape[:2], bool)
    outside[12:36, 18:46] = False  # the hole, dilated and feathered
    assert np.abs(shown - plate_shown)[outside].max() < 2e-3
    if kind == "clip":
        assert result["result_file"] == "plate_fill.1001.png"
    else:
        assert result["alpha_mode"] == "STRAIGHT" and result["result_file"] == "plate_fill.1001.exr"


def test_an_output_written_as_printf_or_houdini_is_loaded_and_kept_when_a_run_fails(
    blender, plate: Path
) -> None:
    """``output=`` as ``clean.%04d.exr`` or ``clean.$F4.exr`` (the documented forms) filled the frames but
    loaded no result, and a run that failed part-way deleted its job file and its mattes folder (the add-on
    listed output frames by ``#`` only, so it took the run for one that filled nothing); ``####`` did both."""
    result = blender(
        """
clip = load_clip()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 4
mask = draw_mask("m", (60, 40, 100, 80), tuple(clip.size))
RESULT["runs"] = {}
for folder, name in (("pct", "clean.%04d.exr"), ("houdini", "clean.$F4.exr"), ("braced", "clean.${F4}.exr")):
    output = os.path.join(PLATE, folder, name)
    fill = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", output=output)
    clips = [bpy.path.abspath(c.filepath) for c in bpy.data.movieclips if "AI Fill" in c.name]
    RESULT["runs"][folder] = [fill, sorted(os.listdir(os.path.join(PLATE, folder))), clips]
open(os.path.join(PLATE, "frames", "00003.png"), "wb").close()  # frame 4 of the clip is broken
output = os.path.join(PLATE, "failed", "clean.%04d.exr")
RESULT["failed"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", output=output)
RESULT["left"] = sorted(os.listdir(os.path.join(PLATE, "failed")))
""",
        plate,
    )
    for folder in ("pct", "houdini", "braced"):
        fill, files, clips = result["runs"][folder]
        assert fill == ["FINISHED"], result["log"]
        assert [f for f in files if f.endswith(".exr")] == [f"clean.{n:04d}.exr" for n in range(4)]
        assert str(plate / folder / "clean.0000.exr") in clips, (folder, clips)
    assert "error" in result["failed"], result["log"]
    assert "clean.0000.exr" in result["left"], result["left"]
    assert {"frames_fill.aifx.json", "frames_mask"} <= set(result["left"]), result["left"]


def test_a_rerun_on_an_earlier_range_keeps_the_tracks_on_their_frames(blender, exr_shot: Path) -> None:
    """Filled 1004-1006, tracked on the result, then filled 1001-1003: the result clip now starts at
    plate_fill.1001 instead of 1004 and Blender keeps markers at clip frames, so a marker made at scene frame
    1005 sat at 1002, over another picture. Tracks and plane tracks stay on their scene frames (their files)."""
    result = blender(
        IN_EDITOR
        + """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
mask = os.path.join(PLATE, "mask.####.png")
name = "plate.1001.exr AI Fill"
scene.frame_start, scene.frame_end = 1004, 1006
RESULT["fills"] = [run_fill(clip=clip.name, mask=mask, backend="telea")]
filled = bpy.data.movieclips[name]

def local(scene_frame):
    return scene_frame - filled.frame_start + 1

corners = []
for i, (x, y) in enumerate(((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))):
    track = filled.tracking.tracks.new(name=f"corner{i}", frame=local(1004))
    track.markers[0].co = (x, y)
    for scene_frame in (1005, 1006):
        track.markers.insert_frame(local(scene_frame), co=(x + 0.01 * (scene_frame - 1004), y))
    track.select = True
parts = editor("CLIP_EDITOR")
parts[1].spaces.active.clip = filled
window, area, region = parts
with bpy.context.temp_override(window=window, area=area, region=region):
    bpy.ops.clip.create_plane_track()  # at the editor's frame, which only a redraw moves from scene frame 1
plane = filled.tracking.plane_tracks[0]
for scene_frame in (1005, 1006):
    plane.markers.insert_frame(local(scene_frame))

def where(block):
    start = block.frame_start
    tracks = {t.name: [(m.frame + start - 1, round(m.co[0], 3)) for m in t.markers] for t in block.tracking.tracks}
    planes = {t.name: sorted(m.frame + start - 1 for m in t.markers) for t in block.tracking.plane_tracks}
    return {"tracks": tracks, "planes": planes, "file": os.path.basename(block.filepath)}

RESULT["before"] = where(filled)
scene.frame_start, scene.frame_end = 1001, 1003
RESULT["fills"].append(run_fill(clip=clip.name, mask=mask, backend="telea"))
RESULT["after"] = where(bpy.data.movieclips[name])
""",
        exr_shot,
    )
    assert result["fills"] == [["FINISHED"]] * 2, result["log"]
    before, after = result["before"], result["after"]
    assert before["file"] == "plate_fill.1004.exr" and after["file"] == "plate_fill.1001.exr"
    assert before["tracks"]["corner0"] == [[1004, 0.2], [1005, 0.21], [1006, 0.22]]
    assert before["planes"]["Plane Track"][-2:] == [1005, 1006], before
    assert (after["tracks"], after["planes"]) == (before["tracks"], before["planes"])


def test_a_renamed_result_or_one_in_another_folder_is_refreshed_not_loaded_again(
    blender, plate: Path
) -> None:
    """The earlier result was looked up by its name: renamed ("sh010 clean") it was loaded again as a new
    "frames AI Fill" clip beside the tracked one, and every press into a second Output Folder added
    "... AI Fill.001", ".002" (the name was the first folder's result's), each with a fake user."""
    result = blender(
        """
clip = load_clip()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
mask = draw_mask("m", (60, 40, 100, 80), tuple(clip.size))
fills = [run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")]
renamed = bpy.data.movieclips[clip.name + " AI Fill"]
renamed.name = "sh010 clean"
renamed.tracking.tracks.new(name="corner", frame=1)
scene.frame_end = 3
fills.append(run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea"))
RESULT["renamed"] = sorted((c.name, c.frame_duration, len(c.tracking.tracks)) for c in bpy.data.movieclips)
for _ in range(3):
    fills.append(run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea",
                          output_dir=os.path.join(PLATE, "second")))
RESULT["fills"] = fills
RESULT["second"] = sorted(c.name for c in bpy.data.movieclips)
""",
        plate,
    )
    assert result["fills"] == [["FINISHED"]] * 5, result["log"]
    assert result["renamed"] == [["00000.png", 6, 0], ["sh010 clean", 3, 1]]
    assert result["second"] == ["00000.png", "00000.png AI Fill", "sh010 clean"]


def test_the_result_of_a_fill_next_to_a_saved_blend_follows_the_project_when_it_moves(
    blender, plate: Path, tmp_path: Path
) -> None:
    """Output Folder //fill/ on a saved .blend: the plate clip was stored relative, the result clip (and the
    confidence Image) absolute, so moving the project folder lost only the result. Results are now stored
    as Blender's own Open stores a file (the Relative Paths preference, on by default): relative."""
    project = tmp_path / "proj"
    (project / "plates").mkdir(parents=True)
    for index in range(3):
        name = f"{index:05d}.png"
        (project / "plates" / name).write_bytes((plate / "frames" / name).read_bytes())
    result = blender(
        f"""
import shutil
project = {str(project)!r}
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))
clip = bpy.data.movieclips.load(os.path.join(project, "plates", "00000.png"))
clip.filepath = "//plates/00000.png"
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
mask = draw_mask("m", (60, 40, 100, 80), tuple(clip.size))
scene.aifx.output_dir = "//fill/"
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", confidence=True)
bpy.ops.wm.save_mainfile()
moved = project + "_moved"
shutil.move(project, moved)
bpy.ops.wm.open_mainfile(filepath=os.path.join(moved, "shot.blend"))
RESULT["blocks"] = sorted(
    (b.name, b.filepath, os.path.exists(bpy.path.abspath(b.filepath)))
    for b in list(bpy.data.movieclips) + list(bpy.data.images) if b.filepath
)
""",
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    assert result["blocks"] == [
        ["00000.png", "//plates/00000.png", True],
        ["00000.png AI Fill", "//fill/plates_fill.00000.exr", True],
        ["00000.png AI Fill", "//fill/plates_fill.00000.exr", True],
    ], result["blocks"]


def _one_undo_step(
    blender, plate: Path, last_frame: int, before_fill: str = "", after_fill: str = ""
) -> dict:
    """Run the undo-step script: the artist's edit (Render width 1234) pushed as an undo step, AI Fill pressed
    in the Clip Editor (``before_fill``: how the worker is run, ``after_fill``: what is read once it returns),
    then Ctrl-Z and Ctrl-Shift-Z; RESULT's ``filled``, ``undone`` and ``redone`` are [the width, whether the
    result clip is there] after each."""
    setup = """
        where = editor("CLIP_EDITOR")
        window, area, region, space = where
        def in_editor(call, *args, **kwargs):
            with bpy.context.temp_override(window=window, area=area, region=region):
                return call(*args, **kwargs)
        space.clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, LAST_FRAME
        draw_mask("m", (100, 50, 160, 120), (320, 180))
        """
    press = """
        in_editor(bpy.ops.ed.undo_push, message="before the edit")
        scene.render.resolution_x = 1234  # the artist's edit, then AI Fill
        in_editor(bpy.ops.ed.undo_push, message="the edit")
        RESULT["fill"] = click(where, clip="plate.1001.exr", mask_datablock="m", backend="telea")
        """
    undo = """
        def state():
            scene = bpy.context.scene
            return [scene.render.resolution_x, "plate.1001.exr AI Fill" in bpy.data.movieclips]
        RESULT["filled"] = state()
        in_editor(bpy.ops.ed.undo)
        RESULT["undone"] = state()
        in_editor(bpy.ops.ed.redo)
        RESULT["redone"] = state()
        """
    parts = [f"LAST_FRAME = {last_frame}", setup, before_fill, press, after_fill, undo]
    script = "\n".join(textwrap.dedent(part) for part in parts)
    return blender(script, plate)


def test_a_fill_is_one_undo_step(blender, exr_shot: Path) -> None:
    """AI Fill pushed no undo step: one Ctrl-Z after it removed the result clip and also undid the artist's edit
    made before the fill, and Ctrl-Shift-Z never brought the result back."""
    result = _one_undo_step(blender, exr_shot, last_frame=2)
    assert result["fill"] == ["FINISHED"], result["log"]
    assert result["filled"] == [1234, True]
    assert result["undone"] == [1234, False]  # the fill is undone, the edit before it is kept
    assert result["redone"] == [1234, True]


PLATE_GONE_WHILE_FILLING = """
import time, types
operators = sys.modules[ADDON + ".operators"]
window, area, region, space = editor("CLIP_EDITOR")
def in_editor(call, *args, **kwargs):
    with bpy.context.temp_override(window=window, area=area, region=region):
        return call(*args, **kwargs)
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.display_aspect = (2.0, 1.0)
space.clip = clip
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
in_editor(bpy.ops.ed.undo_push, message="before AI Fill")
# what invoke() sets up, then the operator's modal handler on each timer event
rna = bpy.ops.aifx.fill.get_rna_type()
op = types.SimpleNamespace(**{p.identifier: getattr(p, "default", None) for p in rna.properties})
op.__dict__.update(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea")
op._run, op._timer, reports = operators.FillRun(in_editor(operators.prepare, op, bpy.context)), None, []
op.report = lambda kind, message: reports.append(message)
op._cleanup = lambda context: None
op._finish = lambda context, run: operators.AIFX_OT_fill._finish(op, context, run)
timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
touched = False
try:
    for _ in range(15000):  # bounded (5 minutes): the worker ends long before
        state = in_editor(operators.AIFX_OT_fill.modal, op, bpy.context, timer)
        if op._run.session is not None and not touched:  # the worker runs: the artist touches the plate
            touched = True
            if WHAT == "delete":
                bpy.data.movieclips.remove(clip)
            elif WHAT == "rename":  # the artist renames the plate in the Movie Clip Editor
                clip.name = "sh010 plate"
            else:
                clip.tracking.tracks.new(name="Track", frame=1)
                in_editor(bpy.ops.ed.undo_push, message="add a track")
                in_editor(bpy.ops.ed.undo)
        if state != {"RUNNING_MODAL"}:
            break
        time.sleep(0.02)
    RESULT["state"] = sorted(state)
except Exception as exc:
    RESULT["state"] = f"raised {type(exc).__name__}: {exc}"
RESULT["reports"] = reports
result = bpy.data.movieclips.get("plate.1001.exr AI Fill")
plate = bpy.data.movieclips.get("sh010 plate" if WHAT == "rename" else "plate.1001.exr")
RESULT["result"] = result is not None and {
    "fake_user": result.use_fake_user,
    "source": result.get("aifx_source") and result["aifx_source"].name,
    "tagged_plate_now": plate is not None and result.get("aifx_source") == plate,
    "aspect": list(result.display_aspect),
}
RESULT["editor"] = space.clip and space.clip.name
"""


@pytest.mark.parametrize("what", ["undo", "rename", "delete"])
def test_the_plate_deleted_renamed_or_undone_while_filling_still_loads_the_result(
    blender, exr_shot: Path, what: str
) -> None:
    """The artist added a track to the plate clip and pressed Ctrl-Z (an undo re-reads a changed clip), or
    deleted the clip, while the worker ran: the end of the modal run raised ReferenceError 'StructRNA of type
    MovieClip has been removed' (the plate held since AI Fill was pressed), with no report, and left the result
    clip half loaded: no fake user (lost on save), no link to its plate, the editor not switched. The plate is
    looked up again at the end, by its session id: after the undo, or renamed meanwhile (found by name, the
    renamed plate was taken for gone: no link, aspect (1, 1)), the result is complete; deleted, it is loaded
    and the artist is told what it lacks."""
    result = blender(f"WHAT = {what!r}\n" + PLATE_GONE_WHILE_FILLING, exr_shot)
    assert result["state"] == ["FINISHED"], result["log"]
    assert result["reports"][0].startswith("AI Fill done (3 frames written"), result["reports"]
    assert result["editor"] == "plate.1001.exr AI Fill"
    loaded = result["result"]
    assert loaded and loaded["fake_user"], result["log"]
    if what in ("undo", "rename"):
        assert loaded["source"] == ("sh010 plate" if what == "rename" else "plate.1001.exr")
        assert loaded["tagged_plate_now"]
        assert loaded["aspect"] == [2.0, 1.0]
        assert len(result["reports"]) == 1, result["reports"]
    else:
        assert loaded["source"] is None and loaded["aspect"] == [1.0, 1.0]
        assert result["reports"][1] == (
            "AI Fill: the plate 'plate.1001.exr' is gone (deleted while AI Fill ran): its result is "
            "loaded without the plate's Display and Pixel Aspect, and AI Fill pressed on it fills the result "
            "itself; open the plate again to fill it"
        )


def test_esc_after_some_frames_leaves_the_partial_result_one_undo_step(blender, exr_shot: Path) -> None:
    """Esc once the worker had written a frame loaded the partial result clip (a rerun resumes from it) and
    returned CANCELLED, which Blender reads as "nothing changed" and pushes no undo step for: one Ctrl-Z then
    undid the artist's edit made before the fill, along with the clip. A partial result that is loaded is one
    undo step, as a finished one: FINISHED, with the cancel said as a warning."""
    esc = """
        operators = sys.modules[ADDON + ".operators"]
        real_start = operators.start_worker
        def start_then_esc(prepared, on_event=None):
            # Esc once the worker has written a frame (a background bpy has no window to press it in)
            held = {}
            def seen(event):
                if on_event is not None:
                    on_event(event)
                written = event.get("event") == "progress" and event.get("stage") == "write" and event.get("index")
                if written and not held["session"].cancel_requested:
                    held["session"].cancel()
            held["session"] = real_start(prepared, seen)
            return held["session"]
        operators.start_worker = start_then_esc
        """
    written = """
        RESULT["written"] = len([f for f in os.listdir(os.path.join(PLATE, "aifx_fill")) if f.endswith(".exr")])
        """
    result = _one_undo_step(blender, exr_shot, last_frame=6, before_fill=esc, after_fill=written)
    assert 0 < result["written"] < 6, result["log"]
    assert "AI Fill cancelled: finished frames are kept" in result["log"], result["log"]
    assert result["fill"] == ["FINISHED"], result["log"]
    assert result["filled"] == [1234, True]
    assert result["undone"] == [1234, False]  # the partial result is undone, the edit before it is kept
    assert result["redone"] == [1234, True]
