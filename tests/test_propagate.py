"""The temporal fill engine (backend ``propagate``) on small synthetic clips with known ground truth."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from aifx_core.backends import create_backend, register_spatial
from aifx_core.errors import Cancelled, InputError
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import CancelToken, Reporter
from aifx_core.propagate import PropagateBackend


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.5) for _ in range(3)]
    tex = np.stack(planes, -1)
    return (0.1 + 0.8 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def _clip(
    n: int,
    *,
    shift: tuple[int, int] = (0, 0),
    size: tuple[int, int] = (72, 96),
    hole_size: int = 16,
    hole_path=None,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a textured plate moving ``shift`` px/frame, and a square hole moving along ``hole_path``."""
    height, width = size
    dx, dy = shift
    big = _texture(height + abs(dy) * n + 2, width + abs(dx) * n + 2, seed)
    frames, holes = [], []
    for t in range(n):
        x0 = dx * t if dx >= 0 else abs(dx) * (n - t)
        y0 = dy * t if dy >= 0 else abs(dy) * (n - t)
        frames.append(np.ascontiguousarray(big[y0 : y0 + height, x0 : x0 + width]))
        cx, cy = hole_path(t) if hole_path else (width // 2, height // 2)
        hole = np.zeros((height, width), bool)
        hole[cy - hole_size // 2 : cy + hole_size // 2, cx - hole_size // 2 : cx + hole_size // 2] = True
        holes.append(hole)
    return frames, holes


def _packets(frames, holes) -> list[FramePacket]:
    return [FramePacket(1001 + t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True))]


def _fill(frames, holes, colorspace: str = "sRGB", reporter: Reporter | None = None, **options):
    backend = create_backend("propagate", BackendContext(colorspace=colorspace, options=options))
    results = list(backend.fill(_packets(frames, holes), reporter or Reporter()))
    return backend, results


def _psnr(outputs, frames, holes) -> float:
    error = np.concatenate([(o[h] - f[h]).ravel() for o, f, h in zip(outputs, frames, holes, strict=True)])
    return float(10 * np.log10(1.0 / np.mean(error**2)))


def _sliding(t: int) -> tuple[int, int]:
    return 20 + 4 * t, 36


def test_registered_as_propagate_backend() -> None:
    backend = create_backend("propagate", BackendContext())
    assert isinstance(backend, PropagateBackend) and backend.name == "propagate"


def test_static_plate_with_moving_hole_is_recovered_almost_exactly() -> None:
    frames, holes = _clip(14, hole_path=_sliding)
    backend, results = _fill(frames, holes)
    assert [frame for frame, _ in results] == list(range(1001, 1015))
    outputs = [rgb for _, rgb in results]
    assert _psnr(outputs, frames, holes) > 45.0
    assert backend.stats["propagated"] > 0.95 * sum(h.sum() for h in holes)


def test_panning_plate_is_filled_far_better_than_per_frame_telea() -> None:
    frames, holes = _clip(14, shift=(2, 1), hole_path=_sliding)
    _, results = _fill(frames, holes)
    ours = _psnr([rgb for _, rgb in results], frames, holes)
    telea = create_backend("telea", BackendContext(colorspace="sRGB"))
    theirs = _psnr([rgb for _, rgb in telea.fill(_packets(frames, holes), Reporter())], frames, holes)
    assert ours > 30.0
    assert ours > theirs + 5.0


def test_outside_the_hole_the_output_is_the_input_exactly() -> None:
    frames, holes = _clip(8, shift=(1, 0), hole_path=_sliding)
    frames = [f.copy() for f in frames]
    frames[3][2, 2] = np.nan
    frames[4][5, 7] = np.inf
    frames[5][0, 0] = -3.5
    _, results = _fill(frames, holes)
    for (_, out), frame, hole in zip(results, frames, holes, strict=True):
        np.testing.assert_array_equal(out[~hole], frame[~hole])
        assert np.isfinite(out[hole]).all()
        assert out.dtype == np.float32 and out.shape == frame.shape


def test_never_copies_from_other_frames_holes() -> None:
    sentinel = np.array([7.0, -5.0, 9.0], np.float32)
    frames, holes = _clip(16, shift=(2, 0), hole_path=lambda t: (24 + 3 * t, 30 + (t % 3)))
    frames = [
        np.where(h[..., None], sentinel, f).astype(np.float32) for f, h in zip(frames, holes, strict=True)
    ]
    _, results = _fill(frames, holes, radius=4, keyframe_interval=4)
    for (_, out), hole in zip(results, holes, strict=True):
        filled = out[hole]
        assert filled.max() < 1.5 and filled.min() > -0.5  # not even a fraction of the sentinel leaked in


def test_window_size_does_not_change_the_result() -> None:
    # One hole glued to the panning plate (nothing under it is ever seen: keyframes) and one sliding across
    # it (propagation), with a radius and keyframe blocks much shorter than the clip.
    frames, glued = _clip(23, shift=(2, 0), hole_path=lambda t: (70 - 2 * t, 24), hole_size=12)
    _, sliding = _clip(23, shift=(2, 0), hole_path=lambda t: (14 + 3 * t, 54), hole_size=12)
    holes = [a | b for a, b in zip(glued, sliding, strict=True)]
    options = dict(radius=3, keyframe_interval=4)
    backend, small = _fill(frames, holes, window=1, **options)
    assert backend.stats["propagated"] > 0 and backend.stats["keyframe"] > 0
    _, large = _fill(frames, holes, window=40, **options)
    for (fa, a), (fb, b) in zip(small, large, strict=True):
        assert fa == fb
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_holds_at_most_window_plus_overlap_packets() -> None:
    frames, holes = _clip(40, shift=(1, 0), hole_path=lambda t: (20 + (t % 20) * 2, 36))
    alive: set[int] = set()
    pulled = [0]

    def counting() -> Iterator[FramePacket]:
        for t, (frame, hole) in enumerate(zip(frames, holes, strict=True)):
            packet = FramePacket(t, frame.copy(), hole.copy())
            alive.add(t)
            weakref.finalize(packet, alive.discard, t)
            pulled[0] += 1
            yield packet

    backend = PropagateBackend(
        BackendContext(colorspace="sRGB", options=dict(window=3, radius=3, keyframe_interval=3))
    )
    bound = backend.options.window + backend.overlap
    seen_max = 0
    count = 0
    for _frame, _rgb in backend.fill(counting(), Reporter()):
        seen_max = max(seen_max, len(alive))
        count += 1
    assert count == 40 and pulled[0] == 40
    assert seen_max <= bound < 40
    assert backend.max_held <= bound


@pytest.mark.parametrize("threads", ["", "1"])
def test_holds_few_full_resolution_plates(threads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: the plates (full-resolution RGB) alive at once stay within what the fill of one
    frame and the next keyframe decision read, ``window + max(2·radius, radius + 2·interval + 2·STEADY)``,
    well below the packets held for their holes and movers (``window + overlap``); the pairs' flows held, within
    that and the reach of a fallback back to the previous block's keyframe (``2·interval - 1``). Plates are
    counted as the arrays the packets brought that are still alive when the next packet is pulled (the
    reading thread holds up to LOOKAHEAD + 1 prepared ones more), and so are the holes."""
    from aifx_core.propagate.engine import STEADY
    from aifx_core.propagate.pairs import LOOKAHEAD

    monkeypatch.setenv("AIFX_THREADS", threads)
    frames, holes = _clip(40, shift=(1, 0), hole_path=lambda t: (20 + (t % 20) * 2, 36))
    alive: set[int] = set()
    peak = [0]
    holes_alive: set[int] = set()
    holes_peak = [0]

    def counting() -> Iterator[FramePacket]:
        for t, (frame, hole) in enumerate(zip(frames, holes, strict=True)):
            rgb, own = frame.copy(), hole.copy()
            alive.add(t)
            holes_alive.add(t)
            weakref.finalize(rgb, alive.discard, t)
            weakref.finalize(own, holes_alive.discard, t)
            peak[0] = max(peak[0], len(alive))
            holes_peak[0] = max(holes_peak[0], len(holes_alive))
            yield FramePacket(t, rgb, own)

    window, radius, interval = 3, 8, 2
    backend = PropagateBackend(
        BackendContext(
            colorspace="sRGB", options=dict(window=window, radius=radius, keyframe_interval=interval)
        )
    )
    bound = window + max(2 * radius, radius + 2 * interval + 2 * STEADY)
    assert len(list(backend.fill(counting(), Reporter()))) == 40
    assert backend.max_plates <= bound < backend.max_held
    assert backend.max_flows <= bound + 2 * interval - 1 < backend.max_held - 1
    assert peak[0] <= bound + LOOKAHEAD + 1 < window + backend.overlap
    # The full-resolution holes are dropped with the plates once both pairs' flows are made (pairs._Frame):
    # at most one more than the plates (the frame whose next pair is not taken yet).
    assert holes_peak[0] <= bound + LOOKAHEAD + 2 < window + backend.overlap


def test_cancel_stops_the_fill() -> None:
    frames, holes = _clip(12, hole_path=_sliding)
    token = CancelToken()
    events = []

    def on_progress(event) -> None:
        events.append(event)
        if len(events) == 3:
            token.cancel()

    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    produced = []
    with pytest.raises(Cancelled):
        for frame, _rgb in backend.fill(_packets(frames, holes), Reporter(on_progress, token)):
            produced.append(frame)
    # The third frame's event came with the cancel: the engine sees the token while it makes that frame
    # (it waits on flows and asks for frames with it, see the test below), so only two are produced.
    assert len(produced) == 2
    assert events[0].stage == "propagate" and events[0].total == 12 and events[0].frame == 1001


def test_a_cancel_while_the_first_keyframe_is_decided_stops_within_a_flow() -> None:
    """Deciding the first block's keyframe gathers the flows of many pairs with no progress event between
    them: a cancel waited for all of them (4 s on tennis). It is now seen while each flow is awaited."""
    import time

    from aifx_core.flow import DISFlow
    from aifx_core.propagate.pairs import LOOKAHEAD

    class SlowFlow:
        """DIS, taking 0.4 s a pair (a learned estimator's pace)."""

        def __init__(self) -> None:
            self.dis = DISFlow("ultrafast")

        def estimate(self, a_gray, b_gray):
            begun.append(token.cancelled)
            time.sleep(0.4)
            return self.dis.estimate(a_gray, b_gray)

    frames, holes = _clip(12, shift=(2, 0))
    token = CancelToken()
    cancelled_at: list[float] = []
    begun: list[bool] = []  # each flow begun: whether the cancel had come by then

    def on_progress(event) -> None:
        if not cancelled_at:  # the first frame's event: its keyframe block is decided next
            cancelled_at.append(time.monotonic())
            token.cancel()

    options = {"flow_estimator": SlowFlow(), "radius": 8, "keyframe_interval": 8}
    backend = create_backend("propagate", BackendContext(colorspace="sRGB", options=options))
    with pytest.raises(Cancelled):
        for _ in backend.fill(_packets(frames, holes), Reporter(on_progress, token)):
            pass
    # Counted, not timed (a busy machine stretches the 0.4 s): the flows begun after the cancel are at most the
    # ones already asked for, as the frames are read (LOOKAHEAD ahead), not the block's other pairs.
    assert begun.count(True) <= LOOKAHEAD + 1, begun
    assert time.monotonic() - cancelled_at[0] < 30  # (a guard against a hang only)


def test_hdr_values_are_propagated_not_clipped() -> None:
    frames, holes = _clip(12, hole_path=_sliding)
    hdr = [(f**2 * 60.0).astype(np.float32) for f in frames]  # scene-linear, up to ~50
    _, results = _fill(hdr, holes, colorspace="ACEScg")
    for (_, out), frame, hole in zip(results, hdr, holes, strict=True):
        assert out[hole].max() > 0.95 * frame[hole].max() > 10.0  # highlights copied, not clipped to 1
        relative = np.abs(out[hole] - frame[hole]) / frame[hole]
        assert relative.mean() < 0.01  # sub-pixel flow noise only (a textured HDR plate amplifies it)


class _CountingFlat:
    """A real (if simple) spatial backend: fills with the mean of the frame's known pixels, counting calls."""

    name = "counting-flat"
    calls: list[int | None] = []

    def __init__(self, context: BackendContext) -> None:
        pass

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        _CountingFlat.calls.append(frame)
        out = rgb.copy()
        out[hole] = rgb[~hole].mean(axis=0) + np.float32(0.01) * np.arange(3, dtype=np.float32)
        gradient = np.linspace(0.0, 0.3, rgb.shape[1], dtype=np.float32)[None, :, None]
        return np.where(hole[..., None], out + gradient, out).astype(np.float32)


def test_unseen_pixels_are_filled_on_a_keyframe_and_move_with_the_plate() -> None:
    register_spatial("counting-flat", _CountingFlat)
    _CountingFlat.calls.clear()
    # The hole moves with the plate: nothing under it is ever visible.
    frames, holes = _clip(10, shift=(-2, 0), hole_path=lambda t: (30 + 2 * t, 36), hole_size=14)
    _, results = _fill(
        frames, holes, spatial_backend="counting-flat", keyframes=[1003], keyframe_interval=20, radius=4
    )
    assert _CountingFlat.calls == [1003]  # one spatial fill, on the user's keyframe, none per frame
    key = results[3][1][holes[3]]
    for t in (1, 5, 8):
        np.testing.assert_allclose(results[t][1][holes[t]], key, atol=0.02)


def test_bad_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="flow_preset"):
        PropagateBackend(BackendContext(options={"flow_preset": "warp9"}))
    with pytest.raises(InputError, match="radius"):
        PropagateBackend(BackendContext(options={"radius": 0}))
    with pytest.raises(InputError, match="keyframes"):
        PropagateBackend(BackendContext(options={"keyframes": ["x"]}))


def test_frames_without_holes_pass_through_and_sizes_must_match() -> None:
    frames, holes = _clip(4)
    holes = [np.zeros_like(h) for h in holes]
    _, results = _fill(frames, holes)
    for (_, out), frame in zip(results, frames, strict=True):
        np.testing.assert_array_equal(out, frame)
    bad = _packets(frames, holes)
    bad[2] = FramePacket(1003, np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), bool))
    backend = create_backend("propagate", BackendContext())
    with pytest.raises(InputError, match="1003"):
        list(backend.fill(bad, Reporter()))


