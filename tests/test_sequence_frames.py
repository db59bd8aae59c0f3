"""Frame specs as artists type them, and the compact form used in messages."""

from __future__ import annotations

import random

import pytest

from aifx_core.errors import InputError
from aifx_core.sequence import format_frames, frame_gaps, parse_frame_spec
from aifx_core.sequence.frames import split_trailing_range


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1001", [1001]),
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1010,1020", [*range(1001, 1011), 1020]),
        ("1001-1009x2", [1001, 1003, 1005, 1007, 1009]),
        ("1001-1010x4", [1001, 1005, 1009]),
        (" 1020 , 1001-1002 ", [1001, 1002, 1020]),
        ("1-3,2-4", [1, 2, 3, 4]),
        ("-5--1", [-5, -4, -3, -2, -1]),
        ("-2-2", [-2, -1, 0, 1, 2]),
        ("-7", [-7]),
        ("0", [0]),
    ],
)
def test_parse_frame_spec(spec: str, expected: list[int]) -> None:
    assert parse_frame_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "  ", "abc", "1001-", "1001-1010x0", "1010-1001", "1,,2", "1001..1010", "1-2-3"]
)
def test_bad_frame_specs_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError):
        parse_frame_spec(spec)


def test_backwards_range_message_offers_the_fix() -> None:
    with pytest.raises(InputError, match="1001-1010"):
        parse_frame_spec("1010-1001")


def test_huge_range_is_refused() -> None:
    with pytest.raises(InputError, match="typo"):
        parse_frame_spec("1-100000000")


@pytest.mark.parametrize(
    "spec",
    ["1-99999999999999999999", "1001-10010000000000000000", "1001-1010,1-99999999999999999999x2",
     "-99999999999999999999-0", "1-" + "9" * 5000],
)  # fmt: skip
def test_a_range_past_a_machine_integer_is_refused_as_a_typo_not_an_overflow(spec: str) -> None:
    """A typo'd range end with extra digits (``1001-10010000000000000000``) failed with OverflowError ("Python int
    too large to convert to C ssize_t", an internal error with exit 1) where a shorter one is refused as a typo:
    the range was measured with len(). A number too long for int() (over 4300 digits) failed with ValueError."""
    with pytest.raises(InputError, match="check the range for a typo"):
        parse_frame_spec(spec)


@pytest.mark.parametrize(
    ("frames", "text"),
    [
        ([], ""),
        ([1001], "1001"),
        ([1001, 1002, 1003, 1020], "1001-1003,1020"),
        ([1005, 1006, 1007, 1010], "1005-1007,1010"),
        ([3, 1, 2, 2], "1-3"),
        ([-5, -4, -3, 0], "-5--3,0"),
        ([1, 3, 5], "1-5x2"),
        ([4, 6], "4,6"),
        ([1, 2, 4, 6, 8, 9], "1-2,4-8x2,9"),
        (list(range(1001, 1100, 2)), "1001-1099x2"),
    ],
)
def test_format_frames(frames: list[int], text: str) -> None:
    assert format_frames(frames) == text


def test_format_then_parse_gives_the_same_frames() -> None:
    rng = random.Random(3)
    for _ in range(200):
        frames = sorted({rng.randint(-30, 60) for _ in range(rng.randint(1, 40))})
        assert parse_frame_spec(format_frames(frames)) == frames


def test_format_frames_can_shorten_for_messages() -> None:
    frames = [1, 5, 6, 10, 20, 33, 34, 35]
    assert format_frames(frames, max_parts=3) == "1,5-6,10,... (+4 more frames)"
    assert format_frames(frames, max_parts=10) == format_frames(frames)


def test_frame_gaps() -> None:
    assert frame_gaps([1001, 1002, 1005, 1007]) == [1003, 1004, 1006]
    assert frame_gaps([1, 2, 3]) == []
    assert frame_gaps([]) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("plate.####.exr 1001-1100", ("plate.####.exr", "1001-1100")),
        ("shot dir/plate.%04d.exr 1-5,7", ("shot dir/plate.%04d.exr", "1-5,7")),
        ("plate.####.exr 1001-1100x2", ("plate.####.exr", "1001-1100x2")),
        ("plate.####.exr", ("plate.####.exr", None)),
        ("my shot 12.exr", ("my shot 12.exr", None)),
        ("a.exr 1,", ("a.exr 1,", None)),
    ],
)
def test_split_trailing_range(spec: str, expected: tuple[str, str | None]) -> None:
    assert split_trailing_range(spec) == expected


def test_existing_name_ending_in_a_number_is_not_split(tmp_path) -> None:
    folder = tmp_path / "take 12"
    folder.mkdir()
    assert split_trailing_range(str(folder)) == (str(folder), None)
