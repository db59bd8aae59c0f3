"""The ``aifx`` command as a user runs it: exit codes, one-line errors, JSON progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import aifx
from shot_files import frame_bytes, make_shot, on_small_disk, write_exr

from aifx_core import FillJob, __version__

FRAMES = range(1001, 1005)


@pytest.fixture
def shot(tmp_path):
    return make_shot(tmp_path / "shot", FRAMES)


def test_version():
    done = aifx("--version")
    assert done.returncode == 0
    assert __version__ in done.stdout


def test_fill_help_names_every_built_in_backend() -> None:
    """--backend's help was a list kept by hand, which left out video-diffusion and diffusers-every-frame."""
    from aifx_core.backends import get
    from aifx_core.protocol.backend_options import READS

    done = aifx("fill", "--help")
    assert done.returncode == 0
    shown = " ".join(done.stdout.split())  # (argparse wraps the help)
    assert "propagate (default)" in shown
    for name in READS:
        assert get(name).source == "aifx" and name in shown, name


def test_fill_help_gives_the_mask_defaults_the_seed_and_the_step_syntax() -> None:
    """--dilate, --feather and --threshold showed no default, --seed had no help, the help never said what
    --threshold 0 means, and --frames left out the step syntax it takes (1001-1100x2)."""
    done = aifx("fill", "--help")
    assert done.returncode == 0
    shown = " ".join(done.stdout.split())  # (argparse wraps the help)
    assert "grow the hole by N pixels (default 4)" in shown
    assert "soften the fill edge over N pixels outside the hole (default 2)" in shown
    assert "at or above this is hole; 0: any value above 0 (default 0.5)" in shown
    assert "--seed SEED random seed" in shown and "(default 0)" in shown
    assert "1001-1100x2 (every 2nd)" in shown
    assert "1001-1100x2" in " ".join(aifx("info", "--help").stdout.split())


def test_info_on_a_10_bit_dpx_calls_it_integer_data(tmp_path) -> None:
    """A 10-bit DPX's colourspace line said '(8/16-bit data without colourspace metadata)' under a channels
    line saying 10-bit."""
    import numpy as np
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(8, 6, 3, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", 10)
    path = tmp_path / "scan.1001.dpx"
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.zeros((6, 8, 3), np.uint16))
    out.close()
    done = aifx("info", str(path))
    assert done.returncode == 0, done.stderr
    assert "10-bit" in done.stdout and "8/16-bit" not in done.stdout, done.stdout
    assert "integer data without colourspace metadata" in done.stdout, done.stdout


def test_fill_with_json_progress_streams_events_and_ends_with_done(shot, tmp_path):
    out = tmp_path / "out" / "clean.####.exr"
    done = aifx(
        "fill",
        str(shot / "plate.####.exr"),
        "--mask",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
        "--backend",
        "telea",
        "--json-progress",
        "--save-job",
        str(tmp_path / "job.json"),
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    writes = [e for e in events if e["event"] == "progress" and e["stage"] == "write"]
    assert [e["frame"] for e in writes] == list(FRAMES)
    assert events[-1]["event"] == "done" and events[-1]["written"] == list(FRAMES)
    assert FillJob.load(tmp_path / "job.json").backend == "telea"
    # rerunning the saved job resumes: nothing left to do
    again = aifx("run", str(tmp_path / "job.json"), "--json-progress")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["skipped"] == list(FRAMES)


def test_a_saved_job_holds_absolute_paths_so_it_fills_its_own_shot_from_any_folder(tmp_path):
    """``aifx fill plates/... --save-job ../jobs/sh010.json`` in sh010's folder saved the paths as typed, so
    ``aifx run`` of that job from sh020's folder (the same layout) filled sh020 with exit 0. The saved job holds
    the paths as this run read them, absolute, and fills sh010 from anywhere (and resumes: the same frames)."""
    sh010, sh020 = (make_shot(tmp_path / name / "plates", FRAMES) for name in ("sh010", "sh020"))
    (tmp_path / "jobs").mkdir()
    made = aifx(
        "fill", "plates/plate.####.exr", "-m", "plates/mask.####.png", "-o", "comp/clean.####.exr",
        "-b", "telea", "--save-job", "../jobs/sh010.json", cwd=sh010.parent,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    saved = json.loads((tmp_path / "jobs" / "sh010.json").read_text())
    assert [saved["input"], saved["mask"], saved["output"]] == [
        str(sh010 / "plate.####.exr"),
        str(sh010 / "mask.####.png"),
        str(tmp_path / "sh010" / "comp" / "clean.####.exr"),
    ]
    resumed = aifx("run", "../jobs/sh010.json", "--json-progress", cwd=sh020.parent)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1])["skipped"] == list(FRAMES)
    assert not (tmp_path / "sh020" / "comp").exists()


