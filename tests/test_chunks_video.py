"""Exact farm chunks for masked video diffusion (issue #15): the tiny random Wan VACE pipeline through the user
path. Windows chain through their segment (each conditioned on the previous window's output), so chunks are
whole segments (``segment``); ``plan_chunks`` snaps to them, and any chunk is bit-identical to the whole run."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")

from tiny_models import cached_build  # noqa: E402

from aifx_core import FillJob, InputError, fill  # noqa: E402
from aifx_core.chunks import plan_chunks  # noqa: E402
from aifx_core.sequence import read_image  # noqa: E402

pytestmark = pytest.mark.diffusers

COUNT = 12


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video-shot")
    rng = np.random.default_rng(0)
    base = (rng.random((40, 70, 3)) * 255).astype(np.uint8)
    for t in range(COUNT):
        mask = np.zeros((40, 56), np.uint8)
        mask[14:26, 16 + t : 30 + t] = 255
        cv2.imwrite(str(folder / f"plate.{1001 + t}.png"), np.ascontiguousarray(base[:, t : t + 56]))
        cv2.imwrite(str(folder / f"mask.{1001 + t}.png"), mask)
    return folder


def _job(shot, out, model, **options) -> FillJob:
    return FillJob(
        input=str(shot / "plate.####.png"),
        mask=str(shot / "mask.####.png"),
        output=str(out / "fx.####.png"),
        backend="video-diffusion",
        options={
            "model": str(model),
            "prompt": "a fireball",
            "steps": 2,
            "size": 32,
            "max_sequence_length": 8,
            "window": 5,
            "overlap": 2,
            **options,
        },
    )


def _same(a, b, frames) -> None:
    for frame in frames:
        left, right = read_image(a / f"fx.{frame}.png"), read_image(b / f"fx.{frame}.png")
        for name in left.channels:
            assert np.array_equal(left.channels[name], right.channels[name]), f"frame {frame} differs"


def test_video_chunks_are_whole_segments_and_bit_identical(shot, tmp_path, tmp_path_factory) -> None:
    model = cached_build("wan-vace", tmp_path_factory.getbasetemp())
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(_job(shot, whole, model, segment=6))
    job = _job(shot, out, model, segment=6)
    chunks = plan_chunks(job, 8)  # snapped down to whole segments of 6
    assert chunks == [(1001, 1006), (1007, 1012)]
    for first, last in reversed(chunks):  # any order: segments do not depend on each other
        assert fill(job, frames=f"{first}-{last}").written == list(range(first, last + 1))
    _same(whole, out, range(1001, 1001 + COUNT))
    # A chunk off the segment grid reads its whole segment and is exact all the same.
    again = tmp_path / "again"
    fill(_job(shot, again, model, segment=6), frames="1008-1009")
    _same(whole, again, [1008, 1009])


def test_without_segments_the_shot_is_one_chain(shot, tmp_path, tmp_path_factory) -> None:
    model = cached_build("wan-vace", tmp_path_factory.getbasetemp())
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(_job(shot, whole, model))
    job = _job(shot, out, model)
    assert plan_chunks(job, 4) == [(1001, 1012)]  # one chain: one chunk
    fill(job, frames="1010-1012")  # reads (and generates) the whole chain: exact, not cheaper
    _same(whole, out, [1010, 1011, 1012])
    with pytest.raises(InputError, match="segment"):
        fill(_job(shot, out, model, segment=-1))
