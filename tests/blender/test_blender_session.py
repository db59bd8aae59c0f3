"""The extension's plain-Python parts (no bpy): the worker copy, job files, and the FillSession the modal
operator drives, run against the real ``python -m aifx_core run`` worker."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import CodeType

import pytest
from blender_helpers import read_exr_rgb
from shot_files import signal_taken

from aifx_core.protocol.job import FillJob
from blender_addon import jobs, session
from blender_addon.aifx_protocol import client
from blender_addon.aifx_protocol.errors import InputError

pytestmark = pytest.mark.blender


def test_jobs_are_built_by_the_protocol_copy_and_match_the_core_json() -> None:
    job = jobs.build_job(
        input="/p/plate.####.exr",
        output="/o/clean.####.exr",
        mask="/p/mask.####.png",
        backend="propagate",
        frames="1001-1010",
        options={"spatial_backend": "telea", "prompt": "", "model": None},
        dilate=6,
        feather=3,
        seed=7,
        colorspace="ACEScg",
    )
    expected = FillJob(
        input="/p/plate.####.exr",
        output="/o/clean.####.exr",
        mask="/p/mask.####.png",
        frames="1001-1010",
        options={"spatial_backend": "telea"},  # empty options are left to the backend
        dilate=6,
        feather=3,
        seed=7,
        colorspace="ACEScg",
    )
    assert json.loads(job.to_json()) == json.loads(expected.to_json())  # the whole job, every field
    assert FillJob.from_json(job.to_json()) == expected


def test_a_refused_setting_is_one_line_naming_it() -> None:
    with pytest.raises(InputError, match='"dilate"'):
        jobs.build_job(input="/p/a.####.exr", output="/o/b.####.exr", mask=None, backend="telea", dilate=-2)


def test_sequence_names_follow_blender_paths() -> None:
    seq = jobs.split_sequence_path("/shots/sh010/plate_v2.0998.exr")
    assert seq is not None
    assert (seq.pattern, seq.number, seq.padding, seq.stem) == (
        "/shots/sh010/plate_v2.####.exr",
        998,
        4,
        "plate_v2",
    )
    assert seq.path(1001) == "/shots/sh010/plate_v2.1001.exr"
    assert jobs.split_sequence_path("/a/frames/00007.png").stem == "frames"
    assert jobs.split_sequence_path("/a/still.png") is None
    assert jobs.pattern_frame_path("/o/a1.####.exr", 7) == "/o/a1.0007.exr"
    paths = jobs.output_paths("plate", 4, "/out")
    assert (
        paths["output"] == "/out/plate_fill.####.exr"
        and paths["mask"] == "/out/plate_mask/plate_mask.####.png"
    )
    assert (
        jobs.format_eta(None) == "--:--"
        and jobs.format_eta(75.4) == "1:15"
        and jobs.format_eta(3725) == "1:02:05"
    )


def _job(shot: Path, out: Path, last: int) -> str:
    job = jobs.build_job(
        input=str(shot / "frames" / "#####.png"),
        output=str(out / "clean.#####.exr"),
        mask=str(shot / "masks" / "#####.png"),
        backend="telea",
        frames=jobs.frame_spec(0, last),
    )
    return jobs.write_job(job, str(out / "job.json"))


def test_session_ticks_report_progress_and_finish(png_shot: Path, tmp_path: Path) -> None:
    job_path = _job(png_shot, tmp_path, 3)
    fill = session.FillSession(sys.executable, job_path).start()
    assert fill.status_text().startswith("AI Fill: starting")
    texts = []
    while fill.tick() == session.RUNNING:
        texts.append(fill.status_text())
        time.sleep(0.005)
    assert fill.state == session.DONE, fill.message
    progress = [e for e in fill.events if e.get("event") == "progress"]
    assert [e["frame"] for e in progress if e["stage"] == "write"] == [0, 1, 2, 3]
    assert fill.fraction == 1.0
    assert any("frame" in t and "/4" in t and "ETA" in t for t in texts), texts
    assert len(jobs.existing_frames(str(tmp_path / "clean.#####.exr"), list(range(4)))) == 4


def _inside(ident: int, code: CodeType) -> bool:
    """True while the thread ``ident`` of this process runs ``code`` (anywhere in its stack)."""
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def test_cancel_keeps_finished_frames_and_rerun_resumes(
    png_shot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel's Cancel (SIGTERM to the worker) keeps the frames written before it, writes none after it,
    and a rerun resumes after them.

    The worker is held after writing frame 2 (aifx's test hook AIFX_TEST_WAIT, in the environment the session
    gives the worker) and let go only once it has taken the cancel: cancelling after the first progress event
    of any stage, as before, raced the 24 frames both ways (none written yet, or all of them on a busy
    machine). ``FillSession.cancel`` sends the SIGTERM and then waits for the worker to end, so another thread
    lets it go: once this thread waits for the worker (the SIGTERM is sent) and the worker has run its handler
    (``signal_taken``)."""
    total = 24
    job_path = _job(png_shot, tmp_path, total - 1)
    pattern = str(tmp_path / "clean.#####.exr")
    go = tmp_path / "go"
    monkeypatch.setenv("AIFX_TEST_WAIT", f"written:2:{go}")
    fill = session.FillSession(sys.executable, job_path).start()
    assert isinstance(fill.worker, client.WorkerProcess) and fill.worker._proc is not None
    pid, here = fill.worker._proc.pid, threading.get_ident()
    while fill.tick() == session.RUNNING and not any(
        e.get("stage") == "write" and e.get("frame") == 2 for e in fill.events
    ):
        time.sleep(0.005)
    failed: list[BaseException] = []

    def let_go() -> None:
        try:
            deadline = time.monotonic() + 60
            while not _inside(here, subprocess.Popen.wait.__code__):  # (called once the SIGTERM is sent)
                assert time.monotonic() < deadline, "the session's cancel never waited for the worker"
                time.sleep(0.01)
            signal_taken(pid, signal.SIGTERM)
        except BaseException as exc:  # (raised in the test's thread)
            failed.append(exc)
        finally:
            go.touch()

    releaser = threading.Thread(target=let_go, name="let-go")
    releaser.start()
    fill.cancel()
    releaser.join()
    assert not failed, failed
    assert fill.wait().state == session.CANCELLED, fill.message
    kept = jobs.existing_frames(pattern, list(range(total)))
    assert kept == [0, 1, 2], kept  # those written before the cancel, none after it
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".exr" and not p.name.startswith("clean.")]
    stamps = {n: Path(jobs.pattern_frame_path(pattern, n)).stat().st_mtime_ns for n in kept}
    for number in kept:  # every frame left behind is a whole, readable image
        assert read_exr_rgb(Path(jobs.pattern_frame_path(pattern, number))).shape == (180, 320, 3)

    monkeypatch.delenv("AIFX_TEST_WAIT")
    rerun = session.run_blocking(sys.executable, job_path)
    assert rerun.state == session.DONE, rerun.message
    assert sorted(rerun.worker.final["skipped"]) == kept
    assert jobs.existing_frames(pattern, list(range(total))) == list(range(total))
    assert {n: Path(jobs.pattern_frame_path(pattern, n)).stat().st_mtime_ns for n in kept} == stamps


