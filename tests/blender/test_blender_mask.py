"""Animated Mask datablocks (issue 12 item 2) and the mask raster inside the modal run (item 4), in real
Blender on the bundled sample shot (no shared data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.blender

#: Pixels the animated masks move right between scene frames 1001 and 1006.
MOVE = 150
BOX = (20, 60, 80, 120)

ANIMATED_MASKS = f"""
import types
MOVE, BOX = {MOVE}, {BOX}
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1006
size = tuple(clip.size)
shift = MOVE / size[0]  # mask space: x runs 0..1 over the width

# Point keyframes: co and both handles keyed at 1001 and, moved, at 1006.
keyed = draw_mask("keyed", BOX, size)
for index, point in enumerate(keyed.layers[0].splines[0].points):
    for prop in ("co", "handle_left", "handle_right"):
        path = f'layers["object"].splines[0].points[{{index}}].{{prop}}'  # points cannot key themselves
        keyed.keyframe_insert(path, frame=1001)
        value = getattr(point, prop)
        setattr(point, prop, (value[0] + shift, value[1]))
        keyed.keyframe_insert(path, frame=1006)

# Shape keys, the way an artist animates a mask: Mask > Insert Shape Key in the Movie Clip Editor.
shaped = draw_mask("shaped", BOX, size)
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]
area.type = "CLIP_EDITOR"
space = area.spaces.active
space.clip, space.mode, space.mask = clip, "MASK", shaped
region = [r for r in area.regions if r.type == "WINDOW"][0]
for point in shaped.layers[0].splines[0].points:
    point.select = True  # shape_key_insert keys the layers with selected points
with bpy.context.temp_override(window=window, area=area, region=region):
    scene.frame_set(1001)
    assert bpy.ops.mask.shape_key_insert() == {{"FINISHED"}}
    scene.frame_set(1006)
    for point in shaped.layers[0].splines[0].points:
        point.co = (point.co[0] + shift, point.co[1])
    assert bpy.ops.mask.shape_key_insert() == {{"FINISHED"}}
scene.frame_set(1003)  # the artist's playhead, somewhere in the middle
"""


def _centre_x(path: Path) -> float:
    matte = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float64)
    assert matte.max() > 0, f"{path.name} is empty"
    xs = np.arange(matte.shape[1])
    return float((matte.sum(axis=0) * xs).sum() / matte.sum())


def test_animated_masks_move_with_the_scene_frame(blender, exr_shot: Path, tmp_path: Path) -> None:
    out = tmp_path / "mattes"
    result = blender(
        ANIMATED_MASKS
        + f"""
masks = sys.modules[ADDON + ".masks"]
scenes = len(bpy.data.scenes)
for mask in (keyed, shaped):
    masks.rasterize_mask(mask, size, [1001, 1006], [1001, 1006], os.path.join({str(out)!r}, mask.name, "m.####.png"))
RESULT["frame"] = scene.frame_current
RESULT["scenes"] = len(bpy.data.scenes) - scenes
""",
        exr_shot,
    )
    assert result["frame"] == 1003 and result["scenes"] == 0  # the artist's scene is back where it was
    start = (BOX[0] + BOX[2]) / 2
    for name in ("keyed", "shaped"):
        first, last = _centre_x(out / name / "m.1001.png"), _centre_x(out / name / "m.1006.png")
        assert abs(first - start) < 2, (name, first)
        assert abs(last - first - MOVE) < 2, (name, first, last)  # not frozen at the playhead (1003)


FILL_RUN = """
operators = sys.modules[ADDON + ".operators"]
rna = bpy.ops.aifx.fill.get_rna_type()
defaults = {p.identifier: getattr(p, "default", None) for p in rna.properties if p.identifier != "rna_type"}
scenes = len(bpy.data.scenes)

def prepared_op(**values):
    op = types.SimpleNamespace(**defaults)
    op.__dict__.update(values)
    return operators.prepare(op, bpy.context)
"""


def test_modal_run_rasterises_frame_by_frame_then_fills(blender, exr_shot: Path) -> None:
    result = blender(
        ANIMATED_MASKS
        + FILL_RUN
        + """
