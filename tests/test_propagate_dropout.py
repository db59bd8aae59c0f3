"""A matte that drops out for one frame (a forgotten roto key): the object is in that frame's plate, unmasked.

Every other frame's chains reached that frame and read the object there as background: one missing key pasted
a red sign riding on a panning wall back into all twenty frames' fills. The frame is now read nowhere its
neighbours' holes (grown by the way between them) are, and the run names it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from chunk_files import COUNT, FIRST, assert_same, chunk_job, chunk_shot, fill_in_chunks, matte
from propagate_clips import filled, pan
from shot_files import make_shot, shot_job

from aifx_core import fill
from aifx_core.mask import dropout_region

MISSING = 10


def _sign_clip(n: int = 20) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A wall panning 2 px a frame with a red disc riding on it (r 10), its matte (r 13) on every frame but
    :data:`MISSING`: frames, holes, and the wall without the disc."""
    walls = pan(n, (90, 160), 2)
    frames, holes = [], []
    for t, wall in enumerate(walls):
        centre = (92 - 2 * t, 47)
        frame = wall.copy()
        cv2.circle(frame, centre, 10, (0.95, 0.1, 0.1), -1)
        hole = np.zeros((90, 160), np.uint8)
        if t != MISSING:
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
        "warning: the mask is empty on frame 1004 but not on the frames either side: a missing roto key? The "
        "object stays in that frame and is not copied into the others' fill; check the mask, --mask-channel, "
        "--invert-mask and --threshold"
    ]
    # A chunk that writes 1004 but does not read a neighbour cannot tell; one that reads both does.
    part = fill(shot_job(shot, tmp_path / "p" / "c.####.exr"), frames="1004-1005")
    assert not [n for n in part.notices if "roto key" in n]
    leaves = make_shot(tmp_path / "leaves", range(1001, 1008), empty_mask_frames=(1005, 1006, 1007))
    gone = fill(shot_job(leaves, tmp_path / "q" / "c.####.exr"))
    assert not [n for n in gone.notices if "roto key" in n]
