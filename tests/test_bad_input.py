"""Bad input, as a careless user or a hostile job file gives it (issue #11): one case per data-loss path.

Every case runs the real ``python -m aifx_core`` on real files and checks what a user relies on: the exit code,
one line naming the file or field, the inputs byte-identical afterwards, and the outputs complete.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runner import aifx as run_aifx
from cli_runner import killed_at_rename
from shot_files import fill_args, make_shot

# Warnings shown: a refused run must print its one line and nothing else.
aifx = functools.partial(run_aifx, timeout=120, warnings="default")

FRAMES = range(1001, 1005)


def _own_notes(stderr: str, prefix: str = "note:") -> list[str]:
    """The notes a test counts: every line with ``prefix`` but the unpremultiply one, which the test plates'
    semi-transparent alpha (a sine in A, :func:`shot_files.plate_frame`) rightly earns on every fill."""
    from aifx_core.protocol.events import UNPREMULTIPLY

    return [line for line in stderr.splitlines() if prefix in line and UNPREMULTIPLY not in line]


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


def frames_in(folder: Path) -> list[str]:
    """Output frames (hidden files, e.g. a killed run's temp file, are not frames)."""
    return sorted(p.name for p in folder.glob("[!.]*.exr")) if folder.is_dir() else []


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


def test_save_job_onto_what_the_output_keeps_beside_it_is_refused(shot, tmp_path):
    """``--save-job o/.c.####.exr.aifx.json``, the output's own manifest, was saved (exit 0) and then overwritten by
    the manifest: the job was lost, and over a finished output the manifest would have been. Refused before any
    work, the manifest under each name a run reads it by, and anything inside the output's cache folder."""
    out = tmp_path / "o"
    fresh = out / ".c.####.exr.aifx.json"
    one_error_line(aifx(*fill_args(shot, out / "c.####.exr", "--save-job", str(fresh))), "output's manifest")
    assert frames_in(out) == [] and not fresh.exists()
    assert aifx(*fill_args(shot, out / "c.####.exr")).returncode == 0
    before = hashes(out)
    (out / ".c.####.exr.aifx-cache").mkdir()
    for target, role in (
        (fresh, "output's manifest"),
        (out / ".c.#.exr.aifx.json", "output's manifest"),  # (the name an aifx of 2026-12-06 kept it by)
        (out / ".c.####.exr.aifx-cache" / "job.json", "output's cache folder"),
    ):
        line = one_error_line(aifx(*fill_args(shot, out / "c.####.exr", "--save-job", str(target))), role)
        assert line.startswith(f"aifx: error: {target}: the saved job would") and "--save-job" in line, line
    assert hashes(out) == before


def test_the_job_file_is_an_input_that_nothing_the_job_writes_may_replace(shot, tmp_path):
    """#11.1 for ``aifx run``: the job file the run reads is as protected as the plate."""
    job = tmp_path / "job.png"  # an odd name, but the one a contact sheet could take
    data = {
        "input": str(shot / "plate.####.exr"),
        "mask": str(shot / "mask.####.png"),
        "output": str(tmp_path / "o" / "c.####.exr"),
        "backend": "telea",
        "contact_sheet": str(job),
    }
    job.write_text(json.dumps(data))
    before = job.read_bytes()
    one_error_line(aifx("run", str(job)), str(job), "job file", "--contact-sheet")
    assert job.read_bytes() == before and frames_in(tmp_path / "o") == []


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


def test_side_outputs_next_to_new_output_frames_go_into_the_folder_the_job_makes(shot, tmp_path):
    """The README's first command on a fresh machine: `-o out/clean.####.exr --contact-sheet out/sheet.png`."""
    out = tmp_path / "new" / "out"
    done = aifx(
        *fill_args(
            shot,
            out / "c.####.exr",
            "--contact-sheet",
            str(out / "sheet.png"),
            "--save-job",
            str(out / "j.json"),
        )
    )
    assert done.returncode == 0, done.stderr
    assert (out / "sheet.png").is_file() and (out / "j.json").is_file() and len(frames_in(out)) == len(FRAMES)


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
    one_error_line(aifx("info", "/dev/zero", timeout=60), "/dev/zero", "device")
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


@pytest.mark.parametrize("kind", ["folder", "FIFO (named pipe)"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_frame_path_that_is_no_file_is_refused_before_any_write(shot, tmp_path, kind, overwrite):
    """An output frame's path taken by a folder (left by an unpack or a copy): the plain run said "pass
    --overwrite", and with --overwrite it wrote the other frames, then failed at the rename with EISDIR, a
    traceback and exit 1. Refused now at planning, with or without --overwrite, naming the path; nothing is
    written (a FIFO there is refused the same way)."""
    out = tmp_path / "o" / "c.####.exr"
    taken = out.parent / "c.1003.exr"
    out.parent.mkdir()
    taken.mkdir() if kind == "folder" else os.mkfifo(taken)
    done = aifx(*fill_args(shot, out, *(["--overwrite"] if overwrite else [])), timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"aifx: error: {taken}: output frame 1003 is a {kind}, not a file; move it away, or choose another "
        "output, and rerun"
    ]
    assert [p.name for p in out.parent.iterdir()] == ["c.1003.exr"]


def test_sigterm_cancels_with_the_normal_cancel_path_and_a_rerun_completes(tmp_path):
    """#11.9: SIGTERM (the adapters' Cancel) stops the job at once; nothing half-written; a rerun resumes.

    The run is held after frame 1012 until the SIGTERM is sent: left free, its 24 small frames could all be
    written before a test that reacts late (a busy machine) sent it, and the run ended 0 instead of 130."""
    shot = make_shot(tmp_path / "shot", range(1001, 1025))
    out = tmp_path / "o" / "c.####.exr"
    args = [*fill_args(shot, out, "--json-progress")]
    args[args.index("telea")] = "propagate"
    go = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIFX_TEST_WAIT": f"written:1012:{go}"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until it is really working
        if json.loads(line).get("event") == "progress":
            break
    proc.send_signal(signal.SIGTERM)
    go.touch()  # (the main thread takes the signal before it can hand the writer the last frames)
    # Read through the same buffered file the loop above read from (communicate() reads the raw pipe and would
    # miss lines that loop had already buffered).
    stdout = proc.stdout.read()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 130, stderr
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert events and events[-1]["event"] == "cancelled", (stdout, stderr)
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


@pytest.mark.parametrize("point", ["after-rename", "before-rename"])
def test_kill_next_to_a_rename_is_recovered(shot, tmp_path, point):
    """#11.7: a kill between a frame's rename and the manifest save made the rerun refuse its own frame."""
    clean = tmp_path / "clean" / "c.####.exr"
    assert aifx(*fill_args(shot, clean)).returncode == 0
    out = tmp_path / "o" / "c.####.exr"
    killed = aifx(*fill_args(shot, out), env={"AIFX_TEST_FAULT": f"{point}:1002"})
    assert killed.returncode == -signal.SIGKILL
    renamed = point == "after-rename"
    assert frames_in(out.parent) == ["c.1001.exr", "c.1002.exr"][: 2 if renamed else 1]
    again = aifx(*fill_args(shot, out, "--json-progress"))
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout.splitlines()[-1])
    assert done["skipped"] == ([1001, 1002] if renamed else [1001])
    assert done["written"] == ([1003, 1004] if renamed else [1002, 1003, 1004])
    assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name] == []  # the killed run's temp
    for frame in FRAMES:
        name = f"c.{frame}.exr"
        assert (out.parent / name).read_bytes() == (clean.parent / name).read_bytes(), name


def test_a_kill_while_the_manifest_is_saved_leaves_no_temp_after_the_rerun(shot, tmp_path):
    """A run killed as it saved the manifest left ``..c.####.exr.aifx.aifx-tmp-<pid>-<tok>.json``, which the
    successful rerun kept for five minutes more (only its frames' temps were taken for stale)."""
    out = tmp_path / "o" / "c.####.exr"
    killed = aifx(*fill_args(shot, out), killed_at=(r"aifx\.json$", 2))
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name] != []  # (the manifest's temp)
    again = aifx(*fill_args(shot, out))
    assert again.returncode == 0, again.stderr
    assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name] == []
    assert len(frames_in(out.parent)) == len(FRAMES)


