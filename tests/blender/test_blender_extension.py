"""The extension inside real Blender (the ``bpy`` module): built with Blender's builder, installed as an
extension into a temporary user folder, and driven through ``bpy.ops.aifx.fill`` in background mode."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from blender_helpers import REPO, matte_box, read_exr_rgb, read_png_rgb

pytestmark = pytest.mark.blender

CLIP_FILL = """
clip = load_clip()
mask = draw_mask("player", %(box)r, tuple(clip.size))
RESULT["size"] = list(clip.size)
RESULT["ops"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
result = bpy.data.movieclips.get(clip.name + " AI Fill")
RESULT["loaded"] = None if result is None else {
    "filepath": bpy.path.abspath(result.filepath), "frame_start": result.frame_start,
    "duration": result.frame_duration, "colorspace": result.colorspace_settings.name,
}
RESULT["source_colorspace"] = clip.colorspace_settings.name
"""


def test_zip_is_a_valid_extension(extension_zip: Path) -> None:
    with zipfile.ZipFile(extension_zip) as archive:
        names = set(archive.namelist())
        manifest = archive.read("blender_manifest.toml").decode()
    assert {
        "__init__.py",
        "aifx_protocol/job.py",
        "aifx_protocol/client.py",
        "operators.py",
        "masks.py",
        "blender_manifest.toml",
    } <= names
    assert "build.py" not in names and not any("__pycache__" in name for name in names)
    assert 'blender_version_min = "4.2.0"' in manifest and "[permissions]" in manifest


def test_manifest_passes_blenders_own_checks(extension_zip: Path, tmp_path: Path) -> None:
    """Tags from Blender's list and an add-on licence the Extensions Platform accepts, with its text."""
    import subprocess
    import sys

    sys.path.insert(0, str(REPO / "blender_addon"))
    try:
        import build
    finally:
        sys.path.pop(0)
    builder = build.find_builder()
    assert builder is not None
    tags = build.valid_tags_file(builder)
    assert tags is not None

    def validate(path: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, str(builder), "validate", str(path), "--valid-tags", str(tags)]
        return subprocess.run(command, capture_output=True, text=True)

    for source in (REPO / "blender_addon", extension_zip):
        done = validate(source)
        assert done.returncode == 0, done.stdout + done.stderr
    manifest = (REPO / "blender_addon" / "blender_manifest.toml").read_text()
    assert '\nlicense = ["SPDX:GPL-3.0-or-later"]\n' in manifest
    with zipfile.ZipFile(extension_zip) as archive:
        assert "GNU GENERAL PUBLIC LICENSE" in archive.read("LICENSE").decode()[:200]
    # The check can fail: the tag the manifest used to carry is refused by the same validation.
    bad = tmp_path / "bad_addon"
    bad.mkdir()
    text = (REPO / "blender_addon" / "blender_manifest.toml").read_text()
    (bad / "blender_manifest.toml").write_text(text.replace('"Tracking"', '"Video Tools"'))
    (bad / "__init__.py").write_text("")
    refused = validate(bad)
    assert refused.returncode != 0 and "Video Tools" in refused.stdout + refused.stderr


def test_install_registers_operator_panels_and_preferences(blender) -> None:
    result = blender(
        """
        RESULT["fill"] = bpy.ops.aifx.fill.idname()
        RESULT["panels"] = [c for c in ("AIFX_PT_clip_fill", "AIFX_PT_image_fill") if hasattr(bpy.types, c)]
        RESULT["prefs"] = type(PREFS).__name__
        RESULT["scene_backend"] = bpy.context.scene.aifx.backend
        RESULT["check"] = sorted(bpy.ops.aifx.check_environment())
        RESULT["last_check"] = PREFS.last_check
        PREFS.python_path = ""  # aifx_core imports in this Python (the bpy module in the aifx venv): use it
        RESULT["fallback"] = sorted(bpy.ops.aifx.check_environment())
        RESULT["fallback_check"] = PREFS.last_check
        RESULT["executable"] = sys.executable
        """
    )
    assert result["fill"] == "AIFX_OT_fill"
    assert result["panels"] == ["AIFX_PT_clip_fill", "AIFX_PT_image_fill"]
    assert result["prefs"] == "AIFX_AddonPreferences"
    assert result["scene_backend"] == "propagate"
    assert result["check"] == ["FINISHED"] and "aifx-core" in result["last_check"]
    assert result["fallback"] == ["FINISHED"] and result["executable"] in result["fallback_check"]


def test_clip_and_mask_fill_in_background(blender, plate: Path) -> None:
    box = matte_box(plate / "masks" / "00000.png")
    for index in range(1, 6):  # the box must cover the player on every frame
        x0, y0, x1, y1 = matte_box(plate / "masks" / f"{index:05d}.png")
        box = (min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1))
    result = blender(CLIP_FILL % {"box": box}, plate)
    assert result["ops"] == ["FINISHED"], result["log"]
    out_dir = plate / "frames" / "aifx_fill"
    outputs = sorted(out_dir.glob("frames_fill.*.exr"))
    assert [p.name for p in outputs] == [f"frames_fill.{i:05d}.exr" for i in range(6)]
    job = json.loads((out_dir / "frames_fill.aifx.json").read_text())
    assert job["backend"] == "telea" and job["frames"] == "0-5"
    assert job["colorspace"] == "sRGB Encoded Rec.709 (sRGB)"  # Blender's "sRGB" in the core's config
    assert result["loaded"]["filepath"] == str(outputs[0])
    assert result["loaded"]["frame_start"] == 1 and result["loaded"]["duration"] == 6
    # The core keeps the plate's encoding in the EXR, so Blender must read it in the plate's colourspace.
    assert result["loaded"]["colorspace"] == result["source_colorspace"] == "sRGB"

    width, height = result["size"]
    inside_frame = (max(box[0], 0), max(box[1], 0), min(box[2], width - 1), min(box[3], height - 1))
    for index, output in enumerate(outputs):
        matte = cv2.imread(
            str(out_dir / "frames_mask" / f"frames_mask.{index:05d}.png"), cv2.IMREAD_UNCHANGED
        )
        assert matte.shape == (height, width)
        ys, xs = np.nonzero(matte > 32767)
        found = (xs.min(), ys.min(), xs.max(), ys.max())
        assert all(abs(int(a) - b) <= 1 for a, b in zip(found, inside_frame, strict=True)), (
            found,
            inside_frame,
        )
        source = read_png_rgb(plate / "frames" / f"{index:05d}.png")
        filled = read_exr_rgb(output)
        # Untouched outside the hole grown by dilate (4) + feather (2) and a pixel of rasterising slack.
        touched = cv2.dilate((matte > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        assert np.allclose(filled[~touched], source[~touched], atol=1e-3)
        inside = matte == 65535
        assert np.abs(filled[inside] - source[inside]).mean() > 0.02  # the player was painted out


def test_mask_rasteriser_keeps_feather_and_leaves_the_scene_alone(blender, tmp_path: Path) -> None:
    pattern = tmp_path / "matte" / "m.####.png"
    result = blender(
        f"""
        masks = sys.modules[ADDON + ".masks"]
        mask = draw_mask("soft", (100, 60, 200, 160), (320, 240))
        for point in mask.layers[0].splines[0].points:
            point.weight = 0.05  # feather: 5% of the width outside the outline
        before = (len(bpy.data.scenes), len(bpy.data.node_groups), bpy.context.scene.render.filepath)
        masks.rasterize_mask(mask, (320, 240), [1, 2], [1001, 1002], {str(pattern)!r})
        after = (len(bpy.data.scenes), len(bpy.data.node_groups), bpy.context.scene.render.filepath)
        RESULT["unchanged"] = before == after
        """
    )
    assert result["unchanged"]
    assert sorted(p.name for p in pattern.parent.iterdir()) == ["m.1001.png", "m.1002.png"]
    matte = cv2.imread(str(pattern.parent / "m.1001.png"), cv2.IMREAD_UNCHANGED)
    assert matte.shape == (240, 320) and matte.dtype == np.uint16
    assert (matte[62:158, 102:198] == 65535).all() and matte[5, 5] == 0
    ramp = matte[110, 80:101].astype(int)  # left of the outline: the feather rises towards it
    assert ramp[0] < ramp[-1] and np.all(np.diff(ramp) >= 0) and ((ramp > 0) & (ramp < 65535)).sum() >= 8


def test_clip_frame_offset_maps_scene_frames_to_files(blender, plate: Path) -> None:
    """A clip placed at scene frame 1001: files 00000.. are scene frames 1001..; a later range resumes."""
    result = blender(
        """
        clip = load_clip()
        clip.frame_start = 1001
        mask = draw_mask("m", (150, 60, 250, 180), tuple(clip.size))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 990, 1003
        RESULT["first"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
        first = bpy.data.movieclips[clip.name + " AI Fill"]
        RESULT["first_start"] = first.frame_start
        scene.frame_start, scene.frame_end = 1004, 1010
        RESULT["second"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
        """,
        plate,
    )
    assert result["first"] == result["second"] == ["FINISHED"], result["log"]
    assert result["first_start"] == 1001
    out = plate / "frames" / "aifx_fill"
    assert sorted(p.name for p in (out / "frames_mask").iterdir()) == [
        f"frames_mask.{i:05d}.png" for i in range(6)
    ]
    assert sorted(p.name for p in out.glob("*.exr")) == [f"frames_fill.{i:05d}.exr" for i in range(6)]
    assert json.loads((out / "frames_fill.aifx.json").read_text())["frames"] == "3-5"
    assert "AI Fill write 3/3 (frame 2)" in result["log"] and "AI Fill write 3/3 (frame 5)" in result["log"]


def test_a_clips_frame_offset_and_an_image_users_frames_are_clipped_to_the_files(
    blender, plate: Path
) -> None:
    """Frame Offset 2 shows files 00002.. from the Start Frame, but the span was counted from the Start Frame
    for the clip's Frame Duration (its file count): scene range 1-10 asked for files 6-7, refused as missing
    after the mattes were rasterised, and offset -2 for files before the first. An Image Editor's Frames
    (100 by default) past the files did the same."""
    result = blender(
        """
        clip = load_clip()
        mask = draw_mask("m", (150, 60, 250, 180), tuple(clip.size))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, 10
        for offset in (2, -2):
            clip.frame_offset = offset
            out = os.path.join(PLATE, f"out{offset}")
            RESULT[offset] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", output_dir=out)
            RESULT[f"start{offset}"] = [c.frame_start for c in bpy.data.movieclips if out in c.filepath]
        image = bpy.data.images.load(os.path.join(PLATE, "frames", "00000.png"))
        image.source = "SEQUENCE"
        area = bpy.context.window_manager.windows[0].screen.areas[0]
        area.type = "IMAGE_EDITOR"
        space = area.spaces.active
        space.image = image
        space.image_user.frame_start, space.image_user.frame_offset = 1, -1  # file 0 at scene frame 1
        with bpy.context.temp_override(area=area, space_data=space):
            RESULT["image"] = run_fill(
                image=image.name, mask_datablock=mask.name, backend="telea", output_dir=os.path.join(PLATE, "img")
            )
        RESULT["frames"] = space.image_user.frame_duration
        """,
        plate,
    )
    assert result["2"] == result["-2"] == result["image"] == ["FINISHED"], result["log"]
    for out, files in (("out2", range(2, 6)), ("out-2", range(6)), ("img", range(6))):
        assert sorted(p.name for p in (plate / out).glob("*.exr")) == [
            f"frames_fill.{i:05d}.exr" for i in files
        ]
        frames = json.loads((plate / out / "frames_fill.aifx.json").read_text())["frames"]
        assert frames == f"{files[0]}-{files[-1]}"
    assert result["start2"] == [1] and result["start-2"] == [
        3
    ]  # the result shows its files where the plate does
    assert result["frames"] > 10


def test_what_the_core_asks_to_check_reaches_the_artist(blender, plate: Path) -> None:
    """The core's notices (a hole over most of the frame: what no frame saw is invented) were printed on the
    worker's stderr only, which no Blender artist sees: the operator reports each as a warning, in the
    panel's words, and a fill whose core says nothing reports none."""
    result = blender(
        """
        clip = load_clip()
        big = draw_mask("big", (10, 10, 310, 170), tuple(clip.size))
        RESULT["big"] = run_fill(clip=clip.name, mask_datablock=big.name, backend="telea")
        small = draw_mask("small", (100, 60, 160, 120), tuple(clip.size))
        RESULT["small"] = run_fill(clip=clip.name, mask_datablock=small.name, backend="telea", overwrite=True)
        """,
        plate,
    )
    assert result["big"] == result["small"] == ["FINISHED"], result["log"]
    runs = result["log"].split("AI Fill: rasterising")[1:]
    assert len(runs) == 2, result["log"]
    warnings = [line for line in runs[0].splitlines() if line.startswith("Warning: AI Fill warning:")]
    assert len(warnings) == 1, runs[0]
    assert "% of frame" in warnings[0] and "check the Mask (white = fill) and Dilate" in warnings[0]
    assert "--" not in warnings[0]
    assert "Warning:" not in runs[1], runs[1]


def test_bad_input_reports_a_clear_error(blender, plate: Path) -> None:
    writer = cv2.VideoWriter(str(plate / "movie.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 48))
    for index in range(3):
        writer.write(np.full((48, 64, 3), 40 * index, np.uint8))
    writer.release()
    result = blender(
        f"""
        MOVIE = {str(plate / "movie.avi")!r}
        clip = load_clip()
        mask = draw_mask("m", (10, 10, 50, 50), tuple(clip.size))
        RESULT["no_plate"] = run_fill(mask_datablock=mask.name, backend="telea")
        RESULT["unknown_clip"] = run_fill(clip="Nope", mask_datablock=mask.name, backend="telea")
        RESULT["no_mask"] = run_fill(clip=clip.name, backend="telea")
        RESULT["range"] = run_fill(clip=clip.name, mask_datablock=mask.name, use_scene_range=False,
                                   frame_start=100, frame_end=120)
        RESULT["no_env"] = run_fill(clip=clip.name, mask_datablock=mask.name, python="/nonexistent/bin/python")
        PREFS.python_path = ""
        os.environ["AIFX_PYTHON"] = "/opt/missing-aifx/bin/python"
        RESULT["env_var"] = run_fill(clip=clip.name, mask_datablock=mask.name)
        movie = bpy.data.movieclips.load(MOVIE)
        RESULT["movie"] = run_fill(clip=movie.name, mask_datablock=mask.name, python=PYTHON)
        RESULT["loaded"] = [c.name for c in bpy.data.movieclips]
        """,
        plate,
    )
    assert "no plate" in result["no_plate"]["error"] and "Movie Clip Editor" in result["no_plate"]["error"]
    assert "Movie Clip 'Nope' not found" in result["unknown_clip"]["error"]
    assert "no mask" in result["no_mask"]["error"] and "mask=PATH" in result["no_mask"]["error"]
    assert "frame range 100-120 does not overlap the plate (frames 1-6)" in result["range"]["error"]
    assert "not found at /nonexistent/bin/python" in result["no_env"]["error"]
    assert "Preferences" in result["no_env"]["error"]
    assert "not found at /opt/missing-aifx/bin/python" in result["env_var"]["error"]
    assert "movie.avi: is a movie file" in result["movie"]["error"]
    assert result["loaded"] == ["00000.png", "movie.avi"]  # nothing loaded back
    assert not (plate / "frames" / "aifx_fill").exists()  # and nothing written


def test_moved_frames_and_blend_relative_folders_of_an_unsaved_file_are_refused(
    blender, plate: Path, tmp_path: Path
) -> None:
    """Two things an artist's scene does that the core could not say well. A clip whose frames were moved
    away (Blender shows it pink): the core blamed the name's padding. An Output Folder ``//renders/`` in a
    .blend not saved yet: Blender resolves ``//`` against the folder it was started in, so the fill landed
    there. Both refused, naming what to do; once the .blend is saved, ``//`` is next to it."""
    moved = tmp_path / "moved"
    shutil.copytree(plate / "frames", moved)
    saved = tmp_path / "scene" / "shot.blend"
    saved.parent.mkdir()
    result = blender(
        f"""
        import shutil
        clip = load_clip()
        box = draw_mask("box", (100, 60, 160, 120), tuple(clip.size))
        gone = bpy.data.movieclips.load({str(moved / "00000.png")!r})
        shutil.rmtree({str(moved)!r})
        RESULT["moved"] = run_fill(clip=gone.name, mask_datablock=box.name, backend="telea")
        RESULT["unsaved"] = run_fill(clip=clip.name, mask_datablock=box.name, backend="telea", output_dir="//renders/")
        bpy.ops.wm.save_as_mainfile(filepath={str(saved)!r})
        RESULT["saved"] = run_fill(clip=clip.name, mask_datablock=box.name, backend="telea", output_dir="//renders/")
        """,
        plate,
    )
    assert "no frame of" in result["moved"]["error"] and "moved, renamed, deleted" in result["moved"]["error"]
    assert "padding" not in result["moved"]["error"]
    assert (
        "Output Folder //renders/ is relative to the .blend file (//), which is not saved yet"
        in (result["unsaved"]["error"])
    )
    assert not (tmp_path / "renders").exists() and not (plate / "renders").exists()
    assert result["saved"] == ["FINISHED"], result["log"]
    assert sorted(p.name for p in (saved.parent / "renders").glob("*.exr"))[0] == "frames_fill.00000.exr"


def test_a_blend_relative_input_of_an_unsaved_file_is_refused_and_the_job_holds_absolute_paths(
    blender, plate: Path
) -> None:
    """``input='//frames/#####.png'`` in a .blend not saved yet was accepted (Blender resolved ``//`` against
    nothing) and the job beside the output held the relative ``frames/#####.png``, which ``aifx run`` or a farm
    reads against its own folder. It is refused as Output Folder ``//`` is; a relative input is made absolute,
    and so are a relative ``mask=``, ``output=`` and ``output_dir=`` (the job held ``masks/#####.png``)."""
    result = blender(
        """
        os.chdir(PLATE)
        mask = os.path.join(PLATE, "masks", "#####.png")
        RESULT["unsaved"] = run_fill(input="//frames/#####.png", mask=mask, backend="telea")
        RESULT["relative"] = run_fill(input="frames/#####.png", mask=mask, backend="telea")
        with open(os.path.join(PLATE, "frames", "aifx_fill", "frames_fill.aifx.json")) as handle:
            RESULT["job"] = json.load(handle)
        RESULT["output"] = run_fill(input="frames/#####.png", mask="masks/#####.png", output="out/clean.#####.exr",
                                    backend="telea")
        with open(os.path.join(PLATE, "out", "frames_fill.aifx.json")) as handle:
            RESULT["output_job"] = json.load(handle)
        RESULT["folder"] = run_fill(input="frames/#####.png", mask="masks/#####.png", output_dir="folder",
                                    backend="telea")
        with open(os.path.join(PLATE, "folder", "frames_fill.aifx.json")) as handle:
            RESULT["folder_job"] = json.load(handle)
        """,
        plate,
    )
    assert (
        "Input //frames/#####.png is relative to the .blend file (//), which is not saved yet"
        in result["unsaved"]["error"]
    )
    assert result["relative"] == ["FINISHED"], result["log"]
    assert result["job"]["input"] == str(plate / "frames" / "#####.png")
    assert result["job"]["output"] == str(plate / "frames" / "aifx_fill" / "frames_fill.#####.exr")
    for run, output in (
        ("output", plate / "out" / "clean.#####.exr"),
        ("folder", plate / "folder" / "frames_fill.#####.exr"),
    ):
        assert result[run] == ["FINISHED"], result["log"]
        job = result[run + "_job"]
        assert (job["input"], job["mask"], job["output"]) == (
            str(plate / "frames" / "#####.png"),
            str(plate / "masks" / "#####.png"),
            str(output),
        )


def test_image_sequence_and_matte_image(blender, plate: Path, tmp_path: Path) -> None:
    out = tmp_path / "renders"
    result = blender(
        f"""
        image = bpy.data.images.load(os.path.join(PLATE, "frames", "00000.png"))
        image.source = "SEQUENCE"
        matte = bpy.data.images.load(os.path.join(PLATE, "masks", "00000.png"))
        matte.source = "SEQUENCE"
        RESULT["ops"] = run_fill(image=image.name, mask_image=matte.name, backend="telea", output_dir={str(out)!r})
        loaded = bpy.data.images.get(image.name + " AI Fill")
        RESULT["loaded"] = loaded and [loaded.source, bpy.path.abspath(loaded.filepath)]
        """,
        plate,
    )
    assert result["ops"] == ["FINISHED"], result["log"]
    assert result["loaded"] == ["SEQUENCE", str(out / "frames_fill.00000.exr")]
    job = json.loads((out / "frames_fill.aifx.json").read_text())
    assert job["mask"] == str(plate / "masks" / "#####.png") and job["frames"] == "0-5"
    _assert_untouched_outside_matte(plate, [out / f"frames_fill.{i:05d}.exr" for i in range(6)])


def _fill_clip(first: Path, out: Path) -> str:
    """A scenario: ``first``'s sequence opened as the clip, filled (telea) with the plate's mattes into ``out``."""
    return f"""
        clip = bpy.data.movieclips.load({str(first)!r})
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, clip.frame_duration
        RESULT["colorspace"] = clip.colorspace_settings.name
        matte = bpy.data.images.load(os.path.join(PLATE, "masks", "00000.png"))
        matte.source = "SEQUENCE"
        RESULT["ops"] = run_fill(clip=clip.name, mask_image=matte.name, backend="telea", output_dir={str(out)!r})
        """


def test_a_multilayer_render_as_the_clip(blender, plate: Path, tmp_path: Path) -> None:
    """A CG plate rendered by Blender to a multilayer EXR (``ViewLayer.Combined.R``..., a pass per layer, no main
    layer), loaded as the clip: the core used to refuse it (no R,G,B); its Combined pass is filled and the other
    passes come back bit for bit."""
    import OpenEXR

    frames = plate / "render"
    frames.mkdir()
    for index in range(6):
        rgb = cv2.imread(str(plate / "frames" / f"{index:05d}.png"))[..., ::-1].astype(np.float32) / 255
        channels = {f"ViewLayer.Combined.{c}": rgb[..., i].astype(np.float16) for i, c in enumerate("RGB")}
        channels["ViewLayer.Combined.A"] = np.ones(rgb.shape[:2], np.float16)
        channels["ViewLayer.Depth.Z"] = np.full(rgb.shape[:2], 7.5 + index, np.float32)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, channels).write(str(frames / f"{index:05d}.exr"))
    out = tmp_path / "renders"
    result = blender(_fill_clip(frames / "00000.exr", out), plate)
    assert result["ops"] == ["FINISHED"], result["log"]
    for index in range(6):
        with OpenEXR.File(str(out / f"render_fill.{index:05d}.exr"), separate_channels=True) as exr:
            filled = {name: channel.pixels.copy() for name, channel in exr.channels().items()}
        with OpenEXR.File(str(frames / f"{index:05d}.exr"), separate_channels=True) as exr:
            source = {name: channel.pixels.copy() for name, channel in exr.channels().items()}
        assert sorted(filled) == sorted(source)
        assert np.array_equal(filled["ViewLayer.Depth.Z"], source["ViewLayer.Depth.Z"])
        assert not np.array_equal(filled["ViewLayer.Combined.R"], source["ViewLayer.Combined.R"])


def test_a_multilayer_render_of_blender_5_as_the_clip(blender, plate: Path, tmp_path: Path) -> None:
    """What Blender 5 really writes for a multilayer render, made here by Cycles: a part per pass
    (``ViewLayer.Combined``, ``ViewLayer.Depth``, ``ViewLayer.Diffuse Color``), not one part of ``ViewLayer.*``
    channels. Opened as the clip and filled: the Combined part changes in the hole only, every other part comes
    back bit for bit, and the artist is warned that the colour pass Diffuse Color still shows the object."""
    import OpenEXR

    out = tmp_path / "renders"
    render = """
        scene = bpy.context.scene
        scene.render.engine = "CYCLES"
        scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", 1, False
        scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 320, 180, 100
        scene.view_layers[0].use_pass_z = scene.view_layers[0].use_pass_diffuse_color = True
        settings = scene.render.image_settings
        settings.media_type, settings.file_format = "MULTI_LAYER_IMAGE", "OPEN_EXR_MULTILAYER"
        scene.render.filepath = os.path.join(PLATE, "render", "#####.exr")
        scene.frame_start, scene.frame_end = 0, 5
        cube = bpy.data.objects["Cube"]
        cube.scale = (3, 3, 3)  # over the whole frame: its noisy shading is what the mattes cut
        for frame in range(6):
            cube.location.x = 0.4 * frame
            cube.keyframe_insert("location", frame=frame)
        bpy.ops.render.render(animation=True)
        """
    frames = plate / "render"
    result = blender(render + _fill_clip(frames / "00000.exr", out), plate)
    assert result["ops"] == ["FINISHED"], result["log"]
    for index in range(6):
        matte = cv2.imread(str(plate / "masks" / f"{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
        near = cv2.dilate(matte, np.ones((25, 25), np.uint8)) > 0  # the matte, dilated and feathered
        with (
            OpenEXR.File(str(frames / f"{index:05d}.exr"), separate_channels=True) as before,
            OpenEXR.File(str(out / f"render_fill.{index:05d}.exr"), separate_channels=True) as after,
        ):
            names = [p.name() for p in before.parts]
            assert names == ["ViewLayer.Combined", "ViewLayer.Depth", "ViewLayer.Diffuse Color"], names
            assert [p.name() for p in after.parts] == names
            for old, new in zip(before.parts[1:], after.parts[1:], strict=True):
                for name, channel in old.channels.items():
                    assert channel.pixels.tobytes() == new.channels[name].pixels.tobytes(), (index, name)
            source = before.parts[0].channels["ViewLayer.Combined.R"].pixels
            filled = after.parts[0].channels["ViewLayer.Combined.R"].pixels
            assert np.array_equal(source[~near], filled[~near]) and not np.array_equal(source, filled)
    warnings = [line for line in result["log"].splitlines() if line.startswith("Warning: AI Fill")]
    assert (
        len(warnings) == 1 and "the layers ViewLayer.Diffuse Color are copied as they are" in warnings[0]
    ), warnings


def test_a_dpx_scan_as_the_clip(blender, plate: Path, tmp_path: Path) -> None:
    """A 10-bit DPX sequence opened as the clip (Blender reads DPX): filled, and the colour space Blender gives
    the clip is one the core knows."""
    import OpenImageIO as oiio

    frames = plate / "scan"
    frames.mkdir()
    for index in range(6):
        rgb = cv2.imread(str(plate / "frames" / f"{index:05d}.png"))[..., ::-1]
        spec = oiio.ImageSpec(rgb.shape[1], rgb.shape[0], 3, oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 10)
        out = oiio.ImageOutput.create(str(frames / f"{index:05d}.dpx"))
        assert out.open(str(frames / f"{index:05d}.dpx"), spec)
        assert out.write_image(np.ascontiguousarray(rgb.astype(np.uint16) * 257)) and out.close()
    out = tmp_path / "renders"
    result = blender(_fill_clip(frames / "00000.dpx", out), plate)
    assert result["ops"] == ["FINISHED"], (result["colorspace"], result["log"])
    assert sorted(p.name for p in out.glob("scan_fill.*.exr")) == [f"scan_fill.{i:05d}.exr" for i in range(6)]


def test_script_call_with_paths_only(blender, plate: Path, tmp_path: Path) -> None:
    """What a farm script or ``blender -b --python-expr`` does: no clip, no UI, just paths."""
    out = tmp_path / "clean"
    result = blender(
        f"""
        RESULT["ops"] = run_fill(input=os.path.join(PLATE, "frames", "#####.png"),
                                 mask=os.path.join(PLATE, "masks", "#####.png"),
                                 output={str(out / "clean.#####.exr")!r}, backend="telea", dilate=2, feather=1)
        RESULT["images"] = [(i.name, i.source) for i in bpy.data.images if i.name.endswith("AI Fill")]
        paths = dict(input=os.path.join(PLATE, "frames", "#####.png"), mask=os.path.join(PLATE, "masks", "#####.png"),
                     output={str(out / "clean.#####.exr")!r}, backend="telea", dilate=2, feather=1)
        RESULT["again"] = run_fill("INVOKE_DEFAULT", **paths)  # invoke runs synchronously under -b
        RESULT["redo"] = run_fill(overwrite=True, **paths)
        """,
        plate,
    )
    assert result["ops"] == ["FINISHED"], result["log"]
    assert result["images"] == [["frames AI Fill", "SEQUENCE"]]
    assert "AI Fill write 6/6 (frame 5)" in result["log"], result[
        "log"
    ]  # progress is logged in background mode
    _assert_untouched_outside_matte(plate, [out / f"clean.{i:05d}.exr" for i in range(6)], grow=2 + 1 + 1)


def test_output_may_name_a_folder_as_input_may(blender, exr_shot: Path, tmp_path: Path) -> None:
    """docs/blender.md §5 says output= takes a folder; the core refused it ('output is a folder'), and only after
    the Mask had been rasterised. A folder there, or one ending in '/' that is made, now works as the Output
    Folder does: the outputs are named after the plate."""
    there, new = tmp_path / "there", tmp_path / "new"
    there.mkdir()
    result = blender(
        f"""
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, 2
        draw_mask("m", (100, 50, 160, 120), (320, 180))
        RESULT["there"] = run_fill(clip=clip.name, mask_datablock="m", backend="telea", output={str(there)!r})
        RESULT["new"] = run_fill(clip=clip.name, mask_datablock="m", backend="telea", output={str(new) + "/"!r})
        """,
        exr_shot,
    )
    assert result["there"] == ["FINISHED"] and result["new"] == ["FINISHED"], result["log"]
    for folder in (there, new):
        assert sorted(p.name for p in folder.glob("*.exr")) == ["plate_fill.1001.exr", "plate_fill.1002.exr"]
        assert (folder / "plate_fill.aifx.json").exists()


def test_output_naming_a_new_folder_without_a_slash_is_that_folder(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    """output="//fill" (how a folder is typed, relative to the .blend) or "/x/newfolder", a folder that is not
    there yet and has no trailing '/': a name with no extension is a folder, made and written into as the
    Output Folder. It went to the core as a file pattern and failed in the worker ("output has no extension")
    after the Mask had been rasterised."""
    project, new = tmp_path / "project", tmp_path / "newfolder"
    project.mkdir()
    result = blender(
        f"""
        bpy.ops.wm.save_as_mainfile(filepath={str(project / "comp.blend")!r})
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, 2
        draw_mask("m", (100, 50, 160, 120), (320, 180))
        RESULT["new"] = run_fill(clip=clip.name, mask_datablock="m", backend="telea", output={str(new)!r})
        RESULT["relative"] = run_fill(clip=clip.name, mask_datablock="m", backend="telea", output="//fill")
        """,
        exr_shot,
    )
    assert result["new"] == ["FINISHED"] and result["relative"] == ["FINISHED"], result["log"]
    for folder in (new, project / "fill"):
        assert sorted(p.name for p in folder.glob("*.exr")) == ["plate_fill.1001.exr", "plate_fill.1002.exr"]
        assert (folder / "plate_fill.aifx.json").exists()
    assert not list(tmp_path.glob("*_mask")) and not list(project.glob("*_mask")), (
        "a matte left beside no output"
    )


def test_an_output_of_a_file_type_aifx_cannot_write_is_refused_before_the_mask_is_rasterised(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    """output=".../shot.####.xyz" (a typo, or a type aifx does not write) went to the worker, which refused it
    only after the Mask had been rasterised (a matte written per frame, a folder made). It is refused at the
    press, in the core's words, before anything is written."""
    out = tmp_path / "fill"
    result = blender(
        f"""
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1, 3
        draw_mask("m", (100, 50, 160, 120), (320, 180))
        RESULT["xyz"] = run_fill(clip=clip.name, mask_datablock="m", backend="telea",
                                 output={str(out / "shot.####.xyz")!r})
        RESULT["listing"] = sorted(os.listdir(PLATE))
        """,
        exr_shot,
    )
    error = result["xyz"]["error"]
    assert "shot.####.xyz: output has '.xyz'; end it with one of .dpx, .exr," in error, result["log"]
    assert "rasterising" not in result["log"], result["log"]
    assert "aifx_fill" not in result["listing"] and not out.exists()


def _assert_untouched_outside_matte(plate: Path, outputs: list[Path], grow: int = 4 + 2 + 1) -> None:
    for index, output in enumerate(outputs):
        matte = cv2.imread(str(plate / "masks" / f"{index:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        source = read_png_rgb(plate / "frames" / f"{index:05d}.png")
        filled = read_exr_rgb(output)
        touched = cv2.dilate(matte.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
        assert np.allclose(filled[~touched], source[~touched], atol=1e-3)
        assert np.abs(filled[matte] - source[matte]).mean() > 0.02
