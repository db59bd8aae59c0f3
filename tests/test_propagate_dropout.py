"""A matte that drops out for a frame or two (a forgotten roto key): the object is in that frame's plate, unmasked.

Every other frame's chains reached that frame and read the object there as background: one missing key pasted
a red sign riding on a panning wall back into all twenty frames' fills. The frame is now read nowhere its
neighbours' holes (grown by the way between them) are, and the run names it. So are a matte missing on the
shot's first or last frame (grown by the speed of the two nearest holes) and one missing on two frames in a row:
both used to paste the object into the next frames' fill with no word.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from chunk_files import COUNT, FIRST, assert_same, chunk_job, chunk_shot, fill_in_chunks, matte
from propagate_clips import filled, pan, texture
from shot_files import HEIGHT, WIDTH, frame_bytes, make_shot, plate_frame, shot_job, write_exr

from aifx_core import FillJob, fill
from aifx_core.mask import dropout_at, dropout_region, dropout_regions

MISSING = 10


def _sign_clip(
    n: int = 20, missing: tuple[int, ...] = (MISSING,)
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A wall panning 2 px a frame with a red disc riding on it (r 10), its matte (r 13) on every frame but
    ``missing``: frames, holes, and the wall without the disc."""
    walls = pan(n, (90, 160), 2)
    frames, holes = [], []
    for t, wall in enumerate(walls):
        centre = (92 - 2 * t, 47)
        frame = wall.copy()
        cv2.circle(frame, centre, 10, (0.95, 0.1, 0.1), -1)
        hole = np.zeros((90, 160), np.uint8)
        if t not in missing:
            cv2.circle(hole, centre, 13, 1, -1)
        frames.append(frame)
        holes.append(hole.astype(bool))
    return frames, holes, walls


def _red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 0.8) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)


@pytest.mark.parametrize("window", [1, 40])
def test_a_frame_whose_matte_drops_out_is_not_read_where_its_object_is(window: int) -> None:
    frames, holes, _ = _sign_clip()
    out = filled("propagate", frames, holes, window=window)
    for t, (rgb, hole) in enumerate(zip(out, holes, strict=True)):
        assert int(_red(rgb)[hole].sum()) == 0, f"frame {t}: the sign pasted back into the fill"
        assert np.array_equal(rgb[~hole], frames[t][~hole])
    # The frame itself is written as it came (it has no hole): the sign stays there.
    assert np.array_equal(out[MISSING], frames[MISSING])


@pytest.mark.parametrize(
    ("missing", "window"),
    [((0,), 40), ((19,), 40), ((10, 11), 40), ((10, 11), 1), ((0, 1), 40), ((18, 19), 40)],
)
def test_a_matte_missing_at_the_shots_ends_or_on_two_frames_is_not_read_where_its_object_is(
    missing: tuple[int, ...], window: int
) -> None:
    """The roto one frame short at either end of the range, or two keys forgotten in a row: the sign was
    pasted into the other frames' fill (317 red pixels in each hole: all 19 frames with the first frame
    missing, 7-18 with the last)."""
    frames, holes, _ = _sign_clip(missing=missing)
    out = filled("propagate", frames, holes, window=window)
    for t, (rgb, hole) in enumerate(zip(out, holes, strict=True)):
        assert int(_red(rgb)[hole].sum()) == 0, f"frame {t}: the sign pasted back into the fill"
        assert np.array_equal(rgb[~hole], frames[t][~hole])
    for t in missing:  # written as they came (no hole): the sign stays there
        assert np.array_equal(out[t], frames[t])


def _psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((out - truth)[hole] ** 2)))


@pytest.mark.parametrize("missing", [(0,), (10, 11)])
def test_next_to_a_missing_matte_the_fill_is_as_good_as_with_the_whole_roto(missing: tuple[int, ...]) -> None:
    """Hole PSNR against the wall without the sign, in the frames next to the missing mattes: as with every
    matte there (23.4 dB; it was 9.4)."""
    frames, holes, walls = _sign_clip(missing=missing)
    _, whole, _ = _sign_clip(missing=())
    out, full = filled("propagate", frames, holes), filled("propagate", frames, whole)
    near = sorted({t + d for t in missing for d in (-2, -1, 1, 2)} - set(missing))
    for t in (t for t in near if 0 <= t < len(frames)):
        got, best = _psnr(out[t], walls[t], holes[t]), _psnr(full[t], walls[t], holes[t])
        assert got > best - 1.0, f"frame {t}: {got:.1f} dB, {best:.1f} dB with every matte"


