"""``aifx export openjd``: templates checked and run by the OpenJD reference runtime (``openjd-cli``).

``openjd run`` executes the template's steps on this machine as a farm worker would (a session folder, the
task parameters substituted, path mapping, the ``openjd_*`` stdout protocol); the frames it writes must be
bit-identical to one ``fill(job)``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from shot_files import frame_bytes, make_shot, shot_job

from aifx_core.farm.openjd import OpenJDProgress, build_template, load_session_path_map, openjd_range
from aifx_core.protocol import events
from aifx_core.protocol.errors import InputError
from aifx_core.protocol.job import FillJob

pytest.importorskip("openjd.cli")

FRAMES = range(1001, 1013)
BACKEND = "propagate"
OPENJD = [sys.executable, "-m", "openjd"]


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    return make_shot(tmp_path_factory.mktemp("openjd") / "shot", frames=FRAMES)


@pytest.fixture(scope="module")
def reference(shot, tmp_path_factory) -> dict[int, dict[str, bytes]]:
    from aifx_core.pipeline import fill

    out = tmp_path_factory.mktemp("reference") / "clean.####.exr"
    fill(shot_job(shot, out, backend=BACKEND))
    return {frame: frame_bytes(out, frame) for frame in FRAMES}


def _export(job_file: Path, template: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aifx_core", "export", "openjd", str(job_file), "-o", str(template), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run(
    template: Path, job_file: str, *extra: str, step: str = "Fill", dependencies: bool = True
) -> subprocess.CompletedProcess:
    command = [
        *OPENJD,
        "run",
        str(template),
        "--step",
        step,
        *(["--run-dependencies"] if dependencies else []),
    ]
    command += ["-p", f"JobFile={job_file}", "-p", f"Python={sys.executable}", *extra]
    # OpenJD's sessions live under the temp folder's OpenJD/, which it refuses when another user made it
    # (a shared CI box): each run gets a temp folder of its own beside the template.
    temp = template.parent / "openjd-temp"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp)}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["chunked", "portable"])
def test_template_passes_openjd_check_and_its_run_is_bit_identical(shot, reference, tmp_path, form):
    out = tmp_path / "out" / "clean.####.exr"
    job_file = tmp_path / "job.json"
    shot_job(shot, out, backend=BACKEND).save(job_file)
    template = tmp_path / "template.yaml"
    exported = _export(job_file, template, "--chunk", "5", *(["--portable"] if form == "portable" else []))
    assert exported.returncode == 0, exported.stderr

    check = subprocess.run([*OPENJD, "check", str(template)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "passes validation" in check.stdout, check.stdout + check.stderr

    ran = _run(template, str(job_file))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    ranges = re.findall(r"Frames\((?:CHUNK\[INT\]|STRING)\) = (\d+)-(\d+)", ran.stdout)
    covered = sorted(f for a, b in ranges for f in range(int(a), int(b) + 1))
    assert covered == list(FRAMES), ranges  # every frame in exactly one task
    # 12 frames at 5: the runtime evens them out (4/4/4, not 5/5/2), and every task reads the range it got.
    if form == "chunked":
        assert len(ranges) == 3 and {int(b) - int(a) + 1 for a, b in ranges} == {4}
    else:
        assert ranges == [("1001", "1005"), ("1006", "1010"), ("1011", "1012")]
    assert "openjd_progress: 100.0" in ran.stdout and "openjd_status: done" in ran.stdout
    for frame in FRAMES:
        assert frame_bytes(out, frame) == reference[frame], f"frame {frame} differs from aifx run"


@pytest.mark.slow
def test_a_shot_on_twos_runs_in_chunks_of_its_own_frames(shot, tmp_path):
    """Job frames 1001-1011x2 at --chunk 3: two tasks of three shot frames (``1001-1005:2``), not six of one
    (a CONTIGUOUS chunk must be an interval, so the runtime cut every frame into a task of its own)."""
    from aifx_core.pipeline import fill

    reference = tmp_path / "reference" / "clean.####.exr"
    fill(shot_job(shot, reference, backend=BACKEND, frames="1001-1011x2"))
    out = tmp_path / "out" / "clean.####.exr"
    job_file = tmp_path / "job.json"
    shot_job(shot, out, backend=BACKEND, frames="1001-1011x2").save(job_file)
    template = tmp_path / "template.yaml"
    assert _export(job_file, template, "--chunk", "3").returncode == 0
    ran = _run(template, str(job_file))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert re.findall(r"Frames\(CHUNK\[INT\]\) = (\S+)", ran.stdout) == ["1001-1005:2", "1007-1011:2"]
    for frame in range(1001, 1012, 2):
        assert frame_bytes(out, frame) == frame_bytes(reference, frame), (
            f"frame {frame} differs from aifx run"
        )
    assert not (out.parent / "clean.1002.exr").exists()


@pytest.mark.slow
def test_the_session_path_mapping_applies_to_the_job_paths(shot, reference, tmp_path):
    """The artist's job names /mnt/farm/share/...; on this worker that is tmp_path: the session's rules map the
    JobFile parameter (OpenJD) and the plate, mask and output inside the job (aifx)."""
    share = tmp_path / "share"
    make_shot(share / "shot", frames=FRAMES)  # the same shot, on "shared storage"
    local = shot_job(share / "shot", share / "out" / "clean.####.exr", backend=BACKEND)
    local.save(share / "local.json")
    template = tmp_path / "template.yaml"
    assert _export(share / "local.json", template, "--chunk", "6").returncode == 0

    farm_root = "/mnt/farm/share"
    as_artist_sees_it = local.to_dict()
    for name in ("input", "mask", "output"):
        as_artist_sees_it[name] = as_artist_sees_it[name].replace(str(share), farm_root)
    (share / "job.json").write_text(json.dumps(as_artist_sees_it))
    rules = {
        "version": "pathmapping-1.0",
        "path_mapping_rules": [
            {"source_path_format": "POSIX", "source_path": farm_root, "destination_path": str(share)}
        ],
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))

    ran = _run(template, f"{farm_root}/job.json", "--path-mapping-rules", f"file://{tmp_path / 'rules.json'}")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert not Path(farm_root).exists()
    for frame in FRAMES:
        assert frame_bytes(share / "out" / "clean.####.exr", frame) == reference[frame]


@pytest.mark.slow
def test_the_contact_sheet_is_the_whole_shots_written_once_after_the_chunks(shot, tmp_path):
    """Each Fill task wrote the sheet of its own chunk over the shot's (the last to end won); the Sheet step
    now writes the one-process run's sheet, and the chunks none."""
    from aifx_core.pipeline import fill

    one = shot_job(shot, tmp_path / "one" / "c.####.exr", contact_sheet=str(tmp_path / "one" / "sheet.png"))
    fill(one)
    sheet = tmp_path / "out" / "sheet.png"
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "out" / "c.####.exr", contact_sheet=str(sheet), overwrite=True).save(job_file)
    template = tmp_path / "template.yaml"
    exported = _export(job_file, template, "--chunk", "4")
    assert exported.returncode == 0 and "--step Sheet" in exported.stderr, exported.stderr
    assert [step["name"] for step in yaml.safe_load(template.read_text())["steps"]] == [
        "Anchors",
        "Fill",
        "Sheet",
    ]

    ran = _run(template, str(job_file))  # the chunks alone: no sheet
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert not sheet.exists()
    written = {f: (tmp_path / "out" / f"c.{f}.exr").stat().st_mtime_ns for f in FRAMES}
    ran = _run(template, str(job_file), step="Sheet", dependencies=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert sheet.read_bytes() == (tmp_path / "one" / "sheet.png").read_bytes()
    # (The job's overwrite: true is not the Sheet step's: the frames the chunks wrote are kept.)
    assert {f: (tmp_path / "out" / f"c.{f}.exr").stat().st_mtime_ns for f in FRAMES} == written


@pytest.mark.slow
def test_a_shot_with_negative_frame_numbers_runs(tmp_path):
    """Frames -3..3 at --chunk 2: a task's '--frames' '-3--2' was read by argparse as an option and every Fill
    task failed."""
    shot = make_shot(tmp_path / "shot", frames=range(-3, 4))
    out = tmp_path / "out" / "c.####.exr"
    job_file = tmp_path / "job.json"
    shot_job(shot, out).save(job_file)
    template = tmp_path / "template.yaml"
    assert _export(job_file, template, "--chunk", "2").returncode == 0
    ran = _run(template, str(job_file))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert len(re.findall(r"Frames\(CHUNK\[INT\]\) = ", ran.stdout)) >= 3
    assert sorted(p.name for p in out.parent.glob("c.*.exr")) == sorted(
        f"c.{f:04d}.exr" for f in range(-3, 4)
    )


def test_export_refuses_what_cannot_run_on_a_farm(shot, tmp_path, monkeypatch):
    monkeypatch.chdir(shot.parent)
    job_file = tmp_path / "job.json"
    shot_job(Path(shot.name), tmp_path / "clean.####.exr").save(job_file)  # a relative plate path
    done = _export(job_file, tmp_path / "t.yaml")
    assert done.returncode == 2 and "relative path" in done.stderr
    assert not (tmp_path / "t.yaml").exists()
    # A model given relative to the folder the job was made in (the docs' --model ./Wan2.1-...): every task
    # would look for it in its own folder.
    relative_model = shot_job(
        shot, tmp_path / "c.####.exr", backend="lama", options={"model": "./tiny-lama.pt"}
    )
    with pytest.raises(InputError, match="option model './tiny-lama.pt' is a relative path"):
        build_template(relative_model, job_file)
    # A Windows path was "a relative path" (the server says "a Windows path" of the same job).
    windows = shot_job(shot, tmp_path / "c.####.exr").to_dict()
    windows["input"] = "Z:\\shots\\sh010\\plate.####.exr"
    with pytest.raises(InputError, match=r"job input Z:\\shots\\sh010\\plate.####.exr is a Windows path"):
        build_template(FillJob.from_dict(windows), job_file)
    # A ~ path was "a relative path" too (the server says "starts with ~" of the same job).
    home = shot_job(shot, tmp_path / "c.####.exr", backend="lama", options={"model": "~/m/big-lama.pt"})
    with pytest.raises(InputError, match=r"^job input '~/shots/p.####.exr' starts with ~, which a farm task"):
        build_template(replace(home, input="~/shots/p.####.exr"), job_file, portable=True)
    with pytest.raises(InputError, match=r"^option model '~/m/big-lama.pt' starts with ~"):
        build_template(home, job_file)
    for size in (0, -1):  # 0 was taken for "the default, 50"
        with pytest.raises(InputError, match=f"--chunk {size}: a chunk needs at least 1 frame"):
            build_template(shot_job(shot, tmp_path / "c.####.exr"), job_file, chunk=size)
    with pytest.raises(InputError, match="at most 150"):
        build_template(shot_job(shot, tmp_path / "c.####.exr"), job_file, chunk=151)
    template = build_template(shot_job(shot, tmp_path / "c.####.exr"), job_file, chunk=151, portable=True)
    assert template["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]["range"] == ["1001-1012"]


def test_export_to_a_missing_folder_or_onto_a_folder_is_one_line(shot, tmp_path):
    """``-o missing_folder/t.yaml`` and ``-o`` naming a folder printed a traceback and "internal error", exit 1
    (write_template's OSError was not turned into a line): both are one line naming the path, exit 2, and
    nothing is written."""
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "clean.####.exr").save(job_file)
    for target in (tmp_path / "no_such_dir" / "t.yaml", tmp_path / "no_such_dir" / "t.json"):
        done = _export(job_file, target)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip() == (
            f"aifx: error: {target}: folder {target.parent} for the job template (-o/--output) does not exist; "
            "create it or choose another path"
        )
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    done = _export(job_file, folder)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (
        f"aifx: error: {folder}: the job template (-o/--output) path is a folder; give a file inside it, like "
        f"{folder / 'template.yaml'}"
    )
    assert not (tmp_path / "no_such_dir").exists() and list(folder.iterdir()) == []


def test_export_onto_the_outputs_manifest_or_cache_is_refused_as_save_job_is(shot, tmp_path):
    """``aifx export openjd job.json -o out/.clean.####.exr.aifx.json`` exited 0 with the template in place of
    the output's manifest: every finished frame lost its resume record, and the next run said "4 output
    frame(s) already exist, made by something else". ``-o`` into the anchors cache folder was not checked
    either. Both are refused as ``--save-job`` is, exit 2, nothing written; the run then resumes."""
    from cli_runner import aifx

    out = tmp_path / "out"
    job_file = tmp_path / "job.json"
    shot_job(shot, out / "clean.####.exr", backend=BACKEND).save(job_file)
    assert aifx("run", str(job_file), "--frames", "1001-1004").returncode == 0
    manifest = out / ".clean.####.exr.aifx.json"
    cache = out / ".clean.####.exr.aifx-cache"
    before = manifest.read_bytes()
    for target, role in ((manifest, "output's manifest"), (cache / "index.json", "output's cache folder")):
        done = _export(job_file, target)
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1 and line.startswith(f"aifx: error: {target}"), line
        assert role in line, line
    assert manifest.read_bytes() == before and not (cache / "index.json").exists()
    rerun = aifx("run", str(job_file))
    assert rerun.returncode == 0 and "4 already done" in rerun.stderr, rerun.stderr


def test_template_shape(shot, tmp_path):
    template = build_template(shot_job(shot, tmp_path / "c.####.exr"), tmp_path / "job.json", chunk=4)
    assert template["extensions"] == ["TASK_CHUNKING"]
    anchors, fill = template["steps"]
    assert anchors["name"] == "Anchors" and fill["dependencies"] == [{"dependsOn": "Anchors"}]
    frames = fill["parameterSpace"]["taskParameterDefinitions"][0]
    assert frames["type"] == "CHUNK[INT]" and frames["range"] == "1001-1012"
    args = fill["script"]["actions"]["onRun"]["args"]
    assert "--frames={{Task.Param.Frames}}" in args  # one argument (a negative range is no option)
    assert (
        "{{Session.PathMappingRulesFile}}" in args
        and "--anchors" in anchors["script"]["actions"]["onRun"]["args"]
    )
    assert yaml.safe_load(yaml.safe_dump(template)) == template


def test_stepped_and_gapped_shots_are_range_expressions_chunked_by_their_frames(shot, tmp_path):
    from openjd.model import IntRangeExpr

    for frames, expression, constraint in (
        ("1001-1011x2", "1001-1011:2", "NONCONTIGUOUS"),
        ("1001-1004,1007-1012", "1001-1004,1007-1012", "NONCONTIGUOUS"),
        ("1003-1010", "1003-1010", "CONTIGUOUS"),
    ):
        job = shot_job(shot, tmp_path / "c.####.exr", frames=frames)
        template = build_template(job, tmp_path / "job.json", chunk=5)
        parameter = template["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]
        assert parameter["range"] == expression
        assert parameter["chunks"]["rangeConstraint"] == constraint
    for frames in ([1001, 1003, 1005, 1007, 1020], [-5, -4, -3, 0, 2, 4, 6], [7]):
        assert list(IntRangeExpr.from_str(openjd_range(frames))) == frames


def test_the_printed_openjd_run_command_survives_a_copy_paste(shot, tmp_path):
    folder = tmp_path / "sh 010 final"
    folder.mkdir()
    job_file = folder / "my job.json"
    shot_job(shot, folder / "out" / "c.####.exr").save(job_file)
    done = _export(job_file, folder / "t t.yaml", "--chunk", "6")
    assert done.returncode == 0, done.stderr
    command = shlex.split(done.stderr.split("run it with: ", 1)[1])
    assert command[:3] == ["openjd", "run", str(folder / "t t.yaml")]
    assert command[-2:] == ["-p", f"JobFile={job_file}"]


def test_openjd_range_and_progress_lines(tmp_path):
    assert openjd_range([1001, 1002, 1003, 1005, 1007, 1008]) == "1001-1003,1005,1007-1008"
    lines: list[str] = []
    report = OpenJDProgress(lines.append)
    report({"event": "progress", "stage": "flow", "index": 1, "total": 4, "frame": 1001, "message": ""})
    report({"event": "progress", "stage": "flow", "index": 2, "total": 4, "frame": 1002, "message": ""})
    report({"event": "progress", "stage": "write", "index": 1, "total": 4, "frame": 1001, "message": ""})
    report(events.error_event("frame 1002: bad\nthing", 2))
    assert lines == [
        "openjd_status: flow 1/4 (frame 1001)",
        "openjd_progress: 25.0",
        "openjd_fail: frame 1002: bad thing",
    ]
    empty = tmp_path / "none.json"
    empty.write_text("{}")  # what an OpenJD session without rules writes
    assert load_session_path_map(empty) == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "pathmapping-0.1", "path_mapping_rules": [{}]}')
    with pytest.raises(InputError):
        load_session_path_map(bad)


@pytest.mark.slow
def test_the_anchors_step_warns_when_the_mask_is_empty_on_every_frame(shot, tmp_path):
    """No Fill task can tell that the mask selects nothing (its chunk's frames may be off screen); the Anchors
    step, the one task that sees the whole shot, says so in its log. A mask with holes says nothing."""
    import cv2

    empty = tmp_path / "shot"
    empty.mkdir()
    for frame in FRAMES:
        for name in (f"plate.{frame}.exr", f"mask.{frame}.png"):
            (empty / name).write_bytes((shot / name).read_bytes())
        matte = cv2.imread(str(empty / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        matte[:] = 0
        cv2.imwrite(str(empty / f"mask.{frame}.png"), matte)
    logs = {}
    for name, source in (("empty", empty), ("kept", shot)):
        job_file = tmp_path / f"{name}.json"
        shot_job(source, tmp_path / name / "c.####.exr", backend="telea").save(job_file)
        template = tmp_path / f"{name}.yaml"
        assert _export(job_file, template, "--chunk", "6").returncode == 0
        done = _run(template, str(job_file))
        assert done.returncode == 0, done.stdout + done.stderr
        logs[name] = done.stdout + done.stderr
    warning = "aifx: warning: the mask is empty on every frame (1001-1012): nothing was filled"
    assert logs["empty"].count(warning) == 1, logs["empty"]
    assert "mask is empty" not in logs["kept"]


def test_a_chunk_writes_no_contact_sheet_and_sheet_writes_the_shots(shot, tmp_path):
    from cli_runner import aifx

    sheet = tmp_path / "sheet.png"
    job_file = tmp_path / "job.json"
    shot_job(shot, tmp_path / "c.####.exr", contact_sheet=str(sheet)).save(job_file)
    chunk = aifx("run", str(job_file), "--frames", "1001-1004", "--json-progress")
    assert chunk.returncode == 0, chunk.stderr
    assert not sheet.exists() and json.loads(chunk.stdout.splitlines()[-1])["contact_sheet"] is None
    refused = aifx("run", str(job_file), "--sheet", "--frames", "1001-1004")
    assert refused.returncode == 2 and "--sheet" in refused.stderr
    done = aifx("run", str(job_file), "--sheet")
    assert done.returncode == 0 and sheet.stat().st_size > 0, done.stderr
    shot_job(shot, tmp_path / "c.####.exr").save(tmp_path / "plain.json")
    none = aifx("run", str(tmp_path / "plain.json"), "--sheet")
    assert none.returncode == 2 and "no contact_sheet" in none.stderr


def test_the_help_describes_both_steps_and_the_absolute_paths(capsys):
    """``aifx export openjd --help`` took one paragraph of the module docstring and stopped at "...and two
    steps:"."""
    from aifx_core.cli import main

    with pytest.raises(SystemExit) as done:
        main(["export", "openjd", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split("positional arguments:")[0].split())
    assert not text.endswith(":") and "two steps:" not in text, text
    for words in (
        "Anchors (aifx run JOB --anchors, once)",
        "Fill (aifx run JOB --frames",
        "must be absolute",
    ):
        assert words in text, text


def test_the_readme_says_the_export_needs_absolute_paths(tmp_path):
    """The export refuses a job with relative paths (docs/farm.md says so); the README's line for it did not."""
    job = FillJob(input="plate.####.exr", output=str(tmp_path / "c.####.exr"))
    with pytest.raises(InputError, match="job input 'plate.####.exr' is a relative path"):
        build_template(job, tmp_path / "job.json")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in readme.splitlines() if line.startswith("aifx export openjd ")]
    assert "absolute" in line, line