def test_exposure_flicker_is_matched_with_a_chained_gain() -> None:
    frames, holes = _clip(14, shift=(1, 0), hole_path=_sliding)
    flicker = [(f * np.float32(1.0 + 0.2 * np.sin(1.3 * t))).astype(np.float32) for t, f in enumerate(frames)]
    _, matched = _fill(flicker, holes)
    _, unmatched = _fill(flicker, holes, exposure_match=False)
    with_gain = _psnr([rgb for _, rgb in matched], flicker, holes)
    without = _psnr([rgb for _, rgb in unmatched], flicker, holes)
    assert with_gain > 35.0
    assert with_gain > without + 5.0


class _FrameNumberFill:
    """Spatial backend whose fill differs per frame (flat, 0.1 per frame number): switches would show."""

    name = "frame-number"

    def __init__(self, context: BackendContext) -> None:
        pass

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        out = rgb.copy()
        out[hole] = 0.1 * float(frame or 0)
        return out


def test_keyframe_fills_cross_fade_without_jumps() -> None:
    register_spatial("frame-number", _FrameNumberFill)
    frames, holes = _clip(13)  # static plate, static hole: nothing under it is ever seen
    frames = [frames[0]] * 13
    _, results = _fill(frames, holes, spatial_backend="frame-number", keyframe_interval=4)
    levels = [float(rgb[holes[0]].mean()) for _, rgb in results]
    steps = np.diff(levels)
    assert levels[-1] - levels[0] > 0.8  # keyframes 1001, 1005, 1009 got clearly different values
    assert np.abs(steps).max() < 0.13  # …yet frame to frame the fill moves by one 4th of a keyframe step


