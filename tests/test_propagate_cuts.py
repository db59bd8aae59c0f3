"""A sequence holding two shots (a cut inside the plate range: a careless pull, an edit run whole): nothing of
one shot may reach the other's hole, while each shot still propagates within itself."""

from __future__ import annotations

import numpy as np
import pytest
from propagate_clips import pan, texture

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import pair_flow

HEIGHT, WIDTH, CUT, COUNT = 72, 120, 6, 12
#: Shot one is red, shot two green: a fill's colour says which shot it came from.
RED, GREEN = (1.0, 0.15, 0.1), (0.1, 1.0, 0.2)


def _two_shots() -> tuple[list[np.ndarray], np.ndarray]:
    """Frames 0-5 of a red texture panning right 2 px a frame, 6-11 of a green one panning left, and a static
    hole: each shot's own frames see what is behind the hole."""
    red = texture(HEIGHT, WIDTH + 40, 7)[..., :1] * np.asarray(RED, np.float32)  # red share 0.8 everywhere
    green = texture(HEIGHT, WIDTH + 40, 8)[..., :1] * np.asarray(GREEN, np.float32)  # red share 0.08
    frames = [
        red[:, 2 * t : 2 * t + WIDTH] if t < CUT else green[:, 40 - 2 * t : 40 - 2 * t + WIDTH]
        for t in range(COUNT)
    ]
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[26:46, 50:70] = True
    return [np.ascontiguousarray(f) for f in frames], hole


def _fill(frames: list[np.ndarray], hole: np.ndarray) -> list[np.ndarray]:
    packets = (
        FramePacket(frame=t, rgb=np.where(hole[..., None], 0.0, f).astype(np.float32), hole=hole.copy())
        for t, f in enumerate(frames)
    )
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    return [rgb for _, rgb in backend.fill(packets, Reporter())]


def test_nothing_crosses_a_cut_and_each_shot_still_propagates() -> None:
    frames, hole = _two_shots()
    filled = _fill(frames, hole)
    for t, (out, truth) in enumerate(zip(filled, frames, strict=True)):
        inside = out[hole]
        red_share = inside[:, 0] / np.maximum(inside.sum(axis=1), 1e-6)
        # No pixel of the other shot: a red pixel in the green shot's hole, or a green one in the red shot's.
        if t < CUT:
            assert (red_share > 0.6).all(), (t, float(red_share.min()))
        else:
            assert (red_share < 0.25).all(), (t, float(red_share.max()))
        # Each shot's own frames saw what is behind the hole: close to the truth, not a spatial guess.
        assert float(np.abs(inside - truth[hole]).mean()) < 0.03, t


def test_a_cut_is_told_from_the_pair_alone() -> None:
    frames, hole = _two_shots()
    small = np.zeros((HEIGHT, WIDTH), bool)
    sizes = []
    for a, b in ((frames[CUT - 2], frames[CUT - 1]), (frames[CUT - 1], frames[CUT])):
        inputs = [
            pair_flow.FlowInput(f.mean(axis=-1), small, hole, f, hole)
            for f in (a, b)  # thumbnails: the frames
        ]
        forward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
        forward[..., 0] = 2.0  # (the first pair's motion; for the cut any flow is as good)
        sizes.append(pair_flow.is_cut(inputs[0], inputs[1], forward))
    assert sizes == [False, True]
    # A frame nearly all hole says nothing: never a cut.
    most = np.ones((HEIGHT, WIDTH), bool)
    most[:4, :4] = False
    blank = [
        pair_flow.FlowInput(f.mean(axis=-1), small, most, f, most) for f in (frames[CUT - 1], frames[CUT])
    ]
    assert not pair_flow.is_cut(blank[0], blank[1], np.zeros((HEIGHT, WIDTH, 2), np.float32))


def test_the_cut_test_scores_a_pair_as_the_re_estimate_does(monkeypatch) -> None:
    """The re-estimate doubts a flow by the cut test's measure (``REALIGN_BELOW`` sits beside ``CUT_DENSE``), but
    the two were computed apart and had drifted: the cut test took the log after the warp, the re-estimate
    before it (one of tests/test_propagate_dropout.py's pairs: 0.536 and 0.590). One function now scores both:
    with ``CUT_DENSE`` just above the re-estimate's score of a pair the pair is a cut, at that score it is not
    (the smoothed flow's threshold set so that it always agrees)."""
    frames, hole = _two_shots()
    small = np.zeros((HEIGHT, WIDTH), bool)
    a, b = (pair_flow.FlowInput(f.mean(axis=-1), small, hole, f, hole) for f in (frames[0], frames[1]))
    forward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    forward[..., 0] = 1.5  # (half a pixel off the pan: the warp interpolates, where the log's place matters)
    score = pair_flow._Side.of(a).onto(pair_flow._Side.of(b), forward)
    assert score is not None and 0.5 < score < 1.0
    monkeypatch.setattr(pair_flow, "CUT_COARSE", 2.0)
    monkeypatch.setattr(pair_flow, "CUT_DENSE", float(np.nextafter(score, 2.0)))
    assert pair_flow.is_cut(a, b, forward)
    monkeypatch.setattr(pair_flow, "CUT_DENSE", score)
    assert not pair_flow.is_cut(a, b, forward)


