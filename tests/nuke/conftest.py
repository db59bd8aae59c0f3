"""Nuke plugin tests: the fake ``nuke`` module and the plugin folder go on sys.path, as NUKE_PATH would."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLUGIN = REPO / "nuke_plugin"
FAKE_NUKE = HERE / "fake_nuke"

for path in (str(FAKE_NUKE), str(PLUGIN)):
    if path not in sys.path:
        sys.path.insert(0, path)

import nuke  # noqa: E402  (the fake)


@pytest.fixture(autouse=True)
def fresh_nuke():
    """Every test starts from an empty script, headless, with no render left running."""
    nuke._reset()
    yield nuke
    nuke._reset()


#: The Nuke versions whose knobChanged rules differ (docs/nuke.md): 14-16 call it for an open panel's edits only,
#: 17.1 for every knob change. The test files whose outcome hangs on those callbacks play both
#: (``pytestmark = pytest.mark.usefixtures("nuke_version")``); the rest play $AIFX_FAKE_NUKE_VERSION (16.0).
NUKE_VERSIONS = ["16.0", "17.1"]


@pytest.fixture(params=NUKE_VERSIONS, ids=[f"nuke{v}" for v in NUKE_VERSIONS])
def nuke_version(request, fresh_nuke, monkeypatch) -> str:
    """The fake plays this Nuke version for the test (after :func:`fresh_nuke`'s reset, which reads the env)."""
    major, minor = (int(part) for part in request.param.split("."))
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", major)
    monkeypatch.setattr(nuke, "NUKE_VERSION_MINOR", minor)
    return request.param


#: The sample shot that ships with the repository (examples/make_sample.py): every test runs on a fresh clone.
SAMPLE = REPO / "examples" / "shot"


def write_exr(
    path: Path, channels: dict[str, np.ndarray], size: tuple[int, int] | None = None, box=None
) -> None:
    """An EXR as Nuke writes one: ``size`` (w, h) is the display window, ``box`` (x0, y0, x1, y1; end exclusive,
    top-down) the data window the channels cover (default: the whole frame)."""
    height, width = next(iter(channels.values())).shape
    size = size or (width, height)
    x0, y0 = (0, 0) if box is None else box[:2]
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "dataWindow": (np.array([x0, y0], np.int32), np.array([x0 + width - 1, y0 + height - 1], np.int32)),
        "displayWindow": (np.array([0, 0], np.int32), np.array([size[0] - 1, size[1] - 1], np.int32)),
    }
    OpenEXR.File(header, {k: np.ascontiguousarray(v) for k, v in channels.items()}).write(str(path))


@pytest.fixture
def shot(tmp_path: Path) -> dict:
    """Frames 1001-1003 of the sample shot at 96x54: scene-linear EXR plates (a window of 4-16) and PNG mattes."""
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in range(1001, 1004):
        with OpenEXR.File(str(SAMPLE / f"plate.{frame}.exr"), separate_channels=True) as exr:
            rgb = {k: np.array(exr.channels()[k].pixels, np.float32) for k in ("R", "G", "B")}
        small = {k: cv2.resize(v, (96, 54), interpolation=cv2.INTER_AREA) for k, v in rgb.items()}
        write_exr(plates / f"plate.{frame}.exr", small)
        mask = cv2.imread(str(SAMPLE / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE)
        matte = cv2.resize(mask, (96, 54), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(plates / f"mask.{frame}.png"), np.where(matte > 127, 255, 0).astype(np.uint8))
    return {
        "plate": str(plates / "plate.####.exr").replace("\\", "/"),
        "mask": str(plates / "mask.####.png").replace("\\", "/"),
        "first": 1001,
        "last": 1003,
        "dir": plates,
    }


def aifill_in_group(comp):
    """An AIFill set like ``comp["fill"]`` inside a Group named Cleanup, fed through the group's two Input nodes by
    the comp's plate and matte Reads (a cleanup packaged as a group, as studios share them); returns it."""
    from aifx_nuke import nodes

    group = nuke.nodes.Group(name="Cleanup")
    group.setInput(0, comp["plate_node"])
    group.setInput(1, comp["matte_node"])
    with group:
        plate, matte = nuke.nodes.Input(name="plate", number=0), nuke.nodes.Input(name="matte", number=1)
        inner = nodes.create_aifill(connect_selected=False)
        inner.setInput(0, plate)
        inner.setInput(1, matte)
        for name in ("mask_channel", "backend", "aifx_env", "cache_dir"):
            inner[name].setValue(comp["fill"][name].value())
        nuke.nodes.Output().setInput(0, inner)
    return inner


def press_render_in_gui(fill) -> None:
    """Press Render as an artist does: GUI on, the render runs in a thread, the main thread serves Nuke calls."""
    from aifx_nuke import nodes

    nuke.GUI = True
    nuke._this = fill
    thread = nodes.on_render_button()
    nuke._this = None
    assert thread is not None
    nuke._run_main_loop(thread, timeout=120)
    assert not thread.is_alive()


@pytest.fixture
def comp(shot: dict, tmp_path: Path):
    """A script with Read(plate) → AIFill ← Read(mask), set to run the real worker (telea) in this Python."""
    from aifx_nuke import nodes

    nuke.root()["first_frame"].setValue(1001)  # the project's frame range is the shot's, as in a comp
    nuke.root()["last_frame"].setValue(1003)
    plate = nuke.nodes.Read(
        name="Plate", file=shot["plate"], first=1001, last=1003, origfirst=1001, origlast=1003
    )
    matte = nuke.nodes.Read(
        name="Matte", file=shot["mask"], first=1001, last=1003, origfirst=1001, origlast=1003
    )
    nuke._select(plate)
    fill = nodes.create_aifill()
    fill.setInput(1, matte)
    fill["mask_channel"].setValue("rgba.red")
    fill["backend"].setValue("telea")
    fill["aifx_env"].setValue(sys.executable)
    fill["cache_dir"].setValue(str(tmp_path / "cache"))
    return {**shot, "plate_node": plate, "matte_node": matte, "fill": fill, "cache": tmp_path / "cache"}
