"""One flash frame in a shot (an 8-bit plate lit x2.5 for one frame, so it clips): the frames either side are one
shot, and the flash must cost them nothing.

The flash frame's pairs were linked with the gain measured over it (the ratios agreed), so chains fetched its
clipped values, rescaled, into every frame of the shot (the fill tester's tennis pan: frames 8-18 99 dB without
the flash, 27.8-39.7 dB with it); where its step was not one gain it split the shot in two like a cut instead.
Now a clipped frame's step is not one gain (``pair_flow.CLIPPED_SHARE``), and a frame cut off from both its
neighbours while they are of one shot is stepped over (``Pairs.over``): walks go from one neighbour to the other
by their own flow, and the frame is no source for them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from chunk_files import FIRST, assert_same, chunk_job, fill_in_chunks
from propagate_clips import filled, pan
from shot_files import HEIGHT, WIDTH, plate_frame, write_exr

from aifx_core import fill
from aifx_core.propagate import pair_flow

FLASH, COUNT = 8, 16


def _flashed(gain: float, clip: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """A 16-frame texture pan, 3 px a frame, with frame FLASH ``gain`` times as bright (clipped at 1 when
    ``clip``: an 8-bit or display-referred plate), and a static 30x30 hole."""
    frames = pan(COUNT, (90, 160), 3)
    frames[FLASH] = frames[FLASH] * np.float32(gain)
    if clip:
        frames[FLASH] = np.minimum(frames[FLASH], np.float32(1.0))
    hole = np.zeros((90, 160), bool)
    hole[30:60, 65:95] = True
    return frames, hole


def _errors(out: list[np.ndarray], frames: list[np.ndarray], hole: np.ndarray) -> list[float]:
    """Per frame, the RMS error in the hole."""
    return [float(np.sqrt(np.mean((o[hole] - f[hole]) ** 2))) for o, f in zip(out, frames, strict=True)]


@pytest.mark.parametrize("gain", [2.5, 3.5, 0.0])
def test_a_lone_flash_or_black_frame_costs_the_rest_of_its_shot_nothing(gain: float) -> None:
    # Without the flash every frame comes back exactly (RMS 0.0000); with it the old code gave 0.027-0.038 on
    # every other frame (2.5: linked with the clipped frame's gain) or split the shot (3.5: the step not one
    # gain); a black frame (0.0: flat, cut off from both neighbours) 0.047-0.062, and 0.17 of ghost in its own
    # hole, which now takes its spatial fill.
    frames, hole = _flashed(gain, clip=True)
    out = filled("propagate", frames, [hole] * COUNT)
    errors = _errors(out, frames, hole)
    others = [e for t, e in enumerate(errors) if t != FLASH]
    assert max(others) < 0.002, [round(e, 4) for e in errors]
    if gain == 0.0:
        assert float(out[FLASH][hole].max()) == 0.0


def test_a_flash_is_one_gain_unless_it_clips() -> None:
    """A scene-linear flash (x3, nothing clipped) is one gain over the frame, its pair trusted and linked as before;
    the same flash clipped at 1 is not (the ratios of the clipped pixels agree with the median all the same)."""
    frames, hole = _flashed(3.0, clip=False)
    small = np.zeros(hole.shape, bool)
    still = np.zeros((*hole.shape, 2), np.float32)
    still[..., 0] = -3.0  # (the pan's motion: the plate moves left 3 px a frame)

    def side(frame: np.ndarray) -> pair_flow.FlowInput:
        return pair_flow.FlowInput(frame.mean(axis=-1), small, hole, frame, hole)

    before = side(frames[FLASH - 1])
    gain, trusted = pair_flow._exposure_gain(before, side(frames[FLASH]), still)
    assert trusted and np.allclose(gain, 1 / 3, rtol=0.02), gain
    clipped = np.minimum(frames[FLASH], np.float32(1.0))
    assert float(np.mean(clipped == 1.0)) > 0.3  # (most of the frame at the peak)
    assert not pair_flow._exposure_gain(before, side(clipped), still)[1]


def test_the_window_does_not_change_a_stepped_over_frame() -> None:
    frames, hole = _flashed(2.5, clip=True)
    options = {"radius": 3, "keyframe_interval": 4}
    small = filled("propagate", frames, [hole] * COUNT, window=1, **options)
    large = filled("propagate", frames, [hole] * COUNT, window=40, **options)
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(a, b)


def test_chunks_around_a_flash_frame_are_bit_identical_to_the_whole_run(tmp_path: Path) -> None:
    shot = tmp_path / "shot"
    shot.mkdir()
    count = 24
    for i in range(count):
        plate = plate_frame(i)
        if i == 12:  # lit x4 and clipped at 1 (its light too): stepped over
            for channel in "RGB":
                plate[channel] = np.minimum(plate[channel].astype(np.float32) * 4, 1).astype(np.float16)
        write_exr(shot / f"plate.{FIRST + i:04d}.exr", plate)
        matte = np.zeros((HEIGHT, WIDTH), np.uint8)
        matte[8:18, 8 + 2 * i : 18 + 2 * i] = 255
        cv2.imwrite(str(shot / f"mask.{FIRST + i:04d}.png"), matte)
    whole = tmp_path / "whole"
    fill(chunk_job(shot, whole))
    out = tmp_path / "chunked"
    written = fill_in_chunks(shot, out, ["1001-1010", "1011-1012", "1013", "1014-1016", "1017-1024"])
    assert sorted(written) == list(range(FIRST, FIRST + count))
    assert_same(whole, out, written)