import time
prepared = prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea")
mask_dir = os.path.join(PLATE, "aifx_fill", "plate_mask")
RESULT["mattes_after_prepare"] = len(os.listdir(mask_dir)) if os.path.isdir(mask_dir) else 0
RESULT["job_after_prepare"] = os.path.exists(prepared.job_path)
run = operators.FillRun(prepared)
RESULT["ticks"] = []
while run.tick() == "running":
    RESULT["ticks"].append([run.status_text(), scene.frame_current, round(run.fraction, 3)])
    time.sleep(0.01)
RESULT["state"], RESULT["message"] = run.state, run.message
RESULT["frame"] = [scene.frame_current, scene.frame_subframe]
RESULT["scenes"] = len(bpy.data.scenes) - scenes
""",
        exr_shot,
    )
    assert (
        result["mattes_after_prepare"] == 0 and not result["job_after_prepare"]
    )  # pressing AI Fill is quick
    assert result["state"] == "done", result["message"] + result["log"]
    raster = [t for t in result["ticks"] if "rasterising mask" in t[0]]
    assert [t[0] for t in raster] == [f"AI Fill: rasterising mask {i}/6 (Esc to cancel)" for i in range(1, 6)]
    assert all(t[1] == 1003 for t in result["ticks"])  # the artist's frame is back after every tick
    assert any("ETA" in t[0] for t in result["ticks"])  # then the worker's progress
    out = exr_shot / "aifx_fill"
    assert sorted(p.name for p in out.glob("*.exr")) == [f"plate_fill.{n}.exr" for n in range(1001, 1007)]
    first, last = (_centre_x(out / "plate_mask" / f"plate_mask.{n}.png") for n in (1001, 1006))
    assert abs(last - first - MOVE) < 2
    assert result["scenes"] == 0


def test_the_playhead_stays_where_the_artist_scrubs_while_the_mask_rasterises(
    blender, exr_shot: Path
) -> None:
    """docs/blender.md: Blender stays usable while the Mask rasterises and the playhead is put back after each
    matte frame. It was put back to the frame AI Fill was pressed on: an artist who scrubbed to 1005 between two
    ticks was snapped back to 1003 at every tick, and at the end. Each step now puts back the frame it found,
    and nothing else does: Esc after a scrub to 1006 snapped back to 1005, where the last tick had found it."""
    result = blender(
        ANIMATED_MASKS
        + FILL_RUN
        + """
