"""The fill's confidence in Blender (#10 item 5), in real bpy 5.0.1.

What the host does with our EXR: a result with the extra channel ``fill.confidence`` opens as a MULTILAYER
image (freshly loaded it reports size 0x0 and no pixels; the Image node offers ``Combined`` and a pass ``fill``
instead of ``Image``), while a Movie Clip of the same files still shows the RGB. The add-on's answer: the Confidence option writes the channel and
builds a compositor group ``<plate> AI Fill Confidence`` (Image: the fill tinted red where unsure; Confidence;
Fill). Everything is checked by rendering Blender's compositor and reading its EXRs with OpenEXR.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from blender_addon import jobs

pytestmark = pytest.mark.blender

RENDER = """
import OpenEXR as _exr_check  # noqa: F401  (the test reads the renders; bpy writes them)


def render(socket_from, frame, path):
    # Render what `socket_from(tree)` gives, through Blender's compositor, to a 32-bit float EXR at `path`.
    scene = bpy.data.scenes.get("probe") or bpy.data.scenes.new("probe")
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = 320, 180, 100
    r.use_compositing, r.use_sequencer, r.dither_intensity = True, False, 0.0
    r.image_settings.file_format = "OPEN_EXR"
    r.image_settings.color_depth = "32"
    r.use_file_extension = False
    tree = bpy.data.node_groups.new("probe", "CompositorNodeTree")
    tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    out = tree.nodes.new("NodeGroupOutput")
    tree.links.new(socket_from(tree), out.inputs[0])
    scene.compositing_node_group = tree
    scene.frame_start, scene.frame_end = 1001, 1006
    scene.frame_current = frame
    # Blender 5.0.1 quirk: a Movie Clip node in a scene rendered by name shows the clip at the frame of the
    # context scene (the artist's), not the rendered scene's: move both.
    bpy.context.scene.frame_current = frame
    r.filepath = path
    bpy.ops.render.render(write_still=True, scene=scene.name)
    scene.compositing_node_group = None
    bpy.data.node_groups.remove(tree)
    return path


def group_output(group_name, output):
    def make(tree):
        node = tree.nodes.new("CompositorNodeGroup")
        node.node_tree = bpy.data.node_groups[group_name]
        return node.outputs[output]
    return make
"""


def _exr(path: str | Path) -> dict[str, np.ndarray]:
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        return {k: np.array(v.pixels, np.float32) for k, v in exr.channels().items()}


def _rgb(channels: dict[str, np.ndarray]) -> np.ndarray:
    return np.dstack([channels[c] for c in ("R", "G", "B")])


def test_clip_fill_with_confidence_keeps_the_rgb_and_builds_the_confidence_group(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    renders = tmp_path / "renders"
    result = blender(
        RENDER
        + f"""
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1003
mask = os.path.join(PLATE, "mask.####.png")
RESULT["fill"] = run_fill(clip=clip.name, mask=mask, backend="telea", confidence=True)
job_path = os.path.join(PLATE, "aifx_fill", "plate_fill.aifx.json")
RESULT["job"] = json.load(open(job_path))
shown = bpy.data.movieclips["plate.1001.exr AI Fill"]
RESULT["clip"] = [tuple(shown.size), shown.frame_duration, shown.frame_start]
image = bpy.data.images["plate.1001.exr AI Fill"]
RESULT["image"] = [image.type, image.use_fake_user]
group = bpy.data.node_groups["plate.1001.exr AI Fill Confidence"]
RESULT["group"] = [group.bl_idname, group.use_fake_user,
                   [s.name for s in group.interface.items_tree if s.in_out == "OUTPUT"],
                   sorted(n.bl_idname for n in group.nodes)]
source = next(n for n in group.nodes if n.bl_idname == "CompositorNodeImage")
RESULT["passes"] = [s.name for s in source.outputs]
out = {str(renders)!r}
os.makedirs(out, exist_ok=True)
def clip_image(tree):
    node = tree.nodes.new("CompositorNodeMovieClip")
    node.clip = shown
    return node.outputs["Image"]
render(clip_image, 1002, os.path.join(out, "clip.exr"))
for name in ("Image", "Confidence", "Fill"):
    render(group_output(group.name, name), 1002, os.path.join(out, name + ".exr"))
