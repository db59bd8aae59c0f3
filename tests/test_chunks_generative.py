"""Exact chunks for the generative backends under the temporal engine: the tiny random diffusers inpainting
pipeline and a tiny LaMa TorchScript model, loaded through the user path. The keyframes' invention is made
once, in the anchors stage; chunks read it and are bit-identical to the whole run."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from chunk_files import assert_same, chunk_job, chunk_shot  # noqa: E402
from tiny_models import cached_build  # noqa: E402

from aifx_core import fill  # noqa: E402
from aifx_core.pipeline import prepare_anchors  # noqa: E402

pytestmark = pytest.mark.diffusers

COUNT = 12
LAST = 1000 + COUNT


def _recording(monkeypatch, cls) -> list[int | None]:
    calls: list[int | None] = []
    inpaint = cls.inpaint

    def recording(self, rgb, hole, *, frame=None, **kwargs):
        calls.append(frame)
        return inpaint(self, rgb, hole, frame=frame, **kwargs)

    monkeypatch.setattr(cls, "inpaint", recording)
    return calls


def _check(tmp_path, backend: str, options: dict, calls: list[int | None]) -> None:
    shot = chunk_shot(tmp_path / "shot", COUNT)
    whole = tmp_path / "whole"
    assert fill(chunk_job(shot, whole, backend=backend, **options)).written == list(range(1001, LAST + 1))
    assert calls, "the generative backend was never asked (nothing invented: the test would prove nothing)"
    out = tmp_path / "chunked"
    job = chunk_job(shot, out, backend=backend, **options)
    calls.clear()
    prepare_anchors(job)
    invented = set(calls)
    assert invented and len(calls) <= 3  # one keyframe per block of 4 frames
    calls.clear()
    fill(job, frames="1005-1007")
    fill(job, frames=f"1001-1004,1008-{LAST}")
    assert not set(calls) & invented  # the keyframes' invention is read, never made again
    assert_same(whole, out, range(1001, LAST + 1))


def test_diffusers_chunks_are_bit_identical_and_invent_once(tmp_path, tmp_path_factory, monkeypatch) -> None:
    from aifx_core.inpaint.diffusion import DiffusersBackend

    model = cached_build("inpaint", tmp_path_factory.getbasetemp())
    calls = _recording(monkeypatch, DiffusersBackend)
    _check(tmp_path, "diffusers", {"model": str(model), "steps": 2}, calls)


def test_lama_chunks_are_bit_identical_and_invent_once(tmp_path, tmp_path_factory, monkeypatch) -> None:
    from aifx_core.inpaint.lama import LamaBackend

    model = cached_build("lama", tmp_path_factory.getbasetemp())
    calls = _recording(monkeypatch, LamaBackend)
    _check(tmp_path, "lama", {"model": str(model)}, calls)
