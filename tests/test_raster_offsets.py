"""Pixel offsets in PNG (oFFs), TIFF (XPosition/YPosition) and DPX (X/Y offset): not windows in a compositor's
sense. Nuke and viewers show such a file's pixels at (0,0), so aifx fills it there, and writes the offset back
into an output of the same format (nothing the plate said is lost)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest

from aifx_core.job import FillJob
from aifx_core.pipeline import fill
from aifx_core.sequence import read_image, read_info

H, W = 48, 64
HOLE = (slice(12, 24), slice(16, 32))
#: What each format's offset is written as, (x, y, full_x, full_y, full_width, full_height) as OIIO reads it.
ORIGINS = {"png": (10, 5, 0, 0, W, H), "tif": (10, 5, 0, 0, W + 10, H + 5), "dpx": (10, 5, 0, 0, W, H)}


def _png_with_offset(path: Path, pixels: np.ndarray, x: int, y: int) -> None:
    """A PNG with an oFFs chunk in pixels, as GIMP writes a layer's position (OpenCV writes none)."""
    assert cv2.imwrite(str(path), pixels[..., ::-1])
    data = path.read_bytes()
    assert b"oFFs" not in data
    body = struct.pack(">iiB", x, y, 0)
    chunk = struct.pack(">I", 9) + b"oFFs" + body + struct.pack(">I", zlib.crc32(b"oFFs" + body))
    at = data.index(b"IDAT") - 4
    path.write_bytes(data[:at] + chunk + data[at:])


def _plate(path: Path, ext: str, pixels: np.ndarray) -> None:
    x, y, full_x, full_y, full_w, full_h = ORIGINS[ext]
    if ext == "png":
        _png_with_offset(path, pixels, x, y)
        return
    spec = oiio.ImageSpec(W, H, 3, oiio.UINT8)
    spec.x, spec.y, spec.full_x, spec.full_y, spec.full_width, spec.full_height = (x, y, x, y, W, H)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    assert out.write_image(pixels)
    out.close()


def _stored_origin(path: Path) -> tuple[int, ...]:
    source = oiio.ImageInput.open(str(path))
    spec = source.spec()
    source.close()
    return (spec.x, spec.y, spec.full_x, spec.full_y, spec.full_width, spec.full_height)


@pytest.mark.parametrize("ext", ["png", "tif", "dpx"])
def test_a_pixel_offset_is_no_window_and_is_written_back(tmp_path: Path, ext: str) -> None:
    """PNG oFFs (10,5) was read as a data window: every filled frame came out shifted 10 right and 5 down
    with black rows, the matte applied to the shifted picture, while a frame with an empty mask was copied
    unshifted (the shot jumped); a TIFF's XPosition made a 64x48 plate 74x53 and its mask was refused. The
    frame is now the file's pixels at (0,0), and the output keeps the plate's offset."""
    rng = np.random.default_rng(3)
    plates = {}
    for frame in (1, 2, 3):
        plates[frame] = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        _plate(tmp_path / f"plate.{frame:04d}.{ext}", ext, plates[frame])
        matte = np.zeros((H, W, 1), np.uint8)
        if frame != 2:  # (frame 2: nothing to fill, copied through)
            matte[HOLE] = 255
        out = oiio.ImageOutput.create(str(tmp_path / "m.png"))
        assert out.open(str(tmp_path / f"mask.{frame:04d}.png"), oiio.ImageSpec(W, H, 1, oiio.UINT8))
        assert out.write_image(matte)
        out.close()
    assert _stored_origin(tmp_path / f"plate.0001.{ext}") == ORIGINS[ext]
    info = read_info(tmp_path / f"plate.0001.{ext}")
    assert info.data_window == info.display_window == (0, 0, W - 1, H - 1)

    job = FillJob(
        input=str(tmp_path / f"plate.####.{ext}"),
        mask=str(tmp_path / "mask.####.png"),
        output=str(tmp_path / "o" / f"c.####.{ext}"),
        backend="telea",
    )
    result = fill(job)
    assert not [n for n in result.notices if "overscan" in n], result.notices
    outside = np.ones((H, W), bool)
    outside[HOLE[0].start - 8 : HOLE[0].stop + 8, HOLE[1].start - 8 : HOLE[1].stop + 8] = False
    for frame in (1, 2, 3):
        written = tmp_path / "o" / f"c.{frame:04d}.{ext}"
        image = read_image(written)
        assert image.shape == (H, W)
        for i, name in enumerate("RGB"):
            assert np.array_equal(image.channels[name][outside], plates[frame][..., i][outside]), (
                frame,
                name,
            )
        assert _stored_origin(written) == ORIGINS[ext], frame


@pytest.mark.parametrize(
    "ext, stored",
    [
        ("tif", {"x": 10, "y": 5}),
        ("tif", {"x": 10, "y": 5, "full_width": 100, "full_height": 80}),
        ("dpx", {"x": 10, "y": 5}),
        ("dpx", {"x": 10, "y": 5, "full_width": 100, "full_height": 80}),
    ],
)
def test_the_output_reads_back_with_the_plates_offset_and_full_size(tmp_path: Path, ext, stored) -> None:
    """A 64x48 TIFF at (10,5) (full size 64x48 at (10,5), as OpenImageIO reads it) was written back with
    every field as read, which OpenImageIO's TIFF writer stretches: the output said full 74x53 at (0,0)."""
    pixels = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    spec = oiio.ImageSpec(W, H, 3, oiio.UINT8)
    for name, value in stored.items():
        setattr(spec, name, value)
    for frame in (1, 2):
        out = oiio.ImageOutput.create(str(tmp_path / f"plate.{frame:04d}.{ext}"))
        assert out.open(str(tmp_path / f"plate.{frame:04d}.{ext}"), spec)
        assert out.write_image(pixels)
        out.close()
    matte = np.zeros((H, W), np.uint8)
    matte[HOLE] = 255
    assert cv2.imwrite(str(tmp_path / "mask.png"), matte)
    job = FillJob(
        input=str(tmp_path / f"plate.####.{ext}"),
        mask=str(tmp_path / "mask.png"),
        output=str(tmp_path / "o" / f"c.####.{ext}"),
        backend="telea",
    )
    fill(job)
    for frame in (1, 2):
        plate = _stored_origin(tmp_path / f"plate.{frame:04d}.{ext}")
        assert _stored_origin(tmp_path / "o" / f"c.{frame:04d}.{ext}") == plate