""",
        exr_shot,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    assert "confidence in the compositor group 'plate.1001.exr AI Fill Confidence'" in result["log"]
    aifx_fill = exr_shot / "aifx_fill"
    expected = jobs.build_job(  # the whole job: the option is one field of it, nothing else changes
        input=str(exr_shot / "plate.####.exr"),
        output=str(aifx_fill / "plate_fill.####.exr"),
        mask=str(exr_shot / "mask.####.png"),
        backend="telea",
        frames="1001-1003",
        colorspace="Linear Rec.709 (sRGB)",
        confidence=True,
    )
    assert result["job"] == json.loads(expected.to_json())

    # what Blender makes of the file: the clip shows it, an Image of it is MULTILAYER with a 'fill' pass
    assert result["clip"] == [[320, 180], 3, 1001]
    assert result["image"] == ["MULTILAYER", True]
    assert result["passes"] == ["Combined", "Alpha", "fill"]
    kind, fake, outputs, nodes = result["group"]
    assert kind == "CompositorNodeTree" and fake and outputs == ["Image", "Confidence", "Fill"]
    assert "CompositorNodeViewer" in nodes

    written = _exr(aifx_fill / "plate_fill.1002.exr")
    rgb = np.dstack([written["RGBA"][..., i] for i in range(3)]) if "RGBA" in written else _rgb(written)
    conf = written["fill.confidence"]
    assert conf.min() < 0.1 and conf.max() == 1.0, "telea invents the hole; the plate is sure"
    renders = tmp_path / "renders"
    shown_clip = _rgb(_exr(renders / "clip.exr"))
    np.testing.assert_allclose(shown_clip, rgb, atol=1e-6, err_msg="the clip shows the filled RGB")
    fill = _rgb(_exr(renders / "Fill.exr"))
    np.testing.assert_allclose(fill, rgb, atol=1e-6, err_msg="the group's Fill is the result")
    confidence = _exr(renders / "Confidence.exr")["R"]
    np.testing.assert_allclose(confidence, conf, atol=1e-6, err_msg="the group's Confidence is the channel")
    tinted = _rgb(_exr(renders / "Image.exr"))
    unsure = (1.0 - conf)[..., None] * 0.7
    expected = rgb * (1 - unsure) + np.array([1.0, 0.05, 0.05]) * unsure
    np.testing.assert_allclose(tinted, expected, atol=2e-3, err_msg="the Image output tints the guess red")
    sure = conf == 1.0
    np.testing.assert_allclose(tinted[sure], rgb[sure], atol=1e-6)


def test_image_fill_with_confidence_and_a_second_fill_on_that_result(blender, exr_shot: Path) -> None:
    """The image route's result is the MULTILAYER image itself; filling it again with a Mask datablock needs
    its size, which Blender does not give for a MULTILAYER image (read through a Movie Clip instead)."""
    result = blender(
        """
image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
image.source = "SEQUENCE"
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1003
mask = os.path.join(PLATE, "mask.####.png")
RESULT["first"] = run_fill(image=image.name, mask=mask, backend="telea", confidence=True)
filled = bpy.data.images["plate.1001.exr AI Fill"]
RESULT["type"] = filled.type
group = bpy.data.node_groups["plate.1001.exr AI Fill Confidence"]
source = next(n for n in group.nodes if n.bl_idname == "CompositorNodeImage")
RESULT["source"] = [source.image.name, source.frame_start, source.frame_offset, source.frame_duration]
box = draw_mask("patch", (40, 40, 80, 80), (320, 180))
RESULT["second"] = run_fill(image=filled.name, mask_datablock=box.name, backend="telea",
                            output_dir=os.path.join(PLATE, "second"))
# a script fills the result files by path: Blender loads a frame to learn the size, which a MULTILAYER
# image does not report until it has been decoded
RESULT["by_path"] = run_fill(input=os.path.join(PLATE, "aifx_fill", "plate_fill.####.exr"),
                             mask_datablock=box.name, backend="telea", output_dir=os.path.join(PLATE, "third"))
