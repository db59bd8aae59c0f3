"""The work that overlaps the fill on a second core (the pipeline's writer thread, the engine's flow worker):
bounded, in order, its failures surfaced as the same clear errors, and the output bit-identical to a run with
every overlap off (``AIFX_THREADS=1``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from serve_helpers import wait_for
from shot_files import (
    frame_bytes,
    grow_small_disk,
    interruptible,
    make_shot,
    on_small_disk,
    shot_job,
    signal_taken,
    waits_untimed,
)

from aifx_core.errors import InputError
from aifx_core.pipeline import fill
from aifx_core.progress import CancelToken
from aifx_core.protocol.errors import Cancelled
from aifx_core.sequence import read_image
from aifx_core.workers import (
    FLOW_PROCESS_DEFAULT,
    PROCESS_ENV,
    THREADS_ENV,
    InOrder,
    Prefetch,
    concurrently,
    helper_wanted,
    in_turn,
    overlap,
)

FRAMES = list(range(1001, 1009))


def _no_worker_threads() -> bool:
    """No aifx worker thread outlives its run."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name.startswith("aifx-")]:
            return True
        time.sleep(0.02)
    return False


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _temps(folder: Path) -> list[str]:
    return [name for name in _outputs(folder) if ".aifx-tmp-" in name]


# -- InOrder ------------------------------------------------------------------------------------------------


def test_in_order_runs_every_item_in_order_with_at_most_depth_in_flight():
    started: list[int] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def work(item: int) -> None:
        nonlocal in_flight
        started.append(item)
        time.sleep(0.002)
        with lock:
            in_flight -= 1

    worker = InOrder(work, depth=2, name="aifx-test")
    for item in range(40):
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        worker.submit(item)
    worker.finish()
    assert started == list(range(40))
    assert most <= 3  # two in the worker (waiting + running) and the one being handed in
    assert _no_worker_threads()


def test_in_order_failure_is_raised_in_the_caller_and_drops_what_waited():
    done: list[int] = []
    gate = threading.Event()

    def work(item: int) -> None:
        gate.wait(5)
        if item == 2:
            raise InputError("disk full while writing frame 2")
        done.append(item)

    worker = InOrder(work, depth=2, name="aifx-test")
    for item in range(3):
        worker.submit(item)
    gate.set()
    with pytest.raises(InputError, match="frame 2"):
        for item in range(3, 10):
            worker.submit(item)
        worker.finish()
    worker.abandon()
    assert done == [0, 1]  # nothing after the failure ran
    assert _no_worker_threads()


def test_in_order_abandon_finishes_the_running_item_and_drops_the_waiting_ones():
    running = threading.Event()
    release = threading.Event()
    done: list[int] = []

    def work(item: int) -> None:
        running.set()
        release.wait(5)
        done.append(item)

    worker = InOrder(work, depth=2, name="aifx-test")
    worker.submit(0)
    worker.submit(1)
    assert running.wait(5)
    threading.Timer(0.05, release.set).start()
    worker.abandon()
    assert done == [0]
    assert _no_worker_threads()


