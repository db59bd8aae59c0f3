"""Fixtures for the Blender extension: the built zip, a small plate, and a way to run real ``bpy`` in a
subprocess with a throw-away user folder (bpy keeps global state, and ``HOME`` / ``BLENDER_USER_RESOURCES``
must be set before it is imported)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDON_DIR = REPO / "blender_addon"
SAMPLE_SHOT = REPO / "examples" / "shot"
RESULT_MARK = "@@AIFX_RESULT@@"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `import blender_addon.jobs`: the plain-Python parts of the extension.

PRELUDE = """
import json, os, sys, traceback
import bpy
RESULT = {}
ZIP, PLATE, PYTHON = %(zip)r, %(plate)r, %(python)r
bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
ADDON = "bl_ext.user_default.aifx"
PREFS = bpy.context.preferences.addons[ADDON].preferences
PREFS.python_path = PYTHON


def load_clip():
    clip = bpy.data.movieclips.load(os.path.join(PLATE, "frames", "00000.png"))
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, clip.frame_duration
    return clip


def draw_mask(name, box, size):
    # box = (x0, y0, x1, y1) in pixels, y down; Blender mask space keeps x in 0..1 and squares the aspect.
    width, height = size
    mask = bpy.data.masks.new(name=name)
    spline = mask.layers.new(name="object").splines.new()
    x0, y0, x1, y1 = box
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]  # clockwise on screen: feather grows outwards
    spline.points.add(len(corners) - 1)
    for point, (x, y) in zip(spline.points, corners):
        fy = 1.0 - y / height
        point.co = (x / width, (fy - 0.5) * height / width + 0.5)
        point.handle_type = "VECTOR"
    spline.use_cyclic = True
    spline.use_fill = True
    return mask


def run_fill(*args, **kwargs):
    try:
        return sorted(bpy.ops.aifx.fill(*args, **kwargs))
    except RuntimeError as exc:
        return {"error": str(exc)}


def editor(kind="CLIP_EDITOR"):
    # The window's first area turned into a `kind` editor: (window, area, region, space) for `click`.
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = kind
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, area, region, area.spaces.active


def click(where, *args, **kwargs):
    # A press in the editor `where` (a button, a menu entry, F3): not a call nested in a script (undo=True),
    # so Blender gives each property the call leaves unset its last-used value, as it does in the UI.
    window, area, region, _ = where
    with bpy.context.temp_override(window=window, area=area, region=region):
        return run_fill(*(args or ("INVOKE_DEFAULT",)), True, **kwargs)


try:
%(body)s
except Exception:
    RESULT["exception"] = traceback.format_exc()
print(%(mark)r + json.dumps(RESULT, default=str))
"""


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension built by Blender's own builder (blender_addon/build.py)."""
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(ADDON_DIR / "build.py"), "--output-dir", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def png_shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-bit image sequence made from the bundled sample shot (it ships with the repo, so the Blender
    tests need no shared data): ``frames/00000.png…00029.png`` (the 320x180 plate, sRGB-encoded, the lit
    window clipped at 1) and ``masks/00000.png…`` (the ball and pole, 255 = fill, anti-aliased edge)."""
    import cv2
    import numpy as np
    import OpenEXR

    root = tmp_path_factory.mktemp("png_shot")
    (root / "frames").mkdir()
    (root / "masks").mkdir()
    for index, number in enumerate(range(1001, 1031)):
        with OpenEXR.File(str(SAMPLE_SHOT / f"plate.{number}.exr"), separate_channels=True) as exr:
            channels = exr.channels()
            linear = np.dstack([channels[c].pixels.astype(np.float32) for c in ("R", "G", "B")])
        linear = np.clip(linear, 0.0, 1.0)
        encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
        rgb = np.round(encoded * 255.0).astype(np.uint8)
        cv2.imwrite(str(root / "frames" / f"{index:05d}.png"), rgb[..., ::-1])
        shutil.copy(SAMPLE_SHOT / f"mask.{number}.png", root / "masks" / f"{index:05d}.png")
    return root


@pytest.fixture()
def plate(png_shot: Path, tmp_path: Path) -> Path:
    """Six frames of :func:`png_shot` (``frames/00000.png…``) and their mattes (``masks/``), copied to tmp."""
    root = tmp_path / "shot"
    for sub in ("frames", "masks"):
        (root / sub).mkdir(parents=True)
        for index in range(6):
            name = f"{index:05d}.png"
            shutil.copy(png_shot / sub / name, root / sub / name)
    return root


@pytest.fixture()
def exr_shot(tmp_path: Path) -> Path:
    """Six frames of the bundled sample shot (``plate.1001.exr…``: scene-linear half RGBA with values up to
    16, ``mask.1001.png…``, ``truth.1001.exr…``), copied to tmp: it ships with the repo, so no shared data."""
    root = tmp_path / "exr_shot"
    root.mkdir()
    for number in range(1001, 1007):
        for name in (f"plate.{number}.exr", f"mask.{number}.png", f"truth.{number}.exr"):
            shutil.copy(SAMPLE_SHOT / name, root / name)
    return root


@pytest.fixture()
def blender(extension_zip: Path, tmp_path: Path):
    """``blender(body, plate)`` runs ``body`` in a fresh bpy with the extension installed; returns RESULT."""

    def run(body: str, plate: Path | None = None, python: str = sys.executable, timeout: float = 240) -> dict:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        script = tmp_path / "scenario.py"
        script.write_text(
            PRELUDE
            % {
                "zip": str(extension_zip),
                "plate": str(plate or ""),
                "python": python,
                "body": textwrap.indent(textwrap.dedent(body), "    "),
                "mark": RESULT_MARK,
            }
        )
        env = {k: v for k, v in os.environ.items() if k != "AIFX_PYTHON"}
        env.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=tmp_path,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
        assert lines, f"bpy scenario failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        result = json.loads(lines[-1][len(RESULT_MARK) :])
        assert "exception" not in result, result["exception"] + "\n" + done.stdout
        result["log"] = done.stdout
        return result

    return run