RESULT["rerun"] = run_fill(image=image.name, mask=mask, backend="telea", confidence=True, overwrite=True)
RESULT["groups"] = sorted(g.name for g in bpy.data.node_groups if "Confidence" in g.name)
""",
        exr_shot,
    )
    assert result["first"] == ["FINISHED"], result["log"]
    assert result["type"] == "MULTILAYER"
    assert result["source"] == ["plate.1001.exr AI Fill", 1001, 1000, 3]
    assert result["second"] == ["FINISHED"], result["log"]
    assert (exr_shot / "second").is_dir() and list((exr_shot / "second").glob("*_fill.1001.exr"))
    assert result["by_path"] == ["FINISHED"], result["log"]
    assert list((exr_shot / "third").glob("*_fill.1001.exr"))
    assert result["rerun"] == ["FINISHED"], result["log"]
    assert result["groups"] == ["plate.1001.exr AI Fill Confidence"], "a rerun rebuilds the group in place"


def test_confidence_is_off_by_default(blender, exr_shot: Path) -> None:
    result = blender(
        """
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1002
RESULT["default"] = scene.aifx.confidence
RESULT["fill"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea")
RESULT["job"] = json.load(open(os.path.join(PLATE, "aifx_fill", "plate_fill.aifx.json")))
RESULT["groups"] = [g.name for g in bpy.data.node_groups if "Confidence" in g.name]
""",
        exr_shot,
    )
    assert result["default"] is False and result["fill"] == ["FINISHED"], result["log"]
    assert "confidence" not in result["job"], "off is the job's default, so it is not written"
    assert result["groups"] == []
    with OpenEXR.File(str(exr_shot / "aifx_fill" / "plate_fill.1001.exr")) as exr:
        assert "fill.confidence" not in exr.channels()
    assert json.dumps(result["job"])  # a plain JSON job


def test_a_straight_alpha_clips_confidence_group_reads_the_confidence_sequence(
    blender, tmp_path: Path
) -> None:
    """A clip of a straight-alpha PNG is filled into PNGs (a Movie Clip has no Alpha mode for an EXR), which have
    no room for the channel: the core writes the confidence as ``confidence/plate_fill.####.png.png``. The group
    was made empty and left so ('no fill pass'), the log said the channel was in the PNGs and the report named
    the broken group. It now reads the sequence; a result without its pass never makes or clears a group."""
    import cv2

    root = tmp_path / "rgba"
    root.mkdir()
    bgr = np.zeros((180, 320, 3), np.uint8)
    bgr[..., 2], bgr[..., 1], bgr[..., 0] = 200, np.linspace(0, 255, 320)[None, :], 60
    alpha = np.tile(np.linspace(255, 64, 180)[:, None], (1, 320)).astype(np.uint8)
    matte = np.zeros((180, 320), np.uint8)
    matte[70:110, 120:200] = 255
    for number in (1001, 1002, 1003):
        cv2.imwrite(str(root / f"plate.{number}.png"), np.dstack([bgr, alpha]))
        cv2.imwrite(str(root / f"mask.{number}.png"), matte)
    renders = tmp_path / "renders"
    result = blender(
        RENDER
        + f"""
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.png"))
clip.frame_start = 1001
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1001, 1003
RESULT["fill"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea",
                          confidence=True)
shown = bpy.data.movieclips["plate.1001.png AI Fill"]
RESULT["result_file"] = os.path.basename(shown.filepath)
group = bpy.data.node_groups["plate.1001.png AI Fill Confidence"]
RESULT["images"] = sorted(n.image.filepath for n in group.nodes if n.bl_idname == "CompositorNodeImage")
out = {str(renders)!r}
os.makedirs(out, exist_ok=True)
def clip_image(tree):
    node = tree.nodes.new("CompositorNodeMovieClip")
    node.clip = shown
    return node.outputs["Image"]
render(clip_image, 1002, os.path.join(out, "clip.exr"))
for name in ("Confidence", "Fill"):
    render(group_output(group.name, name), 1002, os.path.join(out, name + ".exr"))
# a result without its pass (the PNG itself, no sequence given) leaves the group as it is, and makes none
view = sys.modules[ADDON + ".confidence_view"]
png = bpy.data.images["plate.1001.png AI Fill"]
count = len(group.nodes)
for name in (group.name, "never made"):
    try:
        view.build_group(name, os.path.join(PLATE, "aifx_fill", "plate_fill.####.png"), png, 1001, 1001, 3)
    except RuntimeError as exc:
        RESULT.setdefault("refused", []).append(str(exc))
RESULT["kept"] = [len(group.nodes) == count, "never made" in bpy.data.node_groups]
RESULT["where"] = [view.where("/f/plate_fill.####.png"), view.where("/f/plate_fill.####.exr")]
""",
        root,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    aifx_fill = root / "aifx_fill"
    assert result["result_file"] == "plate_fill.1001.png"
    assert "confidence in the compositor group 'plate.1001.png AI Fill Confidence'" in result["log"]
    assert "no confidence group" not in result["log"]
    assert result["images"] == sorted(
        [str(aifx_fill / "plate_fill.1001.png"), str(aifx_fill / "confidence" / "plate_fill.1001.png.png")]
    )
    side = cv2.imread(str(aifx_fill / "confidence" / "plate_fill.1002.png.png"), cv2.IMREAD_UNCHANGED)
    conf = side.astype(np.float32) / 65535.0
    assert conf.min() < 0.1 and conf.max() == 1.0, "telea invents the hole; the plate is sure"
    confidence = _exr(renders / "Confidence.exr")["R"]
    np.testing.assert_allclose(confidence, conf, atol=1e-4, err_msg="the group's Confidence is the sequence")
    fill = _exr(renders / "Fill.exr")
    clip = _exr(renders / "clip.exr")
    for channel in "RGBA":
        np.testing.assert_allclose(fill[channel], clip[channel], atol=1e-5, err_msg="Fill is the result clip")
    assert len(result["refused"]) == 2 and all("no 'fill' pass" in r for r in result["refused"])
    assert result["kept"] == [True, False]
    assert result["where"] == [  # what the log says when the group cannot be built
        "the confidence is in /f/confidence/plate_fill.####.png.png",
        "the channel fill.confidence is in /f/plate_fill.####.exr",
    ]


def test_a_second_plate_of_the_same_name_gets_its_own_confidence_group(blender, exr_shot: Path) -> None:
    """sh010's plate open as a Movie Clip and sh020's as an Image are both "plate.1001.exr" (clips and images
    have separate names; a linked and a local clip likewise): the group was found by name alone, so sh020's fill
    rebuilt sh010's group on sh020's files and every sh010 comp node showed sh020's fill. Each result now has its
    own group, found by the files it reads; a rerun still rebuilds its own in place, also after File > Save As
    into another folder (which remaps the Image node's relative path, not the group's tag: a rerun made
    "... Confidence.001")."""
    import shutil

    for shot in ("sh010", "sh020"):
        (exr_shot / shot).mkdir()
        for number in (1001, 1002):
            for name in (f"plate.{number}.exr", f"mask.{number}.png"):
                shutil.copy(exr_shot / name, exr_shot / shot / name)
    result = blender(
        """
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
clip = bpy.data.movieclips.load(os.path.join(PLATE, "sh010", "plate.1001.exr"))
image = bpy.data.images.load(os.path.join(PLATE, "sh020", "plate.1001.exr"))
image.source = "SEQUENCE"
def fill(**plate):
    shot = os.path.basename(os.path.dirname(bpy.path.abspath((clip if "clip" in plate else image).filepath)))
    mask = os.path.join(PLATE, shot, "mask.####.png")
    return run_fill(**plate, mask=mask, backend="telea", confidence=True)
def reads(tree):
    return sorted(bpy.path.abspath(n.image.filepath) for n in tree.nodes if n.bl_idname == "CompositorNodeImage")
RESULT["names"] = [clip.name, image.name]
RESULT["fills"] = [fill(clip=clip.name)]
comp = bpy.data.node_groups.new("sh010 comp", "CompositorNodeTree")  # the artist uses sh010's group
used = comp.nodes.new("CompositorNodeGroup")
used.node_tree = bpy.data.node_groups["plate.1001.exr AI Fill Confidence"]
RESULT["fills"].append(fill(image=image.name))
RESULT["used_after_sh020"] = reads(used.node_tree)
RESULT["fills"].append(fill(clip=clip.name, overwrite=True))  # sh010 again: its own group, rebuilt in place
RESULT["used"] = [used.node_tree.name, reads(used.node_tree)]
used.node_tree.pop("aifx_output", None)  # a group an earlier add-on made, untagged: kept if it reads sh010's files
RESULT["fills"].append(fill(clip=clip.name, overwrite=True))
RESULT["legacy"] = [used.node_tree.name, "aifx_output" in used.node_tree]
os.makedirs(os.path.join(PLATE, "a", "b"))
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(PLATE, "a", "b", "shot_v001.blend"))
RESULT["fills"].append(fill(clip=clip.name, overwrite=True))  # in a saved .blend: paths stored relative
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(PLATE, "shot_v002.blend"))  # File > Save As, another folder
RESULT["fills"].append(fill(clip=clip.name, overwrite=True))
RESULT["saved_as"] = used.node_tree.name
RESULT["groups"] = {g.name: reads(g) for g in bpy.data.node_groups if "Confidence" in g.name}
""",
        exr_shot,
    )
    assert result["names"] == ["plate.1001.exr", "plate.1001.exr"]
    assert result["fills"] == [["FINISHED"]] * 6, result["log"]
    sh010 = str(exr_shot / "sh010" / "aifx_fill" / "plate_fill.1001.exr")
    sh020 = str(exr_shot / "sh020" / "aifx_fill" / "plate_fill.1001.exr")
    assert result["used_after_sh020"] == [sh010], result["log"]
    assert result["used"] == ["plate.1001.exr AI Fill Confidence", [sh010]]
    assert result["legacy"] == ["plate.1001.exr AI Fill Confidence", True]
    assert result["saved_as"] == "plate.1001.exr AI Fill Confidence"
    assert result["groups"] == {
        "plate.1001.exr AI Fill Confidence": [sh010],
        "plate.1001.exr AI Fill Confidence.001": [sh020],
    }
    reports = [line for line in result["log"].splitlines() if line.startswith("Info: AI Fill done")]
    assert [line.rsplit(" ", 1)[-1] for line in reports] == [
        "Confidence'",
        "Confidence.001'",
        "Confidence'",
        "Confidence'",
        "Confidence'",
        "Confidence'",
    ], reports


def test_a_linked_and_a_local_plate_of_the_same_name_get_their_own_confidence_groups(
    blender, exr_shot: Path, tmp_path: Path
) -> None:
    """sh010's plate.1001.exr linked from its shot library into a comp that opened sh020's plate.1001.exr (a
    local clip of the same name), both filled with Confidence: sh020's fill rebuilt sh010's group, found by its
    name, on sh020's files, so the comp node showing sh010's confidence showed sh020's. (Fixed with the
    Movie Clip and Image case above, checked by hand for this one.) Each has its own group, found by the files
    it reads, and a rerun of the linked one rebuilds its own in place."""
    result = blender(
        f"""