class _StillFlow:
    """A real FlowEstimator for a locked-off camera: no motion anywhere. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.zeros((*a_gray.shape, 2), np.float32)


def test_a_custom_flow_estimator_can_be_plugged_in() -> None:
    frames, holes = _clip(8, hole_path=_sliding)
    estimator = _StillFlow()
    _, results = _fill(frames, holes, flow_estimator=estimator)
    assert estimator.calls == 2 * 7  # forward and backward for each neighbouring pair, once
    assert _psnr([rgb for _, rgb in results], frames, holes) > 45.0


def test_tennis_background_hole_beats_per_frame_telea(tennis) -> None:
    paths = sorted((tennis / "frames").glob("*.png"))[20:34]
    frames = [cv2.imread(str(p))[..., ::-1].astype(np.float32) / 255.0 for p in paths]
    holes = []
    for t in range(len(frames)):
        hole = np.zeros(frames[0].shape[:2], bool)
        cv2.ellipse(hole.view(np.uint8), (330 + 5 * t, 118), (28, 18), 3 * t, 0, 360, 1, -1)  # on the wall
        holes.append(hole)
    _, results = _fill(frames, holes)
    ours = _psnr([rgb for _, rgb in results], frames, holes)
    telea = create_backend("telea", BackendContext(colorspace="sRGB"))
    theirs = _psnr([rgb for _, rgb in telea.fill(_packets(frames, holes), Reporter())], frames, holes)
    assert ours > theirs + 5.0


def test_a_finished_fill_leaves_no_hole_kept_for_the_next_pairs() -> None:
    """:mod:`aifx_core.flow.holes` keeps the holes of the last pairs for the next ones. A long-lived process
    (``aifx serve``, a Ray worker) must not hold the last shot's after its fill ends."""
    from aifx_core.flow import holes

    holes.forget()
    size = (48, 64)
    rng = np.random.default_rng(3)
    plate = cv2.GaussianBlur(rng.random((*size, 3)).astype(np.float32), (0, 0), 2)
    frames = [np.roll(plate, 2 * t, axis=1) for t in range(6)]
    hole = np.zeros(size, bool)
    hole[16:30, 20:34] = True
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    stream = backend.fill(_packets(frames, [hole] * 6), Reporter())
    next(stream)
    assert holes._DISTANCES._items, "the pairs' completion keeps the hole while the fill runs"
    list(stream)
    assert not holes._DISTANCES._items and not holes._GEOMETRIES._items


def test_a_keyframe_interval_far_past_the_shot_is_one_block_and_quick() -> None:
    """Each block looked at every position of its interval: 10**8 on six frames took 13 s, 1e30 never ended.
    The members stop at the shot's end (in a child process, so the old code's hang cannot stall the suite)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_propagate import _clip, _fill\n"
        "frames, holes = _clip(6, shift=(2, 0))\n"
        "_, huge = _fill(frames, holes, keyframe_interval=10**30)\n"
        "_, whole = _fill(frames, holes, keyframe_interval=6)\n"
        "assert [f for f, _ in huge] == [f for f, _ in whole]\n"
        "assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(huge, whole))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
