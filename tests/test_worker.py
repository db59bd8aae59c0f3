"""The out-of-process worker client (protocol/client.py) the Blender and Nuke adapters carry, against the real worker."""

from __future__ import annotations

import sys
from pathlib import Path

from shot_files import make_shot, read_exr, shot_job

from aifx_core.protocol.client import WorkerProcess, check_environment, run_job

REPO = Path(__file__).resolve().parents[1]


def test_check_environment():
    ok, message = check_environment(sys.executable)
    assert ok, message
    ok, message = check_environment(str(REPO / "no" / "python"))
    assert not ok and "not found" in message


def test_check_environment_refuses_a_python_that_has_aifx_core_but_not_its_dependencies(tmp_path):
    """aifx_core on a Python's path without NumPy & co. (a checkout on PYTHONPATH, pip install --no-deps)
    passed the Check, which imported aifx_core alone; every fill then failed in the worker."""
    python = tmp_path / "python"
    # The same interpreter without its site-packages (-S): aifx_core from the source tree, no NumPy.
    python.write_text(f'#!/bin/sh\nPYTHONPATH={REPO / "src"} exec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    ok, message = check_environment(str(python))
    assert not ok, message
    assert "has aifx-core " in message and "No module named" in message, message
    assert f"run '{python} -m pip install aifx-core' to install its dependencies" in message


def test_run_job_forwards_progress_and_finishes(tmp_path):
    shot = make_shot(tmp_path / "shot", range(1, 4))
    job = shot_job(shot, tmp_path / "out" / "c.####.exr")
    job.save(tmp_path / "job.json")
    events = []
    worker = run_job(sys.executable, str(tmp_path / "job.json"), on_event=events.append)
    assert worker.returncode == 0, worker.error_message()
    assert worker.fraction() == 1.0
    assert events[-1]["event"] == "done"
    assert [e["frame"] for e in events if e.get("stage") == "write"] == [1, 2, 3]


def test_cancel_stops_between_frames_and_leaves_valid_frames(tmp_path):
    shot = make_shot(tmp_path / "shot", range(1, 41))
    job = shot_job(shot, tmp_path / "out" / "c.####.exr")
    job.save(tmp_path / "job.json")
    worker = WorkerProcess(sys.executable, str(tmp_path / "job.json")).start()
    while worker.running() and worker.last_progress is None:
        worker.poll()
    worker.cancel()
    code = worker.wait()
    assert code == 130, worker.error_message()
    assert worker.final and worker.final["event"] == "cancelled"
    written = sorted((tmp_path / "out").glob("c.*.exr"))
    assert 0 < len(written) < 40
    for path in written:
        read_exr(path)
    assert not [p for p in (tmp_path / "out").iterdir() if "tmp" in p.name]
    resumed = run_job(sys.executable, str(tmp_path / "job.json"))
    assert resumed.returncode == 0
    assert len(resumed.final["written"]) == 40 - len(written)