@pytest.mark.parametrize("where", ["review", "o"])
def test_kills_while_the_sheet_and_the_job_are_saved_leave_no_temp_after_the_rerun(shot, tmp_path, where):
    """A run killed as it wrote its --contact-sheet or --save-job left ``.sheet.aifx-tmp-<pid>-<tok>.png`` and
    ``.job.aifx-tmp-<pid>-<tok>.json`` beside them: in a folder of their own for good (nothing cleaned there),
    in the output folder for five minutes more."""
    out = tmp_path / "o" / "c.####.exr"
    sheet, job = tmp_path / where / "sheet.png", tmp_path / where / "job.json"
    sheet.parent.mkdir(exist_ok=True)
    args = fill_args(shot, out, "--contact-sheet", str(sheet), "--save-job", str(job))
    for target in (r"sheet\.png$", r"job\.json$"):
        assert aifx(*args, killed_at=(target, 1)).returncode == -signal.SIGKILL
    assert len([p.name for p in sheet.parent.iterdir() if "aifx-tmp" in p.name]) == 2
    again = aifx(*args)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in sheet.parent.iterdir() if "aifx-tmp" in p.name] == []
    assert sheet.stat().st_size > 0 and json.loads(job.read_text())["output"] == str(out)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself is POSIX")
def test_a_cancel_right_after_a_rename_keeps_the_frame_resumable(shot, tmp_path, monkeypatch):
    """A Cancel (SIGTERM) or Ctrl-C with ``AIFX_THREADS=1`` lands in the writing thread; once just after a
    frame's rename, in the folder's fsync, the manifest dropped the frame's intent, the only record of the
    renamed frame, and the rerun refused it as "made by something else". A real SIGTERM to this process, through
    the CLI's handler, is sent there on frame 1003; the real fsync still runs."""
    from shot_files import shot_job

    from aifx_core import cli
    from aifx_core.pipeline import fill
    from aifx_core.progress import CancelToken
    from aifx_core.protocol.errors import Cancelled
    from aifx_core.sequence import atomic

    monkeypatch.setenv("AIFX_THREADS", "1")
    out = tmp_path / "o" / "c.####.exr"
    fsync_dir = atomic._fsync_dir
    sent = []

    def cancelled_after_the_rename(folder: Path) -> None:
        if (folder / "c.1003.exr").exists() and not sent:  # (the first fsync after frame 1003's rename)
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)  # (raised on return, in this thread)
        fsync_dir(folder)

    monkeypatch.setattr(atomic, "_fsync_dir", cancelled_after_the_rename)
    cancel = CancelToken()
    with cli._cancel_on_signals(cancel), pytest.raises(Cancelled):
        fill(shot_job(shot, out), cancel=cancel)
    assert frames_in(out.parent) == ["c.1001.exr", "c.1002.exr", "c.1003.exr"]
    monkeypatch.setattr(atomic, "_fsync_dir", fsync_dir)
    again = fill(shot_job(shot, out))
    assert again.skipped == [1001, 1002, 1003] and again.written == [1004]


