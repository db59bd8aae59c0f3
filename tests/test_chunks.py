"""Exact chunks: any frames of a shot, filled on their own, are bit-identical to the same frames of a whole run.

Real EXR shots on disk through ``aifx_core.pipeline.fill`` (and ``aifx run`` for the CLI), the temporal engine
with a short radius and keyframe blocks so a 30-frame shot has many blocks, chunk edges inside blocks, and a
hole glued to the panning plate (nothing under it is ever seen: the keyframe route does real work).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from shot_files import HEIGHT, WIDTH, plate_frame, read_exr, write_exr

from aifx_core import FillJob, InputError, fill
from aifx_core.anchors import AnchorStore, cache_folder
from aifx_core.backends import register_spatial
from aifx_core.chunks import plan_chunks
from aifx_core.inpaint import BackendContext
from aifx_core.pipeline import prepare_anchors

FIRST, COUNT = 1001, 30
ENGINE = {"radius": 3, "keyframe_interval": 4}


def _matte(i: int) -> np.ndarray:
    """A square sliding back and forth (propagation finds what it hid) and one glued to the plate's pan."""
    matte = np.zeros((HEIGHT, WIDTH), np.uint8)
    x = 8 + int(abs((i % 16) - 8) * 4)
    matte[8:18, x : x + 10] = 255
    glued = 40 - int(1.5 * i) % 30
    matte[28:38, glued : glued + 8] = 255
    return matte


def _shot(folder: Path, count: int = COUNT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_exr(folder / f"plate.{FIRST + i:04d}.exr", plate_frame(i))
        cv2.imwrite(str(folder / f"mask.{FIRST + i:04d}.png"), _matte(i))
    return folder


def _job(shot: Path, out: Path, backend: str = "propagate", **options) -> FillJob:
    options = {**ENGINE, **options} if backend == "propagate" else options
    return FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(out / "clean.####.exr"),
        backend=backend,
        options=options,
    )


def _pixels(out: Path, frame: int) -> dict[str, bytes]:
    _, channels = read_exr(out / f"clean.{frame:04d}.exr")
    return {name: pixels.tobytes() for name, pixels in channels.items()}


def _assert_same(a: Path, b: Path, frames) -> None:
    for frame in frames:
        assert _pixels(a, frame) == _pixels(b, frame), f"frame {frame} differs from the whole run"


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    return _shot(tmp_path_factory.mktemp("chunks") / "shot")


