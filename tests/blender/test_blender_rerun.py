"""Pressing AI Fill (panel button, Clip menu, F3): which plate and Mask it fills, and pressing it again resumes
with an unchanged Mask and fills the plate, not the result the editor shows."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
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


IN_CLIP_EDITOR = """
import types
panels = sys.modules[ADDON + ".panels"]
operators = sys.modules[ADDON + ".operators"]
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]
area.type = "CLIP_EDITOR"
region = [r for r in area.regions if r.type == "WINDOW"][0]
space = area.spaces.active
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
space.clip = clip
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
space.mode, space.mask = "MASK", mask
scene.aifx.backend = "telea"

def in_editor(call, *args, **kwargs):
    with bpy.context.temp_override(window=window, area=area, region=region):
        return call(*args, **kwargs)

def press_panel_button():
    # what the sidebar's AI Fill button calls: the panel's settings plus the names it draws
    return in_editor(run_fill, **panels.fill_arguments(space, scene.aifx))
"""


def test_pressing_again_while_the_editor_shows_the_result_fills_the_plate(blender, exr_shot: Path) -> None:
    """After a fill the editor shows '<plate> AI Fill'; the panel's button and the Clip menu / F3 used to
    fill that result (plate_fill_fill.####.exr, clip '... AI Fill AI Fill') instead of the plate."""
    result = blender(
        IN_CLIP_EDITOR
        + """
RESULT["first"] = press_panel_button()
RESULT["shown"] = space.clip.name
RESULT["panel_names"] = panels.fill_arguments(space, scene.aifx)
RESULT["again"] = press_panel_button()
RESULT["menu"] = in_editor(run_fill)  # Clip menu > AI Fill, F3: no names, the editor's
RESULT["clips"] = sorted(c.name for c in bpy.data.movieclips)
RESULT["source"] = bpy.data.movieclips["plate.1001.exr AI Fill"].get("aifx_source").name
# a script that names the result still fills it (a second clean-up on the result, on purpose)
RESULT["named"] = run_fill(clip="plate.1001.exr AI Fill", mask_datablock=mask.name,
                           output_dir=os.path.join(PLATE, "second"))
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    assert result["shown"] == "plate.1001.exr AI Fill"
    assert result["panel_names"] == {
        "clip": "plate.1001.exr",
        "clip_library": "",
        "mask_datablock": "player",
        "mask_library": "",
    }
    assert result["again"] == ["FINISHED"], result["log"]
    assert result["menu"] == ["FINISHED"], result["log"]
    assert (
        result["log"].count("done (0 frames written, 3 already done)") == 2
    )  # both resumed the plate's fill
    assert result["source"] == "plate.1001.exr"
    assert "plate.1001.exr AI Fill AI Fill" not in result["clips"]
    assert sorted(p.name for p in (exr_shot / "aifx_fill").glob("*.exr")) == [
        f"plate_fill.{n}.exr" for n in (1001, 1002, 1003)
    ]
    assert result["named"] == ["FINISHED"], result["log"]
    assert list((exr_shot / "second").glob("plate_fill_fill.1001.exr"))


def test_escape_leaves_the_editor_on_the_plate_and_the_next_press_resumes(blender, exr_shot: Path) -> None:
    """Esc while filling used to switch the editor to the partial result, so 'resume' filled that."""
    result = blender(
        IN_CLIP_EDITOR
        + """
import time
scene.frame_end = 6
rna = bpy.ops.aifx.fill.get_rna_type()
op = types.SimpleNamespace(**{p.identifier: getattr(p, "default", None) for p in rna.properties})
op.__dict__.update(panels.fill_arguments(space, scene.aifx), backend="telea")
run = operators.FillRun(in_editor(operators.prepare, op, bpy.context))
while run.tick() == "running":
    if run.session is not None and run.session.worker.last_progress:
        run.cancel()  # Esc once the worker has written a frame
    time.sleep(0.01)
RESULT["state"] = run.state
reports = []
op.report = lambda kind, message: reports.append(message)
RESULT["finish"] = sorted(in_editor(operators.AIFX_OT_fill._finish, op, bpy.context, run))
RESULT["shown"] = space.clip.name
RESULT["written"] = len([f for f in os.listdir(os.path.join(PLATE, "aifx_fill")) if f.endswith(".exr")])
RESULT["again"] = press_panel_button()
""",
        exr_shot,
    )
    assert result["state"] == "cancelled" and result["finish"] == ["FINISHED"], result[
        "log"
    ]  # (partial result loaded)
    assert result["shown"] == "plate.1001.exr"
    assert 0 < result["written"] < 6, result["log"]
    assert result["again"] == ["FINISHED"], result["log"]
    assert f"done ({6 - result['written']} frames written, {result['written']} already done)" in result["log"]
    assert not list(exr_shot.glob("**/*_fill_fill.*.exr"))


def test_menu_and_f3_fill_with_the_panels_mask_as_its_button_does(blender, exr_shot: Path) -> None:
    """The panel showed and its button used the panel's Mask field; the Clip menu entry and F3 used the Mask
    the editor's Mask mode showed."""
    result = blender(
        IN_CLIP_EDITOR
        + """
scene.frame_end = 1
scene.aifx.mask = draw_mask("picked", (200, 100, 260, 160), tuple(clip.size))  # the editor still shows "player"
RESULT["panel"] = panels.fill_arguments(space, scene.aifx)["mask_datablock"]
RESULT["menu"] = in_editor(run_fill)
""",
        exr_shot,
    )
    assert result["panel"] == "picked"
    assert result["menu"] == ["FINISHED"], result["log"]
    matte = cv2.imread(
        str(exr_shot / "aifx_fill" / "plate_mask" / "plate_mask.1001.png"), cv2.IMREAD_UNCHANGED
    )
    ys, xs = np.nonzero(matte > 32767)
    assert abs(xs.mean() - 230) < 3 and abs(ys.mean() - 130) < 3  # the picked Mask's box, not the editor's


def test_shots_whose_plates_share_a_file_name_never_share_an_output_folder(blender, exr_shot: Path) -> None:
    """Two shots' plate.####.exr with one Output Folder: the second shot was refused as 'made with different
    settings', and with Redo Finished Frames it overwrote the first shot's fill."""
    result = blender(
        """
import shutil
for shot in ("sh010", "sh020"):
    os.makedirs(os.path.join(PLATE, shot))
    for n in (1001, 1002):
        shutil.copy(os.path.join(PLATE, f"plate.{n}.exr"), os.path.join(PLATE, shot))
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(PLATE, "comp.blend"))
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
scene.aifx.output_dir, scene.aifx.backend = "//aifx/", "telea"
first, second = (bpy.data.movieclips.load(os.path.join(PLATE, s, "plate.1001.exr")) for s in ("sh010", "sh020"))
mask = draw_mask("player", (150, 60, 250, 150), tuple(first.size))
RESULT["first"] = run_fill(clip=first.name, mask_datablock=mask.name)
RESULT["second"] = run_fill(clip=second.name, mask_datablock=mask.name)
RESULT["redo"] = run_fill(clip=second.name, mask_datablock=mask.name, overwrite=True)
RESULT["job_input"] = json.load(open(os.path.join(PLATE, "aifx", "plate_fill.aifx.json")))["input"]
RESULT["again"] = run_fill(clip=first.name, mask_datablock=mask.name)
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    for key in ("second", "redo"):
        error = result[key]["error"]
        assert "already holds the fill of another plate with the same file name" in error, result["log"]
        assert str(exr_shot / "sh010" / "plate.####.exr") in error
        assert "choose another Output Folder for " + str(exr_shot / "sh020" / "plate.####.exr") in error
    assert result["job_input"] == str(exr_shot / "sh010" / "plate.####.exr")
    assert result["again"] == ["FINISHED"], result["log"]


def test_a_project_folder_moved_whole_resumes_its_fill(blender, tmp_path: Path) -> None:
    """The plates (opened as //plates/plate.1001.exr), the .blend and aifx_fill moved together: every rerun was
    refused as 'the Output Folder ... already holds the fill of another plate with the same file name (the old
    path); ... or leave it empty', with an empty Output Folder, and Redo Finished Frames too; without the job
    file the core refused '2 output frame(s) already exist, made with different settings'."""
    from blender_helpers import REPO

    first, moved = tmp_path / "projA", tmp_path / "projB"
    (first / "plates").mkdir(parents=True)
    for number in (1001, 1002):
        shutil.copy(REPO / "examples" / "shot" / f"plate.{number}.exr", first / "plates")
    made = blender(
        f"""
bpy.ops.wm.save_as_mainfile(filepath={str(first / "shot.blend")!r})
clip = bpy.data.movieclips.load({str(first / "plates" / "plate.1001.exr")!r})
clip.filepath = bpy.path.relpath(clip.filepath)  # File > Open with Relative Paths on
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock="player", backend="telea")
bpy.ops.wm.save_mainfile()
"""
    )
    assert made["fill"] == ["FINISHED"], made["log"]
    outputs = sorted((first / "plates" / "aifx_fill").glob("plate_fill.*.exr"))
    before = [path.read_bytes() for path in outputs]
    first.rename(moved)
    result = blender(
        f"""
bpy.ops.wm.open_mainfile(filepath={str(moved / "shot.blend")!r})
RESULT["rerun"] = run_fill(clip="plate.1001.exr", mask_datablock="player", backend="telea")
RESULT["redo"] = run_fill(clip="plate.1001.exr", mask_datablock="player", backend="telea", overwrite=True)
"""
    )
    assert result["rerun"] == ["FINISHED"] and result["redo"] == ["FINISHED"], result["log"]
    assert "done (0 frames written, 2 already done)" in result["log"]
    assert [path.name for path in sorted((moved / "plates" / "aifx_fill").glob("plate_fill.*.exr"))] == [
        path.name for path in outputs
    ]
    after = [(moved / "plates" / "aifx_fill" / path.name).read_bytes() for path in outputs]
    assert after == before  # the redo made them again, the same


def test_another_plates_fill_in_the_folder_of_an_output_pattern_names_that_output(
    blender, exr_shot: Path
) -> None:
    """With output= naming the files (the Output Folder empty), the refusal told the artist to 'leave it [the
    Output Folder] empty', which it was."""
    result = blender(
        """
import shutil
for shot in ("sh010", "sh020"):
    os.makedirs(os.path.join(PLATE, shot))
    shutil.copy(os.path.join(PLATE, "plate.1001.exr"), os.path.join(PLATE, shot))
scene = bpy.context.scene
scene.frame_start = scene.frame_end = 1
first, second = (bpy.data.movieclips.load(os.path.join(PLATE, s, "plate.1001.exr")) for s in ("sh010", "sh020"))
draw_mask("player", (150, 60, 250, 150), tuple(first.size))
out = os.path.join(PLATE, "out")
RESULT["first"] = run_fill(clip=first.name, mask_datablock="player", backend="telea",
                           output=os.path.join(out, "sh010_clean.####.exr"))
RESULT["second"] = run_fill(clip=second.name, mask_datablock="player", backend="telea",
                            output=os.path.join(out, "sh020_clean.####.exr"))
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    error = result["second"]["error"]
    assert "already holds the fill of another plate with the same file name" in error, result["log"]
    assert "choose another output for " + str(exr_shot / "sh020" / "plate.####.exr") in error
    assert "leave it empty" not in error


def test_a_model_and_prompt_hidden_by_the_panel_stay_out_of_the_job(blender, exr_shot: Path) -> None:
    """The artist tried Diffusion with a Model and Prompt, then set the backend back to Propagate (Telea): the
    panel hides both fields but keeps their text, and AI Fill failed with 'unknown option(s) model, prompt
    for backend 'propagate''. Only what the chosen backend reads reaches the job now."""
    import json

    from blender_addon import jobs

    result = blender(
        """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
settings = scene.aifx
settings.backend, settings.spatial_backend = "diffusers", "telea"
settings.model, settings.prompt, settings.negative_prompt = "/models/sd-inpaint", "empty street", "people"
settings.backend = "propagate"
RESULT["fill"] = run_fill(clip=clip.name, mask_datablock=mask.name)
""",
        exr_shot,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    job = json.loads((exr_shot / "aifx_fill" / "plate_fill.aifx.json").read_text())
    assert (job["backend"], job["options"]) == ("propagate", {"spatial_backend": "telea"})
    # the same for a backend that reads a model but no prompt
    panel = SimpleNamespace(
        backend="lama",
        spatial_backend="diffusers",
        model="/m/big-lama.pt",
        prompt="grass",
        negative_prompt="x",
    )
    assert jobs.backend_options(panel) == {"model": "/m/big-lama.pt"}


def test_pressing_again_while_the_image_editor_shows_the_result_keeps_the_plates_placement(
    blender, exr_shot: Path
) -> None:
    """The Image Editor's Image User places the plate (Start Frame 5: file 1001 at scene frame 5). Once the
    editor showed the result, the panel's button names the plate, which was then taken as not shown there:
    the Mask was rasterised at scene frames 1-6 instead of 5-10, a 4-frame-late matte and no error."""
    result = blender(
        """
import types
panels = sys.modules[ADDON + ".panels"]
operators = sys.modules[ADDON + ".operators"]
window = bpy.context.window_manager.windows[0]
area = window.screen.areas[0]
area.type = "IMAGE_EDITOR"
region = [r for r in area.regions if r.type == "WINDOW"][0]
space = area.spaces.active
image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
image.source = "SEQUENCE"
space.image = image
user = space.image_user
user.frame_start, user.frame_offset, user.frame_duration = 5, 1000, 6
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 20
scene.aifx.mask = draw_mask("player", (150, 60, 250, 150), (320, 180))
scene.aifx.backend = "telea"

def in_editor(call, *args, **kwargs):
    with bpy.context.temp_override(window=window, area=area, region=region):
        return call(*args, **kwargs)

def planned():
    # the panel button's names, prepared as the operator does: which scene frame each matte is drawn at
    rna = bpy.ops.aifx.fill.get_rna_type()
    op = types.SimpleNamespace(**{p.identifier: getattr(p, "default", None) for p in rna.properties})
    op.__dict__.update(panels.fill_arguments(space, scene.aifx), backend="telea", use_scene_range=True)
    prepared = in_editor(operators.prepare, op, bpy.context)
    prepared.raster.close()
    return prepared.raster.frames

RESULT["before"] = planned()
RESULT["first"] = in_editor(run_fill, **panels.fill_arguments(space, scene.aifx))
RESULT["shown"] = space.image.name
RESULT["after"] = planned()
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    assert result["shown"] == "plate.1001.exr AI Fill"
    expected = [[5 + i, 1001 + i] for i in range(6)]
    assert result["before"] == expected
    assert result["after"] == expected
