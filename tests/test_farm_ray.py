"""The Ray executor on a real local Ray (2 CPUs, one cluster for the module, always shut down).

Every test compares against a one-process ``fill(job)`` of the same shot: chunked, retried, killed or
cancelled, the frames on disk must be bit-identical to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shot_files import frame_bytes, make_shot, shot_job

from aifx_core.farm.progress import ChunkProgress
from aifx_core.farm.ray_executor import FAULT_VARIABLE, gpus_per_worker, uses_model
from aifx_core.protocol import events
from aifx_core.protocol.errors import Cancelled, InputError
from aifx_core.protocol.job import FillJob

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

FRAMES = range(1001, 1013)
#: The temporal engine (the default backend): its chunks read context, so exactness is not free.
BACKEND = "propagate"


@pytest.fixture(scope="module")
def workers_folder(tmp_path_factory) -> Path:
    """The working folder of the module's Ray workers: a local Ray's workers keep the folder it started in."""
    return tmp_path_factory.mktemp("ray-workers")


@pytest.fixture(scope="module")
def cluster(workers_folder):
    """One local Ray for the module (start-up is slow on a loaded box); the executor uses it as it is.

    Started from :func:`workers_folder`, which the test of a driver that does not see the workers' storage
    writes into (never the repository)."""
    here = os.getcwd()
    os.chdir(workers_folder)
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=80 * 1024 * 1024,
            logging_level="WARNING",
        )
    finally:
        os.chdir(here)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    return make_shot(tmp_path_factory.mktemp("farm") / "shot", frames=FRAMES)


@pytest.fixture(scope="module")
def reference(shot, tmp_path_factory) -> dict[int, dict[str, bytes]]:
    """The frames of one ``fill(job)`` in this process: what every Ray run must reproduce bit for bit."""
    from aifx_core.pipeline import fill

    out = tmp_path_factory.mktemp("reference") / "clean.####.exr"
    fill(shot_job(shot, out, backend=BACKEND))
    return {frame: frame_bytes(out, frame) for frame in FRAMES}


def _written(out: Path) -> list[int]:
    return sorted(f for f in FRAMES if Path(str(out).replace("####", f"{f:04d}")).exists())


def _assert_exact(out: Path, reference, frames=FRAMES) -> None:
    for frame in frames:
        assert frame_bytes(out, frame) == reference[frame], f"frame {frame} differs from the one-process run"


def _check_stream(received: list[dict], frames) -> None:
    """The merged stream reads like a local run: one ``write`` per frame, counting up to the total."""
    writes = [e for e in received if events.is_overall(e)]
    assert [e["index"] for e in writes] == list(range(1, len(frames) + 1))
    assert sorted(e["frame"] for e in writes) == list(frames)
    assert writes[-1]["total"] == len(frames)
    assert all(e["index"] <= e["total"] for e in writes)
    fractions = [events.fraction(e) for e in writes]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_chunks_on_ray_are_bit_identical_to_one_process(cluster, shot, reference, tmp_path):
    from aifx_core.farm import run_on_ray

    out = tmp_path / "clean.####.exr"
    sheet = tmp_path / "sheet.png"
    received: list[dict] = []
    job = shot_job(shot, out, backend=BACKEND, contact_sheet=str(sheet))
    result = run_on_ray(job, progress=lambda e: received.append(e.to_dict()), chunk=4)
    assert result.chunks == ["1001-1004", "1005-1008", "1009-1012"]
    assert result.contact_sheet == str(sheet) and sheet.stat().st_size > 0  # once, after every chunk
    assert result.written == list(FRAMES) and result.skipped == []
    assert not [n for n in result.notices if "does not see" in n]  # the driver sees the workers' storage
    _assert_exact(out, reference)
    _check_stream(received, FRAMES)
    assert len(result.workers) == 2 and all(w["peak_rss_mib"] > 0 for w in result.workers)
    assert sum(w["chunks"] for w in result.workers) == 3  # both workers took chunks, each stayed warm

    again = run_on_ray(shot_job(shot, out, backend=BACKEND), chunk=4)  # resume: nothing left to do
    assert again.written == [] and again.skipped == list(FRAMES)


def test_a_mask_empty_on_every_frame_is_warned_about_once_over_the_chunks(cluster, shot, tmp_path):
    """No chunk can tell that the mask is empty on every frame (its own frames may be ones where the object is
    off screen); the driver adds up the chunks' frames with a hole and warns once, as one process does."""
    import cv2

    from aifx_core.farm import run_on_ray

    empty = tmp_path / "shot"
    shutil.copytree(shot, empty)
    for frame in FRAMES:
        matte = cv2.imread(str(empty / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        matte[:] = 0
        cv2.imwrite(str(empty / f"mask.{frame}.png"), matte)
    result = run_on_ray(shot_job(empty, tmp_path / "o" / "c.####.exr", backend="telea"), chunk=4)
    assert result.written == list(FRAMES)
    assert [n for n in result.notices if "empty" in n] == [
        "warning: the mask is empty on every frame (1001-1012): nothing was filled, the output is the plate; "
        f"{events.CHECK_EMPTY_MASK}"
    ]
    kept = run_on_ray(shot_job(shot, tmp_path / "k" / "c.####.exr", backend="telea"), chunk=4)
    assert kept.written == list(FRAMES) and not [n for n in kept.notices if "empty" in n]


@pytest.mark.diffusers
def test_a_model_backend_on_ray_stays_loaded_and_is_exact(cluster, shot, tmp_path):
    """LaMa (a tiny TorchScript model) on the keyframes under the temporal engine: each worker loads the model
    once and keeps it for every chunk it runs, and the frames match one process bit for bit."""
    pytest.importorskip("torch")
    from tiny_models import cached_build

    from aifx_core.farm import run_on_ray
    from aifx_core.pipeline import fill

    model = cached_build("lama", tmp_path)
    settings = {"backend": "lama", "device": "cpu", "options": {"model": str(model)}}
    one = tmp_path / "one" / "clean.####.exr"
    fill(shot_job(shot, one, **settings))
    out = tmp_path / "ray" / "clean.####.exr"
    result = run_on_ray(shot_job(shot, out, **settings), chunk=4)
    assert result.written == list(FRAMES)
    for frame in FRAMES:
        assert frame_bytes(out, frame) == frame_bytes(one, frame), (
            f"frame {frame} differs from the one-process run"
        )
    assert sum(w["chunks"] for w in result.workers) == 3
    assert max(w["chunks"] for w in result.workers) >= 2  # one worker ran two chunks...
    assert all(w["models"] == 1 for w in result.workers)  # ...with the one model it loaded


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failed_chunk_is_retried_and_still_exact(cluster, shot, reference, tmp_path, monkeypatch, how):
    """A chunk that raises (an application error, which Ray does not retry) or whose worker dies after writing
    frame 1006 runs again; the frames it finished are kept, the rest are written, all bit-identical."""
    from aifx_core.farm import run_on_ray

    marker = tmp_path / "fault-happened"
    monkeypatch.setenv(FAULT_VARIABLE, f"{how}:1006:{marker}")
    out = tmp_path / "clean.####.exr"
    received: list[dict] = []
    result = run_on_ray(
        shot_job(shot, out, backend=BACKEND), progress=lambda e: received.append(e.to_dict()), chunk=4
    )
    assert marker.exists(), "the fault never fired: the test proves nothing"
    assert any("chunk 1005-1008 failed" in n and "retry 1 of 2" in n for n in result.notices)
    assert any(e.get("stage") == "retry" for e in received)
    _assert_exact(out, reference)
    writes = [e for e in received if events.is_overall(e)]
    assert writes[-1]["index"] == writes[-1]["total"]
    # Every frame was written by this run, also those a killed worker finished after its last event reached
    # the driver (they were not on disk when the run started): none is reported "already done".
    assert result.written == list(FRAMES) and not result.skipped
    # The bar ends at every frame asked: a killed attempt's frames that its retry found on disk count too.
    assert writes[-1]["total"] == len(FRAMES)
    if how == "kill":  # one line names the chunk and what happened, not Ray's paragraph
        note = next(n for n in result.notices if "chunk 1005-1008 failed" in n)
        assert "its Ray worker process died" in note and len(note) < 300, note
    assert not list(tmp_path.glob("*tmp*")), "a temp file was left behind"


def test_a_driver_that_does_not_see_the_output_counts_only_what_the_workers_wrote(
    cluster, workers_folder, shot, reference, tmp_path, monkeypatch
):
    """The driver (this process) and its workers see different folders at the job's output path, as a
    submission host without the farm's storage mount would: the path goes through ``/proc/self/cwd``, and the
    workers' working folder (where the module's Ray started) is not the driver's. Frames 1005-1006 were made
    by an earlier run; chunk 1005-1008 then loses its worker after writing 1007, and its retry finds 1005-1007
    done. Only 1007 was written by this run: the driver must not count 1005-1006 as written because it sees no
    file at all (it used to look at its own view of the output for what existed before the run)."""
    from aifx_core.farm import run_on_ray
    from aifx_core.pipeline import fill

    driver_folder = tmp_path / "driver"
    driver_folder.mkdir()
    name = f"{tmp_path.name}-out"
    out = Path("/proc/self/cwd") / name / "clean.####.exr"
    try:
        monkeypatch.chdir(workers_folder)  # the earlier run, on the workers' storage
        fill(shot_job(shot, out, backend=BACKEND), frames="1005-1006")
        monkeypatch.chdir(driver_folder)
        assert not (driver_folder / name).exists() and (workers_folder / name).is_dir()

        marker = tmp_path / "fault-happened"
        monkeypatch.setenv(FAULT_VARIABLE, f"kill:1007:{marker}")
        result = run_on_ray(shot_job(shot, out, backend=BACKEND), chunk=4)
        assert marker.exists(), "the fault never fired: the test proves nothing"
        assert result.skipped == [1005, 1006], "frames of the earlier run were counted as written by this one"
        assert result.written == [f for f in FRAMES if f not in (1005, 1006)]
        assert any(
            n.startswith("note: this machine does not see 10 of the 10 frames") for n in result.notices
        )
        _assert_exact(workers_folder / name / "clean.####.exr", reference)
    finally:
        shutil.rmtree(workers_folder / name, ignore_errors=True)


def test_a_driver_that_does_not_see_the_plates_has_the_cluster_plan_the_chunks(
    cluster, workers_folder, shot, reference, tmp_path, monkeypatch
):
    """A submission host without the farm's storage mount: the plates are where the workers are (through
    ``/proc/self/cwd``, as in the test above), not here. The driver used to list the plate folder itself to plan
    chunks and failed ("does not exist"); the cluster plans them now, and the run is exact. A bad input there is
    still exit code 2, saying where it was seen."""
    from aifx_core.farm import run_on_ray

    driver_folder = tmp_path / "driver"
    driver_folder.mkdir()
    name = f"{tmp_path.name}-plates"
    plates = Path("/proc/self/cwd") / name
    out = tmp_path / "out" / "clean.####.exr"
    try:
        shutil.copytree(shot, workers_folder / name)
        monkeypatch.chdir(driver_folder)
        assert not plates.exists()
        result = run_on_ray(shot_job(plates, out, backend=BACKEND), chunk=4)
        assert result.written == list(FRAMES) and result.chunks == ["1001-1004", "1005-1008", "1009-1012"]
        _assert_exact(out, reference)

        missing = shot_job(plates, tmp_path / "other" / "clean.####.exr", backend=BACKEND)
        missing.input = str(plates / "plate.####.tif")
        with pytest.raises(InputError, match="as a Ray worker sees it"):
            run_on_ray(missing, chunk=4)

        # The plates given as a bare folder (no frame token): it used to read, here, as a still image inside
        # /proc/self/cwd, which the driver does see, so the driver planned the chunks itself and failed.
        (workers_folder / f"{name}-bare").mkdir()
        for plate in shot.glob("plate.*.exr"):
            shutil.copy2(plate, workers_folder / f"{name}-bare" / plate.name)
        bare = shot_job(plates, tmp_path / "bare" / "clean.####.exr", backend=BACKEND)
        bare.input = str(plates.parent / f"{name}-bare")
        result = run_on_ray(bare, chunk=4)
        assert result.written == list(FRAMES)
        _assert_exact(tmp_path / "bare" / "clean.####.exr", reference)
    finally:
        shutil.rmtree(workers_folder / name, ignore_errors=True)
        shutil.rmtree(workers_folder / f"{name}-bare", ignore_errors=True)


def test_a_chunk_that_keeps_failing_fails_the_run(cluster, shot, tmp_path, monkeypatch):
    from aifx_core.farm import run_on_ray
    from aifx_core.protocol.errors import AifxError

    marker = tmp_path / "fault-happened"
    monkeypatch.setenv(FAULT_VARIABLE, f"raise:1002:{marker}")
    with pytest.raises(
        AifxError, match=r"chunk 1001-1004 failed 1 times.*injected fault.*run the job again to resume"
    ):
        run_on_ray(shot_job(shot, tmp_path / "clean.####.exr", backend=BACKEND), chunk=4, retries=0)


def test_cancel_stops_every_worker_and_keeps_finished_frames(cluster, shot, reference, tmp_path, monkeypatch):
    """The caller's cancel reaches a worker mid-chunk: it writes no frame after it, and the frames finished are
    kept, exact. The chunk 1001-1004 is held after frame 1002 until its worker has the cancel (the test hook's
    ``hold``, which then writes ``held``): with frames only slowed down, as before, a driver that reacted late
    (a busy machine) saw every chunk finish and the run end without a cancel."""
    from aifx_core.farm import run_on_ray
    from aifx_core.progress import CancelToken

    held = tmp_path / "held"
    monkeypatch.setenv(FAULT_VARIABLE, f"hold:1002:{held}")
    out = tmp_path / "clean.####.exr"
    cancel = CancelToken()

    def on_progress(event) -> None:
        if event.stage == "write" and event.frame == 1002:
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_on_ray(shot_job(shot, out, backend=BACKEND), progress=on_progress, cancel=cancel, chunk=4)
    assert held.exists(), "the held worker never had the cancel (it was killed)"
    kept = _written(out)
    assert {1001, 1002} <= set(kept) and not {1003, 1004} & set(kept), kept
    _assert_exact(out, reference, kept)
    assert not list(tmp_path.glob("*tmp*")), "a cancelled worker left a temp file"

    monkeypatch.delenv(FAULT_VARIABLE)
    rest = run_on_ray(shot_job(shot, out, backend=BACKEND), chunk=4)
    assert rest.skipped == kept, "finished frames were not kept"
    assert sorted(rest.written + rest.skipped) == list(FRAMES)
    _assert_exact(out, reference)


def test_bad_input_in_a_chunk_is_not_retried(cluster, shot, tmp_path):
    from aifx_core.farm import run_on_ray

    job = shot_job(shot, tmp_path / "clean.####.exr", backend=BACKEND, options={"no_such_option": 1})
    with pytest.raises(InputError, match="no_such_option"):
        run_on_ray(job, chunk=4)


def test_cli_runs_on_a_ray_cluster_with_json_progress(cluster, shot, reference, tmp_path):
    """``aifx run job.json --executor ray --address ... --json-progress`` from another process, joining the
    module's cluster: the same event stream as a local run, a done event with every frame, exit code 0."""
    out = tmp_path / "clean.####.exr"
    job_file = tmp_path / "job.json"
    shot_job(shot, out, backend=BACKEND).save(job_file)
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file), "--json-progress"]
    done = subprocess.run(
        [*command, "--executor", "ray", "--address", cluster, "--chunk", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    received = [events.decode(line) for line in done.stdout.splitlines()]
    assert all(received), f"stdout holds more than events: {done.stdout[:500]}"
    _check_stream(received[:-1], FRAMES)
    assert received[-1]["event"] == "done" and received[-1]["written"] == list(FRAMES)
    _assert_exact(out, reference)


def test_other_settings_onto_an_earlier_fills_frames_are_refused_before_any_chunk_writes(
    cluster, shot, tmp_path
):
    """The output holds frames 1009-1012 of an earlier fill; the shot with dilate 6 on Ray exited 2 ("made with
    different settings") but had already written 1001-1008 with the new settings, a mix of two fills. A
    one-process run refuses before writing anything; so does Ray now: the driver's first task (the anchors
    stage) checks the whole shot before any chunk starts."""
    from aifx_core.pipeline import fill

    out = tmp_path / "clean.####.exr"
    fill(shot_job(shot, out, backend=BACKEND, frames="1009-1012"))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    job_file = tmp_path / "job.json"
    shot_job(shot, out, backend=BACKEND, dilate=6).save(job_file)
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file), "--executor", "ray"]
    done = subprocess.run(
        [*command, "--address", cluster, "--chunk", "4"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "4 output frame(s) already exist, made with different settings" in done.stderr
    assert _written(out) == [1009, 1010, 1011, 1012]
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p.name != "job.json"}
    assert after == before


def test_cli_json_progress_stdout_holds_only_events_when_a_worker_dies(cluster, shot, reference, tmp_path):
    """A Ray worker killed mid-chunk (the case retries are for) had Ray print its coloured ``(raylet) A worker
    died or was killed ...`` paragraph on the run's stdout, among the events: ``--json-progress`` promises one
    JSON object per line there. Ray's lines now go to stderr; stdout holds the events, the retry's included."""
    out = tmp_path / "clean.####.exr"
    job_file = tmp_path / "job.json"
    marker = tmp_path / "fault-happened"
    shot_job(shot, out, backend=BACKEND).save(job_file)
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file), "--json-progress"]
    done = subprocess.run(
        [*command, "--executor", "ray", "--address", cluster, "--chunk", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1", FAULT_VARIABLE: f"kill:1006:{marker}"},
    )
    assert marker.exists(), "the fault never fired: the test proves nothing"
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    strays = [line for line in lines if events.decode(line) is None]
    assert not strays, f"stdout holds more than events: {strays[:3]}"
    received = [events.decode(line) for line in lines]
    assert any(e.get("stage") == "retry" for e in received)
    assert received[-1]["event"] == "done" and received[-1]["written"] == list(FRAMES)
    assert "A worker died or was killed" in done.stderr  # Ray's own line, on stderr now
    _assert_exact(out, reference)


def test_cli_sigterm_cancels_every_worker_and_keeps_finished_frames(cluster, shot, reference, tmp_path):
    """What the adapters' Cancel sends (SIGTERM) stops a Ray run: exit code 130, a final ``cancelled`` event,
    finished frames exact and kept. The chunk 1001-1004 is held after frame 1002 until its worker has the
    cancel (the test hook's ``hold``), so a SIGTERM sent late (a busy machine) still finds the run going: with
    frames only slowed down, as before, the run could end first (exit 0)."""
    out = tmp_path / "clean.####.exr"
    held = tmp_path / "held"
    job_file = tmp_path / "job.json"
    shot_job(shot, out, backend=BACKEND).save(job_file)
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file), "--json-progress"]
    command += ["--executor", "ray", "--address", cluster, "--chunk", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", FAULT_VARIABLE: f"hold:1002:{held}"}
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        received = []
        for line in worker.stdout:
            event = events.decode(line)
            received.append(event)
            if event and events.is_overall(event) and event["frame"] == 1002:
                worker.send_signal(signal.SIGTERM)
                break
        rest, errors = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    received += [events.decode(line) for line in rest.splitlines()]
    assert worker.returncode == 130, errors[-2000:]
    assert received[-1]["event"] == "cancelled"
    assert held.exists(), "the held worker never had the cancel (it was killed)"
    kept = _written(out)
    assert {1001, 1002} <= set(kept) and not {1003, 1004} & set(kept), kept
    _assert_exact(out, reference, kept)
    assert not list(tmp_path.glob("*tmp*"))


def test_cli_refuses_ray_flags_without_the_ray_executor(shot, tmp_path):
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "clean.####.exr").save(job_file)
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(job_file), "--chunk", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--chunk: only with --executor ray" in done.stderr