run = operators.FillRun(prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea"))
run.tick()
scene.frame_set(1005)
run.tick()
scene.frame_set(1006, subframe=0.5)  # scrubbed on after the last tick, then Esc
run.cancel()
RESULT["esc"] = [run.state, scene.frame_current, scene.frame_subframe]
scene.frame_set(1003)
run = operators.FillRun(prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea"))
RESULT["ticks"] = [[run.tick(), scene.frame_current]]
for scrub in (1005, 1002, 1006, 1004):  # the artist scrubs between ticks; the raster has 6 frames to do
    scene.frame_set(scrub, subframe=0.25)
    RESULT["ticks"].append([run.tick(), scene.frame_current, scene.frame_subframe])
import time
for _ in range(15000):  # bounded (5 minutes): the worker ends long before
    if run.tick() != "running":
        break
    time.sleep(0.02)
RESULT["state"], RESULT["frame"] = run.state, [scene.frame_current, scene.frame_subframe]
""",
        exr_shot,
    )
    assert result["esc"] == ["cancelled", 1006, 0.5], result["log"]
    assert result["ticks"] == [
        ["running", 1003],
        ["running", 1005, 0.25],
        ["running", 1002, 0.25],
        ["running", 1006, 0.25],
        ["running", 1004, 0.25],
    ], result["log"]
    assert result["state"] == "done" and result["frame"] == [1004, 0.25], result["log"]
    out = exr_shot / "aifx_fill" / "plate_mask"
    first, last = (_centre_x(out / f"plate_mask.{n}.png") for n in (1001, 1006))
    assert abs(last - first - MOVE) < 2  # each matte at its own frame, wherever the playhead was


def test_the_mask_deleted_while_it_rasterises_stops_the_fill(blender, exr_shot: Path) -> None:
    """The artist deleted the Mask (Outliner > Delete) after pressing AI Fill, between two raster ticks: the
    rest of the mattes came out blank (1002-1006 all zero) and the fill reported 'done, 6 frames written' having
    removed nothing. The raster now stops with what to do, and leaves nothing behind, as Esc does."""
    result = blender(
        ANIMATED_MASKS
        + FILL_RUN
        + """
run = operators.FillRun(prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea"))
RESULT["first_tick"] = run.tick()  # matte 1001 written
scene.frame_set(1005, subframe=0.25)  # the artist scrubs, then deletes the Mask
bpy.data.masks.remove(keyed)
import time
for _ in range(15000):  # bounded (5 minutes): a fill of 6 frames ends long before
    if run.tick() != "running":
        break
    time.sleep(0.02)
RESULT["state"], RESULT["message"] = run.state, run.message
RESULT["frame"] = [scene.frame_current, scene.frame_subframe]
RESULT["scenes"] = len(bpy.data.scenes) - scenes
""",
        exr_shot,
    )
    assert result["first_tick"] == "running"
    assert result["state"] == "error", result["log"]
    assert result["message"] == "keyed: the Mask was deleted while AI Fill rasterised it; press AI Fill again"
    assert result["frame"] == [1005, 0.25]  # where the artist scrubbed, not where the last tick found it
    assert not (exr_shot / "aifx_fill").exists()  # no job, no mattes, no folder
    assert result["scenes"] == 0


def test_escape_while_rasterising_leaves_nothing_behind(blender, exr_shot: Path) -> None:
    result = blender(
        ANIMATED_MASKS
        + FILL_RUN
        + """
prepared = prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea")
run = operators.FillRun(prepared)
RESULT["ticks"] = [run.tick(), run.tick()]
run.cancel()
RESULT["state"], RESULT["message"] = run.state, run.message
RESULT["frame"] = scene.frame_current
RESULT["scenes"] = len(bpy.data.scenes) - scenes
""",
        exr_shot,
    )
    assert result["ticks"] == ["running", "running"]
    assert result["state"] == "cancelled" and "nothing was filled" in result["message"]
    assert result["frame"] == 1003 and result["scenes"] == 0
    assert not (exr_shot / "aifx_fill").exists()  # no job, no mattes, no folder


def test_escape_while_rasterising_keeps_the_earlier_fills_job(blender, exr_shot: Path) -> None:
    """A second press stopped while its Mask rasterised (Esc, a raster error, an undo) deleted the job file the
    earlier fill left beside its frames: the job was only read when the worker started, so 'no earlier job'
    looked true. The earlier job now stays as it was."""
    result = blender(
        ANIMATED_MASKS
        + FILL_RUN
        + """
first = operators.FillRun(prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea")).run()
RESULT["first"] = first.state
with open(first.prepared.job_path, "rb") as handle:
    RESULT["job_before"] = handle.read().decode()
again = operators.FillRun(prepared_op(clip=clip.name, mask_datablock=keyed.name, backend="telea"))
RESULT["tick"] = again.tick()
again.cancel()
RESULT["state"] = again.state
path = again.prepared.job_path
RESULT["job_after"] = open(path, "rb").read().decode() if os.path.exists(path) else None
""",
        exr_shot,
    )
    assert result["first"] == "done" and result["tick"] == "running", result["log"]
    assert result["state"] == "cancelled"
    assert result["job_after"] == result["job_before"]  # the earlier fill's job file, unchanged
    assert len(list((exr_shot / "aifx_fill").glob("plate_fill.*.exr"))) == 6


UNDO_WHILE_RASTERISING = """
import types
operators = sys.modules[ADDON + ".operators"]
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]
area.type = "CLIP_EDITOR"
region = [r for r in area.regions if r.type == "WINDOW"][0]
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
area.spaces.active.clip = clip
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 4
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))

def in_editor(call, *args, **kwargs):
    with bpy.context.temp_override(window=window, area=area, region=region):
        return call(*args, **kwargs)

in_editor(bpy.ops.ed.undo_push, message="before AI Fill")
rna = bpy.ops.aifx.fill.get_rna_type()
op = types.SimpleNamespace(**{p.identifier: getattr(p, "default", None) for p in rna.properties})
op.__dict__.update(clip=clip.name, mask_datablock=mask.name, backend="telea")
run = operators.FillRun(in_editor(operators.prepare, op, bpy.context))
RESULT["first_tick"] = run.tick()  # one matte written; the modal operator hands the UI back to the artist
for edit in EDITS:  # the artist's edits, each pushed on the undo stack, then Ctrl-Z
    scene.render.resolution_x = edit
    in_editor(bpy.ops.ed.undo_push, message=f"edit {edit}")
in_editor(bpy.ops.ed.undo)
try:
    while run.tick() == "running":
        pass
    RESULT["state"], RESULT["message"] = run.state, run.message
except Exception as exc:
    RESULT["state"] = f"raised {type(exc).__name__}: {exc}"
RESULT["scenes"] = sorted(s.name for s in bpy.data.scenes)
RESULT["trees"] = sorted(t.name for t in bpy.data.node_groups if t.name.startswith("aifx"))
"""


@pytest.mark.parametrize("undo_to", ["an edit after AI Fill", "before AI Fill"])
def test_undo_while_rasterising_stops_or_goes_on_cleanly(blender, exr_shot: Path, undo_to: str) -> None:
    """Ctrl-Z between two raster steps replaced the scenes the raster held: ReferenceError 'StructRNA of type
    Scene has been removed' out of the modal handler, and the 'aifx mask raster' scene and node tree left in
    the .blend. An undo to before AI Fill was pressed (the raster scene is gone) now stops with what to do and
    leaves nothing behind; an undo of a later edit goes on with the scenes as they are now."""
    edits = [111, 222] if undo_to == "an edit after AI Fill" else [222]
    result = blender(f"EDITS = {edits}\n" + UNDO_WHILE_RASTERISING, exr_shot)
    assert result["first_tick"] == "running"
    assert result["scenes"] == ["Scene"] and result["trees"] == [], result["log"]
    if undo_to == "before AI Fill":
        assert result["state"] == "error", result["log"]
        assert result["message"] == "player: the scene changed under the fill (undo?); press AI Fill again"
        assert not (exr_shot / "aifx_fill").exists()  # no job, no mattes, no folder
    else:
        assert result["state"] == "done", result["log"]
        assert len(list((exr_shot / "aifx_fill").glob("plate_fill.*.exr"))) == 4


def _config_without_raw(folder: Path) -> Path:
    """Blender's own OCIO config with its Raw views taken out, as some studio configs ship."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    assert spec is not None and spec.submodule_search_locations
    found = sorted(
        Path(root).glob("*/datafiles/colormanagement/config.ocio") for root in spec.submodule_search_locations
    )
    source = next(path for paths in found for path in paths)
    text = source.read_text()
    luts = f'search_path: "{source.parent / "luts"}:{source.parent / "filmic"}"'
    text = text.replace('search_path: "luts:filmic"', luts).replace(", Raw]", "]")
    lines = [line for line in text.splitlines() if "{name: Raw," not in line]
    config = folder / "no_raw.ocio"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_a_colour_config_without_a_raw_view_is_one_line_and_leaves_no_folder(
    blender, exr_shot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a studio $OCIO config that has no 'Raw' view, a Mask fill ended in a traceback (TypeError: enum
    "Raw" not found, out of the operator) and left an empty aifx_fill/plate_mask/ folder. It is now refused in
    one line naming the config and what to do, and the raster makes its folder only when it writes a matte."""
    config = _config_without_raw(tmp_path)
    monkeypatch.setenv("OCIO", str(config))
    result = blender(
        """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
draw_mask("player", (100, 60, 160, 120), tuple(clip.size))
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock="player", backend="telea")
RESULT["scenes"] = [s.name for s in bpy.data.scenes]
RESULT["trees"] = [t.name for t in bpy.data.node_groups]
""",
        exr_shot,
    )
    assert "Traceback" not in result["log"], result["log"]
    assert result["fill"] == {
        "error": f"Error: player: cannot rasterise the mask (the OCIO config {config} ($OCIO) has no 'Raw' view, "
        "which writes the Mask's values unchanged; add a Raw view (the config's data colour space) to its "
        "display, or render the Mask to an image sequence and pick it as the Matte)\n"
    }, result["log"]
    assert result["scenes"] == ["Scene"] and result["trees"] == []
    assert not (exr_shot / "aifx_fill").exists()  # no folder, no job


def _windowed_plates(exr_shot: Path, root: Path, data: tuple, display: tuple) -> Path:
    """Three frames of the sample shot (320x180) rewritten with an EXR ``data`` window inside (a crop) or
    around (overscan) the ``display`` window, both given in the sample's pixels (x0, y0, x1, y1)."""
    import numpy as np
    import OpenEXR

    root.mkdir()
    for number in range(1001, 1004):
        with OpenEXR.File(str(exr_shot / f"plate.{number}.exr"), separate_channels=True) as exr:
            channels = {c: exr.channels()[c].pixels for c in "RGB"}
        x0, y0, x1, y1 = data
        cut = {c: np.ascontiguousarray(plane[y0 : y1 + 1, x0 : x1 + 1]) for c, plane in channels.items()}
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "dataWindow": (np.array(data[:2], np.int32), np.array(data[2:], np.int32)),
            "displayWindow": (np.array(display[:2], np.int32), np.array(display[2:], np.int32)),
        }
        OpenEXR.File(header, cut).write(str(root / f"plate.{number}.exr"))
    return root


