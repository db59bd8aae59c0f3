"""Bad input, as a careless user or a hostile job file gives it (issue #11): one case per data-loss path.

Every case runs the real ``python -m aifx_core`` on real files and checks what a user relies on: the exit code,
one line naming the file or field, the inputs byte-identical afterwards, and the outputs complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from shot_files import make_shot

FRAMES = range(1001, 1005)


def aifx(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aifx_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "default", **(env or {})},
    )


def hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 and exactly one ``aifx: error:`` line on stderr holding every fragment."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("aifx: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def shot(tmp_path):
    return make_shot(tmp_path / "shot", FRAMES)


def fill_args(shot: Path, out: Path, *extra: str) -> list[str]:
    return [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
        "-b",
        "telea",
        *extra,
    ]


def frames_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.exr")) if folder.is_dir() else []


# -- 1, 2, 11: side outputs ------------------------------------------------------------------------------


def test_contact_sheet_onto_an_input_is_refused_before_the_fill(shot, tmp_path):
    """#11.1: the contact sheet once replaced a mask frame with exit 0."""
    before = hashes(shot)
    target = shot / "mask.1002.png"
    out = tmp_path / "out"
    done = aifx(*fill_args(shot, out / "clean.####.exr", "--contact-sheet", str(target)))
    one_error_line(done, str(target), "mask frame", "--contact-sheet")
    assert hashes(shot) == before
    assert frames_in(out) == []


def test_side_outputs_through_a_symlink_or_hard_link_are_caught(shot, tmp_path):
    link = tmp_path / "sheet.png"
    link.symlink_to(shot / "mask.1001.png")
    hard = tmp_path / "job.json"
    (tmp_path / "notes.json").write_text("{}")
    os.link(tmp_path / "notes.json", hard)
    before = hashes(shot)
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr", "--contact-sheet", str(link)))
    one_error_line(done, str(link), "mask frame")
    assert hashes(shot) == before


def test_save_job_onto_an_input_or_for_a_failing_job_writes_nothing(shot, tmp_path):
    """#11.2: the job file was written before any check, even over an input."""
    before = hashes(shot)
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr", "--save-job", str(shot / "mask.1001.png")))
    one_error_line(done, "mask.1001.png", "--save-job")
    assert hashes(shot) == before
    # A job that fails its checks (missing mask) leaves no job file behind.
    job = tmp_path / "job.json"
    bad = fill_args(shot, tmp_path / "o" / "c.####.exr", "--save-job", str(job))
    bad[bad.index("-m") + 1] = str(shot / "nope.####.png")
    one_error_line(aifx(*bad), "nope.####.png")
    assert not job.exists()
    # A good one saves a job that runs again.
    assert aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr", "--save-job", str(job))).returncode == 0
    assert json.loads(job.read_text())["output"].endswith("c.####.exr")
    assert [p.name for p in tmp_path.iterdir() if "aifx-tmp" in p.name] == []


@pytest.mark.parametrize("flag", ["--save-job", "--contact-sheet"])
def test_side_output_at_a_folder_or_missing_folder_fails_first(shot, tmp_path, flag):
    """#11.11: a folder gave a traceback (after the whole fill, with a temp file made in /)."""
    out = tmp_path / "out"
    done = aifx(*fill_args(shot, out / "c.####.exr", flag, str(tmp_path)))
    one_error_line(done, str(tmp_path), "folder", flag)
    missing = tmp_path / "no" / "such" / ("x.json" if flag == "--save-job" else "x.png")
    done = aifx(*fill_args(shot, out / "c.####.exr", flag, str(missing)))
    one_error_line(done, str(tmp_path / "no" / "such"), "does not exist")
    assert frames_in(out) == []