def test_the_dropout_region_covers_a_moving_object_and_not_two_objects_apart() -> None:
    before, after = np.zeros((90, 160), bool), np.zeros((90, 160), bool)
    before[40:50, 40:50] = True
    after[40:50, 52:62] = True  # 12 px on: the object is about 6 px on at the frame between
    region = dropout_region(before, np.zeros_like(before), after)
    assert region is not None and region[40:50, 46:56].all() and not region[:30].any()
    assert dropout_region(before, before, after) is None  # the frame has its own hole
    far = np.zeros_like(after)
    far[40:50, 140:150] = True  # one object leaving, another coming
    assert dropout_region(before, np.zeros_like(before), far) is None


def _square(x: int, y: int = 40) -> np.ndarray:
    hole = np.zeros((90, 160), bool)
    hole[y : y + 10, x : x + 10] = True
    return hole


def test_a_run_of_missing_mattes_is_judged_from_the_holes_around_it() -> None:
    """Two frames between two holes: each frame's region grows from the nearer hole by the speed times its
    distance. At a shot's end: on from the nearest hole at the two nearest holes' speed, unless the object may
    have left the frame by then. Three frames, or holes too far apart: not a dropout."""
    empty = np.zeros((90, 160), bool)
    shot = [_square(40), empty, empty, _square(55)]  # 5 px a frame: at 45 and 50 in the missing frames
    found = dropout_at(lambda p: shot[p] if 0 <= p < len(shot) else None, 1, len(shot))
    assert found is not None and found[0] == 1 and len(found[1]) == 2
    assert found[1][0][40:50, 45:55].all() and found[1][1][40:50, 50:60].all()
    assert dropout_regions([_square(40)], 3, [_square(60)]) is None  # three frames: the object is gone
    assert dropout_regions([_square(10)], 2, [_square(130)]) is None  # two objects
    # The shot's first frame: 5 px a frame from the next two, so at 35 (the region reaches 4 px + 5 beyond).
    regions = dropout_regions([], 1, [_square(40), _square(45)])
    assert regions is not None and regions[0][40:50, 35:45].all() and not regions[0][40:50, :30].any()
    assert dropout_regions([], 1, [_square(40)]) is None  # one hole: no speed
    assert dropout_regions([_square(140), _square(148)], 1, []) is None  # it may have left the frame
    assert dropout_regions([_square(40), _square(45)], 1, []) is not None  # the shot's last frame
    # Not known yet (the frame after the run not read): no verdict.
    assert dropout_at(lambda p: shot[p] if p < 3 else None, 1, None) is None


def _dropout_shot(folder: Path) -> Path:
    """The exact-chunk shot with every matte of frame 1013 missing."""
    chunk_shot(folder)
    cv2.imwrite(str(folder / f"mask.{FIRST + 12:04d}.png"), np.zeros_like(matte(12)))
    return folder


def test_chunks_around_a_dropout_are_the_whole_runs(tmp_path) -> None:
    shot = _dropout_shot(tmp_path / "shot")
    whole = fill(chunk_job(shot, tmp_path / "whole"))
    assert len(whole.written) == COUNT
    written = fill_in_chunks(shot, tmp_path / "chunked", ["1001-1012", "1013", "1014-1016", "1017-1030"])
    assert_same(tmp_path / "whole", tmp_path / "chunked", written)


