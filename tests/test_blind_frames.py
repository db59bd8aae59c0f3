"""A frame whose hole covers (nearly) all of it (a matte over the whole frame while something passes the lens, a
flash frame masked whole to be rebuilt) is filled from the frames around it, moved by their motion: never black,
never a smear of the few pixels it shows (:mod:`aifx_core.propagate.bridge`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from chunk_files import FIRST, assert_same, chunk_job, fill_in_chunks
from shot_files import HEIGHT, WIDTH, plate_frame, write_exr

from aifx_core import fill
from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter

#: Frames masked whole and all but a corner (2 % of the frame) in the clips below.
WHOLE, NEARLY = 6, 7


def _texture(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0) for _ in range(3)]
    tex = np.stack(planes, -1)
    return (0.1 + 0.8 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def _panning(count: int = 14, size: tuple[int, int] = (96, 128), step: int = 2):
    """A textured plate panning ``step`` px a frame, a 16-px square hole on every frame, frame WHOLE masked
    whole and frame NEARLY masked but for a 12x16 corner."""
    height, width = size
    big = _texture(height, width + step * count)
    frames, holes = [], []
    for t in range(count):
        frames.append(np.ascontiguousarray(big[:, step * t : step * t + width]))
        hole = np.zeros(size, bool)
        hole[40:56, 20 + 4 * t : 36 + 4 * t] = True
        if t == WHOLE:
            hole[:] = True
        elif t == NEARLY:
            hole[:] = True
            hole[:12, :16] = False
        holes.append(hole)
    return frames, holes


def _fill(frames, holes, **options) -> list[np.ndarray]:
    backend = create_backend("propagate", BackendContext(options=options))
    packets = [FramePacket(t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True))]
    return [rgb for _, rgb in backend.fill(packets, Reporter())]


def _psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((out[hole] - truth[hole]) ** 2)))


def test_frames_masked_whole_and_nearly_whole_come_back_from_their_neighbours() -> None:
    frames, holes = _panning()
    outputs = _fill(frames, holes)
    for t in (WHOLE, NEARLY):
        hole = holes[t]
        # the background the frames around saw, moved by the pan: close to the truth, not black or a smear
        assert _psnr(outputs[t], frames[t], hole) > 30.0, t
        assert abs(float(outputs[t][hole].mean()) - float(frames[t][hole].mean())) < 0.03
        np.testing.assert_array_equal(outputs[t][~hole], frames[t][~hole])
    for t in (WHOLE - 1, NEARLY + 1):  # and their neighbours keep their fill
        assert _psnr(outputs[t], frames[t], holes[t]) > 30.0, t


def test_the_window_does_not_change_a_bridged_frame() -> None:
    frames, holes = _panning(count=16)
    small = _fill(frames, holes, window=1, radius=3, keyframe_interval=4)
    large = _fill(frames, holes, window=40, radius=3, keyframe_interval=4)
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(a, b)


def test_chunks_around_blind_frames_are_bit_identical_to_the_whole_run(tmp_path: Path) -> None:
    shot = tmp_path / "shot"
    shot.mkdir()
    count = 24
    for i in range(count):
        write_exr(shot / f"plate.{FIRST + i:04d}.exr", plate_frame(i))
        matte = np.zeros((HEIGHT, WIDTH), np.uint8)
        matte[8:18, 8 + 2 * i : 18 + 2 * i] = 255
        if i in (11, 12):  # two blind frames in a row: their three pairs are bridged
            matte[:] = 255
            if i == 12:
                matte[:4, :6] = 0
        cv2.imwrite(str(shot / f"mask.{FIRST + i:04d}.png"), matte)
    whole = tmp_path / "whole"
    fill(chunk_job(shot, whole))
    out = tmp_path / "chunked"
    written = fill_in_chunks(shot, out, ["1001-1006", "1007", "1008-1012", "1013-1016", "1017-1024"])
    assert sorted(written) == list(range(FIRST, FIRST + count))
    assert_same(whole, out, written)


def test_a_bridge_takes_the_motion_on_both_sides_and_stops_at_a_cut() -> None:
    from aifx_core.propagate.bridge import BASE_PX, UNKNOWN_PX, bridge

    shape = (8, 10, 2)

    def moving(dx: float) -> tuple[np.ndarray, np.ndarray]:
        forward = np.zeros(shape, np.float32)
        forward[..., 0] = dx
        return forward, -forward

    pairs = {3: moving(2.0), 7: moving(4.0)}  # pairs 4-6 have a blind frame (None), 7 is after a cut at 6
    (forward, backward), (fit, _) = bridge(5, pairs.get, lambda p: False, shape)
    np.testing.assert_allclose(forward[..., 0], 3.0)  # 1/2 each, both two pairs away
    np.testing.assert_allclose(backward[..., 0], -3.0)
    np.testing.assert_allclose(fit.full(), 0.5 * 2.0 + BASE_PX)  # half their disagreement
    (forward, _), _ = bridge(5, pairs.get, lambda p: p == 6, shape)
    np.testing.assert_allclose(forward[..., 0], 2.0)  # the other shot's motion says nothing
    (forward, _), (fit, _) = bridge(5, {}.get, lambda p: False, shape)
    assert not forward.any() and np.allclose(fit.full(), UNKNOWN_PX)
