"""EXR data window != display window (#12 items 8 and 11): plates and masks are filled in the display window,
and every output keeps its plate's own data window, with overscan and pixels outside the mask bit-exact."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import numpy as np
import OpenEXR
from cli_runner import aifx as run_aifx
from shot_files import HEIGHT, WIDTH, object_matte, plate_frame, read_exr

# Warnings shown: a refused run must print its one line and nothing else.
aifx = functools.partial(run_aifx, warnings="default")

FRAMES = range(1001, 1005)
DISPLAY = (0, 0, WIDTH - 1, HEIGHT - 1)


def window(x0: int, y0: int, x1: int, y1: int):
    return (np.array([x0, y0], np.int32), np.array([x1, y1], np.int32))


def write_windowed(path: Path, full: dict[str, np.ndarray], data: tuple[int, int, int, int], origin=(0, 0)):
    """Write the part of ``full`` (an array whose [0, 0] is pixel ``origin``) inside ``data``."""
    x0, y0, x1, y1 = data
    ox, oy = origin
    channels = {
        n: np.ascontiguousarray(p[y0 - oy : y1 - oy + 1, x0 - ox : x1 - ox + 1]) for n, p in full.items()
    }
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "dataWindow": window(*data),
        "displayWindow": window(*DISPLAY),
    }
    OpenEXR.File(header, channels).write(str(path))


def matte_exr(i: int) -> dict[str, np.ndarray]:
    return {"A": (object_matte(i) / 255.0).astype(np.float16)}


def fill(shot: Path, out: Path, backend: str = "telea") -> subprocess.CompletedProcess:
    done = aifx(
        "fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.exr"), "-o", str(out), "-b", backend
    )
    assert done.returncode == 0, done.stderr
    return done


def test_bbox_sized_mask_exrs_fill_the_plate(tmp_path):
    """Nuke writes a Roto's mask with the Roto's bbox as data window: it must line up with the plate."""
    shot = tmp_path / "shot"
    shot.mkdir()
    for i, frame in enumerate(FRAMES):
        write_windowed(shot / f"plate.{frame}.exr", plate_frame(i), DISPLAY)
        x0 = 14 + 3 * i
        write_windowed(shot / f"mask.{frame}.exr", matte_exr(i), (x0 - 2, 16, x0 + 12, 30))  # the bbox
    out = tmp_path / "o" / "c.####.exr"
    fill(shot, out)
    for i, frame in enumerate(FRAMES):
        _, source = read_exr(shot / f"plate.{frame}.exr")
        header, result = read_exr(out.parent / f"c.{frame}.exr")
        hole = object_matte(i) > 0
        grown = np.zeros_like(hole)
        ys, xs = np.nonzero(hole)
        grown[ys.min() - 8 : ys.max() + 9, xs.min() - 8 : xs.max() + 9] = True
        assert not np.array_equal(result["R"][hole], source["R"][hole])  # filled where the bbox mask says
        for name in source:
            assert result[name][~grown].tobytes() == source[name][~grown].tobytes(), name


def test_overscan_plate_keeps_its_data_window_and_overscan_pixels(tmp_path):
    """Pixels outside the display window are never filled and survive bit for bit, as does the data window."""
    shot = tmp_path / "shot"
    shot.mkdir()
    over = (-8, -6, WIDTH + 7, HEIGHT + 5)
    for i, frame in enumerate(FRAMES):
        big = plate_frame(i + 100, WIDTH + 16, HEIGHT + 12)
        write_windowed(shot / f"plate.{frame}.exr", big, over, origin=(-8, -6))
        write_windowed(shot / f"mask.{frame}.exr", matte_exr(i), DISPLAY)
    out = tmp_path / "o" / "c.####.exr"
    fill(shot, out)
    for i, frame in enumerate(FRAMES):
        source_header, source = read_exr(shot / f"plate.{frame}.exr")
        header, result = read_exr(out.parent / f"c.{frame}.exr")
        assert [list(v) for v in header["dataWindow"]] == [[-8, -6], [WIDTH + 7, HEIGHT + 5]]
        assert [list(v) for v in header["displayWindow"]] == [[0, 0], [WIDTH - 1, HEIGHT - 1]]
        hole = np.zeros(source["R"].shape, bool)
        hole[6 + 18 - 8 : 6 + 28 + 8, 8 + 14 + 3 * i - 8 : 8 + 24 + 3 * i + 8] = True
        for name in source:
            assert result[name][~hole].tobytes() == source[name][~hole].tobytes(), name
        assert not np.array_equal(result["R"][hole], source["R"][hole])


def test_data_window_changing_over_the_shot_fills_with_the_temporal_engine(tmp_path):
    """OpenEXR's Beachball: "frame 2: size 912x888 differs from the shot's 911x876" stopped the fill."""
    shot = tmp_path / "shot"
    shot.mkdir()
    windows = [DISPLAY, (3, 2, WIDTH - 1, HEIGHT - 4), (0, 1, WIDTH - 6, HEIGHT - 1), DISPLAY]
    for i, frame in enumerate(FRAMES):
        write_windowed(shot / f"plate.{frame}.exr", plate_frame(i), windows[i])
        write_windowed(shot / f"mask.{frame}.exr", matte_exr(i), DISPLAY)
    out = tmp_path / "o" / "c.####.exr"
    fill(shot, out, backend="propagate")
    for i, frame in enumerate(FRAMES):
        header, result = read_exr(out.parent / f"c.{frame}.exr")
        x0, y0, x1, y1 = windows[i]
        assert [list(v) for v in header["dataWindow"]] == [[x0, y0], [x1, y1]]
        assert result["R"].shape == (y1 - y0 + 1, x1 - x0 + 1)
        assert np.isfinite(result["R"][20:26, 20:30].astype(np.float32)).all()