import shutil
root = {str(tmp_path)!r}
for shot in ("sh010", "sh020"):
    os.makedirs(os.path.join(root, shot, "plates"))
    for n in (1001, 1002):
        for name in (f"plate.{{n}}.exr", f"mask.{{n}}.png"):
            shutil.copy(os.path.join(PLATE, name), os.path.join(root, shot, "plates"))
# the shot library: sh010's plate
bpy.ops.wm.read_homefile(use_empty=True)
bpy.data.movieclips.load(os.path.join(root, "sh010", "plates", "plate.1001.exr")).use_fake_user = True
library = os.path.join(root, "sh010", "shot.blend")
bpy.ops.wm.save_as_mainfile(filepath=library)
# the comp: sh020's plate opened here, sh010's linked (the same name)
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(root, "comp.blend"))
bpy.data.movieclips.load(os.path.join(root, "sh020", "plates", "plate.1001.exr"))
with bpy.data.libraries.load(library, link=True) as (source, linked):
    linked.movieclips = source.movieclips
linked_clip = [c for c in bpy.data.movieclips if c.library is not None][0]
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
def fill(shot, **plate):
    mask = os.path.join(root, shot, "plates", "mask.####.png")
    return run_fill(clip="plate.1001.exr", **plate, mask=mask, backend="telea", confidence=True)