def test_eval_folder_never_overwrites_an_input(shot, tmp_path):
    """#11.1 for ``aifx eval --out``: its files (contact_sheet.png...) must not replace an input."""
    out = tmp_path / "o"
    assert aifx(*fill_args(shot, out / "c.####.exr")).returncode == 0
    sheet_named_mask = tmp_path / "m" / "contact_sheet.png"
    sheet_named_mask.parent.mkdir()
    sheet_named_mask.write_bytes((shot / "mask.1001.png").read_bytes())
    before = hashes(tmp_path / "m")
    done = aifx(
        "eval", str(out / "c.####.exr"), "--mask", str(sheet_named_mask), "--out", str(tmp_path / "m")
    )
    one_error_line(done, "contact_sheet.png", "mask")
    assert hashes(tmp_path / "m") == before


# -- 9, 10, 11: what is not a file, or not a job -----------------------------------------------------------


def test_fifo_frame_and_fifo_job_are_refused_not_waited_on(shot, tmp_path):
    """#11.9: a FIFO hung forever, and SIGTERM could not stop it."""
    os.unlink(shot / "plate.1003.exr")
    os.mkfifo(shot / "plate.1003.exr")
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr"), timeout=60)
    one_error_line(done, "plate.1003.exr", "FIFO")
    os.mkfifo(tmp_path / "job.json")
    one_error_line(aifx("run", str(tmp_path / "job.json"), timeout=60), "job.json", "FIFO")


def test_device_files_and_huge_files_are_refused(tmp_path):
    """#11.10 and #11.13: ``aifx run /dev/zero`` read 3.3 GB; a device was called "not found"."""
    one_error_line(aifx("run", "/dev/zero", timeout=60), "/dev/zero", "device")
    big = tmp_path / "big.json"
    big.write_text('{"input": "' + "x" * 1_200_000 + '"}')
    one_error_line(aifx("run", str(big), timeout=60), "big.json", "bytes")
    one_error_line(aifx("info", "/dev/zero.exr", timeout=60), "/dev/zero.exr")
    fake = tmp_path / "zero.exr"
    fake.symlink_to("/dev/zero")
    one_error_line(aifx("fill", str(fake), "-o", str(tmp_path / "o.exr"), timeout=60), "zero.exr", "device")


def test_symlink_loop_and_non_utf8_job_are_exit_2(shot, tmp_path):
    """#11.11: both were tracebacks with exit 1."""
    os.unlink(shot / "plate.1002.exr")
    (shot / "plate.1002.exr").symlink_to(shot / "plate.1002.exr")
    one_error_line(aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr")), "plate.1002.exr", "symlink loop")
    job = tmp_path / "latin1.json"
    job.write_bytes('{"input": "pl\u00e4te.####.exr", "output": "o.####.exr"}'.encode("latin-1"))
    one_error_line(aifx("run", str(job)), "latin1.json", "UTF-8")


def test_sigterm_cancels_with_the_normal_cancel_path_and_a_rerun_completes(tmp_path):
    """#11.9: SIGTERM (the adapters' Cancel) stops the job at once; nothing half-written; a rerun resumes."""
    shot = make_shot(tmp_path / "shot", range(1001, 1025))
    out = tmp_path / "o" / "c.####.exr"
    args = [*fill_args(shot, out, "--json-progress")]
    args[args.index("telea")] = "propagate"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until it is really working
        if json.loads(line).get("event") == "progress":
            break
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert json.loads(stdout.splitlines()[-1])["event"] == "cancelled"
    assert "cancelled" in stderr and "Traceback" not in stderr
    assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name or p.name.endswith(".lock")] == []
    again = aifx(*args)
    assert again.returncode == 0, again.stderr
    assert len(frames_in(out.parent)) == 24


# -- 4, 7, 8: one owner, kill-safe records, never mixed ---------------------------------------------------


