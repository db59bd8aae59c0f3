"""The fallback does not boil: where a frame's fill takes the fallback route (a spatial fill made per frame, or
keyframe content carried unsurely), it is averaged along the flow with what its neighbours made for themselves
(``fallback.steady``, engine ``STEADY``), and the route counters say what a keyframe's pixels are."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from propagate_clips import hard_clip, holed_packets, texture

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate import engine, pair_flow
from aifx_core.propagate.chain import Chain
from aifx_core.propagate.fallback import Along, Filled, Tolerances, steady

SIZE = (40, 80)
SHIFT = 3.0  # the plate moves this many px/frame to the left


def _chain(start, direction, xs, ys, checked=True, fit: float = 0.0):
    flow = np.zeros((*SIZE, 2), np.float32)

    def flows(s: int, d: int) -> np.ndarray:
        out = flow.copy()
        out[..., 0] = -SHIFT * d
        return out

    def fits(s: int, d: int) -> np.ndarray:
        return np.full(SIZE, fit, np.float32)

    tol = 1.0 if checked else float("inf")
    return Chain(start, direction, xs, ys, flows, SIZE, (1.0, 1.0), tol, fit=fits)


def _walk_at(speed: float, fit: float | None = None):
    """A ``chain`` factory (as :func:`steady` takes it) over a plate moving ``speed`` px/frame to the left,
    unchecked, with a fit map of ``fit`` everywhere (None: no map; 10 means an expected misalignment of 5 px
    at FIT_SHARE 0.5)."""
    fits = None if fit is None else np.full(SIZE, fit, np.float32)

    def chain(start, direction, xs, ys, checked=True):
        def flows(s: int, d: int) -> np.ndarray:
            out = np.zeros((*SIZE, 2), np.float32)
            out[..., 0] = -speed * d
            return out

        return Chain(
            start,
            direction,
            xs,
            ys,
            flows,
            SIZE,
            (1.0, 1.0),
            np.inf,
            fit=None if fits is None else lambda s, d: fits,
        )

    return chain


def _boiling_frames(frames=range(-4, 6), noise: float = 0.1):
    """A textured plate translating SHIFT px/frame under a static hole; each frame's fill is the truth plus its
    own noise (what a spatial fill made per frame does: it invents something new every frame)."""
    tex = texture(SIZE[0], SIZE[1] + 64, seed=5)
    rng = np.random.default_rng(0)
    hole = np.zeros(SIZE, bool)
    hole[10:30, 30:50] = True
    ys, xs = np.nonzero(hole)
    truth, fills = {}, {}
    for j in frames:
        start = int(SHIFT * j) + 16
        truth[j] = tex[:, start : start + SIZE[1]].copy()
        fills[j] = truth[j][ys, xs] + rng.normal(0.0, noise, (len(ys), 3)).astype(np.float32)
    return hole, ys, xs, truth, fills


def _steadied(
    t, hole, ys, xs, truth, fills, unsure=None, readable=None, blocked=None, fetched=None, chain=_chain
):
    def neighbour(j: int) -> Filled:
        plate = np.where(hole[..., None], 0.0, truth[j]).astype(np.float32)
        share = np.ones(len(ys), np.float32) if readable is None else readable
        return Filled(plate, hole if blocked is None else blocked, ys, xs, fills[j], share)

    weight = np.ones(len(ys), np.float32) if unsure is None else unsure
    texture = np.zeros(len(ys), np.float32) if fetched is None else fetched
    along = Along(neighbour, lambda j: j in fills, chain, _unit)
    return steady(t, xs, ys, fills[t], weight, texture, along, 2, Tolerances(30.0, 2.0))


def _unit(source: int, target: int) -> np.ndarray:
    return np.ones(3, np.float32)


def test_a_boiling_fill_is_averaged_along_the_motion() -> None:
    hole, ys, xs, truth, fills = _boiling_frames()
    out = {t: _steadied(t, hole, ys, xs, truth, fills) for t in (0, 1)}
    # Closer to the truth (independent noise averages out; where a neighbour's point lies outside its hole
    # the plate itself is read) ...
    for t in (0, 1):
        assert np.mean((out[t] - truth[t][ys, xs]) ** 2) < 0.35 * np.mean((fills[t] - truth[t][ys, xs]) ** 2)
    # ... and steadier along the motion: frame 1 at (x - SHIFT) shows what frame 0 showed at x.
    image = {t: np.zeros((*SIZE, 3), np.float32) for t in (0, 1)}
    raw = {t: np.zeros((*SIZE, 3), np.float32) for t in (0, 1)}
    for t in (0, 1):
        image[t][ys, xs], raw[t][ys, xs] = out[t], fills[t]
    both = hole & np.roll(hole, int(SHIFT), axis=1)
    by, bx = np.nonzero(both)
    moved = bx - int(SHIFT)
    change = np.mean((image[0][by, bx] - image[1][by, moved]) ** 2)
    raw_change = np.mean((raw[0][by, bx] - raw[1][by, moved]) ** 2)
    assert change < 0.35 * raw_change


def test_sure_pixels_unreadable_neighbours_and_the_shot_end_keep_the_frames_own_value() -> None:
    hole, ys, xs, truth, fills = _boiling_frames()
    own = fills[0]
    # Wholly propagated pixels (nothing unsure) are left exactly as they are.
    np.testing.assert_array_equal(_steadied(0, hole, ys, xs, truth, fills, unsure=np.zeros(len(ys))), own)
    # A neighbour's fill is not read where its ring check saw something other frames do not show (readable
    # 0), nor its plate where an unmasked mover covers it.
    everywhere = np.ones(SIZE, bool)
    kept = _steadied(
        0, hole, ys, xs, truth, fills, readable=np.zeros(len(ys), np.float32), blocked=everywhere
    )
    np.testing.assert_array_equal(kept, own)
    # No frame beyond the shot is asked for (frame 0 is the first): only frame 1 and 2 count.
    asked: list[int] = []
    hole, ys, xs, truth, fills = _boiling_frames(frames=range(0, 3))

    def exists(j: int) -> bool:
        asked.append(j)
        return j in fills

    def neighbour(j: int) -> Filled:
        assert j in fills
        return Filled(truth[j], hole, ys, xs, fills[j], np.ones(len(ys), np.float32))

    nothing = np.zeros(len(ys))
    along = Along(neighbour, exists, _chain, _unit)
    out = steady(0, xs, ys, fills[0], np.ones(len(ys)), nothing, along, 2, Tolerances(30.0, 2.0))
    assert -1 in asked and -2 not in asked and not np.array_equal(out, fills[0])


def _packets(clip):
    return holed_packets(clip.frames, clip.holes)


def test_the_engines_fallback_moves_with_the_plate_instead_of_boiling(monkeypatch) -> None:
    """The completed flow is right but scored unsure inside the hole, so propagation gives way and the keyframe
    content it would carry is as unsure: the fill is mostly each frame's own spatial fill, which boils.
    Steadied along the flow, it changes much less from frame to frame along the plate's motion, and is no
    further from the truth."""
    from aifx_core.flow import complete_flows

    def unsure(flows, hole, **options):
        completed = complete_flows(flows, hole, **options)
        fit = np.where(hole, np.float32(40.0), np.float32(0.0)).astype(np.float32)
        return (*completed, fit, fit)

    pan = 3
    clip = hard_clip(n=12, pan=float(pan), blur=False, crosser_speed=0.0, crosser_size=(1, 1))
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", unsure)
    reach = engine.STEADY
    assert reach > 0

    def run(reach: int) -> tuple[float, float, dict]:
        monkeypatch.setattr(engine, "STEADY", reach)
        backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
        out = [rgb for _, rgb in backend.fill(_packets(clip), Reporter())]
        hole = clip.holes[0]
        both = hole & np.roll(hole, pan, axis=1)  # x in frame t shows what x - pan shows in frame t + 1
        by, bx = np.nonzero(both)
        change = np.mean([(out[t][by, bx] - out[t + 1][by, bx - pan]) ** 2 for t in range(len(out) - 1)])
        error = np.mean([(rgb - clip.background[t])[hole] ** 2 for t, rgb in enumerate(out)])
        return float(change), float(error), backend.stats

    boil, plain_error, plain = run(0)
    change, error, stats = run(reach)
    assert plain["spatial"] + plain["blended"] > 0.5 * sum(int(h.sum()) for h in clip.holes)
    assert change < 0.6 * boil
    assert error < plain_error * 1.05
    assert stats == plain  # the routes are what they were: only the fallback's values are steadier


def test_a_keyframes_invented_pixels_count_as_keyframe_not_spatial() -> None:
    """Locked off, nothing under the holes is ever seen: every frame's hole is invented on its block's keyframe
    and carried. The route counters say so on the keyframes too (they said "spatial" there, so per-frame route
    plots jumped at every keyframe)."""
    clip = hard_clip(n=9, pan=0.0, blur=False, crosser_speed=0.0, crosser_size=(1, 1))
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    before = dict(backend.stats)
    per_frame = []
    for _ in backend.fill(_packets(clip), Reporter()):
        per_frame.append({k: backend.stats[k] - before.get(k, 0) for k in backend.stats})
        before = dict(backend.stats)
    hole = int(clip.holes[0].sum())
    for counts in per_frame:
        assert sum(counts.values()) == hole
        assert counts["keyframe"] == hole, counts


def test_a_propagated_value_is_averaged_only_along_a_flow_that_holds_within_a_few_pixels() -> None:
    """A blur misplaced by a few pixels is the same blur; fetched texture out of register is not: with the
    chains' expected misalignment at 5 px (a fit residual of 10), the fallback share is still averaged, a
    low-confidence propagated value nearly not."""
    hole, ys, xs, truth, fills = _boiling_frames()
    n = len(ys)

    def unsure_chain(start, direction, xs, ys, checked=True):
        return _chain(start, direction, xs, ys, checked, fit=10.0)

    own = fills[0]
    blur = _steadied(0, hole, ys, xs, truth, fills, chain=unsure_chain)
    texture = _steadied(
        0, hole, ys, xs, truth, fills, unsure=np.zeros(n), fetched=np.ones(n), chain=unsure_chain
    )
    moved_blur, moved_texture = np.abs(blur - own).mean(), np.abs(texture - own).mean()
    assert moved_blur > 0.03 and moved_texture < 0.35 * moved_blur
    # With the flow exact, a fetched value is averaged as much as a fallback one.
    sure = _steadied(0, hole, ys, xs, truth, fills, unsure=np.zeros(n), fetched=np.ones(n))
    np.testing.assert_allclose(sure, _steadied(0, hole, ys, xs, truth, fills), atol=0.02)


def test_on_a_fast_pan_a_low_confidence_propagated_value_is_averaged_like_a_blur() -> None:
    """On a fast pan (the chains' points move at least chain.SLACK_FAST_PX working px per step, median) the
    fetched texture of low confidence is averaged with the fallback's tolerance (``fast_texture_px``): there
    it flips from frame to frame (the whips' boil), and the completed flow inside the hole is coarse anyway.
    A slow walk with the same expected misalignment keeps the strict texture tolerance, and the frame's own
    value its full weight."""
    hole, ys, xs, truth, fills = _boiling_frames()
    n = len(ys)

    def moved(speed: float, fast_texture_px: float | None, fast_own: float | None = None) -> float:
        def neighbour(j: int) -> Filled:
            plate = np.where(hole[..., None], 0.0, truth[j]).astype(np.float32)
            return Filled(plate, hole, ys, xs, fills[j], np.ones(n, np.float32))

        along = Along(neighbour, lambda j: j in fills, _walk_at(speed, fit=10.0), _unit)
        tolerances = Tolerances(30.0, 2.0, fast_texture_px=fast_texture_px, fast_own_weight=fast_own)
        out = steady(
            0, xs, ys, fills[0], np.zeros(n, np.float32), np.ones(n, np.float32), along, 2, tolerances
        )
        return float(np.abs(out - fills[0]).mean())

    fast, fast_strict, slow = moved(12.0, 30.0), moved(12.0, None), moved(3.0, 30.0)
    assert fast > 2.5 * fast_strict  # averaged on the fast walk ...
    assert slow < 0.35 * fast  # ... not on a slow one with the same expected misalignment
    np.testing.assert_array_equal(slow, moved(3.0, None))
    # The frame's own value weighs less where a fast step followed the point (the boil is its own value) ...
    assert moved(12.0, 30.0, 1.0) > 1.15 * fast
    # ... and as much as ever on a slow walk.
    np.testing.assert_array_equal(moved(3.0, 30.0, 1.0), slow)


def _fast_pan(speed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """A 20x20 hole over a textured plate moving ``speed`` px a frame to the left: (hole, its ys, xs, the plate
    of frames -2..2)."""
    tex = texture(SIZE[0], SIZE[1] + 64, seed=5)
    hole = np.zeros(SIZE, bool)
    hole[10:30, 30:50] = True
    ys, xs = np.nonzero(hole)
    truth = {j: tex[:, int(speed * j) + 32 : int(speed * j) + 32 + SIZE[1]].copy() for j in range(-2, 3)}
    return hole, ys, xs, truth


def _neighbours_off_above(
    speed: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray], Callable[[int], Filled]]:
    """Hole pixels (``ys``, ``xs``) of :func:`_fast_pan` at ``speed``, where the neighbours' fills are 0.6 off
    (``other``: the top 20 rows; elsewhere every fill is the truth and a little noise), the fills, and each
    neighbour as a :class:`Filled`."""
    hole, ys, xs, truth = _fast_pan(speed)
    n = len(ys)
    other = ys < 20
    rng = np.random.default_rng(1)
    fills = {j: truth[j][ys, xs] + rng.normal(0.0, 0.05, (n, 3)).astype(np.float32) for j in truth}
    for j in truth:
        if j != 0:
            fills[j][other] += 0.6

    def neighbour(j: int) -> Filled:
        plate = np.where(hole[..., None], 0.0, truth[j]).astype(np.float32)
        return Filled(plate, hole, ys, xs, fills[j], np.ones(n, np.float32))

    return ys, xs, other, fills, neighbour


def test_on_a_fast_pan_the_frames_own_spatial_fill_is_averaged_where_its_neighbours_agree() -> None:
    """The ring check's share (a frame's own spatial fill where propagation reproduced the ring no better than
    a blur) is left alone on slow walks: there it marks an object crossing the hole, which the background's flow
    would smear. On a fast pan (the whips) it is the boil itself: averaged along the flow (``fast_spatial``,
    engine ``STEADY_FAST_SHARE``), reading the neighbours' whole holes, each neighbour weighed by how well its
    value agrees with the frame's own (``fast_agree``): a fill the neighbours do not show barely moves."""
    speed = 12.0
    hole, ys, xs, truth = _fast_pan(speed)
    n = len(ys)
    rng = np.random.default_rng(1)
    fills = {j: truth[j][ys, xs] + rng.normal(0.0, 0.1, (n, 3)).astype(np.float32) for j in truth}

    wide = np.ones(SIZE, bool)  # (an unmasked mover all round: only the neighbours' holes may be read)

    def neighbour(j: int) -> Filled:
        plate = np.where(hole[..., None], 0.0, truth[j]).astype(np.float32)
        # The whole hole is the ring check's share: unreadable to slow steps, readable to fast ones.
        return Filled(plate, wide, ys, xs, fills[j], np.zeros(n, np.float32), np.ones(n, np.float32))

    def steadied(step: float, spatial: float | None, agree: float = np.inf) -> np.ndarray:
        nothing = np.zeros(n, np.float32)
        along = Along(neighbour, lambda j: j in fills, _walk_at(step), _unit)
        tolerances = Tolerances(30.0, 2.0, fast_texture_px=30.0, fast_own_weight=1.0, fast_agree=agree)
        share = None if spatial is None else np.full(n, spatial, np.float32)
        return steady(0, xs, ys, fills[0], nothing, nothing, along, 2, tolerances, fast_spatial=share)

    own, want = fills[0], truth[0][ys, xs]
    fast = steadied(speed, 0.5)
    # Averaged along the fast pan: closer to the truth, the frames' own noise averages out ...
    moved = np.abs(fast - own).max(axis=1) > 0
    assert moved.mean() > 0.3
    assert np.mean((fast - want)[moved] ** 2) < 0.75 * np.mean((own - want)[moved] ** 2)
    # ... but not without the share's weight, nor on a slow walk (exactly the frame's own value).
    np.testing.assert_array_equal(steadied(speed, None), own)
    np.testing.assert_array_equal(steadied(3.0, 0.5), own)
    # A neighbour far from the frame's own value (here: every one, at a tight agreement) barely counts.
    assert np.abs(steadied(speed, 0.5, agree=0.01) - own).mean() < 0.1 * np.abs(fast - own).mean()
    assert np.allclose(steadied(speed, 0.5, agree=10.0), steadied(speed, 0.5), atol=0.01)


def test_on_a_fast_pan_a_neighbours_fallback_far_from_the_frames_own_barely_counts() -> None:
    """On a fast pan the completed flow inside the hole may be tens of pixels out, so a neighbour's fill read
    along it may be something else (tennis taken fast: the court read into the wall, a wedge 3.8 dB below
    per-frame Telea). A neighbour's sample of the fallback's share then counts by its agreement with the frame's
    own value too (``fast_fallback_agree``, engine ``STEADY_FAST_FALLBACK_AGREE``): the boil is averaged, a
    value far from the frame's own barely is; slow walks are unchanged."""
    speed = 12.0
    ys, xs, other, fills, neighbour = _neighbours_off_above(speed)
    n = len(ys)

    def steadied(step: float, agree: float) -> np.ndarray:
        along = Along(neighbour, lambda j: j in fills, _walk_at(step), _unit)
        tolerances = Tolerances(
            30.0, 2.0, fast_texture_px=30.0, fast_own_weight=1.0, fast_fallback_agree=agree
        )
        nothing = np.zeros(n, np.float32)
        return steady(0, xs, ys, fills[0], np.ones(n, np.float32), nothing, along, 2, tolerances)

    own = fills[0]
    loose, held = steadied(speed, np.inf), steadied(speed, 0.2)
    # Without it the neighbours' fills that land there pull the fill towards their +0.6 by 0.12 (the others read the
    # plate); with it by a small fraction of that.
    pulled = float((loose - own)[other].mean())
    assert pulled > 0.1
    assert float((held - own)[other].mean()) < 0.15 * pulled
    # Where they agree (noise) the fill is still averaged, nearly as much.
    assert np.abs(held - own)[~other].mean() > 0.7 * np.abs(loose - own)[~other].mean()
    # A slow walk is exactly as before.
    np.testing.assert_array_equal(steadied(3.0, 0.2), steadied(3.0, np.inf))


def test_a_low_confidence_propagated_value_is_held_to_the_walks_own_motion() -> None:
    """The completed flow errs in proportion to the motion, so the texture tolerance of a walk that is not fast
    is at least its median motion per step (``texture_per_motion``, engine ``STEADY_TEXTURE_PER_MOTION``): on a
    6 px/frame dolly a low-confidence propagated value 5 px out of register is averaged more than at the strict
    2 px, while a walk under 2 px per step is exactly as before."""
    hole, ys, xs, truth, fills = _boiling_frames()
    n = len(ys)

    def moved(speed: float, per_motion: float | None) -> np.ndarray:
        def neighbour(j: int) -> Filled:
            plate = np.where(hole[..., None], 0.0, truth[j]).astype(np.float32)
            return Filled(plate, hole, ys, xs, fills[j], np.ones(n, np.float32))

        along = Along(neighbour, lambda j: j in fills, _walk_at(speed, fit=10.0), _unit)
        tolerances = Tolerances(
            30.0, 2.0, fast_texture_px=30.0, fast_own_weight=1.0, texture_per_motion=per_motion
        )
        return steady(
            0, xs, ys, fills[0], np.zeros(n, np.float32), np.ones(n, np.float32), along, 2, tolerances
        )

    own = fills[0]
    dolly, strict = moved(6.0, 1.0), moved(6.0, None)
    assert np.abs(dolly - own).mean() > 1.5 * np.abs(strict - own).mean()
    np.testing.assert_array_equal(moved(1.5, 1.0), moved(1.5, None))


def test_a_filled_frame_builds_what_it_is_read_by_on_first_use_and_reads_the_same() -> None:
    """``Filled`` makes its fast crop and its full-frame blocked map only when a read needs them (most steady
    steps read inside the hole's crop, slow ones never the fast crop), and what it reads does not depend on the
    order of the reads."""
    hole, ys, xs, truth, fills = _boiling_frames(frames=(0,))
    plate = np.where(hole[..., None], 0.0, truth[0]).astype(np.float32)
    rng = np.random.default_rng(2)
    readable, fast = rng.random(len(ys)).astype(np.float32), np.ones(len(ys), np.float32)
    inside_x = rng.uniform(30, 48, 200).astype(np.float32)
    inside_y = rng.uniform(10, 28, 200).astype(np.float32)
    outside_x = rng.uniform(0, 20, 50).astype(np.float32)
    outside_y = rng.uniform(0, 38, 50).astype(np.float32)
    lazy = Filled(plate, hole, ys, xs, fills[0], readable, fast)
    slow = lazy.sample(inside_x, inside_y)
    assert lazy._crops[1] is None and lazy._blocked_255 is None
    quick = lazy.sample(inside_x, inside_y, True)
    assert lazy._crops[1] is not None and lazy._blocked_255 is None
    far = lazy.sample(outside_x, outside_y)
    assert lazy._blocked_255 is not None
    other = Filled(plate, hole, ys, xs, fills[0], readable, fast)
    for got, (x, y, is_fast) in zip(
        (far, quick, slow),
        ((outside_x, outside_y, False), (inside_x, inside_y, True), (inside_x, inside_y, False)),
        strict=True,
    ):
        expected = other.sample(x, y, is_fast)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert not np.array_equal(slow[0], quick[0])  # (the two crops differ: the test reads both)


def test_on_a_fast_pan_a_neighbours_propagated_value_near_the_frames_mover_counts_by_its_agreement() -> None:
    """Near a mover of the frame's own (``near_mover``) the neighbours' fills may hold that mover where it stood
    in their holes (tennis rolling: the player's leg in frame 16's hole steadied into frame 14, where he stood
    beside it). There a neighbour's sample of the ``fetched`` share (a low-confidence propagated value) counts by
    its agreement with the frame's own value on a fast step (``mover_agree``, engine ``STEADY_MOVER_AGREE``);
    elsewhere, and on slow walks, it is averaged as before."""
    speed = 12.0
    ys, xs, other, fills, neighbour = _neighbours_off_above(speed)  # (the mover, in the neighbours' fills)
    n = len(ys)

    def steadied(step: float, near: np.ndarray | None) -> np.ndarray:
        along = Along(neighbour, lambda j: j in fills, _walk_at(step), _unit)
        tolerances = Tolerances(30.0, 2.0, fast_texture_px=30.0, fast_own_weight=1.0, mover_agree=0.1)
        nothing = np.zeros(n, np.float32)
        fetched = np.ones(n, np.float32)
        return steady(0, xs, ys, fills[0], nothing, fetched, along, 2, tolerances, near_mover=near)

    own = fills[0]
    everywhere = np.ones(n, bool)
    loose, held = steadied(speed, None), steadied(speed, everywhere)
    pulled = float((loose - own)[other].mean())
    assert pulled > 0.1
    assert float((held - own)[other].mean()) < 0.15 * pulled
    # Where they agree (noise) the fill is still averaged, nearly as much.
    assert np.abs(held - own)[~other].mean() > 0.7 * np.abs(loose - own)[~other].mean()
    # Points with no mover near, and a slow walk, are exactly as before.
    np.testing.assert_array_equal(steadied(speed, np.zeros(n, bool)), loose)
    np.testing.assert_array_equal(steadied(3.0, everywhere), steadied(3.0, None))


def test_a_filled_frame_holds_no_crop_sized_copy_until_a_read_makes_its_crop() -> None:
    """Holes spread over the frame have a crop of most of it, and a stream holds 2·STEADY + 1 frames' ``Filled``:
    before a read, a frame holds only its hole's values beside the plate and mask it shares; the crop a read then
    makes is exactly the plate with the fill in the hole, premultiplied by the readable share."""
    height, width = 60, 90
    hole = np.zeros((height, width), bool)
    hole[4:10, 3:9] = True
    hole[50:57, 80:88] = True  # a second hole far away: the crop is most of the frame
    ys, xs = np.nonzero(hole)
    rng = np.random.default_rng(4)
    plate = np.where(hole[..., None], 0.0, rng.random((height, width, 3))).astype(np.float32)
    values = rng.random((len(ys), 3))  # float64: held, and put in the crop, as the plate's float32
    readable, fast = rng.random(len(ys)).astype(np.float32), np.ones(len(ys), np.float32)
    filled = Filled(plate, hole, ys, xs, values, readable, fast)
    owned = [
        a for a in vars(filled).values() if isinstance(a, np.ndarray) and a is not plate and a is not hole
    ]
    crop = (filled.y1 - filled.y0) * (filled.x1 - filled.x0)
    assert crop > 0.8 * height * width
    assert sum(a.nbytes for a in owned) <= len(ys) * 3 * 4 < crop  # the hole's values only
    for which, share in enumerate((readable, fast)):
        image = plate[filled.y0 : filled.y1, filled.x0 : filled.x1].copy()
        image[ys - filled.y0, xs - filled.x0] = values
        weight = 1.0 - hole[filled.y0 : filled.y1, filled.x0 : filled.x1].astype(np.float32)
        weight[ys - filled.y0, xs - filled.x0] = share
        expected = np.concatenate([image * weight[..., None], weight[..., None]], axis=-1).astype(np.float32)
        assert np.array_equal(filled._crop(which), expected)  # bit for bit
