"""Frame pattern syntaxes, discovery of frames on disk, folders of frames and stills."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifx_core.errors import InputError
from aifx_core.sequence import parse_pattern
from aifx_core.sequence.pattern import natural_key


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


@pytest.mark.parametrize(
    ("name", "padding", "frame_1001", "frame_7"),
    [
        ("plate.####.exr", 4, "plate.1001.exr", "plate.0007.exr"),
        ("plate.%04d.exr", 4, "plate.1001.exr", "plate.0007.exr"),
        ("plate.%d.exr", 1, "plate.1001.exr", "plate.7.exr"),
        ("plate.$F4.exr", 4, "plate.1001.exr", "plate.0007.exr"),
        ("plate.$F.exr", 1, "plate.1001.exr", "plate.7.exr"),
        ("plate.${F3}.exr", 3, "plate.1001.exr", "plate.007.exr"),
        ("plate.@@@@.exr", 4, "plate.1001.exr", "plate.0007.exr"),
        ("plate_#####.png", 5, "plate_01001.png", "plate_00007.png"),
        ("v002_%06d.tif", 6, "v002_001001.tif", "v002_000007.tif"),
    ],
)
def test_pattern_syntaxes(tmp_path: Path, name: str, padding: int, frame_1001: str, frame_7: str) -> None:
    pattern = parse_pattern(str(tmp_path / name))
    assert pattern.kind == "pattern"
    assert not pattern.is_still
    assert pattern.padding == padding
    assert pattern.path(1001) == tmp_path / frame_1001
    assert pattern.path(7) == tmp_path / frame_7
    assert str(pattern) == str(tmp_path / name)


@pytest.mark.parametrize(
    ("name", "fix"), [("plate.$F4_v2.exr", "${F4}_v2 or ####_v2"), ("p.$F2v3.png", "${F2}v3 or ##v3")]
)
def test_dollar_f_with_digits_stuck_to_a_name_is_refused_not_read_as_dollar_f(
    tmp_path: Path, name: str, fix: str
) -> None:
    """``plate.$F4_v2.exr`` was read as ``$F`` then the text ``4_v2``: one-digit frames, outputs named
    ``clean.10014_v2.png``, exit 0. Houdini reads it as the variable ``F4_v2``; we refuse it, saying how to
    write the token."""
    touch(tmp_path, "plate.1001_v2.exr", "p.1001v3.png")
    with pytest.raises(InputError, match=f"write {fix.replace('$', '[$]')}") as caught:
        parse_pattern(str(tmp_path / name))
    assert "\n" not in str(caught.value)
    braced = parse_pattern(str(tmp_path / "plate.${F4}_v2.exr"))
    assert (braced.padding, braced.suffix, braced.discover()) == (4, "_v2.exr", [1001])
    assert parse_pattern(str(tmp_path / "plate.$F4.v2.exr")).suffix == ".v2.exr"  # (a dot ends the token)


def test_negative_frames_use_printf_padding(tmp_path: Path) -> None:
    pattern = parse_pattern(str(tmp_path / "plate.####.exr"))
    assert pattern.path(-5).name == "plate.-005.exr"
    touch(tmp_path, "plate.-005.exr", "plate.0000.exr", "plate.0003.exr")
    assert pattern.discover() == [-5, 0, 3]


@pytest.mark.parametrize(
    "names", [("plate.-001.exr", "plate.0000.exr", "plate.0001.exr"), ("plate.-002.exr", "plate.-001.exr")]
)
def test_a_folder_starting_on_a_negative_frame_reads_as_its_pattern(tmp_path: Path, names) -> None:
    """The folder was described by its first file's name with the frame's sign in it: plate.-###.exr."""
    touch(tmp_path, *names)
    pattern = parse_pattern(str(tmp_path))
    frames = pattern.discover()
    assert pattern.hash_form() == str(tmp_path / "plate.####.exr")
    assert [pattern.path(f).name for f in frames] == list(names)


def test_hash_form_rewrites_any_syntax(tmp_path: Path) -> None:
    assert parse_pattern(str(tmp_path / "a.$F4.exr")).hash_form() == str(tmp_path / "a.####.exr")
    assert parse_pattern(str(tmp_path / "a.%03d.exr")).hash_form() == str(tmp_path / "a.###.exr")


