"""open_sequence / output_pattern: up-front checks with messages that name frames and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from aifx_core.errors import InputError
from aifx_core.sequence import open_sequence, output_pattern, read_image, write_image
from aifx_core.sequence.image import Image

H, W = 24, 32


def write_frames(folder: Path, frames: list[int], name: str = "plate.{:04d}.exr") -> None:
    """Frames whose R channel holds the frame number, written with OpenEXR directly."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        plane = np.full((H, W), frame, np.float32)
        OpenEXR.File({}, {"R": plane, "G": plane * 0, "B": plane * 0}).write(str(folder / name.format(frame)))


def test_whole_range_on_disk(tmp_path: Path) -> None:
    write_frames(tmp_path, list(range(1001, 1006)))
    seq = open_sequence(str(tmp_path / "plate.####.exr"))
    assert seq.frames == [1001, 1002, 1003, 1004, 1005]
    assert len(seq) == 5
    assert not seq.is_still
    assert seq.path(1003) == tmp_path / "plate.1003.exr"
    assert float(seq.read(1003).channels["R"][0, 0]) == 1003.0


def test_gaps_are_an_error_listing_the_missing_frames(tmp_path: Path) -> None:
    write_frames(tmp_path, [1001, 1002, 1003, 1004, 1008, 1009, 1011])
    pattern = str(tmp_path / "plate.####.exr")
    with pytest.raises(InputError) as caught:
        open_sequence(pattern)
    assert str(caught.value) == (
        f"{pattern}: plate frames 1005-1007,1010 missing; render them or pass --skip-missing"
    )


def test_a_missing_frame_whose_name_differs_only_in_case_is_named(tmp_path: Path) -> None:
    """plate.1003.EXR beside plate.*.exr (another tool's export): "plate frames 1003 missing" while the artist
    could see the file. The message names it and the name to give it."""
    write_frames(tmp_path, [1001, 1002, 1004])
    write_frames(tmp_path, [1003], "plate.{:04d}.EXR")
    with pytest.raises(InputError) as caught:
        open_sequence(str(tmp_path / "plate.####.exr"))
    assert "frames 1003 missing (plate.1003.EXR is there, its name differs only in case" in str(caught.value)
    assert "rename it to plate.1003.exr" in str(caught.value)


def test_a_plate_frame_that_is_a_broken_symlink_says_so(tmp_path: Path) -> None:
    """A frame linked to a file that is gone was "file not found", which the artist, seeing it listed, could
    not square; guard.py's words are used, as for a job or a still."""
    write_frames(tmp_path, [1001, 1002])
    (tmp_path / "plate.1003.exr").symlink_to(tmp_path / "gone" / "plate.1003.exr")
    seq = open_sequence(str(tmp_path / "plate.####.exr"))
    with pytest.raises(InputError, match="plate.1003.exr: is a broken symlink; fix the link"):
        seq.read(1003)


def test_skip_missing_leaves_the_gaps_out(tmp_path: Path) -> None:
    write_frames(tmp_path, [1001, 1002, 1005])
    seq = open_sequence(str(tmp_path / "plate.%04d.exr"), skip_missing=True)
    assert seq.frames == [1001, 1002, 1005]
    with pytest.raises(InputError, match="frame 1003 is not in this sequence"):
        seq.read(1003)


def test_requested_frames(tmp_path: Path) -> None:
    write_frames(tmp_path, list(range(1001, 1011)))
    seq = open_sequence(str(tmp_path / "plate.$F4.exr"), frames="1002-1008x3,1010")
    assert seq.frames == [1002, 1005, 1008, 1010]
    with pytest.raises(InputError, match=r"frames 1011-1012 missing \(on disk: 1001-1010\)"):
        open_sequence(str(tmp_path / "plate.####.exr"), frames="1009-1012")
    assert open_sequence(str(tmp_path / "plate.####.exr"), frames="1009-1012", skip_missing=True).frames == [
        1009,
        1010,
    ]


