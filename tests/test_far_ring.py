"""Far reach gives way where the plate around the hole changed since (``propagate.far.RING_AGREE``): a value
recovered ``radius`` frames back is read with the ring membrane of that frame, and its quality falls where that
membrane and the target's own disagree (a person now standing beside the hole), not where they agree."""

from __future__ import annotations

import numpy as np

from aifx_core.propagate.candidates import Frontier
from aifx_core.propagate.far import RING_AGREE, RingMembrane, far_candidates, recovered, ring_membrane
from aifx_core.propagate.fusion import Fused

HEIGHT, WIDTH = 40, 60
TOP, BOTTOM, LEFT, RIGHT = 10, 30, 20, 40
GREY = np.float32(0.5)
PERSON = np.array([1.0, 0.0, 0.0], np.float32)


def _plate(person: bool) -> np.ndarray:
    plate = np.full((HEIGHT, WIDTH, 3), GREY, np.float32)
    if person:
        plate[TOP - 2 : BOTTOM + 2, LEFT - 8 : LEFT] = PERSON  # beside the hole's left edge, not in it
    return plate


def _hole() -> tuple[np.ndarray, np.ndarray]:
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[TOP:BOTTOM, LEFT:RIGHT] = True
    ys, xs = np.nonzero(hole)
    return ys, xs


def _agreement(person_now: bool) -> tuple[np.ndarray, np.ndarray]:
    """The far candidates' agreement for every hole pixel of a target whose plate has (or not) a person beside
    its hole, read from a frame that recovered the whole hole as grey with a bare grey plate around it."""
    ys, xs = _hole()
    n = len(ys)
    fused = Fused(
        np.full((n, 3), GREY, np.float32),
        np.ones(n, bool),
        np.ones(n, np.float32),
        np.zeros(n, np.float32),
        np.full(n, np.nan, np.float32),
        np.ones(n, np.int16),
    )
    found = recovered(ys, xs, fused, 0.01, RingMembrane(_plate(person=False), ys, xs))
    assert found is not None and found.ring is not None
    zeros = np.zeros(n, np.float32)
    frontier = Frontier(4, np.arange(n), xs.astype(np.float32), ys.astype(np.float32), zeros, zeros, zeros)
    plate = _plate(person_now)
    far, agreement = far_candidates(
        frontier,
        np.ones(n, bool),
        found,
        np.ones(3, np.float32),
        -1,
        lambda at: ring_membrane(plate, ys, xs, at),
        0.5,
    )
    assert len(far) == len(agreement) > 0
    return xs[far.point], agreement


def test_far_reads_keep_their_quality_where_the_plate_around_the_hole_is_as_it_was() -> None:
    _, agreement = _agreement(person_now=False)
    assert agreement.min() > 0.999


def test_far_reads_give_way_beside_a_person_who_came_to_stand_by_the_hole() -> None:
    assert RING_AGREE > 0
    xs, agreement = _agreement(person_now=True)
    # Next to the person the target's ring says red where the earlier frame's said grey (a difference of the
    # frame's level): the far value (grey, recovered beside a grey plate) keeps about half its quality there,
    # less the nearer the person; across the hole, where the ring barely changed, all of it.
    column = [float(agreement[xs == x].mean()) for x in range(LEFT, RIGHT)]
    assert column[0] < 0.6, column
    assert all(a <= b + 1e-6 for a, b in zip(column, column[1:], strict=False)), column
    assert agreement[xs >= RIGHT - 4].min() > 0.95, column