def test_a_running_job_with_other_settings_owns_the_output(shot, tmp_path):
    """#11.4: two jobs with different settings both exited 0 with a mix of frames and a lying manifest."""
    from aifx_core import FillJob
    from aifx_core.manifest import OutputLock

    out = tmp_path / "o" / "c.####.exr"
    out.parent.mkdir()
    other = FillJob(input=str(shot / "plate.####.exr"), output=str(out), backend="telea", dilate=9)
    with OutputLock(str(out), other.resume_key(), str(out)):  # a real flock, as another aifx holds it
        done = aifx(*fill_args(shot, out))
        one_error_line(done, str(out), "another aifx job", "different settings")
        assert frames_in(out.parent) == []
        same = FillJob(
            input=str(shot / "plate.####.exr"),
            mask=str(shot / "mask.####.png"),
            output=str(out),
            backend="telea",
        )
        assert same.resume_key() != other.resume_key()
    # A lock file left by a crashed run (no process holds it) is stale: the next run takes it over.
    (out.parent / f".{out.name}.aifx.lock").write_text(json.dumps({"group": "x", "pid": 999999}))
    done = aifx(*fill_args(shot, out))
    assert done.returncode == 0, done.stderr
    assert len(frames_in(out.parent)) == len(FRAMES)
    assert not (out.parent / f".{out.name}.aifx.lock").exists()


def test_a_job_with_the_same_settings_joins_a_running_one(shot, tmp_path):
    from aifx_core import FillJob
    from aifx_core.manifest import OutputLock

    out = tmp_path / "o" / "c.####.exr"
    out.parent.mkdir()
    same = FillJob(
        input=str(shot / "plate.####.exr"), mask=str(shot / "mask.####.png"), output=str(out), backend="telea"
    )
    with OutputLock(str(out), same.resume_key(), str(out)):
        done = aifx(*fill_args(shot, out))
        assert done.returncode == 0, done.stderr
        assert (out.parent / f".{out.name}.aifx.lock").exists()  # still held by the first owner
    assert len(frames_in(out.parent)) == len(FRAMES)


def test_kill_between_rename_and_manifest_is_recovered(shot, tmp_path):
    """#11.7: the rerun refused its own frame ("made by something else")."""
    clean = tmp_path / "clean" / "c.####.exr"
    assert aifx(*fill_args(shot, clean)).returncode == 0
    out = tmp_path / "o" / "c.####.exr"
    killed = aifx(*fill_args(shot, out), env={"AIFX_TEST_FAULT": "after-rename:1002"})
    assert killed.returncode == -signal.SIGKILL
    assert frames_in(out.parent) == ["c.1001.exr", "c.1002.exr"]
    again = aifx(*fill_args(shot, out, "--json-progress"))
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout.splitlines()[-1])
    assert done["skipped"] == [1001, 1002] and done["written"] == [1003, 1004]
    for frame in FRAMES:
        name = f"c.{frame}.exr"
        assert (out.parent / name).read_bytes() == (clean.parent / name).read_bytes(), name


def test_frame_range_is_part_of_the_resume_key_for_the_temporal_engine(shot, tmp_path):
    """#11.8: a shot filled as a sub-range then whole mixed frames made under different ranges."""
    out = tmp_path / "o" / "c.####.exr"
    args = fill_args(shot, out)
    args[args.index("telea")] = "propagate"
    assert aifx(*args, "--frames", "1001-1002").returncode == 0
    done = aifx(*args)
    one_error_line(done, str(out), "frame range (1001-1002)", "--overwrite")
    assert frames_in(out.parent) == ["c.1001.exr", "c.1002.exr"]
    # A per-frame backend's frames do not depend on the range: the whole-shot run resumes after them.
    per_frame = tmp_path / "t" / "c.####.exr"
    assert aifx(*fill_args(shot, per_frame, "--frames", "1001-1002")).returncode == 0
    again = aifx(*fill_args(shot, per_frame, "--json-progress"))
    assert again.returncode == 0
    assert json.loads(again.stdout.splitlines()[-1])["skipped"] == [1001, 1002]
