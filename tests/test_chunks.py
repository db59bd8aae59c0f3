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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from chunk_files import COUNT, ENGINE, FIRST, assert_same, chunk_job, chunk_shot, fill_in_chunks

from aifx_core import Cancelled, CancelToken, InputError, fill
from aifx_core.anchors import AnchorStore, cache_folder
from aifx_core.backends import pixel_options, register_spatial
from aifx_core.chunks import plan_chunks
from aifx_core.inpaint import BackendContext
from aifx_core.manifest import run_key
from aifx_core.pipeline import prepare_anchors


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    return chunk_shot(tmp_path_factory.mktemp("chunks") / "shot")


@pytest.fixture(scope="module")
def whole(shot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    result = fill(chunk_job(shot, out))
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
    written = fill_in_chunks(shot, out, chunks)
    assert sorted(written) == sorted(set(written))
    assert_same(whole, out, written)


@pytest.mark.parametrize("frames", [[1001, 1014], [1001, 1020], [1001, 1024], [1003, 1018, 1030]])
def test_outputs_far_apart_in_one_call_are_the_whole_runs(shot, whole, tmp_path, frames) -> None:
    """Two frames to redo after a resume (or ``--frames 1001,1020``) whose contexts overlap were made in one
    pass that forgot, after the first, a frame the second still asked for: KeyError or ContextError, exit 1."""
    out = tmp_path / "apart"
    assert fill(chunk_job(shot, out), frames=frames).written == frames
    assert_same(whole, out, frames)


def test_user_keyframes_are_the_shots_in_every_chunk(shot, tmp_path) -> None:
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(chunk_job(shot, whole, keyframes=[1006, 1019]))
    for chunk in ("1001-1008", "1009-1030"):
        fill(chunk_job(shot, out, keyframes=[1006, 1019]), frames=chunk)
    assert_same(whole, out, range(FIRST, FIRST + COUNT))


def test_per_frame_backend_chunks_are_bit_identical(shot, tmp_path) -> None:
    whole, out = tmp_path / "whole", tmp_path / "chunked"
    fill(chunk_job(shot, whole, backend="telea"))
    fill(chunk_job(shot, out, backend="telea"), frames="1003-1004,1020")
    fill(chunk_job(shot, out, backend="telea"), frames=[1030])
    assert_same(whole, out, [1003, 1004, 1020, 1030])
    assert not cache_folder(str(out / "clean.####.exr")).exists()  # per-frame: no anchors


class _Counting:
    """A real spatial backend (OpenCV Telea underneath) that records the frames it is asked to fill. Its
    ``name`` is Telea's: the engine treats a backend by its name (``fallback_route.AHEAD``, ``SMOOTHED``,
    ``CUT``), and this one must fill exactly as Telea does."""

    name = "telea"
    calls: list[int | None] = []

    def __init__(self, context: BackendContext) -> None:
        from aifx_core.inpaint.telea import TeleaBackend

        self.telea = TeleaBackend(context)

    @property
    def context_px(self) -> int:
        """Telea's reach beyond its hole: the engine hands it the same crop (the membrane a Telea fill is shared
        with, ``fallback_route.SLOW_SMOOTH``, is made of that crop)."""
        return int(self.telea.context_px)

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        _Counting.calls.append(frame)
        return self.telea.inpaint(rgb, hole, frame=frame)


def test_anchors_are_computed_once_and_read_by_every_chunk(shot, whole, tmp_path) -> None:
    register_spatial("counting-telea", _Counting, options="aifx_core.inpaint.telea:TeleaOptions")
    out = tmp_path / "chunked"
    job = chunk_job(shot, out, spatial_backend="counting-telea")
    _Counting.calls.clear()
    folder = prepare_anchors(job)
    assert folder is not None and Path(folder).is_dir()
    keyframes = [c for c in _Counting.calls]
    assert 0 < len(keyframes) <= -(-COUNT // ENGINE["keyframe_interval"])  # at most one fill per block
    _Counting.calls.clear()
    assert prepare_anchors(job) == folder and _Counting.calls == []  # idempotent: the cache is read
    fill(job, frames="1009-1016")
    # The chunk reads the anchors: no keyframe of the shot is filled again (per-frame fills may happen, on its
    # frames and on the STEADY frames either side, whose own fills its frames are averaged with).
    from aifx_core.propagate.engine import STEADY

    assert not set(_Counting.calls) & set(keyframes)
    assert set(_Counting.calls) <= set(range(1009 - STEADY, 1017 + STEADY))
    fill(job, frames="1001-1008,1017-1030")
    assert_same(whole, out, range(FIRST, FIRST + COUNT))  # counting-telea fills exactly as telea


def test_a_temporal_output_made_under_the_old_key_keeps_its_anchors(shot, whole, tmp_path) -> None:
    """Frames and anchors made before the resume key named the files carry the key of the paths as written
    (here ``%04d``): resuming removed that anchors folder as another key's and decided every keyframe block
    again, while the frames already written came from the old decisions (not the same invention in every
    chunk for a generative fill)."""
    out = tmp_path / "before"
    job = chunk_job(shot, out)
    job = replace(job, input=job.input.replace("####", "%04d"))
    fill(job, frames="1001-1010")
    # As the code before 2026-12-06 left them: the run key over the paths as written, on frames and anchors.
    shot_frames = list(range(FIRST, FIRST + COUNT))
    old = run_key(job, shot_frames, True, job.resume_key(pixel_options(job.backend, job.options)))
    manifest = out / ".clean.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    data["frames"] = {frame: old for frame in data["frames"]}
    data["ranges"] = {old: next(iter(data["ranges"].values()))}
    manifest.write_text(json.dumps(data))
    (folder,) = cache_folder(str(out / "clean.####.exr")).glob("anchors-*")
    index = json.loads((folder / "index.json").read_text())
    assert index["key"] != old  # (the spelling is keyed anew: the case to test)
    (folder / "index.json").write_text(json.dumps({**index, "key": old}))
    blocks = {p.name: p.stat().st_ino for p in folder.glob("block-*.npy")}
    folder.rename(folder.with_name(f"anchors-{old}"))
    assert fill(job).skipped == list(range(1001, 1011))
    assert (
        blocks and {p.name: p.stat().st_ino for p in folder.glob("block-*.npy")} == blocks
    )  # not made again
    assert [p.name for p in folder.parent.glob("anchors-*")] == [folder.name]
    assert_same(whole, out, shot_frames)


def test_a_temporal_output_an_older_aifx_named_for_its_typed_padding_keeps_its_anchors(
    shot, whole, tmp_path
) -> None:
    """An aifx of 2026-12-06 kept ``clean.$F.exr``'s manifest and cache (over 1001+) as ``.clean.#.exr...``,
    its frames and anchors under the key of ``clean.#.exr``: named for ``clean.####.exr`` now, that cache is
    taken over (renamed), not decided again, and the frames resume."""
    out = tmp_path / "before"
    job = chunk_job(shot, out)
    job = replace(job, output=str(out / "clean.$F.exr"))
    fill(job, frames="1001-1010")
    shot_frames = list(range(FIRST, FIRST + COUNT))
    typed = replace(job, output=str(out / "clean.#.exr"))
    old = run_key(job, shot_frames, True, typed.resume_key(pixel_options(job.backend, job.options)))
    data = json.loads((out / ".clean.####.exr.aifx.json").read_text())
    data["frames"] = {frame: old for frame in data["frames"]}
    data["ranges"] = {old: next(iter(data["ranges"].values()))}
    (out / ".clean.#.exr.aifx.json").write_text(json.dumps(data))
    (out / ".clean.####.exr.aifx.json").unlink()
    (folder,) = cache_folder(str(out / "clean.####.exr")).glob("anchors-*")
    index = json.loads((folder / "index.json").read_text())
    (folder / "index.json").write_text(json.dumps({**index, "key": old}))
    blocks = {p.name: p.stat().st_ino for p in folder.glob("block-*.npy")}
    folder.parent.rename(out / ".clean.#.exr.aifx-cache")
    (out / ".clean.#.exr.aifx-cache" / folder.name).rename(out / ".clean.#.exr.aifx-cache" / f"anchors-{old}")
    assert fill(job).skipped == list(range(1001, 1011))
    assert (
        blocks and {p.name: p.stat().st_ino for p in folder.glob("block-*.npy")} == blocks
    )  # not made again
    assert_same(whole, out, shot_frames)


def test_stale_or_damaged_anchors_are_detected_and_rebuilt(shot, whole, tmp_path) -> None:
    out = tmp_path / "chunked"
    job = chunk_job(shot, out)
    folder = Path(prepare_anchors(job) or "")
    files = sorted(folder.glob("block-*.npy"))
    assert files
    # A damaged values file: the checksum in the index no longer matches.
    blob = bytearray(files[0].read_bytes())
    blob[-1] ^= 0xFF
    files[0].write_bytes(bytes(blob))
    shot_frames = list(range(FIRST, FIRST + COUNT))
    blocks = -(-COUNT // ENGINE["keyframe_interval"])
    store = AnchorStore(
        str(out / "clean.####.exr"), folder.name.removeprefix("anchors-"), shot_frames, blocks
    )
    assert not store.valid() and len(store.load()) == blocks - 1  # only the damaged block is made again
    fill(job, frames="1001-1012")
    assert store.valid()
    # A truncated index (a run killed while writing it would never leave one: it is written atomically).
    (folder / "index.json").write_text('{"aifx_anchors": 1, "key"', encoding="utf-8")
    fill(job, frames="1013-1030")
    assert_same(whole, out, range(FIRST, FIRST + COUNT))
    assert json.loads((folder / "index.json").read_text(encoding="utf-8"))["aifx_anchors"] == 1
    # Other settings never read this cache: a new key gets its own folder, the old one is dropped.
    other = chunk_job(shot, tmp_path / "other", radius=2)
    assert Path(prepare_anchors(other) or "").name != folder.name


def test_anchors_filled_with_another_model_are_made_again(tmp_path) -> None:
    """The keyframes of a cache made before other weights were copied over the model's path (or a hub id's cache
    moved to a new revision) were read back: the rerun carried the old model's invention through the shot. The
    index records the model's fingerprint; another is made again, a cache recording none (made before) is taken
    and recorded."""
    from aifx_core.inpaint.base import Anchor

    output, shot = str(tmp_path / "clean.####.exr"), list(range(1001, 1005))

    def store(model: str | None) -> AnchorStore:
        return AnchorStore(output, "k", shot, 1, model=model)

    made = store(None)
    made.begin(made.load())
    made.write(0, Anchor(1002, np.ones((4, 3), np.float32), "4:abc"))
    assert json.loads(made.index_path.read_text())["anchors"] and "model" not in json.loads(
        made.index_path.read_text()
    )
    assert store("m1").valid()  # none recorded: taken, and recorded now
    assert json.loads(made.index_path.read_text())["model"] == "m1"
    assert store("m1").valid() and store(None).valid()
    assert store("m2").load() == {}  # other weights: made again


def test_a_killed_builds_temp_files_are_removed_from_the_cache(shot, tmp_path) -> None:
    """A build killed while writing a block, the index or the seen plate leaves its temp file in the anchors
    folder; only the output folder's were cleaned, so they piled up there. The next build removes them once it
    holds the build lock (nothing else writes there then)."""
    from aifx_core.sequence.atomic import temp_path_for

    job = chunk_job(shot, tmp_path / "out")
    folder = Path(prepare_anchors(job) or "")
    left = [temp_path_for(folder / name) for name in ("block-000001.npy", "index.json", "seen.npz")]
    for temp in left:
        temp.write_bytes(b"half written")
    kept = sorted(p.name for p in folder.iterdir() if p not in left)
    prepare_anchors(job)
    assert sorted(p.name for p in folder.iterdir()) == kept


def test_a_cancelled_whole_run_resumes_with_the_anchors_it_made(shot, whole, tmp_path) -> None:
    register_spatial("counting-telea", _Counting, options="aifx_core.inpaint.telea:TeleaOptions")
    out = tmp_path / "out"
    job = chunk_job(shot, out, spatial_backend="counting-telea")
    token = CancelToken()

    def stop_after_twelve(event) -> None:
        if event.stage == "write" and event.index == 12:
            token.cancel()

    _Counting.calls.clear()
    with pytest.raises(Cancelled):
        fill(job, progress=stop_after_twelve, cancel=token)
    first = set(_Counting.calls)
    folder = next(cache_folder(str(out / "clean.####.exr")).glob("anchors-*"))
    made = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert not made["complete"] and len(made["anchors"]) >= 3
    kept = {r["keyframe"] for r in made["anchors"].values() if r}
    _Counting.calls.clear()
    result = fill(job)
    assert result.written == list(range(1013, FIRST + COUNT))
    assert not set(_Counting.calls) & kept  # the kept keyframes are read, not filled again
    assert first & kept == kept
    assert_same(whole, out, range(FIRST, FIRST + COUNT))


def test_a_frame_range_outside_the_shot_is_refused(shot, tmp_path) -> None:
    job = chunk_job(shot, tmp_path / "out")
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


@pytest.mark.parametrize("form", ["on twos", "with a gap"])
def test_plan_chunks_first_last_run_as_frames_on_a_shot_on_twos_or_with_gaps(shot, tmp_path, form) -> None:
    """A chunk handed on as ``first-last`` (plan_chunks' pairs, Deadline's <STARTFRAME>-<ENDFRAME>) means the
    shot's frames between its ends; spans reaching outside the shot or ending on a missing frame stay refused."""
    import shutil
    from dataclasses import replace

    if form == "on twos":
        source, settings, missing = shot, {"frames": "1001-1029x2"}, 1002
    else:
        source, missing = tmp_path / "gap", 1012
        shutil.copytree(shot, source)
        for name in ("plate.1012.exr", "mask.1012.png", "plate.1013.exr", "mask.1013.png"):
            (source / name).unlink()
        settings = {"skip_missing": True}
    whole = tmp_path / "whole"
    done = fill(replace(chunk_job(source, whole), **settings)).written
    job = replace(chunk_job(source, tmp_path / "out"), **settings)
    chunks = plan_chunks(job, 6)
    assert all(first in done and last in done for first, last in chunks)
    written = [f for first, last in chunks for f in fill(job, frames=f"{first}-{last}").written]
    assert written == done
    assert_same(whole, tmp_path / "out", done)
    for span in (f"{missing}-1020", "1021-1031", f"{missing}"):
        with pytest.raises(InputError, match="not in the job's shot"):
            fill(job, frames=span)


def test_cli_runs_anchors_then_a_chunk(shot, whole, tmp_path) -> None:
    job_file = tmp_path / "job.json"
    chunk_job(shot, tmp_path / "out").save(job_file)
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
    assert_same(whole, tmp_path / "out", range(1026, 1031))


def test_plan_chunks_covers_the_shot_exactly(shot, tmp_path) -> None:
    job = chunk_job(shot, tmp_path / "out")
    assert plan_chunks(job, 8) == [(1001, 1008), (1009, 1016), (1017, 1024), (1025, 1030)]
    assert plan_chunks(job, 100) == [(1001, 1030)]
    with pytest.raises(InputError):
        plan_chunks(job, 0)


def test_a_context_too_small_is_an_error_not_a_silent_difference(shot, tmp_path, monkeypatch) -> None:
    from aifx_core.propagate import PropagateBackend
    from aifx_core.propagate.engine import ContextError

    job = chunk_job(shot, tmp_path / "out")
    prepare_anchors(job)
    narrow = PropagateBackend.chunk_context
    # The formula is a bound (a keyframe 2K-2 frames away is the worst case); without the radius on one side
    # propagation itself reaches past what was read, which the engine must refuse rather than fill differently.
    for side in ("before", "after"):

        def cut(self, first: int, last: int, length: int, side=side) -> tuple[int, int]:
            start, stop = narrow(self, first, last, length)
            return (first, stop) if side == "before" else (start, last)

        monkeypatch.setattr(PropagateBackend, "chunk_context", cut)
        with pytest.raises(ContextError):
            fill(job, frames="1015-1016")
    assert not list((tmp_path / "out").glob("clean.*.exr"))


def test_the_anchors_stage_and_chunks_hold_a_bounded_window(shot) -> None:
    from chunk_files import matte
    from shot_files import plate_frame

    from aifx_core.inpaint import FramePacket, Span
    from aifx_core.pipeline import select_frames  # noqa: F401  (the public helper exists)
    from aifx_core.progress import Reporter
    from aifx_core.propagate import PropagateBackend

    count = 60
    shot_frames = tuple(range(FIRST, FIRST + count))

    def packets(first: int = 0, last: int = count - 1):
        for i in range(first, last + 1):
            rgb = np.stack([plate_frame(i)[c].astype(np.float32) for c in "RGB"], -1)
            yield FramePacket(FIRST + i, np.nan_to_num(rgb, posinf=0.0, neginf=0.0), matte(i % COUNT) > 0)

    backend = PropagateBackend(BackendContext(colorspace="sRGB", options=dict(ENGINE, window=2)))
    anchors = dict(backend.anchors(packets(), Reporter(), Span(shot_frames)))
    assert sorted(anchors) == list(range(backend.blocks(count)))
    bound = backend.options.window + backend.overlap
    assert backend.max_held <= bound < count
    first, last = backend.chunk_context(20, 50, count)
    span = Span(shot_frames, frozenset(shot_frames[20:51]), anchors)
    made = [frame for frame, _ in backend.fill(packets(first, last), Reporter(), span)]
    assert made == list(shot_frames[20:51])
    assert backend.max_held <= bound


def test_chunks_are_exact_where_every_frame_is_fast(tmp_path, monkeypatch) -> None:
    """The fast-frame paths (the motion hypotheses, the membrane and line in the frame's own spatial fill, the
    stricter ring check: each gated by ``hypotheses.fast``) read the frame's flows to t ± 1 and frames within the
    radius: with the gate at 0 px every frame of the panning shot takes them, and chunks stay bit-identical."""
    from aifx_core.propagate import engine, fallback_route, hypotheses, propagation

    monkeypatch.setattr(hypotheses, "SLACK_FAST_PX", 0.0)
    lines: list[int] = []
    thresholds: set[float] = set()
    line_fill, ring_share = fallback_route.line_fill, propagation.ring_share

    def counted_line(*args, **kwargs):  # noqa: ANN202 - (spies on the real functions)
        lines.append(1)
        return line_fill(*args, **kwargs)

    def counted_ring(frame, options, *args):  # noqa: ANN001, ANN202
        thresholds.add(options.ring_low)
        return ring_share(frame, options, *args)

    monkeypatch.setattr(fallback_route, "line_fill", counted_line)
    monkeypatch.setattr(propagation, "ring_share", counted_ring)
    shot = chunk_shot(tmp_path / "shot")
    whole = tmp_path / "whole"
    fill(chunk_job(shot, whole))
    out = tmp_path / "chunked"
    written = fill_in_chunks(shot, out, ["1001-1010", "1011-1020", "1021-1030", "1017", "1030"])
    assert_same(whole, out, written)
    assert lines and thresholds == {engine.PropagateOptions().ring_low * propagation.RING_FAST}


@pytest.mark.parametrize("threads", ["", "1"])
def test_a_streaming_run_writes_its_anchors_in_a_thread_of_their_own(
    shot, whole, tmp_path, monkeypatch, threads
) -> None:
    """A whole run decides its blocks as it streams; each block is written (with its fsyncs) by
    ``aifx-anchors``, not the engine's thread (with ``AIFX_THREADS=1``: the caller), every one before the run
    ends, and the run is the same."""
    import threading

    monkeypatch.setenv("AIFX_THREADS", threads)
    writers: list[str] = []
    write = AnchorStore.write

    def recording(self, block, anchor) -> None:
        writers.append(threading.current_thread().name)
        write(self, block, anchor)

    monkeypatch.setattr(AnchorStore, "write", recording)
    out = tmp_path / "out"
    fill(chunk_job(shot, out))
    folder = next(cache_folder(str(out / "clean.####.exr")).glob("anchors-*"))
    made = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert made["complete"] and len(writers) == len(made["anchors"]) >= 3
    assert set(writers) == {"aifx-anchors" if not threads else threading.main_thread().name}
    assert not any(t.name == "aifx-anchors" for t in threading.enumerate())
    assert_same(whole, out, range(FIRST, FIRST + COUNT))


def test_a_keyframe_images_spatial_fill_runs_beside_the_engine(shot, whole, tmp_path, monkeypatch) -> None:
    """A streaming run's keyframe images are filled by Telea in ``aifx-spatial``, waited for only when first read
    (their anchors are sent then, or at the run's end): never in the engine's thread, and the run is the same."""
    import threading

    from aifx_core.inpaint.telea import TeleaBackend

    where: dict[int | None, set[str]] = {}
    inpaint = TeleaBackend.inpaint

    def recording(self, rgb, hole, *, frame=None):
        where.setdefault(frame, set()).add(threading.current_thread().name)
        return inpaint(self, rgb, hole, frame=frame)

    monkeypatch.setattr(TeleaBackend, "inpaint", recording)
    out = tmp_path / "out"
    fill(chunk_job(shot, out))
    folder = next(cache_folder(str(out / "clean.####.exr")).glob("anchors-*"))
    made = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    keyframes = {r["keyframe"] for r in made["anchors"].values() if r}
    assert made["complete"] and len(keyframes) >= 3 and keyframes <= set(where)
    assert all(all(n.startswith("aifx-spatial") for n in where[k]) for k in keyframes), where
    assert_same(whole, out, range(FIRST, FIRST + COUNT))


@pytest.mark.parametrize("backend", ["propagate", "telea"])
def test_a_chunk_or_anchors_run_with_edited_settings_is_refused_beside_the_shots_other_frames(
    shot, tmp_path, backend
) -> None:
    """A TD edits job.json between farm chunks (dilate 4 -> 8): the next chunk wrote its frames, exit 0, next to
    the frames made with the old settings, and ``--anchors`` replaced the old settings' anchors cache; a
    one-process run of the edited job refuses. Now both refuse before writing anything (exit 2), naming a frame
    of the shot outside the chunk; ``--overwrite`` still refills."""
    from cli_runner import aifx

    out, job_file = tmp_path / "out", tmp_path / "job.json"
    job = chunk_job(shot, out, backend=backend)
    job.save(job_file)
    assert aifx("run", str(job_file), "--frames", "1001-1008").returncode == 0
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    replace(job, dilate=job.dilate + 4).save(job_file)
    for extra in (["--frames", "1009-1016"], ["--anchors"]):
        run = aifx("run", str(job_file), *extra, warnings="default")
        assert run.returncode == 2, run.stderr
        line = run.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in line
        assert "8 output frame(s) already exist, made with different settings" in line
        assert "first: 1001" in line and "--overwrite" in line
        assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing written
    redo = aifx("run", str(job_file), "--frames", "1009-1016", "--overwrite")
    assert redo.returncode == 0, redo.stderr
    assert len(list(out.glob("clean.*.exr"))) == 16