def test_more_workers_than_the_local_ray_has_cpus_is_refused_at_once(shot, tmp_path):
    """``--workers 3`` on the local Ray (2 CPUs): the third worker never started, and the run waited 300 s for
    it before failing (exit 1); now exit 2 at once, saying what fits."""
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "clean.####.exr").save(job_file)
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(job_file), "--executor", "ray", "--workers", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--workers 3: the local Ray has 2 CPUs" in done.stderr and "Traceback" not in done.stderr


def test_workers_are_no_more_than_the_chunks(cluster, shot, reference, tmp_path):
    from aifx_core.farm import run_on_ray

    out = tmp_path / "clean.####.exr"
    result = run_on_ray(shot_job(shot, out, backend=BACKEND), chunk=len(FRAMES), workers=2)
    assert result.chunks == ["1001-1012"] and len(result.workers) == 1
    _assert_exact(out, reference)


def test_an_address_where_no_ray_answers_is_refused_not_waited_on(shot, tmp_path):
    """A typo in ``--address`` (a port nothing listens on): ``ray.init`` kept retrying for minutes, which
    looked like a hang; now exit 2 at once, naming the address and what to do."""
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "clean.####.exr").save(job_file)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(job_file), "--executor", "ray"]
        + ["--address", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"--address 127.0.0.1:{port}: no Ray cluster answers there" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.glob("clean.*"))