def _slug_clip(slug: float) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`_two_shots` with frames 5 and 6 replaced by a flat slug of value ``slug`` (black leader between
    two shots, or mid grey): an edit run whole."""
    frames, hole = _two_shots()
    for t in (CUT - 1, CUT):
        frames[t] = np.full_like(frames[t], slug)
    return frames, hole


@pytest.mark.parametrize("slug", [0.0, 0.5])
def test_a_flat_slug_between_two_shots_still_parts_them(slug: float) -> None:
    """A slug correlates with nothing, and the cut test took a pair it could not judge for no cut: chains walked
    from one shot through the slug into the other (the tester's clip: shot B's green-tinted picture pasted,
    hard-edged, into shot A's holes, mean error 14.8 against 5.2 with a plain cut; the black frames got picture,
    fill means 4-10). A flat frame now parts the pairs on either side: each shot fills from its own frames and
    the slug's hole takes its spatial fill, the slug's value."""
    frames, hole = _slug_clip(slug)
    filled = _fill(frames, hole)
    for t, (out, truth) in enumerate(zip(filled, frames, strict=True)):
        inside = out[hole]
        if t in (CUT - 1, CUT):
            assert float(np.abs(inside - slug).max()) < 1e-3, (t, float(np.abs(inside - slug).max()))
            continue
        red_share = inside[:, 0] / np.maximum(inside.sum(axis=1), 1e-6)
        # (each shot's own colour: red share 0.8 in shot A, 0.077 in shot B; the old code carried shot A's red
        # into shot B's first frame, up to 0.17, and doubled shot A's last frame's error)
        if t < CUT - 1:
            assert (red_share > 0.75).all(), (t, float(red_share.min()))
        else:
            assert (red_share < 0.1).all(), (t, float(red_share.max()))
        assert float(np.abs(inside - truth[hole]).mean()) < 0.02, t


def test_a_cut_to_black_and_a_fade_up_from_black_keep_their_black_frames_black() -> None:
    """A shot cut to black (frames 8-11) and one faded up from it (frame 0 black, then 10 % of the exposure
    more a frame): the black frames were linked to the picture beside them, and the first black frame's hole
    took a dimmed ghost of it (the tester's clip: up to 51/255 on 2023 px, frame 0 of a fade-up up to 7).
    A flat frame takes its spatial fill, exactly black there; the fade's dim frames still hold picture and
    stay linked, so they still come back from the frames that saw behind the hole."""
    _, hole = _two_shots()
    red = [
        np.ascontiguousarray(f[..., :1] * np.asarray(RED, np.float32))
        for f in pan(8, (HEIGHT, WIDTH), 2, seed=7)
    ]
    to_black = red + [np.zeros_like(red[0])] * 4
    out = _fill(to_black, hole)
    for t in range(len(red), len(to_black)):
        assert float(out[t][hole].max()) == 0.0, (t, float(out[t][hole].max()))
    fade_up = [f * np.float32(min(1.0, 0.1 * t)) for t, f in enumerate(red)]
    out = _fill(fade_up, hole)
    assert float(out[0][hole].max()) == 0.0, float(out[0][hole].max())
    for t in range(1, len(fade_up)):
        error = float(np.abs(out[t][hole] - fade_up[t][hole]).mean()) / float(fade_up[t][hole].mean())
        assert error < 0.05, (t, error)


def test_a_flat_frame_is_told_from_a_dim_or_low_contrast_one() -> None:
    """:func:`pair_flow.flat` marks a frame without picture (black, one grey, an 8-bit grey's one code), never a
    fade's dim frame or a low-contrast shot, which the cut test judges (and links) as before."""
    frames, hole = _two_shots()
    small = np.zeros((HEIGHT, WIDTH), bool)

    def side(thumb: np.ndarray) -> pair_flow.FlowInput:
        return pair_flow.FlowInput(thumb.mean(axis=-1), small, hole, thumb.astype(np.float32), hole)

    picture = frames[0]
    for value in (0.0, 0.18, 0.5, 3.0):
        assert pair_flow.flat(side(np.full_like(picture, value)))
    dim = picture * np.float32(0.03)
    faint = 0.5 + 0.05 * (picture - picture.mean())
    for thumb in (picture, dim, faint):
        assert not pair_flow.flat(side(thumb))
    assert not pair_flow.is_cut(side(picture), side(dim), np.zeros((HEIGHT, WIDTH, 2), np.float32))
    assert pair_flow.is_cut(
        side(picture), side(np.zeros_like(picture)), np.zeros((HEIGHT, WIDTH, 2), np.float32)
    )