def test_the_manifest_is_written_once_a_frame_and_ends_complete(shot, tmp_path, monkeypatch):
    """Each frame's record rides on the next frame's intent (a rename without its record is recovered from
    the intent, as after a kill): one manifest write a frame, not two, and the file ends with every frame
    recorded and no intent left over."""
    from shot_files import shot_job

    from aifx_core.manifest import Manifest
    from aifx_core.pipeline import fill

    saves = []
    save = Manifest.save
    monkeypatch.setattr(Manifest, "save", lambda self: (saves.append(1), save(self)))
    out = tmp_path / "o" / "c.####.exr"
    result = fill(shot_job(shot, out))
    assert result.written == list(FRAMES)
    assert len(saves) <= len(FRAMES) + 1  # (was 2 a frame)
    recorded = json.loads((out.parent / f".{out.name}.aifx.json").read_text())
    assert sorted(int(f) for f in recorded["frames"]) == list(FRAMES) and recorded["pending"] == {}
    again = fill(shot_job(shot, out))
    assert again.written == [] and again.skipped == list(FRAMES)


def test_the_manifest_is_read_back_only_when_another_run_wrote_it(shot, tmp_path, monkeypatch):
    """Before each save the manifest merges what other runs of the output recorded (farm chunks that joined the
    lock); while the file still holds exactly what this run saved, it is not parsed again (it grows with the
    shot). Two runs recording frames in turn each keep the other's records."""
    from shot_files import shot_job

    from aifx_core.manifest import Manifest
    from aifx_core.sequence import atomic_write, open_sequence, output_pattern

    job = shot_job(shot, tmp_path / "o" / "c.####.exr")
    out = output_pattern(job.output, open_sequence(job.input))
    out.path(FRAMES[0]).parent.mkdir(parents=True)
    reads = []
    read = Manifest._read
    monkeypatch.setattr(Manifest, "_read", lambda self: (reads.append(self), read(self)))

    def record(manifest: Manifest, frame: int) -> None:
        with manifest.writing(frame) as intend:
            atomic_write(out.path(frame), lambda tmp: tmp.write_bytes(b"frame"), intend)

    first = Manifest.load(out, job, "k")
    for frame in FRAMES[:3]:
        record(first, frame)
    first.settle()
    assert reads == [first, first]  # (its load, and its first save: nothing saved by it yet)
    reads.clear()
    second = Manifest.load(out, job, "k")
    record(second, FRAMES[3])
    second.settle()
    record(first, FRAMES[0])  # (the file is the second's now: read back, so its frame is kept)
    first.settle()
    assert first in reads
    recorded = json.loads(
        out.path(FRAMES[0]).parent.joinpath(f".{Path(job.output).name}.aifx.json").read_text()
    )
    assert sorted(int(f) for f in recorded["frames"]) == list(FRAMES) and recorded["pending"] == {}


def test_the_plan_finds_each_frames_changed_neighbours_within_its_own_span(shot, tmp_path):
    """A whole-shot backend's frames each span the shot; the plan finds a run's changed neighbours once and
    looks each frame's span up among them. A frame is not stopped by its own plate as a neighbour saw it (its
    own is compared with what it was made from), nor by a change outside its span, nor by another run's
    record."""
    from shot_files import shot_job

    from aifx_core.errors import InputError
    from aifx_core.manifest import Manifest, source_identity
    from aifx_core.sequence import open_sequence, output_pattern

    job = shot_job(shot, tmp_path / "o" / "c.####.exr")
    out = output_pattern(job.output, open_sequence(job.input))
    plates = {f: tmp_path / f"p{f}.bin" for f in range(1, 9)}
    for path in plates.values():
        path.write_bytes(b"old")
    manifest = Manifest(out, job, "k")
    manifest.inputs = lambda frame: [(plates[frame], False)]
    old = {f: [source_identity(p)] for f, p in plates.items()}
    manifest.frames = dict.fromkeys(plates, "k")
    manifest.sources = dict(old)
    manifest.spans = {f: [1, 8] for f in plates} | {7: [6, 8], 8: [6, 8]}
    manifest.runs = dict.fromkeys(plates, "a") | {6: "b"}
    manifest.reads = {"a": dict(old), "b": dict(old)}
    plates[3].write_bytes(b"new plate")  # re-rendered after run a read it...
    manifest.sources[3] = [source_identity(plates[3])]  # ...and before frame 3 was made from it
    manifest.reads["b"][3] = [source_identity(plates[3])]  # run b read the new one
    frames = list(plates)
    with pytest.raises(InputError) as refused:
        manifest.plan(frames, set(frames), overwrite=False, output_name="c")
    # 1, 2, 4, 5 (run a, spans 1-8): not 3 (itself), not 6 (run b read the new one), not 7-8 (spans 6-8)
    assert "the inputs of 4 finished frame(s)" in str(refused.value)
    assert f"{plates[3]}, which frame 1 was made from" in str(refused.value)


def test_a_plate_whose_time_moved_is_judged_by_its_content(tmp_path):
    """Size and time decide while they are what was recorded; where only the time moved the content does
    (a copy without times); a record from before digests were kept (size and time) still refuses a moved
    time; a file gone now, or there now but gone when recorded, is not the one recorded."""
    from aifx_core.manifest import plate_identity, same_plate, source_identity

    path = tmp_path / "plate.1001.exr"
    path.write_bytes(b"pixels-a")
    recorded = plate_identity(path)
    assert recorded is not None and same_plate(path, recorded, source_identity(path))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert same_plate(path, recorded, source_identity(path))  # copied: same bytes
    assert not same_plate(path, recorded[:2], source_identity(path))  # legacy record: time only
    path.write_bytes(b"pixels-b")  # same size, other content
    assert not same_plate(path, recorded, source_identity(path))
    path.unlink()
    assert not same_plate(path, recorded, source_identity(path))
    assert same_plate(path, None, source_identity(path))  # gone when recorded, gone now
    path.write_bytes(b"pixels-a")
    assert not same_plate(path, None, source_identity(path))  # gone when recorded, there now


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