# -- without Ray: the merged stream and the GPU rule ------------------------------------------------------------


def test_merged_progress_counts_frames_over_chunks_resume_and_retries():
    received = []
    merge = ChunkProgress(lambda e: received.append(e), {"a": [1, 2, 3], "b": [4, 5, 6]})
    assert merge.total == 6
    merge.chunk_event("b", {"stage": "write", "index": 0, "total": 0, "message": "all frames already done"})
    assert received[-1].total == 3  # chunk b had nothing left: the total shrinks, the bar jumps forward
    merge.chunk_event("a", {"stage": "flow", "index": 1, "total": 3, "frame": 1})
    assert received[-1].stage == "flow" and received[-1].message == "chunk 1-3"
    merge.chunk_event("a", {"stage": "write", "index": 1, "total": 3, "frame": 1})
    merge.retry("a")  # the attempt failed after frame 1; the retry has 2 frames left to do
    merge.chunk_event("a", {"stage": "write", "index": 1, "total": 2, "frame": 2})
    merge.chunk_event("a", {"stage": "write", "index": 2, "total": 2, "frame": 3})
    writes = [(e.index, e.total) for e in received if e.stage == "write"]
    assert writes == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert merge.frames_written("a") == {1, 2, 3}


def test_gpu_only_for_models_on_a_cluster_with_gpus():
    telea = FillJob(input="p.####.exr", output="o.####.exr", backend="telea")
    lama = FillJob(input="p.####.exr", output="o.####.exr", backend="lama", options={"model": "m.pt"})
    engine = FillJob(input="p.####.exr", output="o.####.exr")
    assert not uses_model(telea) and not uses_model(engine)
    assert uses_model(lama)  # routed under the temporal engine, which asks it for keyframes
    assert uses_model(FillJob(input="p", output="o", options={"spatial_backend": "diffusers"}))
    assert gpus_per_worker(lama, {"CPU": 8, "GPU": 2}) == 1
    assert gpus_per_worker(lama, {"CPU": 8}) == 0
    assert gpus_per_worker(telea, {"CPU": 8, "GPU": 2}) == 0
    assert gpus_per_worker(FillJob(input="p", output="o", device="cpu", backend="lama"), {"GPU": 1}) == 0
    with pytest.raises(InputError, match="no GPU"):
        gpus_per_worker(FillJob(input="p", output="o", device="cuda"), {"CPU": 2})
    with pytest.raises(InputError, match="use --device cuda or auto"):
        gpus_per_worker(FillJob(input="p", output="o", device="cuda:1"), {"GPU": 2})