def test_worker_errors_reach_the_session(tmp_path: Path) -> None:
    job_path = jobs.write_job(
        jobs.build_job(
            input=str(tmp_path / "nope.####.exr"),
            output=str(tmp_path / "o.####.exr"),
            mask=None,
            backend="telea",
        ),
        str(tmp_path / "job.json"),
    )
    failed = session.run_blocking(sys.executable, job_path)
    assert failed.state == session.ERROR and "nope" in failed.message
    missing = session.FillSession(str(tmp_path / "no-python"), job_path).start()
    assert missing.tick() == session.ERROR and "cannot start" in missing.message


def test_video_diffusion_settings_become_its_options_and_the_core_accepts_them() -> None:
    from types import SimpleNamespace

    from aifx_core.backends import check_options

    panel = SimpleNamespace(
        backend="video-diffusion",
        spatial_backend="telea",
        model="/models/wan-vace",
        prompt="a car explodes",
        negative_prompt="",
        reference="/refs/fire.png",
        window=41,
        overlap=8,
        steps=12,
        model_size=960,
    )
    options = jobs.backend_options(panel)
    job = jobs.build_job(
        input="/p/plate.####.exr",
        output="/o/fx.####.exr",
        mask="/p/m.####.png",
        backend=panel.backend,
        options=options,
    )
    assert job.options == {
        "model": "/models/wan-vace",
        "prompt": "a car explodes",
        "reference": "/refs/fire.png",
        "window": 41,
        "overlap": 8,
        "steps": 12,
        "size": 960,
    }
    check_options(job.backend, job.options)  # what the core checks before reading a frame
    propagate = jobs.backend_options(SimpleNamespace(**{**vars(panel), "backend": "propagate"}))
    assert propagate["spatial_backend"] == "telea" and "window" not in propagate


def test_with_a_server_the_session_runs_the_job_on_aifx_serve(png_shot: Path, tmp_path: Path) -> None:
    """#13: the preferences' Server URL and token send the job to a real ``aifx serve`` on 127.0.0.1."""
    from serve_helpers import TOKENS, Server, write_tokens

    server = Server(
        tmp_path / "state",
        "--token-file",
        str(write_tokens(tmp_path / "tokens")),
        "--root",
        str(tmp_path),
        "--root",
        str(png_shot),
    ).start()
    try:
        job_path = _job(png_shot, tmp_path, 3)
        fill = session.FillSession("", job_path, server=(server.url, TOKENS["alice"])).start()
        assert fill.wait(timeout=120).state == session.DONE, fill.message
        assert [e["frame"] for e in fill.events if e.get("stage") == "write"] == [0, 1, 2, 3]
        assert len(jobs.existing_frames(str(tmp_path / "clean.#####.exr"), list(range(4)))) == 4
        refused = session.FillSession("", job_path, server=(server.url, "wrong")).start()
        assert refused.state == session.ERROR
        assert "401" in refused.message or "token" in refused.message, refused.message
    finally:
        server.stop()


def test_the_docs_show_the_progress_lines_blender_prints() -> None:
    """docs/blender.md showed ``AI Fill write 1/48 frame 1001`` (and ``write frame 1012: 12/48`` in the
    status bar) where Blender prints ``AI Fill write 1/48 (frame 1001)``."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "blender.md").read_text(encoding="utf-8")
    for index, frame, after in ((1, 1001, "\n"), (12, 1012, ", ETA 0:41 (Esc to cancel)`")):
        event = {"event": "progress", "stage": "write", "index": index, "total": 48, "frame": frame}
        assert session.describe_event(event) + after in docs, session.describe_event(event)
    assert not [line for line in docs.splitlines() if "AI Fill write" in line and "(frame " not in line]
