"""Blender's colour space names reach the core as the core's names for the same encoding (issue 12 item 1).

Every name is enumerated from real Blender and checked with OpenColorIO against Blender's own config and the
core's pinned config; an EXR plate (the bundled sample shot, scene-linear with values up to 16) is filled
end to end from the Movie Clip and the Image routes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from blender_helpers import read_exr_rgb

from aifx_core.colour import config as core_config
from aifx_core.colour import resolve_colorspace
from blender_addon import colorspaces

pytestmark = pytest.mark.blender
OCIO = pytest.importorskip("PyOpenColorIO")

#: Encoded values every encoding (log, PQ, gamma) maps to finite, distinct values.
SAMPLES = np.array(
    [[0.1, 0.3, 0.5], [0.4, 0.45, 0.55], [0.6, 0.2, 0.8], [0.18, 0.18, 0.18], [0.75, 0.7, 0.65]], np.float32
)


def _cross(blender_config, blender_name: str, core_name: str) -> float:
    """Largest change when converting SAMPLES from Blender's space to the core's space (0: same encoding)."""
    processor = OCIO.Config.GetProcessorFromConfigs(blender_config, blender_name, core_config(), core_name)
    out = SAMPLES.copy()
    processor.getDefaultCPUProcessor().applyRGB(out)
    return float(np.abs(out - SAMPLES).max())


@pytest.fixture(scope="module")
def blender_spaces(extension_zip, tmp_path_factory) -> dict:
    """Colour space names of Image and Movie Clip in real Blender, and the path of Blender's OCIO config."""
    import subprocess
    import sys

    script = tmp_path_factory.mktemp("cs") / "names.py"
    script.write_text(
        "import bpy, json, os\n"
        "image = bpy.data.images.new('x', 4, 4)\n"
        "names = lambda owner: [i.identifier for i in owner.colorspace_settings.bl_rna.properties['name'].enum_items]\n"
        "config = os.path.join(bpy.utils.resource_path('LOCAL'), 'datafiles', 'colormanagement', 'config.ocio')\n"
        "print('@@' + json.dumps({'image': names(image), 'config': config,\n"
        "    'working': bpy.data.colorspace.bl_rna.properties['working_space'].enum_items.keys()}))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    line = [x for x in done.stdout.splitlines() if x.startswith("@@")]
    assert line, done.stdout + done.stderr
    return json.loads(line[-1][2:])


def test_every_blender_colour_space_is_mapped_or_refused(blender_spaces: dict) -> None:
    names = blender_spaces["image"]
    assert len(names) >= 25 and "Linear Rec.709" in names and "Non-Color" in names
    blender_config = OCIO.Config.CreateFromFile(blender_spaces["config"])
    known = set(colorspaces.EQUIVALENT) | set(colorspaces.AS_DISPLAYED) | colorspaces.UNSUPPORTED
    assert set(names) - {colorspaces.WORKING_SPACE} <= known  # no Blender name reaches the core unmapped
    for name in names:
        if name in colorspaces.UNSUPPORTED:
            with pytest.raises(colorspaces.ColorspaceError, match="Non-Color"):
                colorspaces.core_colorspace(name, field="Color Space")
            continue
        core_name = colorspaces.core_colorspace(name)
        assert resolve_colorspace(core_name) == core_name, name  # the core accepts it as its own name
        if name in colorspaces.AS_DISPLAYED:
            # Display code values made through a view transform: filled as an sRGB display shows them.
            assert blender_config.getColorSpace(name).getReferenceSpaceType() == OCIO.REFERENCE_SPACE_DISPLAY
            continue
        blender_name = blender_config.getRoleColorSpace("scene_linear") if name == "scene_linear" else name
        # Data spaces convert to anything as a no-op: data must map to data, and colour to colour.
        is_data = core_config().getColorSpace(core_name).isData()
        assert is_data == blender_config.getColorSpace(blender_name).isData(), name
        assert _cross(blender_config, blender_name, core_name) < 1e-4, (name, core_name)
    for working in blender_spaces["working"]:  # Blender 5.0's per-file working spaces
        core_name = colorspaces.core_colorspace("scene_linear", working)
        assert _cross(blender_config, working, core_name) < 1e-4


def test_refused_spaces_really_have_no_equivalent(blender_spaces: dict) -> None:
    """A refusal must not hide a mapping: no colour space of the core's config encodes them the same way."""
    blender_config = OCIO.Config.CreateFromFile(blender_spaces["config"])
    core_names = [space.getName() for space in core_config().getColorSpaces() if not space.isData()]
    for name in colorspaces.UNSUPPORTED:
        closest = min(_cross(blender_config, name, core_name) for core_name in core_names)
        assert closest > 1e-3, name
    # The check can fail: a mapped name is found by the same search.
    assert min(_cross(blender_config, "Rec.1886", n) for n in core_names) < 1e-4


def _untouched_outside(shot: Path, outputs: list[Path], grow: int = 4 + 2 + 1) -> None:
    import cv2

    for number, output in zip(range(1001, 1007), outputs, strict=True):
        matte = cv2.imread(str(shot / f"mask.{number}.png"), cv2.IMREAD_GRAYSCALE) > 0
        plate = read_exr_rgb(shot / f"plate.{number}.exr")
        filled = read_exr_rgb(output)
        touched = cv2.dilate(matte.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
        assert np.array_equal(filled[~touched], plate[~touched])  # bit-exact, highlights up to 16 included
        assert plate[~touched].max() > 4.0
        hole = cv2.imread(str(shot / f"mask.{number}.png"), cv2.IMREAD_GRAYSCALE) == 255
        truth = read_exr_rgb(shot / f"truth.{number}.exr")
        # The dark ball is gone: the fill is nearer the clean wall than the plate was.
        assert np.abs(filled[hole] - truth[hole]).mean() < 0.5 * np.abs(plate[hole] - truth[hole]).mean()


def test_exr_clip_fills_in_linear_rec709(blender, exr_shot: Path) -> None:
    result = blender(
        """
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        clip.frame_start = 1001
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1001, 1006
        RESULT["source"] = [clip.source, clip.colorspace_settings.name]
        RESULT["ops"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="propagate")
        result = bpy.data.movieclips.get(clip.name + " AI Fill")
        RESULT["loaded"] = result and result.colorspace_settings.name
        clip.colorspace_settings.name = "Filmic Log"
        RESULT["refused"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"),
                                     output_dir=os.path.join(PLATE, "refused"))
        """,
        exr_shot,
    )
    assert result["source"] == ["SEQUENCE", "Linear Rec.709"]
    assert result["ops"] == ["FINISHED"], result["log"]
    out = exr_shot / "aifx_fill"
    job = json.loads((out / "plate_fill.aifx.json").read_text())
    assert job["colorspace"] == "Linear Rec.709 (sRGB)" and job["frames"] == "1001-1006"
    assert result["loaded"] == "Linear Rec.709"  # the result is read the way the plate is
    _untouched_outside(exr_shot, [out / f"plate_fill.{n}.exr" for n in range(1001, 1007)])
    refused = result["refused"]["error"]
    assert "plate.1001.exr: Footage Settings > Color Space 'Filmic Log' has no equivalent" in refused
    assert not (exr_shot / "refused").exists()


def test_exr_image_sequence_as_non_color_fills_raw_values(blender, exr_shot: Path) -> None:
    result = blender(
        """
        image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
        image.source = "SEQUENCE"
        image.colorspace_settings.name = "Non-Color"
        matte = bpy.data.images.load(os.path.join(PLATE, "mask.1001.png"))
        matte.source = "SEQUENCE"
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1001, 1006
        RESULT["ops"] = run_fill(image=image.name, mask_image=matte.name, backend="telea")
        """,
        exr_shot,
    )
    assert result["ops"] == ["FINISHED"], result["log"]
    out = exr_shot / "aifx_fill"
    assert json.loads((out / "plate_fill.aifx.json").read_text())["colorspace"] == "Raw"
    _untouched_outside(exr_shot, [out / f"plate_fill.{n}.exr" for n in range(1001, 1007)])


def test_rejected_job_leaves_nothing_in_the_plate_folder(blender, exr_shot: Path) -> None:
    """The core rejects a colourspace it does not know: no job file, mattes or folders stay behind, and an
    earlier fill's job file is put back as it was."""
    result = blender(
        """
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        clip.frame_start = 1001
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1001, 1002
        mask = draw_mask("m", (100, 60, 160, 120), tuple(clip.size))
        plate = os.path.join(PLATE, "plate.####.exr")
        RESULT["rejected"] = run_fill(input=plate, mask_datablock=mask.name, colorspace="Bogus Space")
        RESULT["listing"] = sorted(os.listdir(PLATE))
        RESULT["good"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
        job = os.path.join(PLATE, "aifx_fill", "plate_fill.aifx.json")
        RESULT["job_before"] = open(job).read()
        RESULT["again"] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea", overwrite=True,
                                   colorspace="Bogus Space", input=plate)
        RESULT["job_after"] = open(job).read()
        """,
        exr_shot,
    )
    assert "unknown colourspace 'Bogus Space'" in result["rejected"]["error"], result["log"]
    assert "aifx_fill" not in result["listing"]
    assert result["good"] == ["FINISHED"], result["log"]
    assert "unknown colourspace" in result["again"]["error"]
    assert result["job_after"] == result["job_before"]