def test_a_plate_on_twos_says_which_frames_to_ask_for(tmp_path: Path) -> None:
    """``--frames 1001-1008`` on a plate on twos (1001-1007x2) was refused for 1002-1008x2 with "keep --frames
    within 1001-1007", which is refused too: the message gives the shot's frames in the span asked for, as a
    --frames value (a job's field for a job), and that value opens."""
    write_frames(tmp_path, [1001, 1003, 1005, 1007])
    pattern = str(tmp_path / "plate.####.exr")
    cases = {
        ("1001-1008", "--frames"): "plate frames 1002-1008x2 missing (on disk: 1001-1007x2); the plate is on "
        "twos: give --frames 1001-1007x2, render them or pass --skip-missing",
        ("1003-1010", "--frames"): "the plate is on twos: give --frames 1003-1007x2, render",
        (
            None,
            "--frames",
        ): "plate frames 1002-1006x2 missing; the plate is on twos: give --frames 1001-1007x2, ",
        (
            "1001-1007",
            'job field "frames"',
        ): "the plate is on twos: set job field \"frames\" to '1001-1007x2', ",
    }
    for (frames, name), message in cases.items():
        with pytest.raises(InputError) as caught:
            open_sequence(pattern, frames=frames, frames_name=name)
        assert message in str(caught.value) and "keep" not in str(caught.value), str(caught.value)
    assert open_sequence(pattern, frames="1003-1007x2").frames == [1003, 1005, 1007]
    # frames that do not step evenly, or a mask on twos, get no such advice
    write_frames(tmp_path / "odd", [1001, 1003, 1004])
    with pytest.raises(InputError, match=r"missing; render them or pass --skip-missing$"):
        open_sequence(str(tmp_path / "odd" / "plate.####.exr"))
    write_frames(tmp_path, [1001, 1003, 1005], name="mask.{:04d}.exr")
    with pytest.raises(InputError, match=r"missing; render them or pass --skip-missing$"):
        open_sequence(str(tmp_path / "mask.####.exr"), role="mask")


def test_requested_frames_none_on_disk(tmp_path: Path) -> None:
    write_frames(tmp_path, [1001, 1002])
    with pytest.raises(
        InputError, match=r"none of the requested plate frames 1-10 exist \(on disk: 1001-1002\)"
    ):
        open_sequence(str(tmp_path / "plate.####.exr"), frames="1-10", skip_missing=True)


def test_nothing_matches(tmp_path: Path) -> None:
    write_frames(tmp_path, [1001])
    with pytest.raises(
        InputError, match=r"no mask frames match.*###### means 6 digits, e\.g\. matte\.001001\.exr"
    ):
        open_sequence(str(tmp_path / "matte.######.exr"), role="mask")
    with pytest.raises(InputError, match="does not exist"):
        open_sequence(str(tmp_path / "nope" / "plate.####.exr"))
    with pytest.raises(InputError, match="not found"):
        open_sequence(str(tmp_path / "plate.exr"))


def test_unsupported_pattern_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unsupported image type '\.mov'"):
        open_sequence(str(tmp_path / "plate.####.mov"))


def test_folder_sequence(tmp_path: Path) -> None:
    write_frames(tmp_path / "shot", [1, 2, 3, 10], name="f{}.exr")
    with pytest.raises(InputError, match="frames 4-9 missing"):
        open_sequence(str(tmp_path / "shot"))
    seq = open_sequence(str(tmp_path / "shot"), skip_missing=True)
    assert seq.frames == [1, 2, 3, 10]
    assert float(seq.read(10).channels["R"][0, 0]) == 10.0


def test_still_repeats_for_every_frame(tmp_path: Path) -> None:
    write_frames(tmp_path, [7], name="cleanplate.{}.exr")
    still = open_sequence(str(tmp_path / "cleanplate.7.exr"))
    assert still.is_still
    assert still.frames == [7]
    many = open_sequence(str(tmp_path / "cleanplate.7.exr"), frames="1001-1003", role="mask")
    assert many.frames == [1001, 1002, 1003]
    first, last = many.read(1001), many.read(1003)
    assert first is last  # read once
    assert float(first.channels["R"][0, 0]) == 7.0
    assert many.path(5000) == tmp_path / "cleanplate.7.exr"


def test_output_pattern(tmp_path: Path) -> None:
    write_frames(tmp_path / "in", [1, 2, 3])
    seq = open_sequence(str(tmp_path / "in" / "plate.####.exr"))
    out = output_pattern(str(tmp_path / "out" / "clean.%04d.png"), seq)
    assert out.path(2) == tmp_path / "out" / "clean.0002.png"
    with pytest.raises(InputError, match=r"output needs a frame number like clean\.####\.exr"):
        output_pattern(str(tmp_path / "out" / "clean.exr"), seq)
    with pytest.raises(InputError, match="overwrite the input plate"):
        output_pattern(str(tmp_path / "in" / "plate.$F4.exr"), seq)
    with pytest.raises(InputError, match="output is a folder"):
        output_pattern(str(tmp_path / "in"), seq)
    with pytest.raises(InputError, match="end it with one of"):
        output_pattern(str(tmp_path / "out" / "clean.####.mov"), seq)