# -- 12, 13: refused from the header, said in one line ------------------------------------------------------


def test_deep_or_absurd_exr_header_is_refused_before_pixels_with_one_message(tmp_path):
    """#11.12: a damaged header claiming a deep 8,166,272 x 23 image cost 10-15 s and 1.6 GB, and ``info`` and
    ``fill`` disagreed on why."""
    from damaged_files import claimed_exr

    for name, deep, height in (("deep.exr", True, 23), ("huge.exr", False, 23000)):
        path = claimed_exr(tmp_path / name, 8_166_272, height, deep=deep)
        info = one_error_line(aifx("info", str(path), timeout=60), str(path))
        fill = one_error_line(aifx("fill", str(path), "-o", str(tmp_path / "o.exr"), timeout=60), str(path))
        assert info == fill
        assert ("deep" if deep else "8166272x23000") in fill
    assert not (tmp_path / "o.exr").exists()


def test_damaged_header_is_named_not_a_raw_library_message(tmp_path):
    """#11.13: 79 damaged files got a raw "Unable to open ... for read"."""
    from damaged_files import garbage_header, write_good_exr

    bad = garbage_header(write_good_exr(tmp_path / "good.exr"), tmp_path / "bad.exr")
    for command in (["info", str(bad)], ["fill", str(bad), "-o", str(tmp_path / "o.exr")]):
        line = one_error_line(aifx(*command), str(bad))
        assert "Unable to open" not in line and "damaged" in line


def test_an_attribute_type_the_exr_reader_cannot_read_is_named_with_the_way_out(tmp_path):
    """A flat EXR carrying a deepImageState attribute (written on flattened deep renders) was refused as "not a
    readable EXR ...; re-render or re-copy the file", though the file is sound (oiiotool reads it): the OpenEXR
    bindings aifx reads EXR with do not know that attribute type. The message now says so and gives the
    oiiotool line that writes the frame without it, which then fills."""
    from damaged_files import with_attribute, write_good_exr

    plate = with_attribute(
        write_good_exr(tmp_path / "good.exr"),
        tmp_path / "plate.exr",
        "deepImageState",
        "deepImageState",
        b"\0",
    )
    for command in (["info", str(plate)], ["fill", str(plate), "-o", str(tmp_path / "o.exr")]):
        line = one_error_line(aifx(*command), str(plate))
        assert "re-render" not in line and "cannot read the file's deepImageState attribute" in line, line
    assert line.endswith("e.g. oiiotool IN --eraseattrib deepImageState -o OUT"), line
    oiiotool = Path(sys.executable).with_name("oiiotool")
    words = line.rpartition("e.g. ")[2].replace("IN", str(plate)).replace("OUT", str(tmp_path / "clean.exr"))
    subprocess.run([str(oiiotool), *words.split()[1:]], check=True, capture_output=True)
    assert aifx("info", str(tmp_path / "clean.exr")).returncode == 0


def test_channel_name_that_is_not_text_is_a_damaged_header(shot, tmp_path):
    """Found by flipping header bytes: a channel name that is not UTF-8 was a UnicodeDecodeError traceback."""
    data = bytearray((shot / "plate.1001.exr").read_bytes())
    first_name = data.index(b"channels\0chlist\0") + len(b"channels\0chlist\0") + 4
    data[first_name] = 0xBC
    bad = tmp_path / "bad.exr"
    bad.write_bytes(bytes(data))
    for command in (["info", str(bad)], ["fill", str(bad), "-o", str(tmp_path / "o.exr")]):
        one_error_line(aifx(*command), str(bad), "channel name is not text")


def test_png_from_exr_says_what_it_drops_and_no_numpy_warning(shot, tmp_path):
    """#11.13: extra channels and HDR were dropped silently; a numpy RuntimeWarning leaked to stderr."""
    out = tmp_path / "o" / "c.####.png"
    done = aifx(*fill_args(shot, out))
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    notes = [n for n in _own_notes(done.stderr) if n.startswith("aifx: note:")]
    assert len(notes) == 2 and "channels Z" in notes[0] and "above 1" in notes[0], done.stderr
    assert "values as they are, in Linear Rec.709" in notes[1]  # (the colourspace the PNG names)
    assert len(list(out.parent.glob("*.png"))) == len(FRAMES)


@pytest.mark.parametrize("extension", ["exr", "png"])
def test_mip_mapped_plate_says_its_levels_are_not_written(tmp_path, extension):
    """#11.13: mip-map levels were dropped silently."""
    import cv2
    import OpenImageIO as oiio
    from shot_files import object_matte, plate_frame

    shot = tmp_path / "shot"
    shot.mkdir()
    rgba = plate_frame(0)
    pixels = np.stack([rgba[c].astype(np.float32) for c in "RGBA"], axis=-1)
    buf = oiio.ImageBuf(oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 4, oiio.HALF))
    buf.set_pixels(oiio.ROI(), pixels)
    assert oiio.ImageBufAlgo.make_texture(oiio.MakeTxTexture, buf, str(shot / "plate.exr"), oiio.ImageSpec())
    cv2.imwrite(str(shot / "mask.png"), object_matte(0))
    out = tmp_path / f"o.{extension}"
    args = ["fill", str(shot / "plate.exr"), "-m", str(shot / "mask.png"), "-o", str(out), "-b", "telea"]
    done = aifx(*args)
    assert done.returncode == 0, done.stderr
    notes = [n for n in _own_notes(done.stderr) if n.startswith("aifx: note:")]
    assert len(notes) == (1 if extension == "exr" else 2) and "mip-map" in notes[0], done.stderr
    assert extension == "exr" or "values as they are" in notes[1]  # a PNG of linear values says so too
    assert out.is_file()