def test_windowless_output_is_the_display_window(tmp_path):
    """A bbox or overscan EXR plate written to PNG/TIFF/DPX: every frame at the display window's size, as Nuke's
    Write gives it (bbox padded with black, overscan cropped and said so), pixels outside the hole exact. Each
    frame was written at its own data window's size, overscan in the picture and the bbox's position lost."""
    from aifx_core.sequence import read_image
    from aifx_core.sequence.image import from_float

    shot = tmp_path / "shot"
    shot.mkdir()
    over = (-8, -6, WIDTH + 7, HEIGHT + 5)
    datas = [(10, 5, WIDTH - 9, HEIGHT - 7), over, DISPLAY]  # a bbox, overscan, the frame
    for i, frame in enumerate(FRAMES[:3]):
        big = plate_frame(i + 100, WIDTH + 16, HEIGHT + 12)
        del big["Z"]
        write_windowed(shot / f"plate.{frame}.exr", big, datas[i], origin=(-8, -6))
        write_windowed(shot / f"mask.{frame}.exr", matte_exr(i), DISPLAY)
    for ext in ("png", "tif", "dpx"):
        out = tmp_path / ext / f"c.####.{ext}"
        done = fill(shot, out)
        assert done.stderr.count("outside its display window (overscan)") == 1, done.stderr
        for i, frame in enumerate(FRAMES[:3]):
            _, source = read_exr(shot / f"plate.{frame}.exr")
            result = read_image(out.parent / f"c.{frame}.{ext}").channels
            assert result["R"].shape == (HEIGHT, WIDTH), (ext, frame)
            hole = np.zeros((HEIGHT, WIDTH), bool)
            hole[18 - 8 : 28 + 8, 14 + 3 * i - 8 : 24 + 3 * i + 8] = True
            x0, y0, x1, y1 = datas[i]
            for name in ("R", "G", "B", "A"):
                expected = np.zeros((HEIGHT, WIDTH), np.float32)  # the bbox padded with black
                inside = source[name][max(0, -y0) :, max(0, -x0) :][
                    : HEIGHT - max(y0, 0), : WIDTH - max(x0, 0)
                ]
                expected[max(y0, 0) : min(y1, HEIGHT - 1) + 1, max(x0, 0) : min(x1, WIDTH - 1) + 1] = inside
                want = from_float(expected, result[name].dtype)
                assert np.array_equal(result[name][~hole], want[~hole]), (ext, frame, name)
                if name == "R":
                    assert not np.array_equal(result[name][hole], want[hole])  # filled
    # --confidence beside a PNG output: its grey PNG sequence is the display window too, 1 outside the hole
    out = tmp_path / "sure" / "c.####.png"
    shot_args = [str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.exr"), "-b", "telea"]
    done = aifx("fill", *shot_args, "-o", str(out), "--confidence")
    assert done.returncode == 0, done.stderr
    for i, frame in enumerate(FRAMES[:3]):
        sure = read_image(out.parent / "confidence" / f"c.{frame}.png.png").channels["Y"]
        assert sure.shape == (HEIGHT, WIDTH)
        hole = np.zeros((HEIGHT, WIDTH), bool)
        hole[18 - 8 : 28 + 8, 14 + 3 * i - 8 : 24 + 3 * i + 8] = True
        assert (sure[~hole] == 65535).all() and (sure[hole] < 65535).any()