def test_a_dropout_is_named_and_an_object_that_leaves_is_not(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", range(1001, 1008), empty_mask_frames=(1004,))
    result = fill(shot_job(shot, tmp_path / "o" / "c.####.exr"))
    assert [n for n in result.notices if "roto key" in n] == [
        "warning: the mask is empty on frame 1004 but not around it: a missing roto key? The object stays in "
        "that frame and is not copied into the others' fill; check the mask, --mask-channel, --invert-mask and "
        "--threshold"
    ]
    # A chunk that writes 1004 but does not read a neighbour cannot tell; one that reads both does.
    part = fill(shot_job(shot, tmp_path / "p" / "c.####.exr"), frames="1004-1005")
    assert not [n for n in part.notices if "roto key" in n]
    leaves = make_shot(tmp_path / "leaves", range(1001, 1008), empty_mask_frames=(1005, 1006, 1007))
    gone = fill(shot_job(leaves, tmp_path / "q" / "c.####.exr"))
    assert not [n for n in gone.notices if "roto key" in n]


@pytest.mark.parametrize(
    ("empty", "named"),
    [
        ((1001,), "frame 1001"),
        ((1007,), "frame 1007"),
        ((1004, 1005), "frames 1004-1005"),
        ((1001, 1007), None),
    ],
)
def test_a_matte_missing_at_an_end_or_on_two_frames_is_named(
    tmp_path, empty: tuple[int, ...], named: str | None
) -> None:
    """Roto one frame short at either end, or two keys forgotten in a row: named like one missing frame (they
    were not). Missing at both ends of a seven-frame shot: each is judged on its own."""
    shot = make_shot(tmp_path / "shot", range(1001, 1008), empty_mask_frames=empty)
    result = fill(shot_job(shot, tmp_path / "o" / "c.####.exr"))
    notices = [n for n in result.notices if "roto key" in n]
    if named is None:
        named = "frames 1001,1007"
    many = "frames" in named
    assert notices == [
        f"warning: the mask is empty on {named} but not around {'them' if many else 'it'}: a missing roto key? "
        f"The object stays in {'those frames' if many else 'that frame'} and is not copied into the others' "
        "fill; check the mask, --mask-channel, --invert-mask and --threshold"
    ]
    for frame in empty:  # written as they came
        assert frame_bytes(tmp_path / "o" / "c.####.exr", frame) == frame_bytes(
            shot / "plate.####.exr", frame
        )


#: Positions of the drifting-square shot whose matte is missing: its first frame, two in a row, its last.
DRIFT_MISSING = (0, 12, 13, COUNT - 1)


def _drift_shot(folder: Path) -> Path:
    """The exact-chunk shot's plates with one square drifting 1 px a frame, its matte missing at
    :data:`DRIFT_MISSING`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(COUNT):
        write_exr(folder / f"plate.{FIRST + i:04d}.exr", plate_frame(i))
        square = np.zeros((HEIGHT, WIDTH), np.uint8)
        if i not in DRIFT_MISSING:
            square[16:26, 15 + i : 25 + i] = 255
        cv2.imwrite(str(folder / f"mask.{FIRST + i:04d}.png"), square)
    return folder


def test_chunks_around_dropouts_at_the_ends_and_of_two_frames_are_the_whole_runs(tmp_path) -> None:
    """Chunks that start or end inside a two-frame dropout, or next to one at the shot's ends: their frames are
    the whole run's bit for bit (each frame's verdict reads the holes two frames around it, which every chunk
    reads around the frames it reads from), and a chunk names the dropouts among the frames it writes."""
    shot = _drift_shot(tmp_path / "shot")
    whole = fill(chunk_job(shot, tmp_path / "whole"))
    assert len(whole.written) == COUNT
    assert [n for n in whole.notices if "roto key" in n][0].startswith(
        "warning: the mask is empty on frames 1001,1013-1014,1030 but not around them"
    )
    chunks = ["1001", "1002-1013", "1014-1016", "1017-1029", "1030"]
    written = fill_in_chunks(shot, tmp_path / "chunked", chunks)
    assert_same(tmp_path / "whole", tmp_path / "chunked", written)
    assert sorted(written) == list(range(FIRST, FIRST + COUNT))


@pytest.mark.parametrize("missing", [(0, 23), (5, 15)])
def test_a_still_object_whose_matte_drops_out_twice_is_not_taken_into_the_seen_plate(
    tmp_path, missing: tuple[int, ...]
) -> None:
    """A locked-off shot, a red disc standing still, its roto missing on the first and last frames (or on two
    frames far apart): both sightings of the pixels under it showed the disc and agreed, so the shot's seen plate
    held it and every frame's fill was the disc again (441 red pixels a frame). The seen plate now reads those
    frames' dropout regions as hole."""
    wall = texture(90, 160, 3)
    for t in range(24):
        frame = wall.copy()
        cv2.circle(frame, (80, 45), 12, (0.95, 0.1, 0.1), -1)
        matte = np.zeros((90, 160), np.uint8)
        if t not in missing:
            cv2.circle(matte, (80, 45), 15, 255, -1)
        cv2.imwrite(str(tmp_path / f"p.{t:04d}.png"), np.round(frame[..., ::-1] * 255).astype(np.uint8))
        cv2.imwrite(str(tmp_path / f"m.{t:04d}.png"), matte)
    job = FillJob(
        input=str(tmp_path / "p.####.png"),
        mask=str(tmp_path / "m.####.png"),
        output=str(tmp_path / "o.####.png"),
    )
    result = fill(job)
    assert any("roto key" in notice for notice in result.notices)
    for t in range(24):
        out = cv2.imread(str(tmp_path / f"o.{t:04d}.png"))[..., ::-1].astype(np.float32) / 255
        hole = cv2.imread(str(tmp_path / f"m.{t:04d}.png"), cv2.IMREAD_UNCHANGED) > 0
        assert int(_red(out)[hole].sum()) == 0, f"frame {t}: the disc came back from the seen plate"