def test_job_paths_travel_absolute(tmp_path, monkeypatch):
    from aifx_core.protocol.job import absolute_paths

    monkeypatch.chdir(tmp_path)
    job = absolute_paths(FillJob(input="shot/plate.####.exr", output="/abs/o.####.exr", mask="m.png"))
    assert job.input == str(tmp_path / "shot/plate.####.exr") and job.mask == str(tmp_path / "m.png")
    assert job.output == "/abs/o.####.exr"
    assert json.loads(job.to_json())["input"].startswith("/")


def test_run_on_ray_gives_the_callers_process_back_as_it_was(shot, tmp_path):
    """``ray.init`` (and importing Ray) left its excepthook, warnings filters and ``PYTHONBREAKPOINT``/``RAY_*``
    variables in the caller's process (a Blender or pipeline script): a later ``breakpoint()`` went to Ray's
    debugger. In a process of its own: the executor must start (and stop) its own local Ray here."""
    code = (
        "import os, sys, warnings\n"
        "from aifx_core.farm import run_on_ray\n"
        "from aifx_core.protocol.job import FillJob\n"
        "import numpy, cv2  # (their own import-time warnings filters are not Ray's)\n"
        "def state():\n"
        "    env = {k: v for k, v in os.environ.items() if k.startswith(('RAY_', 'PYTHONBREAKPOINT'))}\n"
        "    return sys.excepthook, list(warnings.filters), env\n"
        "before = state()\n"
        "job = FillJob(input=sys.argv[1], mask=sys.argv[2], output=sys.argv[3], backend='telea')\n"
        "assert run_on_ray(job, workers=1).written\n"
        "after = state()\n"
        "print([name for name, b, a in zip(('excepthook', 'warnings', 'env'), before, after) if b != a])\n"
    )
    paths = [str(shot / "plate.####.exr"), str(shot / "mask.####.png"), str(tmp_path / "c.####.exr")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PYTHONBREAKPOINT"))}
    done = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_local_ray_that_cannot_start_is_one_line_naming_its_folder(tmp_path):
    """Under ``ulimit -f`` (a farm's per-file cap, or a full disk) the local Ray's node never came up: after its
    30 s wait, a traceback and "aifx: internal error: The current node timed out during startup ...", exit 1.
    Now one line naming Ray's session folder and the likely cause, exit 2. Ray's sessions go to a folder of the
    test's own (RAY_TMPDIR), short enough for Ray's socket paths, and what Ray started is ended by its mark."""
    import tempfile

    from cli_runner import aifx

    job_file = tmp_path / "job.json"
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1005))
    shot_job(shot, tmp_path / "c.####.exr").save(job_file)
    folder = tempfile.mkdtemp(prefix="aifxray", dir="/tmp")
    mark = f"{os.getpid()}-{tmp_path.name}"
    env = {"RAY_TMPDIR": folder, "AIFX_TEST_RUN": mark}
    try:
        done = aifx(
            "run", str(job_file), "--executor", "ray", env=env, file_size_limit=40 * 1024, timeout=300
        )
    finally:
        for pid in _marked(f"AIFX_TEST_RUN={mark}"):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("aifx: error: the local Ray did not start ("), line
    assert f"its logs are in {folder}/ray/session_latest/logs" in line and "ulimit -f" in line, line
    assert not list(tmp_path.glob("c.*.exr"))