def test_threads_env_turns_the_overlap_off(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert overlap()
    monkeypatch.setenv(THREADS_ENV, "1")
    assert not overlap()
    seen: list[str] = []
    worker = InOrder(lambda item: seen.append(threading.current_thread().name), threaded=overlap())
    worker.submit(1)
    assert seen == [threading.current_thread().name]  # ran at once, in the caller's thread
    worker.finish()


@pytest.mark.parametrize(
    ("threads", "on"),
    [("", True), ("true", True), ("On", True), ("YES", True), ("2", True)]
    + [("1", False), ("0", False), ("false", False), ("OFF", False), ("no", False)],
)
def test_threads_env_takes_numbers_and_on_off_words(monkeypatch, threads, on):
    """``AIFX_THREADS=false`` (or ``off``, ``no``) kept the threads on, the opposite of what was meant."""
    monkeypatch.setenv(THREADS_ENV, threads)
    monkeypatch.setenv(PROCESS_ENV, "1")
    assert overlap() is on and helper_wanted() is on


@pytest.mark.parametrize(
    ("process", "on"),
    [("", FLOW_PROCESS_DEFAULT), ("1", True), ("true", True), ("ON", True), ("yes", True)]
    + [("0", False), ("false", False), ("Off", False), ("no", False)],
)
def test_flow_process_env_takes_on_off_words(monkeypatch, process, on):
    """``AIFX_FLOW_PROCESS=false`` (or ``off``, ``no``, any text but ``0``) turned the helper process on."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setenv(PROCESS_ENV, process)
    assert helper_wanted() is on


@pytest.mark.parametrize(
    ("name", "value"), [(THREADS_ENV, "abc"), (THREADS_ENV, "-1"), (PROCESS_ENV, "abc"), (PROCESS_ENV, "2")]
)
def test_a_thread_switch_aifx_does_not_know_is_refused_naming_it(monkeypatch, name, value):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv(PROCESS_ENV, raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=f"^{name}='{value}': .* or unset it"):
        helper_wanted()


def test_concurrently_runs_the_calls_at_once_in_order_and_leaves_no_thread(monkeypatch):
    """``concurrently`` runs the first call in the caller and each other one in a thread of its own, all at once
    (each waits here for the others to have started), returns their results in order, raises the first failure
    in call order once all have finished, and leaves no thread behind; with ``AIFX_THREADS=1`` all run in the
    caller, one after another."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    started = threading.Barrier(3, timeout=10)

    def call(value: int):
        def run():
            started.wait()  # (only passes when all three run at the same time)
            return value, threading.current_thread().name

        return run

    results = concurrently([call(0), call(1), call(2)], "aifx-test")
    assert [value for value, _ in results] == [0, 1, 2]
    assert results[0][1] == threading.current_thread().name
    assert {name for _, name in results[1:]} == {"aifx-test-1", "aifx-test-2"}
    assert _no_worker_threads()
    finished: list[int] = []

    def fails(index: int):
        def run():
            time.sleep(0.05 * (3 - index))
            finished.append(index)
            raise ValueError(index)

        return run

    with pytest.raises(ValueError, match="1"):
        concurrently([lambda: finished.append(0), fails(1), fails(2)], "aifx-test")
    assert sorted(finished) == [0, 1, 2] and _no_worker_threads()
    monkeypatch.setenv(THREADS_ENV, "1")
    names = concurrently([lambda: threading.current_thread().name] * 3)
    assert names == [threading.current_thread().name] * 3


def test_concurrently_runs_its_calls_in_turn_within_in_turn(monkeypatch):
    """Within ``in_turn`` (work already off the critical path) the calls run one after another in the calling
    thread; outside it, at once again."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    me = threading.current_thread().name
    with in_turn():
        assert concurrently([lambda: threading.current_thread().name] * 3) == [me] * 3
        with in_turn():
            pass
        assert concurrently([lambda: threading.current_thread().name] * 2) == [me] * 2
    assert concurrently([lambda: threading.current_thread().name] * 2, "aifx-test") == [me, "aifx-test-1"]
    assert _no_worker_threads()


def test_telea_runs_its_channel_passes_at_once_with_the_same_values(monkeypatch):
    """Telea's three 16-bit channel passes run at once (OpenCV releases the GIL in them): two in threads of
    their own, and the filled values are those of the passes one after another (``AIFX_THREADS=1``)."""
    import cv2
    import numpy as np

    from aifx_core.inpaint import BackendContext
    from aifx_core.inpaint.telea import TeleaBackend

    rng = np.random.default_rng(4)
    rgb = cv2.GaussianBlur(rng.random((90, 120, 3)).astype(np.float32), (0, 0), 3) * [4.0, 1.0, 0.2]
    rgb = rgb.astype(np.float32)
    rgb[5, 5] = [np.nan, np.inf, -np.inf]
    hole = np.zeros((90, 120), bool)
    hole[20:45, 30:60] = True
    hole[60:80, 90:110] = True
    telea = TeleaBackend(BackendContext())
    names: list[str] = []
    inpaint = cv2.inpaint

    def recording(*args):
        names.append(threading.current_thread().name)
        return inpaint(*args)

    monkeypatch.setattr(cv2, "inpaint", recording)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    together = telea.inpaint(rgb, hole)
    # (the hole's two squares lie apart: each channel's pass marches both, one after the other)
    assert sorted(names) == sorted([threading.current_thread().name, "aifx-telea-1", "aifx-telea-2"] * 2)
    monkeypatch.setenv(THREADS_ENV, "1")
    names.clear()
    alone = telea.inpaint(rgb, hole)
    assert names == [threading.current_thread().name] * 6
    assert np.array_equal(together, alone, equal_nan=True) and _no_worker_threads()
    assert not np.array_equal(together[hole], rgb[hole])


def test_prefetch_keeps_order_raises_a_source_error_in_its_place_and_stops_on_close():
    pulled: list[int] = []

    def source():
        for item in range(6):
            pulled.append(item)
            if item == 4:
                raise InputError("frame 4: damaged")
            yield item

    made = Prefetch(source(), lambda x: x * 10, depth=2, name="aifx-test")
    assert [next(made) for _ in range(4)] == [0, 10, 20, 30]
    with pytest.raises(InputError, match="frame 4"):
        next(made)
    with pytest.raises(StopIteration):
        next(made)
    made.close()
    assert pulled == [0, 1, 2, 3, 4]
    endless = Prefetch(iter(range(10**9)), lambda x: x, depth=2, name="aifx-test")
    assert next(endless) == 0
    endless.close()
    assert _no_worker_threads()


# -- the pipeline's writer thread ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_shot(tmp_path_factory.mktemp("workers") / "shot", FRAMES)


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_output_is_bit_identical_with_and_without_the_workers(shot, tmp_path, monkeypatch, backend):
    events: dict[str, list[tuple[str, int, int | None]]] = {}
    for threads in ("1", ""):
        monkeypatch.setenv(THREADS_ENV, threads)
        seen = events.setdefault(threads, [])
        result = fill(
            shot_job(shot, tmp_path / f"t{threads}" / "c.####.exr", backend=backend, confidence=True),
            progress=lambda e, seen=seen: seen.append((e.stage, e.index, e.frame)),
        )
        assert result.written == FRAMES
    for frame in FRAMES:
        assert frame_bytes(tmp_path / "t1" / "c.####.exr", frame) == frame_bytes(
            tmp_path / "t" / "c.####.exr", frame
        ), frame
    writes = [e for e in events[""] if e[0] == "write"]
    assert writes == [("write", i + 1, f) for i, f in enumerate(FRAMES)]  # one per frame, in order
    assert writes == [e for e in events["1"] if e[0] == "write"]
    assert _no_worker_threads()


def test_the_writer_takes_the_plate_the_engine_read_within_its_bound(shot, tmp_path, monkeypatch):
    """Each plate frame is decoded once for the engine and once more at write time only beyond the bytes
    ``pipeline._Plates`` may keep; the pixels are the same either way."""
    import aifx_core.pipeline as pipeline
    from aifx_core.sequence import reader

    reads: list[int] = []
    real = reader.read_image

    def counted(path, *args, **kwargs):
        if Path(path).name.startswith("plate."):
            reads.append(int(Path(path).name.split(".")[1]))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(reader, "read_image", counted)
    outputs = {}
    for limit in (pipeline.PLATE_CACHE_BYTES, 0):
        monkeypatch.setattr(pipeline, "PLATE_CACHE_BYTES", limit)
        reads.clear()
        out = tmp_path / f"l{limit}" / "c.####.exr"
        # (without the seen plate's pass: its reads of its own are counted in tests/test_seen_plate.py)
        job = shot_job(shot, out, backend="propagate", options={"seen_plate": False})
        assert fill(job).written == FRAMES
        outputs[limit] = [frame_bytes(out, frame) for frame in FRAMES]
        plate_reads = [f for f in reads if f in FRAMES]
        # (the first frame is read once more at the start: the output's compression and colourspace)
        expected = len(FRAMES) + 1 if limit else 2 * len(FRAMES) + 1
        assert len(plate_reads) == expected, (limit, sorted(plate_reads))
    assert outputs[pipeline.PLATE_CACHE_BYTES] == outputs[0]


def test_cancel_during_writes_keeps_whole_frames_and_a_rerun_resumes_byte_identically(shot, tmp_path):
    reference = tmp_path / "ref" / "c.####.exr"
    fill(shot_job(shot, reference, backend="propagate"))
    out = tmp_path / "o" / "c.####.exr"
    job = shot_job(shot, out, backend="propagate")
    cancel = CancelToken()

    def stop(event):
        if event.stage == "write" and event.index == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        fill(job, progress=stop, cancel=cancel)
    assert _no_worker_threads()
    assert _temps(out.parent) == []
    done = sorted(p.name for p in out.parent.glob("c.*.exr"))
    assert done == ["c.1001.exr", "c.1002.exr", "c.1003.exr"]  # nothing is written after the cancel
    for name in done:
        read_image(out.parent / name)
    again = fill(job)
    assert again.written == FRAMES[3:]
    for frame in FRAMES:
        assert frame_bytes(out, frame) == frame_bytes(reference, frame), frame


def test_an_error_in_the_engine_while_frames_are_written_leaves_whole_frames(shot, tmp_path):
    """Ctrl-C (or any failure) in the calling thread while the writer has frames in flight: the frame being
    written is finished whole, the waiting ones are dropped, no temp file stays and no thread outlives it."""
    out = tmp_path / "o" / "c.####.exr"

    def interrupt(event):
        if event.stage == "propagate" and event.index == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fill(shot_job(shot, out, backend="propagate"), progress=interrupt)
    assert _no_worker_threads()
    assert _temps(out.parent) == []
    for path in out.parent.glob("c.*.exr"):
        read_image(path)
    assert fill(shot_job(shot, out, backend="propagate")).written  # the rest is still to do, and resumes


def test_a_full_disk_mid_run_is_the_clear_error_naming_the_frame(tmp_path):
    """A real ENOSPC in the writer thread (a small tmpfs in a private mount namespace): exit 2 with the
    disk-full error naming the frame, the frames before it whole, no temp file, and a rerun with room resumes
    and ends byte-identical to a run that never failed."""
    shot = make_shot(tmp_path / "shot", range(1001, 1013))
    reference = tmp_path / "ref" / "c.####.exr"
    fill(shot_job(shot, reference))
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    args = f"fill {shot}/plate.####.exr -m {shot}/mask.####.png -o {disk}/out/c.####.exr -b telea"
    script = (
        f"{sys.executable} -m aifx_core {args} 2> {tmp_path}/first.err; echo $? > {tmp_path}/first.rc\n"
        f"ls -a {disk}/out > {tmp_path}/first.ls\n"
        f"cp -r {disk}/out {tmp_path}/partial\n"
        f"mkdir -p {tmp_path}/held && {{ {grow_small_disk(disk, '4m', tmp_path / 'held')}; }} || exit 91\n"
        f"{sys.executable} -m aifx_core {args} > {tmp_path}/second.out 2>&1; echo $? > {tmp_path}/second.rc\n"
        f"cp -r {disk}/out {kept}\n"
    )
    done = on_small_disk(disk, "48k", script)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "first.rc").read_text().strip() == "2"
    error = (tmp_path / "first.err").read_text()
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("aifx: error: disk full while writing"), error
    named = re.search(rf"writing {re.escape(str(disk))}/out/c\.(\d{{4}})\.exr;", lines[0])
    assert named, lines[0]
    listing = (tmp_path / "first.ls").read_text().split()
    assert not [name for name in listing if ".aifx-tmp-" in name], listing
    partial = sorted(p.name for p in (tmp_path / "partial").glob("c.*.exr"))
    assert partial == [f"c.{f}.exr" for f in range(1001, int(named.group(1)))]  # all before the failed one
    for name in partial:
        read_image(tmp_path / "partial" / name)
    assert (tmp_path / "second.rc").read_text().strip() == "0", (tmp_path / "second.out").read_text()
    for frame in range(1001, 1013):
        assert frame_bytes(kept / "c.####.exr", frame) == frame_bytes(reference, frame), frame


def test_a_full_disk_mid_run_keeps_the_anchors_cache(tmp_path):
    """A full disk is an error about where the run writes, not about its input: the temporal engine's anchors
    cache (each keyframe block's decision, its seen plate) made before it stays for the rerun. It was dropped
    like a bad input's, so the rerun made every keyframe again. A real ENOSPC on a small tmpfs."""
    shot = make_shot(tmp_path / "shot", range(1001, 1013))
    reference = tmp_path / "ref" / "c.####.exr"
    fill(shot_job(shot, reference, backend="propagate"))
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    args = f"fill {shot}/plate.####.exr -m {shot}/mask.####.png -o {disk}/out/c.####.exr -b propagate"
    cache = f"{disk}/out/.c.####.exr.aifx-cache"
    script = (
        f"{sys.executable} -m aifx_core {args} 2> {tmp_path}/first.err; echo $? > {tmp_path}/first.rc\n"
        f"cp -r '{cache}' {tmp_path}/cache\n"
        f"mkdir -p {tmp_path}/held && {{ {grow_small_disk(disk, '4m', tmp_path / 'held')}; }} || exit 91\n"
        f"{sys.executable} -m aifx_core {args} > {tmp_path}/second.out 2>&1; echo $? > {tmp_path}/second.rc\n"
        f"cp -r {disk}/out {kept}\n"
    )
    done = on_small_disk(disk, "64k", script)
    assert done.returncode == 0, done.stderr
    error = (tmp_path / "first.err").read_text()
    assert (tmp_path / "first.rc").read_text().strip() == "2" and "aifx: error: disk full" in error, error
    indexes = list((tmp_path / "cache").glob("anchors-*/index.json"))
    assert indexes, "the anchors cache was dropped"
    index = json.loads(indexes[0].read_text())
    assert index["anchors"], index  # (the blocks made before the disk filled)
    assert (tmp_path / "second.rc").read_text().strip() == "0", (tmp_path / "second.out").read_text()
    for frame in range(1001, 1013):
        assert frame_bytes(kept / "c.####.exr", frame) == frame_bytes(reference, frame), frame


def test_ctrl_c_while_a_frame_waits_for_the_writer(tmp_path):
    """A real SIGINT to ``aifx fill`` while its writer thread holds frame 1002 and the next frame waits: the
    run ends (exit 130), frame 1002 is whole, the waiting frame is dropped, no temp file stays, and a rerun
    resumes to the same bytes as an uninterrupted run.

    Each step waits for what the run shows, not for a pause: the writer is held after 1002 (aifx's test hook)
    until the Ctrl-C's handler has run; let go 0.3 s after the signal, as before, it wrote 1003 whenever the
    child took the signal later than that (a busy machine)."""
    shot = make_shot(tmp_path / "shot", range(1001, 1009))
    reference = tmp_path / "ref" / "c.####.exr"
    fill(shot_job(shot, reference, backend="propagate"))
    out = tmp_path / "o" / "c.####.exr"
    go = tmp_path / "go"
    args = [
        "fill",
        f"{shot}/plate.####.exr",
        "-m",
        f"{shot}/mask.####.png",
        "-o",
        str(out),
        "-b",
        "propagate",
        "--json-progress",
    ]
    env = {**os.environ, "AIFX_TEST_WAIT": f"written:1002:{go}"}
    env.pop(THREADS_ENV, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    try:
        assert proc.stdout is not None
        seen = set()
        # 1002 written (the writer holds it), 1003 handed to the writer (the engine is on 1004):
        for line in proc.stdout:
            event = json.loads(line)
            seen.add((event.get("stage"), event.get("frame")))
            if {("write", 1002), ("propagate", 1004)} <= seen:
                break
        wait_for(lambda: waits_untimed(proc.pid))  # the engine waits to hand 1004 over
        proc.send_signal(signal.SIGINT)
        signal_taken(proc.pid, signal.SIGINT)
        go.touch()  # the writer leaves its pause; the run must then end without writing the waiting frames
        _stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert _temps(out.parent) == []
    done = sorted(p.name for p in out.parent.glob("c.*.exr"))
    assert done == ["c.1001.exr", "c.1002.exr"], done
    rerun = subprocess.run(
        [sys.executable, "-m", "aifx_core", *args], capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    for frame in range(1001, 1009):
        assert frame_bytes(out, frame) == frame_bytes(reference, frame), frame


# -- the engine's flow worker ----------------------------------------------------------------------------


def _engine_clip(count: int = 14):
    """A panning texture with a moving hole and an unmasked square crossing it (movers, completion, gains)."""
    import cv2
    import numpy as np

    from aifx_core.inpaint import FramePacket

    rng = np.random.default_rng(3)
    big = np.stack(
        [cv2.GaussianBlur(rng.random((80, 160)).astype(np.float32), (0, 0), 1.5) for _ in range(3)], -1
    )
    packets = []
    for t in range(count):
        frame = np.ascontiguousarray(big[4:68, 2 * t : 2 * t + 96]) * (1.0 + 0.01 * t)
        frame[20:30, 5 * t % 80 : 5 * t % 80 + 10] = (0.9, 0.2, 0.1)  # the crosser, not masked
        hole = np.zeros(frame.shape[:2], bool)
        hole[24:40, 30 + t : 46 + t] = True
        packets.append(FramePacket(1001 + t, frame.astype(np.float32), hole))
    return packets


def _engine_fill(packets, **options):
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext
    from aifx_core.progress import Reporter

    backend = create_backend("propagate", BackendContext(colorspace="sRGB", options=options))
    return [(f, rgb.tobytes()) for f, rgb in backend.fill(iter(packets), Reporter())]


def _assert_same_frames(got, expected) -> None:
    """``got == expected`` for two :func:`_engine_fill` results; on a difference, says which frames differ and
    by how much instead of printing every frame's bytes (CI shows only the end of a long message)."""
    import numpy as np

    if got == expected:
        return
    assert [f for f, _ in got] == [f for f, _ in expected]
    differ = []
    for (frame, a), (_, b) in zip(got, expected, strict=True):
        if a != b:
            x, y = np.frombuffer(a, np.float32), np.frombuffer(b, np.float32)
            diff = np.abs(x.astype(np.float64) - y)
            differ.append(f"{frame}: {np.count_nonzero(x != y)} values, max |d| {np.nanmax(diff):.3g}")
    raise AssertionError(f"{len(differ)} of {len(got)} frames differ: " + "; ".join(differ))


@pytest.mark.parametrize("window", [1, 4])
def test_the_flow_worker_changes_no_pixel(monkeypatch, window):
    packets = _engine_clip()
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = _engine_fill(packets, window=window, radius=4, keyframe_interval=3)
    monkeypatch.delenv(THREADS_ENV)
    overlapped = _engine_fill(packets, window=window, radius=4, keyframe_interval=3)
    assert [f for f, _ in overlapped] == [p.frame for p in packets]
    _assert_same_frames(overlapped, alone)
    assert _no_worker_threads()


def test_the_flows_are_estimated_in_a_thread_of_their_own(monkeypatch):
    """DIS runs in the aifx-dis thread, a pair ahead of the flow worker's completion (its native code and the
    completion's NumPy then use both cores); the output is the one-thread run's."""
    from aifx_core.flow import DISFlow

    class Recording(DISFlow):
        def __init__(self) -> None:
            super().__init__()
            self.threads: set[str] = set()

        def estimate(self, a_gray, b_gray):
            self.threads.add(threading.current_thread().name.split("_")[0])
            return super().estimate(a_gray, b_gray)

    packets = _engine_clip()
    outputs, threads = [], []
    for one in ("1", ""):
        monkeypatch.setenv(THREADS_ENV, one)
        estimator = Recording()
        outputs.append(_engine_fill(packets, radius=4, keyframe_interval=3, flow_estimator=estimator))
        threads.append(estimator.threads)
    _assert_same_frames(outputs[1], outputs[0])
    assert threads == [{"MainThread"}, {"aifx-dis"}]
    assert _no_worker_threads()


def test_a_flow_worker_failure_is_raised_by_fill_and_leaves_no_thread():
    """A flow estimator (a Python caller's own) failing in the worker: fill raises its error, not a hang."""
    import numpy as np

    from aifx_core.backends import create_backend
    from aifx_core.flow import DISFlow
    from aifx_core.inpaint import BackendContext
    from aifx_core.progress import Reporter

    class Failing(DISFlow):
        calls = 0

        def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
            Failing.calls += 1
            if Failing.calls > 9:
                raise InputError("flow failed on purpose")
            return super().estimate(a_gray, b_gray)

    backend = create_backend(
        "propagate", BackendContext(colorspace="sRGB", options={"flow_estimator": Failing(), "radius": 4})
    )
    with pytest.raises(InputError, match="on purpose"):
        for _ in backend.fill(iter(_engine_clip()), Reporter()):
            pass
    assert _no_worker_threads()


def test_a_fill_closed_early_stops_its_flow_worker():
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext
    from aifx_core.progress import Reporter

    backend = create_backend("propagate", BackendContext(colorspace="sRGB", options={"radius": 4}))
    stream = backend.fill(iter(_engine_clip()), Reporter())
    next(stream)
    assert [t for t in threading.enumerate() if t.name.startswith("aifx-flow")]  # the worker runs ahead
    stream.close()
    assert _no_worker_threads()


def _recording_telea(monkeypatch, fail_in: str | None = None) -> list[str]:
    """Names of the threads Telea's fills run in (the engine's spatial backend); it fails in thread
    ``fail_in``."""
    from aifx_core.inpaint.telea import TeleaBackend

    names: list[str] = []
    inpaint = TeleaBackend.inpaint

    def recording(self, rgb, hole, *, frame=None):
        names.append(threading.current_thread().name.split("_")[0])
        if names[-1] == fail_in:
            raise InputError("spatial fill failed on purpose")
        return inpaint(self, rgb, hole, frame=frame)

    monkeypatch.setattr(TeleaBackend, "inpaint", recording)
    return names


@pytest.mark.parametrize("window", [1, 4])
def test_the_next_frames_spatial_fill_runs_ahead_in_its_own_thread(monkeypatch, window):
    """The fill of the frame the next output's steadying reads last is started while this output is
    steadied: its Telea runs in the aifx-spatial thread, and the output is the one-thread run's. A keyframe
    image's Telea runs there too (688bea8), so no spatial fill is left on the engine's thread."""
    import cv2

    packets = _engine_clip()
    options = {"window": window, "radius": 4, "keyframe_interval": 3}
    monkeypatch.setenv(THREADS_ENV, "1")
    names = _recording_telea(monkeypatch)
    alone = _engine_fill(packets, **options)
    assert names and set(names) == {"MainThread"}
    names.clear()
    monkeypatch.delenv(THREADS_ENV)
    passes: list[str] = []
    inpaint = cv2.inpaint

    def recording(*args):
        passes.append(re.sub(r"[-_]\d+$", "", threading.current_thread().name))
        return inpaint(*args)

    monkeypatch.setattr(cv2, "inpaint", recording)
    overlapped = _engine_fill(packets, **options)
    _assert_same_frames(overlapped, alone)
    assert names and set(names) == {"aifx-spatial"}  # (the keyframes' fills too)
    # (there the three channel passes of each fill run in turn, never in aifx-telea helpers)
    assert passes == ["aifx-spatial"] * (3 * len(names))
    assert _no_worker_threads()


def test_a_fill_started_ahead_is_joined_when_a_steadying_first_reads_it(monkeypatch):
    """Each output starts the fill its next output's steadying reads last (t+3), and a started fill is joined
    only when a steadying first reads it: so t+2's Telea, started one output before, runs while t+3's part in
    the engine's thread is made (joined at once, it held the engine's thread ~12 ms a frame on nine squares)."""
    from aifx_core.propagate.fallback_route import FallbackRoute

    events: list[tuple[str, int]] = []
    start, fallback = FallbackRoute.start, FallbackRoute.fallback

    def starting(self, t):
        if t not in self.parts and t not in self.started:
            events.append(("start", t))
        return start(self, t)

    def joining(self, t):
        if t in self.started:
            events.append(("join", t))
        return fallback(self, t)

    monkeypatch.setattr(FallbackRoute, "start", starting)
    monkeypatch.setattr(FallbackRoute, "fallback", joining)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    _engine_fill(_engine_clip(), radius=4, keyframe_interval=3)
    order = {event: k for k, event in enumerate(events)}
    joined = [t for kind, t in events if kind == "join" and ("start", t + 1) in order]
    assert len(joined) >= 6
    assert all(order[("join", t)] > order[("start", t + 1)] for t in joined)


def test_a_spatial_fill_failing_ahead_is_raised_by_fill_and_leaves_no_thread(monkeypatch):
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext
    from aifx_core.progress import Reporter

    names = _recording_telea(monkeypatch, fail_in="aifx-spatial")
    backend = create_backend(
        "propagate", BackendContext(colorspace="sRGB", options={"radius": 4, "keyframe_interval": 3})
    )
    with pytest.raises(InputError, match="on purpose"):
        for _ in backend.fill(iter(_engine_clip()), Reporter()):
            pass
    assert "aifx-spatial" in names and _no_worker_threads()


def test_a_fill_closed_early_finishes_its_spatial_fill_ahead(monkeypatch):
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext
    from aifx_core.progress import Reporter

    names = _recording_telea(monkeypatch)
    backend = create_backend(
        "propagate", BackendContext(colorspace="sRGB", options={"radius": 4, "keyframe_interval": 3})
    )
    stream = backend.fill(iter(_engine_clip()), Reporter())
    for _ in range(3):
        next(stream)
    assert "aifx-spatial" in names
    stream.close()
    assert _no_worker_threads()


# -- the flow worker's helper process ------------------------------------------------------------------------


def test_the_helper_process_computes_the_pairs_and_changes_no_pixel(monkeypatch):
    """With overlap on, each pair's flow is computed in the helper process (free of this process's GIL): the
    output is bit-identical to the flow worker computing in its own thread and to no overlap at all."""
    from aifx_core.workers import PROCESS_ENV, helper

    packets = _engine_clip()
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = _engine_fill(packets, radius=4, keyframe_interval=3)
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setenv(PROCESS_ENV, "0")
    before = helper().calls
    in_thread = _engine_fill(packets, radius=4, keyframe_interval=3)
    assert helper().calls == before  # (switched off: nothing sent)
    monkeypatch.setenv(PROCESS_ENV, "1")
    in_helper = _engine_fill(packets, radius=4, keyframe_interval=3)
    assert helper().calls == before + len(packets) - 1  # every pair went to the helper
    monkeypatch.delenv(PROCESS_ENV)
    by_default = _engine_fill(packets, radius=4, keyframe_interval=3)
    assert helper().calls == before + len(packets) - 1  # the default keeps the flow in its thread
    for output in (in_thread, in_helper, by_default):
        _assert_same_frames(output, alone)
    assert _no_worker_threads()


def test_the_helper_process_sees_the_settings_a_caller_changed(monkeypatch):
    """A module setting switched in this process (as the tests and benchmarks do) holds in the helper too."""
    from aifx_core.flow import completion, ring_layers
    from aifx_core.workers import PROCESS_ENV, helper

    packets = _engine_clip()
    plain = _engine_fill(packets, radius=4)
    monkeypatch.setenv(PROCESS_ENV, "1")
    monkeypatch.setattr(completion, "DRIFT", 3.0)  # fits grow fast with depth: blend weights change
    monkeypatch.setattr(ring_layers, "OBJECT_LAYERS", True)
    before = helper().calls
    in_helper = _engine_fill(packets, radius=4)
    assert helper().calls > before
    monkeypatch.setenv(PROCESS_ENV, "0")
    in_thread = _engine_fill(packets, radius=4)
    _assert_same_frames(in_helper, in_thread)
    assert in_helper != plain  # (the settings matter on this clip: the check can fail)


def test_the_helper_process_copies_the_settings_of_every_flow_module():
    """Every module of the flow side that has settings is one the helper copies (``pair_flow._SETTINGS``): a setting
    moved to a new module (the ring's layers, split from the completion) must not silently stop holding there."""
    import importlib
    import pkgutil

    import aifx_core.flow
    from aifx_core.propagate import pair_flow
    from aifx_core.workers import module_settings

    names = [f"aifx_core.flow.{info.name}" for info in pkgutil.iter_modules(aifx_core.flow.__path__)]
    for name in names:
        importlib.import_module(name)
    missing = [name for name in names if module_settings((name,))[name] and name not in pair_flow._SETTINGS]
    assert missing == []


def test_a_lost_helper_process_costs_no_frame(monkeypatch):
    """A helper killed between runs: the next run starts a new one and every pair goes to it (same pixels).
    (Killed in the middle of a run: the next test.)"""
    from aifx_core.workers import PROCESS_ENV, helper

    packets = _engine_clip()
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = _engine_fill(packets, radius=4)
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setenv(PROCESS_ENV, "1")
    worker = helper()
    worker.start()
    assert worker._proc is not None
    worker._proc.kill()
    worker._proc.wait()  # (dead for sure: a killed child not yet reaped would look alive to the next call)
    _assert_same_frames(_engine_fill(packets, radius=4), alone)
    before = worker.calls
    _assert_same_frames(_engine_fill(packets, radius=4), alone)
    assert worker.calls == before + len(packets) - 1
    assert _no_worker_threads()


def test_the_helper_raises_the_functions_error_and_refuses_what_it_cannot_send_back():
    import json

    from aifx_core.workers import helper

    with pytest.raises(json.JSONDecodeError):
        helper().call("json", "loads", "{")
    with pytest.raises(RuntimeError, match="not picklable"):
        helper().call("threading", "Lock")
    assert helper().call("math", "hypot", 3.0, 4.0) == 5.0  # (still answering)


def test_a_helper_that_does_not_start_is_given_up(monkeypatch, tmp_path):
    """An interpreter that is not a working Python (an embedding host's binary, a broken install) must not
    hang the fill: the helper is given up after START_WAIT, and not started again."""
    from aifx_core import workers

    fake = tmp_path / "not-python"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    monkeypatch.setattr(workers, "START_WAIT", 1.0)
    worker = workers.Helper()
    start = time.monotonic()
    with pytest.raises(workers.HelperUnavailable):
        worker.call("math", "hypot", 3.0, 4.0)
    assert time.monotonic() - start < 30
    with pytest.raises(workers.HelperUnavailable):
        worker.call("math", "hypot", 3.0, 4.0)
    assert worker._proc is None and worker.calls == 0


def test_a_helper_killed_while_starting_is_started_again():
    """A child killed before it said it runs (by a user, the OOM killer) is not a broken interpreter: the
    call falls back to the caller's thread and the next call starts a new child."""
    import subprocess

    from aifx_core import workers

    worker = workers.Helper()
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    worker._proc = proc
    with pytest.raises(workers.HelperUnavailable):
        worker._handshake(proc)
    assert proc.returncode == -9
    assert worker.call("math", "hypot", 3.0, 4.0) == 5.0
    assert worker.calls == 1
    worker._stop()


def test_a_helper_lost_mid_run_never_runs_the_estimator_in_two_threads_at_once(monkeypatch):
    """The helper dies after a few pairs: the pairs already queued for it are computed in the flow worker,
    the later ones have their DIS made in the aifx-dis thread. The run's estimator (one OpenCV DIS object,
    whose buffers are its own and not safe to share) must still see one call at a time, and the output is
    the one-thread run's."""
    from aifx_core.flow import DISFlow
    from aifx_core.workers import PROCESS_ENV, helper

    packets = _engine_clip(16)
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = _engine_fill(packets, radius=4)
    monkeypatch.delenv(THREADS_ENV)

    plain_estimate = DISFlow.estimate
    inside, most, threads, guard = [0], [0], set(), threading.Lock()

    def estimate(self, a_gray, b_gray):  # DISFlow's own, slowed so that two callers would meet
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            threads.add(threading.current_thread().name.split("_")[0])
        try:
            time.sleep(0.05)
            return plain_estimate(self, a_gray, b_gray)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(DISFlow, "estimate", estimate)  # (still a DISFlow: the helper is asked)
    monkeypatch.setenv(PROCESS_ENV, "1")
    worker = helper()
    before = worker.calls
    stop = threading.Event()

    def kill_after_two_pairs() -> None:
        while not stop.is_set():
            if worker.calls >= before + 4 and worker._proc is not None:
                # Stopped first, so that the flow worker waits in a call while the engine queues the
                # next pairs for the helper; then lost with those pairs queued.
                worker._proc.send_signal(signal.SIGSTOP)
                time.sleep(1.0)
                worker._proc.kill()
                return
            time.sleep(0.001)

    killer = threading.Thread(target=kill_after_two_pairs)
    killer.start()
    try:
        mid_run = _engine_fill(packets, radius=4)
    finally:
        stop.set()
        killer.join()
    assert worker.calls < before + len(packets) - 1  # (the helper was lost: the check can fail)
    assert threads  # the rest was computed here
    assert most[0] == 1, threads
    _assert_same_frames(mid_run, alone)
    assert _no_worker_threads()