def reads(tree):
    return sorted(bpy.path.abspath(n.image.filepath) for n in tree.nodes if n.bl_idname == "CompositorNodeImage")
RESULT["names"] = sorted([c.name, c.library is not None] for c in bpy.data.movieclips)
RESULT["fills"] = [fill("sh010", clip_library=linked_clip.library.filepath)]
comp = bpy.data.node_groups.new("sh010 comp", "CompositorNodeTree")  # the artist uses sh010's group
used = comp.nodes.new("CompositorNodeGroup")
used.node_tree = bpy.data.node_groups["plate.1001.exr AI Fill Confidence"]
RESULT["fills"].append(fill("sh020"))
RESULT["used_after_sh020"] = [used.node_tree.name, reads(used.node_tree)]
RESULT["fills"].append(fill("sh010", clip_library=linked_clip.library.filepath, overwrite=True))
RESULT["used"] = [used.node_tree.name, reads(used.node_tree)]
RESULT["groups"] = {{g.name: reads(g) for g in bpy.data.node_groups if "Confidence" in g.name}}
""",
        exr_shot,
    )
    assert result["names"] == [["plate.1001.exr", False], ["plate.1001.exr", True]], result["log"]
    assert result["fills"] == [["FINISHED"]] * 3, result["log"]
    sh010 = str(tmp_path / "sh010" / "plates" / "aifx_fill" / "plate_fill.1001.exr")
    sh020 = str(tmp_path / "sh020" / "plates" / "aifx_fill" / "plate_fill.1001.exr")
    assert result["used_after_sh020"] == ["plate.1001.exr AI Fill Confidence", [sh010]], result["log"]
    assert result["used"] == ["plate.1001.exr AI Fill Confidence", [sh010]]
    assert result["groups"] == {
        "plate.1001.exr AI Fill Confidence": [sh010],
        "plate.1001.exr AI Fill Confidence.001": [sh020],
    }