def test_discover_matches_only_this_sequence(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "plate.1001.exr",
        "plate.1002.exr",
        "plate.1004.exr",
        "plate.1003.exr.tmp",
        "plate_v2.1001.exr",
        "plate.1005.png",
        "xplate.1006.exr",
        "plate.abcd.exr",
    )
    assert parse_pattern(str(tmp_path / "plate.####.exr")).discover() == [1001, 1002, 1004]


def test_discover_accepts_unpadded_and_longer_numbers(tmp_path: Path) -> None:
    """Frames past the padding (10000 for ####) and unpadded renders are found, as Nuke/Houdini find them."""
    touch(tmp_path, "a.9999.exr", "a.10000.exr")
    pattern = parse_pattern(str(tmp_path / "a.####.exr"))
    assert pattern.discover() == [9999, 10000]
    assert pattern.path(10000).name == "a.10000.exr"

    touch(tmp_path / "unpadded", "b.1.exr", "b.2.exr", "b.10.exr")
    padded = parse_pattern(str(tmp_path / "unpadded" / "b.####.exr"))
    assert padded.discover() == [1, 2, 10]
    assert padded.path(2).name == "b.2.exr"  # the file that exists, not b.0002.exr

    touch(tmp_path / "over", "c.0001.exr", "c.0002.exr")
    loose = parse_pattern(str(tmp_path / "over" / "c.#.exr"))
    assert loose.discover() == [1, 2]
    assert loose.path(1).name == "c.0001.exr"


def test_correctly_padded_file_wins_over_an_odd_one(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.1.exr", "a.0002.exr")
    pattern = parse_pattern(str(tmp_path / "a.####.exr"))
    assert pattern.discover() == [1, 2]
    assert pattern.path(1).name == "a.0001.exr"


def test_two_renders_with_different_paddings_are_not_mixed(tmp_path: Path) -> None:
    """An old render a.0001-0003.exr and a re-render a.1-4.exr in one folder: the padded file won where there
    was one, so a.####.exr was frames 1-3 of the old render and 4 of the new, without a word. It is refused,
    naming a pair; an output of another padding beside the plates, each frame with its padded twin, is not."""
    touch(tmp_path, "a.0001.exr", "a.0002.exr", "a.0003.exr", "a.1.exr", "a.2.exr", "a.3.exr", "a.4.exr")
    with pytest.raises(InputError) as caught:
        parse_pattern(str(tmp_path / "a.####.exr")).discover()
    message = str(caught.value)
    assert "a.0001.exr and a.1.exr are both frame 1" in message and "a.4.exr has no 0004 twin" in message
    assert "different number paddings" in message and "\n" not in message

    touch(tmp_path / "beside", "p.1001.exr", "p.1002.exr", "p.01001.exr")
    assert parse_pattern(str(tmp_path / "beside" / "p.####.exr")).discover() == [1001, 1002]
    with pytest.raises(InputError, match="p.1002.exr has no 01002 twin"):
        parse_pattern(str(tmp_path / "beside" / "p.#####.exr")).discover()


def test_two_odd_files_for_one_frame_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "a.01.exr", "a.001.exr")
    with pytest.raises(InputError, match="more than once"):
        parse_pattern(str(tmp_path / "a.####.exr")).discover()


def test_missing_folder_discovers_nothing(tmp_path: Path) -> None:
    assert parse_pattern(str(tmp_path / "nope" / "a.####.exr")).discover() == []


def test_more_than_one_token_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="more than one frame token"):
        parse_pattern(str(tmp_path / "shot_####.####.exr"))


def test_token_in_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file name"):
        parse_pattern(str(tmp_path / "v####" / "plate.exr"))


@pytest.mark.parametrize("above", ["jane@studio.com", "shot#12", "v%d", "$F"])
def test_a_token_like_folder_above_a_missing_folder_is_just_a_folder(tmp_path: Path, above: str) -> None:
    """/home/jane@studio.com/comp/clean.####.png with comp/ not made yet: the token is in the file name, and the
    folder's '@' or '#' is part of its name (it was refused: "the frame token must be in the file name")."""
    pattern = parse_pattern(str(tmp_path / above / "comp" / "clean.####.png"))
    assert (pattern.kind, pattern.folder, pattern.prefix) == ("pattern", tmp_path / above / "comp", "clean.")
    assert pattern.path(7) == tmp_path / above / "comp" / "clean.0007.png"
    assert pattern.discover() == []