@pytest.fixture(scope="module")
def whole(shot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    result = fill(_job(shot, out))
    assert len(result.written) == COUNT
    return out


@pytest.mark.parametrize(
    "chunks",
    [
        ["1001-1010", "1011-1020", "1021-1030"],  # aligned to nothing: blocks are 4 frames
        ["1017", "1030", "1001", "1002-1003"],  # one frame, the shot's end, its start
        ["1005-1013,1020-1022", "1024-1029"],  # several runs in one call
    ],
)
def test_chunks_of_the_temporal_engine_are_bit_identical_to_the_whole_run(
    shot, whole, tmp_path, chunks
) -> None:
    out = tmp_path / "chunked"
    written: list[int] = []
    for chunk in chunks:
        written += fill(_job(shot, out), frames=chunk).written
    assert sorted(written) == sorted(set(written))
    _assert_same(whole, out, written)


def test_user_keyframes_are_the_shots_in_every_chunk(shot, tmp_path) -> None:
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(_job(shot, whole, keyframes=[1006, 1019]))
    for chunk in ("1001-1008", "1009-1030"):
        fill(_job(shot, out, keyframes=[1006, 1019]), frames=chunk)
    _assert_same(whole, out, range(FIRST, FIRST + COUNT))


def test_per_frame_backend_chunks_are_bit_identical(shot, tmp_path) -> None:
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(_job(shot, whole, backend="telea"))
    fill(_job(shot, out, backend="telea"), frames="1003-1004,1020")
    fill(_job(shot, out, backend="telea"), frames=[1030])
    _assert_same(whole, out, [1003, 1004, 1020, 1030])
    assert not cache_folder(str(out / "clean.####.exr")).exists()  # per-frame: no anchors


class _Counting:
    """A real spatial backend (OpenCV Telea underneath) that records the frames it is asked to fill."""

    name = "counting-telea"
    calls: list[int | None] = []

    def __init__(self, context: BackendContext) -> None:
        from aifx_core.inpaint.telea import TeleaBackend

        self.telea = TeleaBackend(context)

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        _Counting.calls.append(frame)
        return self.telea.inpaint(rgb, hole, frame=frame)


def test_anchors_are_computed_once_and_read_by_every_chunk(shot, whole, tmp_path) -> None:
    register_spatial("counting-telea", _Counting, options="aifx_core.inpaint.telea:TeleaOptions")
    out = tmp_path / "chunked"
    job = _job(shot, out, spatial_backend="counting-telea")
    _Counting.calls.clear()
    folder = prepare_anchors(job)
    assert folder is not None and Path(folder).is_dir()
    keyframes = [c for c in _Counting.calls]
    assert 0 < len(keyframes) <= -(-COUNT // ENGINE["keyframe_interval"])  # at most one fill per block
    _Counting.calls.clear()
    assert prepare_anchors(job) == folder and _Counting.calls == []  # idempotent: the cache is read
    fill(job, frames="1009-1016")
    # The chunk reads the anchors: no keyframe of the shot is filled again (per-frame fills may happen).
    assert not set(_Counting.calls) & set(keyframes)
    assert set(_Counting.calls) <= set(range(1009, 1017))
    fill(job, frames="1001-1008,1017-1030")
    _assert_same(whole, out, range(FIRST, FIRST + COUNT))  # counting-telea fills exactly as telea


def test_stale_or_damaged_anchors_are_detected_and_rebuilt(shot, whole, tmp_path) -> None:
    out = tmp_path / "chunked"
    job = _job(shot, out)
    folder = Path(prepare_anchors(job) or "")
    files = sorted(folder.glob("block-*.npy"))
    assert files
    # A damaged values file: the checksum in the index no longer matches.
    blob = bytearray(files[0].read_bytes())
    blob[-1] ^= 0xFF
    files[0].write_bytes(bytes(blob))
    store = AnchorStore(str(out / "clean.####.exr"), folder.name.removeprefix("anchors-"), [], 0)
    assert not store.valid()
    fill(job, frames="1001-1012")
    # A truncated index (a run killed while writing it would never leave one: it is written atomically).
    (folder / "index.json").write_text('{"aifx_anchors": 1, "key"', encoding="utf-8")
    fill(job, frames="1013-1030")
    _assert_same(whole, out, range(FIRST, FIRST + COUNT))
    assert json.loads((folder / "index.json").read_text(encoding="utf-8"))["aifx_anchors"] == 1
    # Other settings never read this cache: a new key gets its own folder, the old one is dropped.
    other = _job(shot, tmp_path / "other", radius=2)
    assert Path(prepare_anchors(other) or "").name != folder.name


def test_a_frame_range_outside_the_shot_is_refused(shot, tmp_path) -> None:
    job = _job(shot, tmp_path / "out")
    with pytest.raises(InputError, match="not in the job's shot"):
        fill(job, frames="1025-1035")
    job_file = tmp_path / "job.json"
    job.save(job_file)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(job_file), "--frames", "990-1002"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "990-1000" in done.stderr and "not in the job's shot" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "out").glob("clean.*.exr"))


def test_cli_runs_anchors_then_a_chunk(shot, whole, tmp_path) -> None:
    job_file = tmp_path / "job.json"
    _job(shot, tmp_path / "out").save(job_file)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file)]
    anchors = subprocess.run(
        [*command, "--anchors", "--json-progress"], capture_output=True, text=True, env=env, timeout=300
    )
    assert anchors.returncode == 0, anchors.stderr
    events = [json.loads(line) for line in anchors.stdout.splitlines()]
    assert any(e.get("stage") == "anchors" for e in events) and events[-1]["event"] == "done"
    assert not list((tmp_path / "out").glob("clean.*.exr"))  # anchors only: no frame written
    chunk = subprocess.run(
        [*command, "--frames", "1026-1030", "--json-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert chunk.returncode == 0, chunk.stderr
    done = json.loads(chunk.stdout.splitlines()[-1])
    assert done["written"] == [1026, 1027, 1028, 1029, 1030]
    _assert_same(whole, tmp_path / "out", range(1026, 1031))


def test_plan_chunks_covers_the_shot_exactly(shot, tmp_path) -> None:
    job = _job(shot, tmp_path / "out")
    assert plan_chunks(job, 8) == [(1001, 1008), (1009, 1016), (1017, 1024), (1025, 1030)]
    assert plan_chunks(job, 100) == [(1001, 1030)]
    with pytest.raises(InputError):
        plan_chunks(job, 0)