def test_jpeg_output_says_it_does_not_keep_the_plate_exact(tmp_path):
    """A JPEG output changed pixels outside the mask with exit 0 and no word (the promise is bit-exact)."""
    import cv2
    from shot_files import object_matte, plate_frame

    shot = tmp_path / "shot"
    shot.mkdir()
    for i, frame in enumerate(FRAMES):
        rgb = np.stack([plate_frame(i)[c] for c in "BGR"], axis=-1).astype(np.float32)
        cv2.imwrite(
            str(shot / f"plate.{frame}.png"), (np.clip(np.nan_to_num(rgb), 0, 1) * 255).astype(np.uint8)
        )
        cv2.imwrite(str(shot / f"mask.{frame}.png"), object_matte(i))
    for extension in ("jpg", "png"):
        out = tmp_path / extension / f"c.####.{extension}"
        args = ["fill", str(shot / "plate.####.png"), "-m", str(shot / "mask.####.png"), "-o", str(out)]
        done = aifx(*args, "-b", "telea", "--dilate", "0", "--feather", "0")
        assert done.returncode == 0, done.stderr
        notes = [line for line in done.stderr.splitlines() if line.startswith("aifx: note:")]
        first = FRAMES[0]
        outside = object_matte(0) == 0
        kept = np.array_equal(
            cv2.imread(str(out.parent / f"c.{first}.{extension}"))[outside],
            cv2.imread(str(shot / f"plate.{first}.png"))[outside],
        )
        if extension == "jpg":
            assert not kept  # what the note is for
            assert len(notes) == 1 and "JPEG is lossy" in notes[0] and ".png" in notes[0], done.stderr
        else:
            assert kept and notes == [], done.stderr


def test_a_hole_over_most_of_the_frame_is_warned_about(shot, tmp_path):
    """#11.13: an all-ones mask or --dilate 100000 invented the whole frame with exit 0 and no word."""
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr", "--dilate", "100000"))
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "100 % of frame" in warning[0], done.stderr
    quiet = aifx(*fill_args(shot, tmp_path / "q" / "c.####.exr"))
    assert "warning" not in quiet.stderr


# -- 5, 6: multi-part plates, lossy compression ------------------------------------------------------------


def _multipart_shot(folder: Path, compression, depth_first: bool = False) -> Path:
    import cv2
    import OpenEXR
    from shot_files import object_matte, plate_frame

    folder.mkdir()
    for i, frame in enumerate(FRAMES):
        rgba = plate_frame(i)
        depth = {"Z": rgba.pop("Z")}
        header = {"compression": compression, "type": OpenEXR.scanlineimage, "owner": "tests"}
        parts = [OpenEXR.Part(header, rgba, "rgba"), OpenEXR.Part(dict(header), depth, "depth")]
        OpenEXR.File(parts[::-1] if depth_first else parts).write(str(folder / f"plate.{frame}.exr"))
        cv2.imwrite(str(folder / f"mask.{frame}.png"), object_matte(i))
    return folder


def _parts(path: Path) -> dict[str, dict]:
    import OpenEXR

    with OpenEXR.File(str(path), separate_channels=True) as f:
        return {
            str(p.header.get("name")): {
                "compression": p.header["compression"],
                **{n: c.pixels.copy() for n, c in p.channels.items()},
            }
            for p in f.parts
        }


def test_multipart_plate_keeps_every_part(tmp_path):
    """#11.5: a "depth" part vanished from every frame, exit 0."""
    import OpenEXR

    shot = _multipart_shot(tmp_path / "shot", OpenEXR.ZIP_COMPRESSION)
    before = hashes(shot)
    out = tmp_path / "o" / "c.####.exr"
    done = aifx(*fill_args(shot, out))
    assert done.returncode == 0, done.stderr
    assert hashes(shot) == before
    for frame in FRAMES:
        source, result = _parts(shot / f"plate.{frame}.exr"), _parts(out.parent / f"c.{frame}.exr")
        assert list(result) == ["rgba", "depth"]
        assert np.array_equal(result["depth"]["Z"], source["depth"]["Z"])


def test_a_multipart_plate_whose_colour_is_not_in_its_first_part_names_that_part(tmp_path):
    """aifx fills a file's first part; with a "depth" part first the refusal said only "no R,G,B, found Z"
    (and aifx info "fills: nothing"), though the file's other part held the colour."""
    import OpenEXR

    shot = _multipart_shot(tmp_path / "shot", OpenEXR.ZIP_COMPRESSION, depth_first=True)
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr"))
    said = "its part 'rgba' has colour, but aifx fills a file's first part"
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    info = aifx("info", str(shot / "plate.####.exr"))
    assert info.returncode == 0 and said in info.stdout, info.stdout


def _assert_zip_and_exact_outside(shot: Path, out: Path) -> None:
    """Every output frame written ZIP, its rgba bit-exact outside the moving square's rows, its depth kept."""
    import OpenEXR

    for frame in FRAMES:
        source, result = _parts(shot / f"plate.{frame}.exr"), _parts(out.parent / f"c.{frame}.exr")
        assert result["rgba"]["compression"] == OpenEXR.ZIP_COMPRESSION
        outside = np.ones(source["rgba"]["R"].shape, bool)
        outside[18:28, :] = False  # the moving square's rows
        for name in ("R", "G", "B", "A"):
            a, b = source["rgba"][name][outside], result["rgba"][name][outside]
            assert a.tobytes() == b.tobytes(), (frame, name)
        assert np.array_equal(result["depth"]["Z"], source["depth"]["Z"])


