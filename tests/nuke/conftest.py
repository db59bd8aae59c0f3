"""Nuke plugin tests: the fake ``nuke`` module and the plugin folder go on sys.path, as NUKE_PATH would."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
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


@pytest.fixture
def shot(tennis: Path, tmp_path: Path) -> dict:
    """Three small frames of the tennis clip and their masks as PNG sequences numbered 1001-1003."""
    plates = tmp_path / "plates"
    plates.mkdir()
    for i, frame in enumerate(range(1001, 1004)):
        rgb = cv2.imread(str(tennis / "frames" / f"{i:05d}.png"), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(tennis / "masks" / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(
            str(plates / f"plate.{frame}.png"), cv2.resize(rgb, (96, 54), interpolation=cv2.INTER_AREA)
        )
        small = cv2.resize(mask, (96, 54), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(plates / f"mask.{frame}.png"), np.where(small > 127, 255, 0).astype(np.uint8))
    return {
        "plate": str(plates / "plate.####.png").replace("\\", "/"),
        "mask": str(plates / "mask.####.png").replace("\\", "/"),
        "first": 1001,
        "last": 1003,
        "dir": plates,
    }


@pytest.fixture
def comp(shot: dict, tmp_path: Path):
    """A script with Read(plate) → AIFill ← Read(mask), set to run the real worker (telea) in this Python."""
    from aifx_nuke import nodes

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
