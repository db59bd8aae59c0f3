"""The bundled sample shot in examples/shot is there, is what examples/README.md says, and is reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from aifx_core.colour import LINEAR_COLORSPACE, guess_colorspace
from aifx_core.mask import make_hole, open_mask
from aifx_core.sequence import open_sequence

REPO = Path(__file__).resolve().parents[1]
SHOT = REPO / "examples" / "shot"
FRAMES = list(range(1001, 1031))


def read_exr(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        return dict(exr.header()), {name: ch.pixels.copy() for name, ch in exr.channels().items()}


def rgb_of(channels: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([channels[c].astype(np.float32) for c in "RGB"], axis=-1)


def test_every_frame_is_there_and_nothing_else():
    names = sorted(p.name for p in SHOT.iterdir())
    expected = sorted(
        f"{kind}.{f}.{ext}" for f in FRAMES for kind, ext in (("plate", "exr"), ("mask", "png"))
    )
    expected += [f"truth.{f}.exr" for f in FRAMES]
    assert names == sorted(expected)
    total = sum(p.stat().st_size for p in SHOT.iterdir())
    assert total < 5 * 1024 * 1024, total


def test_plate_frames_channels_and_attributes():
    for frame in (1001, 1017, 1030):
        header, channels = read_exr(SHOT / f"plate.{frame}.exr")
        assert list(channels) == ["A", "B", "G", "R"]
        assert all(c.dtype == np.float16 and c.shape == (180, 320) for c in channels.values())
        assert header["compression"] == OpenEXR.ZIP_COMPRESSION
        assert header["owner"] == "aifx examples"
        assert str(frame) in header["aifx:sample"]
        assert np.all(channels["A"] == 1.0)
        rgb = rgb_of(channels)
        assert rgb.min() >= 0 and 15.0 < rgb.max() <= 16.0  # the window's light
        assert (rgb > 4.0).mean() > 0.02


def test_aifx_reads_the_shot_as_described():
    plate = open_sequence(str(SHOT / "plate.####.exr"))
    assert plate.frames == FRAMES
    first = plate.read(1001)
    assert guess_colorspace(first, plate.path(1001)) == LINEAR_COLORSPACE
    mattes = open_mask(str(SHOT / "mask.####.png"), None, plate)
    holes = [make_hole(mattes.matte(f), 0.5, 0) for f in (1001, 1015, 1030)]
    assert all(h.shape == (180, 320) and h.sum() > 500 for h in holes)


def test_mask_is_non_empty_and_moves():
    centres = []
    for frame in FRAMES:
        matte = cv2.imread(str(SHOT / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        assert matte.dtype == np.uint8 and matte.shape == (180, 320)
        assert (matte == 255).sum() > 500 and (matte == 0).sum() > 0.9 * matte.size
        assert ((matte > 0) & (matte < 255)).any()  # anti-aliased edge
        ys, xs = np.nonzero(matte > 127)
        centres.append(xs.mean())
    assert np.all(np.diff(centres) > 3)  # left to right, every frame
    assert centres[-1] - centres[0] > 200


def test_truth_is_the_plate_without_the_object():
    for frame in (1001, 1020):
        _, plate = read_exr(SHOT / f"plate.{frame}.exr")
        header, truth = read_exr(SHOT / f"truth.{frame}.exr")
        assert list(truth) == ["B", "G", "R"]
        matte = cv2.imread(str(SHOT / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        difference = np.abs(rgb_of(plate) - rgb_of(truth)).max(axis=-1)
        assert difference[matte == 0].max() < 0.01
        assert difference[matte == 255].mean() > 0.05
    # Frame 1020 hides part of the bright window: the truth there is far above 1.
    _, truth = read_exr(SHOT / "truth.1020.exr")
    matte = cv2.imread(str(SHOT / "mask.1020.png"), cv2.IMREAD_UNCHANGED)
    assert rgb_of(truth)[matte == 255].max() > 4.0


def test_generator_reproduces_the_bundled_pixels(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "examples" / "make_sample.py")
    if spec is None or spec.loader is None:
        pytest.fail("examples/make_sample.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for frame in (1001, 1030):
        for kind in ("plate", "truth"):
            _, bundled = read_exr(SHOT / f"{kind}.{frame}.exr")
            _, fresh = read_exr(tmp_path / f"{kind}.{frame}.exr")
            assert all(np.array_equal(bundled[c].view(np.uint16), fresh[c].view(np.uint16)) for c in bundled)
        bundled_mask = cv2.imread(str(SHOT / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(
            bundled_mask, cv2.imread(str(tmp_path / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        )