def test_still(tmp_path: Path) -> None:
    touch(tmp_path, "clean_plate.1001.exr")
    pattern = parse_pattern(str(tmp_path / "clean_plate.1001.exr"))
    assert pattern.is_still
    assert pattern.path(1) == pattern.path(2000) == tmp_path / "clean_plate.1001.exr"
    assert pattern.extension == ".exr"
    assert pattern.discover() == [1001]
    assert str(pattern) == str(tmp_path / "clean_plate.1001.exr")


def test_natural_key_orders_numbers_as_numbers() -> None:
    names = ["f10.png", "f2.png", "f1.png", "F3.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "F3.png", "f10.png"]


def test_folder_of_frames(tmp_path: Path) -> None:
    # Unpadded names: plain sorting would give 1, 10, 11, 12, 2...; frame numbers are the last digit run.
    touch(tmp_path, *[f"shot2_take3_{i}.png" for i in range(1, 13)], "notes.txt", ".DS_Store", "Thumbs.db")
    pattern = parse_pattern(str(tmp_path))
    assert pattern.kind == "folder"
    assert pattern.discover() == list(range(1, 13))
    assert pattern.path(2).name == "shot2_take3_2.png"
    assert pattern.path(10).name == "shot2_take3_10.png"
    assert pattern.hash_form() == str(tmp_path / "shot2_take3_#.png")


def test_folder_like_the_shared_clip(tmp_path: Path) -> None:
    touch(tmp_path, "00000.png", "00001.png", "00002.png")
    pattern = parse_pattern(str(tmp_path))
    assert pattern.discover() == [0, 1, 2]
    assert pattern.hash_form() == str(tmp_path / "#####.png")


def test_folder_with_mixed_types_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.0002.png")
    with pytest.raises(InputError, match="several types"):
        parse_pattern(str(tmp_path)).discover()


def test_folder_with_two_files_for_one_frame_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "b.1.exr")
    with pytest.raises(InputError, match="both frame 1"):
        parse_pattern(str(tmp_path)).discover()


def test_folder_with_an_unnumbered_image_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "slate.exr")
    with pytest.raises(InputError, match="slate.exr has no frame number"):
        parse_pattern(str(tmp_path)).discover()


def test_the_shared_clip_folder(tennis: Path) -> None:
    pattern = parse_pattern(str(tennis / "frames"))
    frames = pattern.discover()
    assert frames == list(range(70))
    assert pattern.path(69).name == "00069.png"


def test_existing_file_with_token_characters_is_a_still(tmp_path: Path) -> None:
    touch(tmp_path, "shot#1.exr")
    pattern = parse_pattern(str(tmp_path / "shot#1.exr"))
    assert pattern.is_still
    assert pattern.path(5) == tmp_path / "shot#1.exr"


def test_a_stray_image_in_a_folder_of_frames_is_named_not_read_as_a_frame(tmp_path: Path) -> None:
    """A reference grab ``reference_v2.png`` among ``plate.1001-1006.png``: the folder was described by its first
    file (``reference_v#.png``) and the grab was frame 2 of the shot, 998 frames before the plate."""
    touch(tmp_path, *[f"plate.{f}.png" for f in range(1001, 1007)], "reference_v2.png")
    with pytest.raises(InputError) as refused:
        parse_pattern(str(tmp_path)).discover()
    line = str(refused.value)
    assert "reference_v2.png" in line and str(tmp_path / "plate.####.png") in line, line
    assert "--skip-missing" not in line


def test_a_folder_whose_names_differ_only_in_the_case_of_the_extension_is_one_sequence(
    tmp_path: Path,
) -> None:
    touch(tmp_path, "plate.1001.png", "plate.1002.PNG", "plate.1003.png")
    pattern = parse_pattern(str(tmp_path))
    assert pattern.discover() == [1001, 1002, 1003]
    assert pattern.hash_form() == str(tmp_path / "plate.####.png")