def test_a_job_whose_relative_paths_are_not_there_names_the_folder_they_were_read_from(tmp_path):
    """A job file with relative paths (written by hand, or by an older --save-job) run from another folder: "plate
    folder plates does not exist; check the path" did not say that the paths are read from the folder aifx runs
    in, not the job's. The line names that folder."""
    make_shot(tmp_path / "sh010" / "plates")
    job = tmp_path / "sh010" / "job.json"
    job.write_text(json.dumps({"input": "plates/plate.####.exr", "output": "comp/clean.####.exr"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = aifx("run", str(job), cwd=elsewhere)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"aifx: error: plates/plate.####.exr: plate folder plates does not exist in {elsewhere}, the folder aifx "
        "runs in, which relative paths are read from; check the path, or run aifx from the folder they are "
        "relative to"
    ]


def _bad_inputs(shot: Path, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    plate = str(shot / "plate.####.exr")
    mask = str(shot / "mask.####.png")
    out = str(tmp_path / "o" / "c.####.exr")
    gappy = tmp_path / "gappy"
    make_shot(gappy, range(1001, 1006))
    (gappy / "plate.1003.exr").unlink()
    small = tmp_path / "small"
    small.mkdir()
    import cv2
    import numpy as np

    for f in FRAMES:
        cv2.imwrite(str(small / f"m.{f}.png"), np.zeros((10, 10), np.uint8))
    corrupt = tmp_path / "corrupt"
    make_shot(corrupt, FRAMES)
    data = (corrupt / "plate.1002.exr").read_bytes()
    (corrupt / "plate.1002.exr").write_bytes(data[: len(data) // 2])
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    depth_only = tmp_path / "depth"
    depth_only.mkdir()
    for f in FRAMES:
        write_exr(depth_only / f"z.{f}.exr", {"Z": np.ones((48, 64), np.float32)})
    return {
        "missing path": (["fill", str(tmp_path / "nope" / "p.####.exr"), "-o", out], "nope"),
        "pattern matching nothing": (["fill", str(shot / "other.####.exr"), "-o", out], "other.####.exr"),
        "gaps": (
            ["fill", str(gappy / "plate.####.exr"), "-m", str(gappy / "mask.####.png"), "-o", out],
            "1003",
        ),
        "size mismatch": (["fill", plate, "-m", str(small / "m.####.png"), "-o", out], "m."),
        "corrupt exr": (["fill", str(corrupt / "plate.####.exr"), "-m", mask, "-o", out], "plate.1002.exr"),
        "output == input": (["fill", plate, "-m", mask, "-o", plate], "overwrite"),
        "output not writable": (["fill", plate, "-m", mask, "-o", str(blocker / "c.####.exr")], "a_file"),
        "unknown backend": (["fill", plate, "-m", mask, "-o", out, "--backend", "magic"], "magic"),
        "bad frame range": (["fill", plate, "-m", mask, "-o", out, "--frames", "10-x"], "10-x"),
        "no colour channels": (["fill", str(depth_only / "z.####.exr"), "-m", mask, "-o", out], "z.1001.exr"),
        "missing job file": (["run", str(tmp_path / "job.json")], "job.json"),
    }


def test_bad_input_gets_one_clear_line_exit_2_and_writes_nothing(shot, tmp_path):
    for case, (args, fragment) in _bad_inputs(shot, tmp_path).items():
        done = aifx(*args)
        assert done.returncode == 2, f"{case}: {done.returncode} {done.stderr}"
        assert "Traceback" not in done.stderr, case
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("aifx: error: "), f"{case}: {done.stderr}"
        assert fragment in lines[0], f"{case}: {lines[0]}"
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir()), case


def test_bad_input_with_json_progress_ends_with_an_error_event(tmp_path):
    done = aifx("fill", str(tmp_path / "p.####.exr"), "-o", str(tmp_path / "o.####.exr"), "--json-progress")
    assert done.returncode == 2
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["event"] == "error" and last["exit_code"] == 2 and "p.####.exr" in last["message"]


@pytest.mark.parametrize("command", [["info", "--json"], ["fill", "--json-progress"]])
def test_a_reader_that_closes_the_output_stops_it_quietly(shot, tmp_path, command):
    """``aifx info --json | head -1``, a wrapper that stopped reading: the broken pipe was an "internal error
    (please report it)" with two tracebacks, exit 1."""
    import subprocess

    args = [sys.executable, "-m", "aifx_core", command[0], str(shot / "plate.####.exr")]
    if command[0] == "fill":
        args += ["-m", str(shot / "mask.####.png"), "-o", str(tmp_path / "o" / "c.####.exr"), "-b", "telea"]
    proc = subprocess.Popen([*args, command[1]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before its first line: the interpreter alone takes longer to start
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "internal error" not in err
    assert err.strip().splitlines()[-1].startswith("aifx: stopped: what read its output closed it"), err


@pytest.mark.parametrize(
    "keyframes, said",
    [("1001-1O04", "--keyframes '1001-1O04'"), ("1002,3000", "keyframes 3000: not frames of the shot")],
)
def test_keyframes_outside_the_shot_or_mistyped_are_refused_by_their_name(shot, tmp_path, keyframes, said):
    """A typo was reported as --frames, and a keyframe outside the shot (150 for 1050) was dropped without a
    word, so the default choice ran instead."""
    out = tmp_path / "o" / "c.####.exr"
    done = aifx("fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out),
                "--keyframes", keyframes)  # fmt: skip
    assert done.returncode == 2 and said in done.stderr and "--frames" not in done.stderr, done.stderr
    assert not out.parent.exists() or not list(out.parent.glob("c.*.exr"))


def test_usage_error_exits_2():
    done = aifx("fill")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_info_describes_the_sequence(shot):
    done = aifx("info", str(shot / "plate.####.exr"))
    assert done.returncode == 0, done.stderr
    assert "1001" in done.stdout and "1004" in done.stdout
    assert "64" in done.stdout and "48" in done.stdout


def test_disk_full_while_writing_leaves_no_partial_frame(tmp_path):
    """A real ENOSPC: the output goes to a 160 KiB tmpfs mounted in a private user+mount namespace."""
    shot = make_shot(
        tmp_path / "shot",
        range(1, 31),
    )
    disk = tmp_path / "small_disk"
    script = (
        f"{sys.executable} -m aifx_core fill {shot}/plate.####.exr -m {shot}/mask.####.png "
        f"-o {disk}/c.####.exr --backend telea --compression none; "
        f"code=$?; ls -a {disk}; exit $code"
    )
    done = on_small_disk(disk, "160k", script)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "disk full" in done.stderr.lower() or "no space" in done.stderr.lower(), done.stderr
    listed = done.stdout.split()
    assert not [name for name in listed if "tmp" in name], f"partial temp file left: {listed}"
    assert any(name.startswith("c.") for name in listed), "the frames that fit were kept"


@pytest.mark.parametrize("ext", ["exr", "png"])
def test_a_file_size_limit_is_one_line_exit_2(tmp_path, ext):
    """A real ``ulimit -f`` (4 KiB; a farm's per-file cap) under ``aifx fill``: an EXR frame (OpenEXR's "File too
    large"), a PNG frame (libpng's short-write text) or the manifest (errno 27) past it ended in a traceback and
    "internal error", exit 1. Now one line naming the file and the limit, exit 2, and no temp file left."""
    shot = make_shot(tmp_path / "shot")
    out = tmp_path / "out"
    done = aifx(
        "fill", f"{shot}/plate.####.exr", "-m", f"{shot}/mask.####.png", "-o", f"{out}/c.####.{ext}",
        "--backend", "telea", file_size_limit=4096,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"aifx: error: file size limit reached writing {out}/"), done.stderr
    assert last.endswith("(ulimit -f or a quota); raise the limit, or write a smaller file (another format or "
                         "compression), and rerun (finished frames are kept)"), done.stderr  # fmt: skip
    assert not [path.name for path in out.iterdir() if "aifx-tmp" in path.name]


def test_the_terminal_bar_shows_the_stages_before_the_first_write(monkeypatch):
    """On a terminal the bar appeared only at the first frame written: the seen plate and the anchors stages
    before it (seconds to minutes on a long shot) showed nothing."""
    import io

    from aifx_core.printing import ProgressPrinter
    from aifx_core.progress import ProgressEvent

    shown = io.StringIO()
    monkeypatch.setattr(sys, "stderr", shown)
    printer = ProgressPrinter(json_progress=False)
    printer._draw(ProgressEvent("seen plate", 3, 70, 1003))
    assert "seen plate 1003" in shown.getvalue()
    printer._draw(ProgressEvent("write", 5, 70, 1005))
    assert printer.bar.total == 70 and printer.bar.n == 5
    printer.__exit__(None, None, None)


def test_a_stray_file_refused_by_aifx_fill_suggests_the_flag(shot, tmp_path):
    """Without --frames the refusal named the job field "frames", which a CLI user never saw."""
    (shot / "plate.20231205.exr").write_bytes((shot / "plate.1001.exr").read_bytes())
    done = aifx(
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(tmp_path / "o.####.exr"),
    )
    assert done.returncode == 2 and done.stderr.rstrip().endswith("or give the frames to use (--frames)"), (
        done.stderr
    )


@pytest.mark.parametrize("stdout", ["closed", "/dev/full"])
def test_progress_that_cannot_be_written_is_one_line_exit_2(shot, tmp_path, stdout):
    """``aifx fill ... --json-progress >&-`` failed with an AttributeError on None.flush, ``> /dev/full`` with an
    OSError: exit 1 and two tracebacks each."""
    import subprocess

    args = [sys.executable, "-m", "aifx_core", "fill", str(shot / "plate.####.exr"), "-m"]
    args += [str(shot / "mask.####.png"), "-o", str(tmp_path / "o" / "c.####.exr"), "-b", "telea"]
    with open(os.devnull if stdout == "closed" else stdout, "w") as sink:
        shell = [*args, "--json-progress"]
        if stdout == "closed":  # (the shell's >&-: the child starts with no file descriptor 1)
            shell = ["sh", "-c", 'exec "$@" >&-', "sh", *shell]
        done = subprocess.run(shell, stdout=sink, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("aifx: error: cannot write the progress events")


@pytest.mark.parametrize("args", ["--help", "--version", "fill --help", "serve -h"])
def test_help_and_version_to_a_full_stdout_are_one_line_exit_2(args):
    """``aifx --help > /dev/full``, ``--version`` and a subcommand's ``--help`` exited 0 without a word (argparse
    drops the OSError of its print and exits 0), where every other command's output that stdout does not take is
    one line and exit 2."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", *args.split()],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"aifx: error: cannot write what aifx {args} prints to stdout ("), lines[0]
    assert lines[0].endswith("point stdout at a pipe or file that takes it, and rerun"), lines[0]


def _with_closed(streams: str, *args: str) -> subprocess.CompletedProcess:
    """``aifx <args>`` started as the shell's ``aifx ... <streams>`` (``2>&-``: no file descriptor 2, so Python
    makes ``sys.stderr`` None); what is left open is captured."""
    shell = ["sh", "-c", f'exec "$@" {streams}', "sh", sys.executable, "-m", "aifx_core", *args]
    return subprocess.run(shell, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("streams", ["2>&-", ">&- 2>&-"])
def test_a_closed_stderr_fills_as_a_closed_stdout_does(shot, tmp_path, streams):
    """``aifx fill ... 2>&-`` died before the first frame with an AttributeError on None.isatty, its traceback
    printed on stdout (print(file=None) falls back to it), exit 1; with stdout closed too, exit 1 and not a word.
    A closed stderr is no terminal and what would be said there is dropped: the fill is the one made with it."""
    base = [str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-b", "telea"]
    reference = aifx("fill", *base, "-o", str(tmp_path / "ref" / "c.####.exr"))
    assert reference.returncode == 0, reference.stderr
    done = _with_closed(streams, "fill", *base, "-o", str(tmp_path / "out" / "c.####.exr"))
    assert done.returncode == 0, done.stdout
    assert done.stdout == ""
    for frame in FRAMES:
        assert frame_bytes(tmp_path / "out" / "c.####.exr", frame) == frame_bytes(
            tmp_path / "ref" / "c.####.exr", frame
        )


def test_with_stderr_closed_json_progress_keeps_stdout_for_the_events(shot, tmp_path):
    """With ``--json-progress 2>&-`` the notices (a PNG output of an EXR plate says what it drops) went to stdout
    among the events (print(file=None) writes there): a line the adapters cannot parse."""
    out = tmp_path / "out" / "c.####.png"
    args = [str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out), "-b", "telea"]
    done = _with_closed("2>&-", "fill", *args, "--json-progress")
    assert done.returncode == 0, done.stdout
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["notices"], events[-1]
    assert len(list(out.parent.glob("c.*.png"))) == len(FRAMES)


@pytest.mark.parametrize("command", ["info", "info --json", "backends", "eval"])
def test_a_full_stdout_is_one_line_exit_2_for_every_command(shot, command):
    """``aifx info ... > /dev/full`` (a log on a full volume) ended in an OSError traceback and ``internal
    error``, exit 1, for info, info --json, backends and eval alike; --json-progress already had its line."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    args = {
        "info": ["info", plate],
        "info --json": ["info", "--json", plate],
        "backends": ["backends"],
        "eval": ["eval", plate, "--mask", mask, "--frames", "1001-1002"],
    }[command]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    name = command.split()[0]
    assert lines[-1].startswith(f"aifx: error: cannot write what aifx {name} prints to stdout ("), done.stderr
    assert lines[-1].endswith("point stdout at a pipe or file that takes it, and rerun"), lines[-1]


#: The arguments that take free text and name no file, by (command, dest): a new argument that takes text must
#: be put here or marked as a path where it is added (``aifx_core.arguments.path_argument``).
TEXT_ARGUMENTS = {
    ("fill", dest)
    for dest in (
        "mask_channel", "frames", "backend", "spatial_backend", "prompt", "negative_prompt", "scheduler",
        "keyframes", "option", "colorspace", "compression", "device",
    )
} | {
    ("run", "address"), ("run", "frames"), ("info", "frames"), ("backends", "name"), ("eval", "mask_channel"),
    ("eval", "frames"), ("eval", "colorspace"), ("storyboard", "device"), ("previz", "device"),
    ("serve", "host"), ("serve", "workers"), ("serve token add", "name"), ("submit", "server"),
    ("submit", "token_env"),
}  # fmt: skip


def _text_actions(parser, command=""):
    """(command, action) for every argument of ``parser`` and its subcommands that takes text (not a number, a
    choice or a switch)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _text_actions(sub, f"{command} {name}".strip())
        elif (
            action.nargs != 0 and action.type in (None, str) and not action.choices and action.dest != "help"
        ):
            yield command, action


def test_every_path_argument_is_marked_on_the_parser():
    """cli._PATH_ARGUMENTS was a hand-kept list of the ``dest`` names that are paths, beside the parser: a new
    path option missing from it would have its Latin-1 name refused as mistyped text ("retype it"), not as a
    name to rename. The CLI now reads the marks set where the arguments are added; every argument that takes
    text is either marked or named text here, and the backend flags that name files carry the kinds the
    backends' PATH_OPTIONS give them."""
    from aifx_core.arguments import PATH, PATH_OR_NAME, path_kind
    from aifx_core.cli import BACKEND_OPTION_FLAGS, OPTION_PATH_KINDS, build_parser
    from aifx_core.inpaint.models import PATH_OPTIONS

    marked = set()
    for command, action in _text_actions(build_parser()):
        named = (command, action.dest)
        if path_kind(action) is not None:
            marked.add(named)
            assert named not in TEXT_ARGUMENTS, f"{named} is marked a path and listed as text"
        else:
            assert named in TEXT_ARGUMENTS, (
                f"{command} {action.option_strings or action.dest}: a path or text?"
            )
    assert {("fill", "input"), ("fill", "contact_sheet"), ("fill", "save_job"), ("serve", "root")} <= marked
    assert ("serve token add", "token_file_add") in marked and ("export openjd", "python") in marked
    kinds = {"path": PATH, "model": PATH_OR_NAME}
    flags = {key for _flag, key, _kind, _text in BACKEND_OPTION_FLAGS}
    assert {key: kinds[PATH_OPTIONS[key]] for key in flags & set(PATH_OPTIONS)} == OPTION_PATH_KINDS


def test_a_stray_byte_in_each_kind_of_argument(tmp_path):
    """The parser's marks decide how a byte that is not UTF-8 is refused: in a path (``info``'s sequence), by
    the path's rename line; in text (``--frames``), as mistyped text; never as ``\\udcff``."""
    stray = os.fsdecode(b"\xff")
    path = aifx("info", str(tmp_path / f"pl{stray}ate.####.exr"))
    text = aifx("info", str(tmp_path / "plate.####.exr"), "--frames", f"1{stray}")
    assert path.returncode == 2 and "the file name pl\\xffate.####.exr is not valid UTF-8" in path.stderr
    assert text.returncode == 2 and "--frames 1\\xff: the byte \\xff is not UTF-8" in text.stderr
    assert "udcff" not in path.stderr + text.stderr