def test_lossy_plate_compression_is_not_reused_unless_asked(tmp_path):
    """#11.6: DWAA was reused, changing 78k of 98k pixels outside the mask per frame."""
    import OpenEXR

    shot = _multipart_shot(tmp_path / "shot", OpenEXR.DWAA_COMPRESSION)
    out = tmp_path / "o" / "c.####.exr"
    done = aifx(*fill_args(shot, out, "--dilate", "0", "--feather", "0"))
    assert done.returncode == 0, done.stderr
    notes = _own_notes(done.stderr)
    assert len(notes) == 1 and "DWAA" in notes[0] and "--compression dwaa" in notes[0]
    _assert_zip_and_exact_outside(shot, out)
    kept = aifx(*fill_args(shot, tmp_path / "k" / "c.####.exr", "--compression", "dwaa"))
    assert kept.returncode == 0 and not _own_notes(kept.stderr), kept.stderr
    assert _parts(tmp_path / "k" / "c.1001.exr")["rgba"]["compression"] == OpenEXR.DWAA_COMPRESSION


def test_a_lossy_frame_in_a_lossless_plate_is_not_reencoded_lossy(tmp_path):
    """A re-render patched into a ZIP plate as DWAA: the compression was chosen from the first frame only, so
    that frame was written DWAA again, changing thousands of values outside the mask, without a word."""
    import OpenEXR

    shot = _multipart_shot(tmp_path / "shot", OpenEXR.ZIP_COMPRESSION)
    patched = _multipart_shot(tmp_path / "patch", OpenEXR.DWAA_COMPRESSION)
    (patched / f"plate.{FRAMES[1]}.exr").replace(shot / f"plate.{FRAMES[1]}.exr")
    out = tmp_path / "o" / "c.####.exr"
    done = aifx(*fill_args(shot, out, "--dilate", "0", "--feather", "0"))
    assert done.returncode == 0, done.stderr
    notes = _own_notes(done.stderr)
    assert len(notes) == 1 and f"plate frame {FRAMES[1]} is DWAA" in notes[0], done.stderr
    _assert_zip_and_exact_outside(shot, out)
    # Another output format has its own codecs: no EXR ZIP for it, and no note claiming one.
    png = aifx(*fill_args(shot, tmp_path / "png" / "c.####.png", "--dilate", "0", "--feather", "0"))
    assert png.returncode == 0 and "plate frame" not in png.stderr, png.stderr


@pytest.mark.parametrize("layout", ["channels", "parts"])
def test_a_stereo_plate_says_that_only_one_view_is_filled(tmp_path, layout):
    """A stereo EXR (``multiView``: left, right) had its default view filled and its other view, with the
    object still in it, copied through without a word. Both layouts: ``right.R``... channels in one part, or
    one part per view."""
    import cv2
    import OpenEXR
    from shot_files import object_matte, plate_frame

    shot = tmp_path / "shot"
    shot.mkdir()
    for i, frame in enumerate(FRAMES):
        left = {c: plate_frame(i)[c] for c in "RGB"}
        right = {c: plate_frame(i + 5)[c] for c in "RGB"}
        base = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        if layout == "channels":
            channels = {**left, **{f"right.{c}": v for c, v in right.items()}}
            OpenEXR.File({**base, "multiView": ["left", "right"]}, channels).write(
                str(shot / f"plate.{frame}.exr")
            )
        else:
            parts = [
                OpenEXR.Part({**base, "view": "left"}, left, "left"),
                OpenEXR.Part({**base, "view": "right"}, right, "right"),
            ]
            OpenEXR.File(parts).write(str(shot / f"plate.{frame}.exr"))
        cv2.imwrite(str(shot / f"mask.{frame}.png"), object_matte(i))
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr"))
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("aifx: note:")]
    assert len(notes) == 1 and "stereo; only its left view is filled, the right view is copied" in notes[0]
    hint = "--ch R=right.R,G=right.G,B=right.B" if layout == "channels" else "--subimage"
    assert hint in notes[0], notes[0]
    info = aifx("info", str(shot / f"plate.{FRAMES[0]}.exr"))  # (with a part per view too)
    assert "views:       left (filled), right (copied as they are)\n" in info.stdout, info.stdout


def _held_propagate_run(tmp_path):
    """A real temporal-engine run over a 12-frame shot, paused after frame 1001 while it holds the output lock
    (until the file ``go`` exists): (shot, output, its arguments, go, the process)."""
    shot = make_shot(tmp_path / "shot", range(1001, 1013))
    out = tmp_path / "o" / "c.####.exr"
    args = fill_args(shot, out, "--json-progress")
    args[args.index("telea")] = "propagate"
    go = tmp_path / "go"
    first = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIFX_TEST_WAIT": f"written:1001:{go}"},  # pauses mid-shot, holding the lock
    )
    deadline = time.monotonic() + 120
    while not (out.parent / "c.1001.exr").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return shot, out, args, go, first


def test_two_real_runs_at_once(tmp_path):
    """#11.4 with two real processes: other settings are refused while the first runs; same settings join, and
    the output ends complete with a manifest that tells the truth."""
    shot, out, args, go, first = _held_propagate_run(tmp_path)
    try:
        one_error_line(aifx(*args, "--dilate", "9"), str(out), "another aifx job", "different settings")
        same = aifx(*args)
        assert same.returncode == 0, same.stderr
        assert json.loads(same.stdout.splitlines()[-1])["skipped"] == [1001]
    finally:
        go.touch()
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert len(frames_in(out.parent)) == 12
    rerun = aifx(*args)
    assert json.loads(rerun.stdout.splitlines()[-1])["written"] == []
    assert not (out.parent / f".{out.name}.aifx.lock").exists()


