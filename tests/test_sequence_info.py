"""``aifx info``: pattern, frames and gaps, windows, channels, compression and colourspace, header only."""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import OpenEXR
import OpenImageIO as oiio
import pytest

from aifx_core.errors import InputError
from aifx_core.sequence import describe, read_info

H, W = 24, 32


def write_exr(path: Path, **extra: object) -> Path:
    header = {
        "compression": OpenEXR.PIZ_COMPRESSION,
        "dataWindow": (np.array([4, 2], np.int32), np.array([4 + W - 1, 2 + H - 1], np.int32)),
        "displayWindow": (np.array([0, 0], np.int32), np.array([39, 29], np.int32)),
        **extra,
    }
    half = np.zeros((H, W), np.float16)
    channels = {"R": half, "G": half, "B": half, "A": half, "Z": np.zeros((H, W), np.float32)}
    OpenEXR.File(header, channels).write(str(path))
    return path


def test_describe_a_sequence_with_gaps(tmp_path: Path) -> None:
    for frame in [1001, 1002, 1003, 1006, 1007, 1009]:
        write_exr(tmp_path / f"plate.{frame:04d}.exr")
    text = describe(str(tmp_path / "plate.####.exr"))
    lines = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith(" "))
    assert str(tmp_path / "plate.####.exr") in lines["input"] and "4-digit padding" in lines["input"]
    assert lines["frames"].strip() == "1001-1009 (6 on disk)"
    assert lines["missing"].strip() == "1004-1005,1008 (3 frames)"
    assert lines["format"].strip() == "EXR"
    assert "display window 40x30 (0,0)-(39,29)" in text
    assert "data window    32x24 (4,2)-(35,25)" in text
    assert lines["channels"].strip() == "R,G,B,A (half), Z (float)"
    assert lines["fills"].strip() == "R,G,B"
    assert "views" not in lines
    assert lines["compression"].strip() == "piz"
    assert lines["colourspace"].strip().startswith("Linear Rec.709 (sRGB)")


def test_describe_reads_only_the_first_frame(tmp_path: Path) -> None:
    write_exr(tmp_path / "plate.0001.exr")
    for frame in (2, 3):
        (tmp_path / f"plate.{frame:04d}.exr").write_bytes(b"not an exr at all")
    assert "1-3 (3 on disk)" in describe(str(tmp_path / "plate.####.exr"))


def test_requested_frames_are_checked(tmp_path: Path) -> None:
    for frame in (1, 2, 3):
        write_exr(tmp_path / f"plate.{frame}.exr")
    text = describe(str(tmp_path / "plate.#.exr"), frames="2-5")
    assert "requested:   2-5 (4-5 not on disk)" in text


def test_colourspace_attribute_wins(tmp_path: Path) -> None:
    path = write_exr(tmp_path / "acescg.exr", colorSpace="ACES - ACEScg")
    assert read_info(path).colorspace == "ACEScg"
    assert "ACEScg  (from the file's colourspace metadata)" in describe(str(path))


def test_describe_8_bit_png_folder(tmp_path: Path) -> None:
    for frame in range(3):
        out = oiio.ImageOutput.create(str(tmp_path / f"{frame:05d}.png"))
        out.open(str(tmp_path / f"{frame:05d}.png"), oiio.ImageSpec(W, H, 3, oiio.UINT8))
        out.write_image(np.zeros((H, W, 3), np.uint8))
        out.close()
    text = describe(str(tmp_path))
    assert "folder of frames" in text
    assert f"pattern:     {tmp_path / '#####.png'}" in text
    assert "frames:      0-2 (3 on disk)" in text
    assert "R,G,B (uint8)" in text
    assert "colourspace: sRGB" in text
    assert "resolution:  32x24 (0,0)-(31,23)" in text


def test_describe_the_shared_clip(tennis: Path) -> None:
    text = describe(str(tennis / "frames"))
    assert "0-69 (70 on disk)" in text
    assert "432x240" in text