@pytest.mark.parametrize(
    "data, display",
    [((20, 10, 299, 169), (0, 0, 319, 179)), ((0, 0, 319, 179), (8, 6, 311, 171))],
    ids=["crop", "overscan"],
)
def test_a_mask_over_an_exr_whose_data_window_is_not_its_frame_fills_where_it_was_drawn(
    blender, exr_shot: Path, tmp_path: Path, data: tuple, display: tuple
) -> None:
    """Blender shows an EXR's data window (clip.size), the core fills its display window: the matte was
    rasterised at the data window and refused ("a 83 %-resolution (proxy) mask ... scale it up"). It is now
    placed at the data window's corner in the display window, so the fill lands under what was drawn."""
    import cv2
    import numpy as np
    import OpenEXR

    plates = _windowed_plates(exr_shot, tmp_path / "windowed", data, display)
    box = (60, 40, 100, 80)  # drawn over the picture Blender shows
    result = blender(
        f"""
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1003
RESULT["size"] = list(clip.size)
mask = draw_mask("m", {box!r}, tuple(clip.size))
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", dilate=0, feather=0)
""",
        plates,
    )
    assert result["size"] == [data[2] - data[0] + 1, data[3] - data[1] + 1]
    assert result["fill"] == ["FINISHED"], result["log"]
    dx, dy = data[0] - display[0], data[1] - display[1]
    matte = cv2.imread(str(plates / "aifx_fill" / "plate_mask" / "plate_mask.1002.png"), cv2.IMREAD_UNCHANGED)
    assert matte.shape == (display[3] - display[1] + 1, display[2] - display[0] + 1)
    ys, xs = np.nonzero(matte > 32767)
    drawn = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)  # give or take the mask's soft edge
    assert np.abs(np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) - drawn).max() <= 1, (xs, ys)
    with OpenEXR.File(str(plates / "plate.1002.exr"), separate_channels=True) as exr:
        plate = exr.channels()["R"].pixels.astype(np.float32)
    with OpenEXR.File(str(plates / "aifx_fill" / "plate_fill.1002.exr"), separate_channels=True) as exr:
        filled = exr.channels()["R"].pixels.astype(np.float32)
    changed_y, changed_x = np.nonzero(filled != plate)  # the output keeps the plate's data window
    assert changed_x.size, "nothing was filled"
    assert box[0] - 2 <= changed_x.min() and changed_x.max() <= box[2] + 1, (changed_x.min(), changed_x.max())
    assert box[1] - 2 <= changed_y.min() and changed_y.max() <= box[3] + 1, (changed_y.min(), changed_y.max())