def _marked(mark: str) -> list[int]:
    """Processes whose environment carries ``mark`` (the run's own, and every process Ray started for it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("delay", [0.5, 2.5, 5.0])
def test_ctrl_c_while_the_local_ray_starts_ends_the_run_and_its_processes(tmp_path, delay):
    """Ctrl+C at the terminal (SIGINT to the whole process group) while ``ray.init`` starts the local Ray: the
    flag-only handlers were installed only after it, so the interrupt landed inside it (or in a child it
    forked): a KeyboardInterrupt out of a half-started Ray ('aifx: interrupted'), Ray's agents left running, or a
    segfault. Now the Ctrl+C only sets the cancel flag, the start is waited for and the run ends on the flag
    ('aifx: cancelled; ...'), Ray shut down. ``delay``: how long after Ray's first process the Ctrl+C comes (the
    old code failed at some moments only, so three).

    It once also bounded the exit at 15 s (the old exit took 17 s), a speed claim a busy machine misses with
    nothing wrong: the fixed run waits for Ray's start, which took 16 s on a loaded 2-core machine, where the
    old code, interrupted inside it, exited in 2 s. What is checked instead is how the run ended (the cancel
    flag, not an interrupt inside Ray); the timeouts only guard against a hang."""
    job_file = tmp_path / "job.json"
    # A shot long enough that the run cannot end before the Ctrl+C, however fast Ray starts here.
    shot = make_shot(tmp_path / "long", frames=range(1001, 1401))
    shot_job(shot, tmp_path / "c.####.exr", backend="telea").save(job_file)
    mark = f"AIFX_TEST_RUN={os.getpid()}-{tmp_path.name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env[mark.split("=")[0]] = mark.split("=")[1]
    command = [sys.executable, "-m", "aifx_core", "run", str(job_file), "--executor", "ray", "--chunk", "4"]
    run = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while len(_marked(mark)) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until Ray's first process has started
        assert run.poll() is None, run.communicate()[1][-2000:]
        time.sleep(delay)
        os.killpg(run.pid, signal.SIGINT)
        _, errors = run.communicate(timeout=180)  # (a guard against a hang only: Ray's start is waited for)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 130, errors[-3000:]
    assert "Traceback" not in errors and "KeyboardInterrupt" not in errors, errors[-3000:]
    # Ended by the cancel flag once Ray was up (or by the run's cancel, had Ray been up already), never by an
    # interrupt raised inside Ray's start ("aifx: interrupted; ...").
    cancelled = "aifx: cancelled; finished frames are kept and a rerun resumes after them"
    assert cancelled in errors and "aifx: interrupted" not in errors, errors[-3000:]
    deadline = time.monotonic() + 60  # (a guard only: a process left running stays)
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _marked(mark)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, [
        Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in left if Path(f"/proc/{pid}").exists()
    ]