def test_describe_nothing_there(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames found"):
        describe(str(tmp_path / "plate.####.exr"))
    with pytest.raises(InputError, match="not found"):
        describe(str(tmp_path / "still.exr"))


def _opened_in(folder: Path, action: Callable[[], object]) -> list[str]:
    """The names of what ``action`` opened in ``folder``, as the kernel saw it (Linux inotify, so files that
    OpenImageIO opens in C++ count too); ``""`` is the folder itself (a listing)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(folder), 0x20) < 0:  # IN_OPEN
        raise OSError(ctypes.get_errno(), f"inotify on {folder}")
    try:
        action()
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(fd, 1 << 16):
                data += chunk
    finally:
        os.close(fd)
    names, at = [], 0
    while at < len(data):
        size = struct.unpack_from("iIII", data, at)[3]
        names.append(data[at + 16 : at + 16 + size].rstrip(b"\0").decode())
        at += 16 + size
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts opens with Linux inotify")
def test_describe_opens_only_the_first_frame_of_a_thousand(tmp_path: Path) -> None:
    """What keeps info instant on a long shot: a folder listing and the first frame's header, whatever the
    frame count (999 of these frames are not even images). Counted, not timed: a timed bound failed on a busy
    machine and missed a read of every frame on a fast one (speed goals live in the benchmarks)."""
    write_exr(tmp_path / "plate.1001.exr")
    for frame in range(1002, 2001):
        (tmp_path / f"plate.{frame}.exr").write_bytes(b"")
    text: list[str] = []
    opened = _opened_in(tmp_path, lambda: text.append(describe(str(tmp_path / "plate.####.exr"))))
    assert sorted(set(opened) - {""}) == ["plate.1001.exr"], sorted(set(opened))[:5]  # ("": the listing)
    assert "1001-2000 (1000 on disk)" in text[0]
    assert "missing:     none" in text[0]


def test_info_json_says_the_same_as_the_report_as_data(tmp_path: Path) -> None:
    """``aifx info --json``: what a pipeline script needs without parsing the report (frames, gaps, windows,
    channels and their types, what a fill changes), from the same reading as the report."""
    import json

    from cli_runner import aifx

    for frame in [1001, 1002, 1003, 1006, 1007, 1009]:
        write_exr(tmp_path / f"plate.{frame:04d}.exr")
    pattern = str(tmp_path / "plate.####.exr")
    done = aifx("info", pattern, "--json", "--frames", "1001-1004")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["kind"] == "sequence" and found["padding"] == 4
    assert (found["first"], found["last"], found["on_disk"]) == (1001, 1009, 6)
    assert found["missing"] == [1004, 1005, 1008]
    assert found["requested"] == [1001, 1002, 1003, 1004] and found["requested_missing"] == [1004]
    assert found["data_window"] == [4, 2, 35, 25] and found["display_window"] == [0, 0, 39, 29]
    assert found["channels"] == {"R": "half", "G": "half", "B": "half", "A": "half", "Z": "float"}
    assert found["fills"] == ["R", "G", "B"] and found["fills_none_because"] is None
    assert found["views"] is None and found["passes"] == [] and found["parts"] == []
    assert found["compression"] == "piz" and found["colorspace"].startswith("Linear Rec.709")
    text = aifx("info", pattern, "--frames", "1001-1004").stdout
    assert (
        f"fills:       {','.join(found['fills'])}\n" in text
        and "requested:   1001-1004 (1004 not on disk)" in text
    )
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"Z": np.zeros((4, 4), np.float32)}).write(
        str(tmp_path / "depth.exr")
    )
    from aifx_core import info  # the same data for a Python caller

    assert info(pattern, frames="1001-1004") == found
    depth = json.loads(aifx("info", str(tmp_path / "depth.exr"), "--json").stdout)
    assert depth["kind"] == "still" and depth["fills"] is None
    assert depth["fills_none_because"].startswith("no R,G,B (or Y) channels, found Z")


def test_frames_asked_for_of_which_none_is_on_disk_are_refused_in_one_line(tmp_path: Path) -> None:
    """``aifx info clean.####.exr --frames 3000-3002`` over an output holding 1001-1002 described frame 1001 and
    said ``missing: none``, exit 0, though nothing asked for exists. It now says so in one line, exit 2, in a
    fill's words for its plate (``none of the requested ... exist (on disk: ...)``), and a pattern with no frame
    at all says ``no frames found``, for the report, ``--json``, a range after the pattern and Python alike;
    frames asked for of which some exist are still reported, their first one's header read."""
    from cli_runner import aifx

    for frame in (1001, 1002):
        write_exr(tmp_path / f"clean.{frame}.exr")
    (tmp_path / ".clean.####.exr.aifx.json").write_text("{}")  # (what a fill leaves beside its output)
    pattern = str(tmp_path / "clean.####.exr")
    said = "none of the requested frames 3000-3002 exist (on disk: 1001-1002); check the frames asked for"
    for args in (
        [pattern, "--frames", "3000-3002"],
        [pattern, "--json", "--frames", "3000-3002"],
        [f"{pattern} 3000-3002"],
    ):
        done = aifx("info", *args)
        assert done.returncode == 2 and done.stdout == "", (args, done.stdout)
        assert done.stderr.splitlines() == [f"aifx: error: {pattern}: {said}"], (args, done.stderr)
    with pytest.raises(InputError, match=r"none of the requested frames 3000-3002 exist"):
        describe(pattern, frames=[3000, 3001, 3002])
    assert "requested:   1002-3000 (1003-3000 not on disk)" in describe(pattern, frames="1002-3000")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".clean.####.exr.aifx.json").write_text("{}")
    done = aifx("info", str(empty / "clean.####.exr"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"aifx: error: {empty / 'clean.####.exr'}: no frames found; check the path, name and padding"
    ]