def test_an_output_through_a_symlink_and_dotdot_onto_the_plate_is_refused(tmp_path: Path) -> None:
    """``shots/link/../plate.####.exr`` with ``link -> ../real/deep`` names ``real/plate.####.exr``: the kernel
    follows the link before ``..``. Collapsing ``..`` as text first (``os.path.abspath``) made it
    ``shots/plate.####.exr``, another file, so an ``--overwrite`` run wrote over the plate."""
    write_frames(tmp_path / "real", [1, 2, 3])
    (tmp_path / "real" / "deep").mkdir()
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "link").symlink_to(Path("..") / "real" / "deep")
    seq = open_sequence(str(tmp_path / "real" / "plate.####.exr"))
    with pytest.raises(InputError, match="overwrite the input plate"):
        output_pattern(str(tmp_path / "shots" / "link" / ".." / "plate.####.exr"), seq)


def test_single_frame_input_may_write_a_still(tmp_path: Path) -> None:
    write_frames(tmp_path, [1001])
    seq = open_sequence(str(tmp_path / "plate.####.exr"))
    out = output_pattern(str(tmp_path / "clean.exr"), seq)
    assert out.is_still
    write_image(out.path(1001), seq.read(1001))
    assert float(read_image(tmp_path / "clean.exr").channels["R"][0, 0]) == 1001.0


def test_tennis_folder_as_a_sequence(tennis: Path) -> None:
    seq = open_sequence(str(tennis / "frames"), frames="10-12")
    assert seq.frames == [10, 11, 12]
    image: Image = seq.read(11)
    assert image.shape == (240, 432)
    assert image.source == tennis / "frames" / "00011.png"


def test_irregular_gaps_are_shortened_in_the_message(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    rendered = [1001] + [1001 + k * k for k in range(1, 30)]  # gaps of growing length
    for frame in rendered:
        (tmp_path / f"plate.{frame:04d}.exr").write_bytes(b"")
    with pytest.raises(InputError) as caught:
        open_sequence(str(tmp_path / "plate.####.exr"))
    message = str(caught.value)
    assert message.count(",") <= 21
    assert "more frames)" in message and message.endswith("render them or pass --skip-missing")


def test_nuke_style_range_after_the_pattern(tmp_path: Path) -> None:
    write_frames(tmp_path, list(range(1001, 1011)))
    seq = open_sequence(f"{tmp_path / 'plate.####.exr'} 1003-1005")
    assert seq.frames == [1003, 1004, 1005]
    assert open_sequence(f"{tmp_path / 'plate.####.exr'} 1003-1005", frames="1004-1005").frames == [
        1004,
        1005,
    ]
    with pytest.raises(
        InputError, match=r"--frames 1001 asks for frames outside the range after the pattern"
    ):
        open_sequence(f"{tmp_path / 'plate.####.exr'} 1003-1005", frames="1001")  # (--frames won, silently)


def test_a_stray_file_numbered_far_from_the_shot_is_named_not_listed_between(tmp_path: Path) -> None:
    """``plate.20231205.exr`` (a reference saved with a date) beside frames 1001-1003: every number between was
    listed as missing, seconds and gigabytes (MemoryError for a Unix time) before any message."""
    from aifx_core import info

    write_frames(tmp_path, [1001, 1002, 1003])
    pattern = str(tmp_path / "plate.####.exr")
    (tmp_path / "plate.1733500000.exr").write_bytes((tmp_path / "plate.1003.exr").read_bytes())
    for opened in (lambda: open_sequence(pattern), lambda: open_sequence(pattern, skip_missing=True)):
        with pytest.raises(
            InputError, match=r"plate\.1733500000\.exr \(frame 1733500000\) is far from the other"
        ):
            opened()
    with pytest.raises(InputError, match="a stray file"):
        info(pattern)
    assert open_sequence(pattern, frames="1001-1003").frames == [1001, 1002, 1003]  # frames given: no listing
