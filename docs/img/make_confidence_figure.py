"""Regenerates ``docs/img/nuke_confidence.png`` and ``docs/img/blender_confidence.png``: the fill's confidence.

Run from the repository root: ``.venv/bin/python docs/img/make_confidence_figure.py [frame]`` (the ``bpy``
wheel must be installed for the Blender picture). It fills the
bundled sample shot (``examples/shot``) with ``aifx fill --confidence`` (the ``propagate`` backend, what the
AIFill node runs with *confidence* on) and draws, for one frame: the filled rgba, its ``fill.confidence``
channel (white = sure, black = a guess) and the fill graded red by ``1 - confidence`` (what a Grade masked by
the inverted channel shows). The picture is made from the very EXR the node's Read outputs.

The Blender picture is rendered by Blender (the ``bpy`` module) from the same EXR through the add-on's
compositor group ``<plate> AI Fill Confidence`` (``blender_addon/confidence_view.py``): its Fill, Confidence and
Image (tinted) outputs, with the Standard view transform an artist sees in the Viewer.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "examples" / "shot"
OUT = Path(__file__).resolve().parent / "nuke_confidence.png"
BLENDER_OUT = Path(__file__).resolve().parent / "blender_confidence.png"

BLENDER_SCRIPT = """
import sys
import bpy
sys.path.insert(0, {root!r})
from blender_addon import confidence_view

first, frame, out = {first!r}, {frame}, {out!r}
image = confidence_view.result_image("plate AI Fill", first, "Linear Rec.709")
group = confidence_view.build_group(confidence_view.group_name("plate"), first, image, 1001, 1001, 30)
scene = bpy.context.scene
r = scene.render
r.resolution_x, r.resolution_y, r.resolution_percentage = 320, 180, 100
r.use_compositing, r.use_sequencer, r.dither_intensity = True, False, 0.0
r.image_settings.file_format, r.image_settings.color_mode = "PNG", "RGB"
scene.view_settings.view_transform = "Standard"
scene.frame_start, scene.frame_end = 1001, 1030
scene.frame_current = frame
for name in ("Fill", "Confidence", "Image"):
    tree = bpy.data.node_groups.new("probe", "CompositorNodeTree")
    tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    node = tree.nodes.new("CompositorNodeGroup")
    node.node_tree = group
    tree.links.new(node.outputs[name], tree.nodes.new("NodeGroupOutput").inputs[0])
    scene.compositing_node_group = tree
    r.filepath = out + name + ".png"
    bpy.ops.render.render(write_still=True)
"""


def srgb(linear: np.ndarray) -> np.ndarray:
    """Scene-linear → 8-bit sRGB for the page (clipped at 1, as a viewer with the sRGB LUT shows it)."""
    x = np.clip(linear, 0.0, 1.0)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main(frame: int = 1020) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fill.####.exr"
        command = [sys.executable, "-m", "aifx_core", "fill", str(SHOT / "plate.####.exr")]
        command += ["-m", str(SHOT / "mask.####.png"), "-o", str(out), "--confidence"]
        subprocess.run(command, check=True)
        with OpenEXR.File(str(out).replace("####", str(frame)), separate_channels=True) as exr:
            channels = {k: np.array(v.pixels, np.float32) for k, v in exr.channels().items()}
        blender(str(out), frame)
    rgb = np.dstack([channels[c] for c in ("R", "G", "B")])
    confidence = channels["fill.confidence"]
    grey = np.round(np.clip(confidence, 0, 1) * 255).astype(np.uint8)
    unsure = (1.0 - np.clip(confidence, 0, 1))[..., None]
    tinted = rgb * (1 - 0.7 * unsure) + np.array([1.0, 0.05, 0.05]) * 0.7 * unsure
    panels = [
        label(srgb(rgb), "AIFill: rgba"),
        label(np.dstack([grey] * 3), "fill.confidence"),
        label(srgb(tinted), "graded by 1 - fill.confidence"),
    ]
    cv2.imwrite(str(OUT), np.hstack(panels)[..., ::-1])
    print(OUT)


def blender(exr_pattern: str, frame: int) -> None:
    """Render the add-on's confidence group with Blender and lay its three outputs side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "render.py"
        first = exr_pattern.replace("####", "1001")
        script.write_text(BLENDER_SCRIPT.format(root=str(ROOT), first=first, frame=frame, out=tmp + "/"))
        subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
        titles = {"Fill": "Fill", "Confidence": "Confidence", "Image": "Image (tinted)"}
        panels = [label(cv2.imread(f"{tmp}/{k}.png")[..., ::-1], v) for k, v in titles.items()]
    cv2.imwrite(str(BLENDER_OUT), np.hstack(panels)[..., ::-1])
    print(BLENDER_OUT)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