def test_a_run_that_outlives_a_killed_one_it_joined_leaves_no_temp(shot, tmp_path):
    """A holds the output, B (same settings) joins it, then A is killed with frame 1002's temp file complete.
    B finished the shot with exit 0 but left A's ``.c.1002.aifx-tmp-<pid>-<tok>.exr``: temps were removed only
    by a run that took the lock alone, never by the one left last holding it."""
    out = tmp_path / "o" / "c.####.exr"
    args = fill_args(shot, out)
    go_a, go_b = tmp_path / "go-a", tmp_path / "go-b"
    first = subprocess.Popen(
        [*killed_at_rename(r"c\.1002\.exr$"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIFX_TEST_WAIT": f"written:1001:{go_a}"},  # pauses after 1001, holding the lock
    )
    second = None
    try:
        deadline = time.monotonic() + 120
        while not (out.parent / "c.1001.exr").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.Popen(
            [sys.executable, "-m", "aifx_core", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "AIFX_TEST_WAIT": f"written:1003:{go_b}"},  # joined, it pauses after 1003
        )
        while not (out.parent / "c.1003.exr").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        go_a.touch()
        first.communicate(timeout=120)
        assert first.returncode == -signal.SIGKILL
        assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name] != []  # (A's frame 1002)
    finally:
        go_a.touch()
        go_b.touch()
        if first.poll() is None:
            first.kill()
            first.communicate()
        if second is not None:
            _stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    assert [p.name for p in out.parent.iterdir() if "aifx-tmp" in p.name] == []
    assert frames_in(out.parent) == [f"c.{f}.exr" for f in FRAMES]
    assert not (out.parent / f".{out.name}.aifx.lock").exists()


def test_the_temporal_engine_over_another_shot_is_refused_while_a_run_writes(tmp_path):
    """The same job with ``frames`` 1005-1012 started while its whole-shot run (1001-1012) was writing joined the
    output lock (its group left the frame range out): both exited 0 and the output was a mix, 1005-1012 made
    from the shorter shot. It is refused now; a farm chunk of the same shot (``aifx run --frames``) still joins."""
    from aifx_core import FillJob

    shot, out, args, go, first = _held_propagate_run(tmp_path)
    try:
        shorter = aifx(*args, "--frames", "1005-1012")
        one_error_line(
            shorter,
            str(out),
            "another aifx job",
            f"pid {first.pid}",
            "with different settings or another frame range (shot); wait for it",
        )
        job = tmp_path / "job.json"
        FillJob(
            input=str(shot / "plate.####.exr"),
            mask=str(shot / "mask.####.png"),
            output=str(out),
            backend="propagate",
        ).save(job)
        chunk = aifx("run", str(job), "--frames", "1011-1012")
        assert chunk.returncode == 0, chunk.stderr
    finally:
        go.touch()
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert len(frames_in(out.parent)) == 12
    rerun = aifx(*args)
    assert json.loads(rerun.stdout.splitlines()[-1])["written"] == []


@pytest.mark.parametrize("how", ["deleted", "renamed"])
def test_an_output_folder_gone_mid_run_is_one_line_and_the_rerun_resumes(shot, tmp_path, how):
    """The output folder deleted or renamed while the run writes into it was an internal error (exit 1) with
    three tracebacks, the lock's and the anchors cache's clean-up failing over the write's error."""
    out = tmp_path / "o" / "c.####.exr"
    go = tmp_path / "go"
    run = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *fill_args(shot, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "default", "AIFX_TEST_WAIT": f"written:1002:{go}"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.parent / "c.1002.exr").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if how == "deleted":
            shutil.rmtree(out.parent)
        else:
            out.parent.rename(tmp_path / "moved")
    finally:
        go.touch()
        stdout, stderr = run.communicate(timeout=120)
    done = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    one_error_line(done, str(out.parent), "the output folder disappeared during the run", "rerun to resume")
    again = aifx(*fill_args(shot, out))
    assert again.returncode == 0, again.stderr
    assert len(frames_in(out.parent)) == len(FRAMES)


def test_a_manifest_deleted_mid_run_keeps_the_runs_own_frames(tmp_path):
    """The manifest deleted while a run writes (an artist tidying hidden files): the run read the empty file back
    before its next save and forgot the frames it had written, so its rerun refused them as "made by something
    else". The run's own records are kept where the file read back lacks them."""
    shot = make_shot(tmp_path / "shot", range(1001, 1007))
    out = tmp_path / "o" / "c.####.exr"
    manifest = out.parent / f".{out.name}.aifx.json"
    go = tmp_path / "go"
    run = subprocess.Popen(
        [sys.executable, "-m", "aifx_core", *fill_args(shot, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIFX_TEST_WAIT": f"written:1003:{go}"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.parent / "c.1003.exr").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        manifest.unlink()
    finally:
        go.touch()
        stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert sorted(json.loads(manifest.read_text())["frames"]) == [str(f) for f in range(1001, 1007)]
    again = aifx(*fill_args(shot, out, "--json-progress"))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["skipped"] == list(range(1001, 1007))


@pytest.mark.parametrize(
    "table, value",
    [
        ("pending", {"1002": 5}),
        ("frames", ["x"]),
        ("frames", {"abc": 1}),
        ("frames", {"1001": 5}),
        ("sources", {"1001": 5}),
        ("reads", [1]),
        ("outputs", {"1001": "x"}),
        ("pending", {"1002": {"identity": None}}),
        ("aifx_manifest", "x"),
    ],
)
def test_a_manifest_of_another_shape_is_someone_elses_and_overwrite_rebuilds_it(shot, tmp_path, table, value):
    """A manifest that is JSON but not the shape aifx writes (a hand edit, a sync tool's merge, another tool):
    the rerun ended in "internal error", exit 1, and so did --overwrite, the documented way out. It is now read
    as an unreadable one is: its frames are made by something else (one line, exit 2), and --overwrite makes
    them again and writes the manifest anew."""
    out = tmp_path / "o" / "c.####.exr"
    manifest = out.parent / f".{out.name}.aifx.json"
    assert aifx(*fill_args(shot, out)).returncode == 0
    data = json.loads(manifest.read_text())
    data[table] = value
    manifest.write_text(json.dumps(data))
    refused = aifx(*fill_args(shot, out))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines() == [
        f"aifx: error: {out}: {len(FRAMES)} output frame(s) already exist, made by something else (first: "
        f"{FRAMES[0]}); pass --overwrite to replace them or choose another output"
    ]
    again = aifx(*fill_args(shot, out, "--overwrite"))
    assert again.returncode == 0, again.stderr
    rebuilt = json.loads(manifest.read_text())
    assert sorted(rebuilt["frames"]) == [str(f) for f in FRAMES] and rebuilt["pending"] == {}
    assert aifx(*fill_args(shot, out)).returncode == 0


def test_a_manifest_of_a_newer_aifx_is_named_as_such(shot, tmp_path):
    """A manifest stamped with a newer format (a newer aifx on another machine wrote the output) was refused as
    "made with different settings", which sent the user looking for a setting. It is named in one line."""
    from aifx_core.manifest import MANIFEST_FORMAT

    out = tmp_path / "o" / "c.####.exr"
    manifest = out.parent / f".{out.name}.aifx.json"
    assert aifx(*fill_args(shot, out)).returncode == 0
    data = json.loads(manifest.read_text())
    data["aifx_manifest"] = MANIFEST_FORMAT + 1
    manifest.write_text(json.dumps(data))
    refused = aifx(*fill_args(shot, out))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines() == [
        f"aifx: error: {manifest}: written by a newer aifx (manifest format {MANIFEST_FORMAT + 1}; this aifx reads "
        f"up to {MANIFEST_FORMAT}); run that aifx, or pass --overwrite to fill the output again with this one"
    ]
    again = aifx(*fill_args(shot, out, "--overwrite"))
    assert again.returncode == 0, again.stderr
    assert json.loads(manifest.read_text())["aifx_manifest"] == MANIFEST_FORMAT


def test_an_anchors_cache_gone_mid_build_names_the_cache_not_its_clean_up(tmp_path):
    """The anchors cache deleted while it is built: the build lock's clean-up (listing the gone folder) raised
    over the write's own error; the run names the cache folder in one line."""
    from aifx_core.anchors import AnchorStore
    from aifx_core.errors import InputError
    from aifx_core.inpaint import Anchor
    from aifx_core.manifest import folder_kept

    out = tmp_path / "o" / "c.####.exr"
    out.parent.mkdir()
    store = AnchorStore(str(out), "k", list(FRAMES), 2)
    gone = "cache folder disappeared during the run"
    with (
        pytest.raises(InputError, match=gone) as raised,
        folder_kept(out.parent, store.root),
        store.building(),
    ):
        store.begin()
        store.write(0, Anchor(None))
        shutil.rmtree(store.root)
        store.write(1, Anchor(None))
    assert str(store.root) in str(raised.value)
    assert Path(raised.value.__cause__.filename).parent == store.folder  # (the write's, not the clean-up's)


def as_another_user(*args: str) -> subprocess.CompletedProcess:
    """``aifx <args>`` run by a user who owns none of the files made here: root without its power to override
    file permissions (``setpriv``), anyone else as themselves; a file made read-only here is then read-only to it,
    as another user's ``0644`` file is on a shared output."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no way to act as another user")
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "aifx_core", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )


@pytest.mark.skipif(sys.platform == "win32", reason="file modes and flock are POSIX")
def test_another_users_lock_files_are_locked_read_only(tmp_path):
    """A run killed by one user leaves its lock files (0644); another user resuming on the shared output got a
    PermissionError traceback (exit 1) opening them for writing. flock works on a read-only file, so the run
    resumes: the output lock is taken over (replaced by one of its own, whose record names it), the anchors
    cache's is locked as it is. A lock file it cannot even read is one line naming it, exit 2."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "o" / "c.####.exr"
    args = fill_args(shot, out)
    args[args.index("telea")] = "propagate"
    assert aifx(*args).returncode == 0
    output_lock = out.parent / f".{out.name}.aifx.lock"
    anchors_lock = out.parent / f".{out.name}.aifx-cache" / ".anchors.lock"
    output_lock.write_text('{"group": "another user\'s run", "pid": 1, "host": "elsewhere"}')
    for lock in (output_lock, anchors_lock):
        lock.chmod(0o444)
    (out.parent / "c.1004.exr").unlink()  # (made again, from the cached anchors)
    done = as_another_user(*args, "--json-progress")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["written"] == [1004]
    assert not output_lock.exists()  # (its own, removed as it ended)
    anchors_lock.chmod(0)
    (out.parent / "c.1004.exr").unlink()
    one_error_line(as_another_user(*args), str(anchors_lock), "cannot open this lock file", "writable")


def test_a_filesystem_without_file_locks_still_fills(shot, tmp_path, monkeypatch):
    """Some network filesystems refuse flock (ENOLCK): the run must go on unlocked, not fail. NFS cannot run
    here, so flock is made to answer as it does there."""
    import errno

    from shot_files import shot_job

    from aifx_core import manifest
    from aifx_core.pipeline import fill

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(manifest.fcntl, "flock", no_locks)
    out = tmp_path / "o" / "c.####.exr"
    result = fill(shot_job(shot, out))
    assert result.written == list(FRAMES)
    assert not (out.parent / f".{out.name}.aifx.lock").exists()
