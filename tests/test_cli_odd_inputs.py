"""``aifx`` given what a hurried user gives it: each bad input is one line naming the file or frame and the fix,
exit code 2, no traceback, and the inputs are left as they were."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from cli_runner import aifx
from shot_files import make_shot, object_matte, plate_frame, read_exr, write_exr

from aifx_core import FillJob
from aifx_core.errors import InputError

FRAMES = range(1001, 1005)


def refused(done: subprocess.CompletedProcess, *names: str) -> str:
    """The one error line of a refused run, checked for exit code 2, no traceback and ``names``."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("aifx: error:")]
    assert len(lines) == 1, done.stderr
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


@pytest.fixture
def shot(tmp_path):
    return make_shot(tmp_path / "shot", FRAMES)


def label_mask_as_file(shot, tmp_path):
    """The shot's masks saved as 0/1 labels; the fill reads them with ``-m``."""
    for frame in FRAMES:
        path = shot / f"mask.{frame:04d}.png"
        cv2.imwrite(str(path), (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8))
    args = [str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png")]
    return shot, args, ["mask.1001.png", "only 0 and 1", "0/255"], "exr"


def label_mask_as_alpha(shot, tmp_path):
    """RGBA PNG plates whose alpha is a 0/1 label image; no ``-m``, so the mask is taken from the alpha."""
    plates = tmp_path / "rgba"
    plates.mkdir()
    for frame in FRAMES:
        label = (cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
        colour = np.dstack([np.full_like(label, 90), np.full_like(label, 140), np.full_like(label, 200)])
        cv2.imwrite(str(plates / f"plate.{frame:04d}.png"), np.dstack([colour, label]))
    args = [str(plates / "plate.####.png")]
    return plates, args, ["plate.1001.png", "alpha holds only 0 and 1", "save the alpha as 0/255"], "png"


@pytest.mark.parametrize("make", [label_mask_as_file, label_mask_as_alpha], ids=["mask file", "plate alpha"])
def test_a_0_1_label_mask_is_refused_not_filled_as_nothing(make, shot, tmp_path):
    """A 0/1 label image as the mask (a file or the plate's alpha) is refused with the fix, not run as a mask
    that holds nothing (which wrote the plate back unfilled and exited 0); with the fix it runs."""
    inputs, args, named, ext = make(shot, tmp_path)
    before = digest(inputs)
    out = tmp_path / "out" / f"clean.####.{ext}"
    line = refused(aifx("fill", *args, "-o", str(out)), *named[:2], "--threshold 0")
    assert named[2] in line
    assert not list((tmp_path / "out").glob(f"clean.*.{ext}"))
    assert digest(inputs) == before
    fixed = aifx("fill", *args, "-o", str(out), "--threshold", "0")
    assert fixed.returncode == 0, fixed.stderr
    assert len(list((tmp_path / "out").glob(f"clean.*.{ext}"))) == len(FRAMES)


def test_frames_beyond_the_shot_name_the_range_on_disk(shot, tmp_path):
    args = ["fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png")]
    args += ["-o", str(tmp_path / "out" / "c.####.exr")]
    line = refused(aifx(*args, "--frames", "995-1003"), "plate.####.exr", "995-1000 missing")
    assert "on disk: 1001-1004" in line and "keep --frames within 1001-1004" in line
    line = refused(aifx(*args, "--frames", "2001-2010"), "none of the requested plate frames 2001-2010")
    assert "on disk: 1001-1004" in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("c.*.exr"))


def test_a_job_files_bad_frames_name_the_job_field_not_a_flag(shot, tmp_path):
    """``aifx run job.json`` was given no --frames: a bad "frames" in the job is named as the job's field (the
    flag of aifx fill is still named as the flag, and aifx run's own --frames as its flag and fill's argument)."""
    from shot_files import shot_job

    job = tmp_path / "job.json"
    for frames, names in (("1-2-3", ["job field \"frames\" '1-2-3'", "cannot read"]), ("5-9", ["5-9 exist"])):
        shot_job(shot, tmp_path / "out" / "c.####.exr", frames=frames).save(job)
        line = refused(aifx("run", str(job)), *names)
        assert "--frames" not in line and 'job field "frames"' in line
    line = refused(
        aifx("fill", str(shot / "plate.####.exr"), "-o", str(tmp_path / "c.####.exr"), "--frames", "1-2-3")
    )
    assert "--frames '1-2-3': cannot read" in line
    shot_job(shot, tmp_path / "out" / "c.####.exr").save(job)
    # (aifx run's --frames is fill()'s argument: named both ways, for the CLI and a Python caller)
    assert "--frames (fill(frames=...)) '1-2-3': cannot read" in refused(
        aifx("run", str(job), "--frames", "1-2-3")
    )
    assert not (tmp_path / "out").exists()


def test_eval_against_a_reference_with_a_gap_gives_evals_own_fix(shot):
    reference = shot.parent / "truth"
    reference.mkdir()
    for frame in (1001, 1002, 1004):
        (reference / f"plate.{frame:04d}.exr").write_bytes((shot / f"plate.{frame:04d}.exr").read_bytes())
    line = refused(
        aifx("eval", str(shot / "plate.####.exr"), "--reference", str(reference / "plate.####.exr")),
        "truth",
        "no reference frame(s) 1003 for the result",
    )
    assert "--skip-missing" not in line and "--frames" in line  # aifx eval has no --skip-missing


def test_a_broken_job_file_is_named(tmp_path):
    job = tmp_path / "shot_010.json"
    job.write_text('{"input": "plate.####.exr", "output": "out.####.exr"')  # the closing brace lost
    refused(aifx("run", str(job)), "shot_010.json: job is not valid JSON")
    job.write_text('{"input": "plate.####.exr", "output": "out.####.exr", "threshhold": 0.5}')
    refused(aifx("run", str(job)), "shot_010.json: unknown job field(s) threshhold")


def test_a_plate_frame_of_another_size_is_blamed_not_the_mask(shot, tmp_path):
    """One frame re-rendered at another size: the mask fits every other frame, so the plate frame is named."""
    write_exr(shot / "plate.1003.exr", {c: data[:40, :60] for c, data in plate_frame(2).items()})
    line = refused(
        aifx(
            "fill",
            str(shot / "plate.####.exr"),
            "-m",
            str(shot / "mask.####.png"),
            "-o",
            str(tmp_path / "o.####.exr"),
        ),
        "plate.1003.exr: plate frame 1003 is 60x40",
        "plate.1001.exr",
    )
    assert "give a mask the size of the plate" not in line


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc (nothing can be made in it)")
def test_an_output_folder_that_cannot_be_made_says_what_to_do(shot):
    line = refused(
        aifx(
            "fill",
            str(shot / "plate.####.exr"),
            "-m",
            str(shot / "mask.####.png"),
            "-o",
            "/proc/aifx/o.####.exr",
        ),
        "/proc/aifx: cannot create the output folder",
    )
    assert "choose another folder" in line


def test_a_proxy_resolution_mask_is_named_as_one_with_the_line_that_scales_it(shot, tmp_path):
    """A roto made at half resolution: refused as before (the fill needs the plate's pixels), and the error
    says it is the plate made smaller and gives the oiiotool line; a mask of another shape gets no such hint."""
    masks = {"half": (24, 32), "crop": (20, 40)}
    lines = {}
    for name, (height, width) in masks.items():
        folder = tmp_path / name
        folder.mkdir()
        for frame in range(1001, 1005):
            matte = cv2.resize(object_matte(frame - 1001), (width, height), interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(folder / f"mask.{frame}.png"), matte)
        lines[name] = refused(
            aifx(
                "fill",
                str(shot / "plate.####.exr"),
                "-m",
                str(folder / "mask.####.png"),
                "-o",
                str(tmp_path / name / "o.####.exr"),
            ),
            f"mask.1001.png: mask is {width}x{height} but plate",
            "give a mask the size of the plate",
        )
    assert lines["half"].endswith(
        "; it looks like a 1/2-resolution (proxy) mask: render it at full resolution, or scale it up (e.g. "
        "oiiotool mask.1001.png --resize 64x48 -o FULL.png)"
    ), lines["half"]
    assert lines["crop"].endswith("give a mask the size of the plate"), lines["crop"]


def test_a_typo_in_device_or_compression_is_refused_not_ignored(shot, tmp_path):
    """``--device tpu`` ran (a backend with no model never asked), and a compression the PNG/TIFF/JPEG writer
    does not know was dropped by OpenImageIO without a word: both are refused before any frame is written,
    naming what the output takes; the names it takes still work. A bad value is named as the flag given (it
    said job field "device", which an aifx fill user never saw)."""
    cases = {
        (
            "o.####.png",
            "--device",
            "tpu",
        ): "--device is 'tpu'; give auto, cpu, cuda, cuda:1 or mps",
        ("o.####.png", "--device", "cuda:x"): "--device is 'cuda:x'",
        ("o.####.png", "--dilate", "-3"): "--dilate must be >= 0, got -3",
        (
            "o.####.png",
            "--compression",
            "lzw",
        ): "--compression lzw: PNG output takes zip (zip:0 to zip:9), none",
        ("o.####.tif", "--compression", "zap"): "--compression zap: TIFF output takes zip",
        ("o.####.exr", "--compression", "zipp"): "--compression zipp: EXR output takes b44",
        (
            "o.####.jpg",
            "--compression",
            "zip",
        ): "--compression zip: JPEG output takes jpeg (jpeg:1 to jpeg:100)",
    }
    for index, ((name, *flags), message) in enumerate(cases.items()):
        out = tmp_path / f"r{index}"
        assert "job field" not in refused(_fill(shot, out / name, *flags), message)
        assert not out.exists() or not list(out.glob("o.*")), flags
    for index, (name, *flags) in enumerate(
        [
            ("o.####.png", "--compression", "zip:3"),
            ("o.####.tif", "--compression", "lzw"),
            ("o.####.png", "--device", "CPU"),
        ]
    ):
        done = _fill(shot, tmp_path / f"k{index}" / name, *flags)
        assert done.returncode == 0, done.stderr


def test_eval_names_the_result_when_the_mask_does_not_fit(shot, tmp_path):
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((12, 16), 255, np.uint8))
    line = refused(
        aifx("eval", str(shot / "plate.####.exr"), "--mask", str(small), "--out", str(tmp_path / "eval")),
        "small.png: mask is 16x12 but result",
    )
    assert "the size of the result" in line


def _fill(shot: Path, output: str | Path, *more: str) -> subprocess.CompletedProcess:
    return aifx(
        "fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(output), *more
    )


def test_an_output_path_through_a_symlink_loop_is_named_not_a_traceback(shot, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "self").symlink_to(tmp_path / "self")
    before = digest(shot)
    for output in (tmp_path / "self" / "clean.####.exr", tmp_path / "a" / "sub" / "clean.####.exr"):
        line = refused(_fill(shot, output, "-b", "telea"), str(output).replace("####", "1001"))
        assert "symlink loop" in line and "choose another output" in line
    assert digest(shot) == before


@pytest.mark.parametrize("frame", [FRAMES[0], FRAMES[-1]])
def test_a_plate_frame_linked_to_itself_is_named_not_blamed_on_the_output(shot, tmp_path, frame):
    """The first and last plate frames are resolved beside their output frames (never write onto the input); a
    loop there was reported as "out/clean.1004.exr: the output path runs into a symlink loop"."""
    link = shot / f"plate.{frame}.exr"
    link.unlink()
    link.symlink_to(link.name)
    output = tmp_path / "out" / "clean.####.exr"
    line = refused(_fill(shot, output, "-b", "telea"), f"{link}: the plate frame is a symlink loop")
    assert "output path" not in line
    assert not output.parent.exists()


def test_a_long_output_name_is_refused_before_anything_is_written(shot, tmp_path):
    """Long shot names are common: the frame name fits the filesystem's 255 bytes, but the hidden temp and
    resume files aifx writes beside it would not. Refused up front with how much to cut (it used to fail on
    the lock file with a traceback, after the output folder was made); a name that fits still fills."""
    folder = tmp_path / "out"
    line = refused(_fill(shot, folder / f"{'x' * 230}.####.exr"), "the output file name is too long")
    assert "shorten the output name by 22 characters" in line, line
    assert not folder.exists()  # (made to probe it, and removed with the refusal: test_a_refused_run_...)
    folder.mkdir()  # (a frame name over 255 bytes in a folder that is there: the OS's own refusal, named)
    line = refused(_fill(shot, folder / f"{'x' * 260}.####.exr"), "cannot use this output path")
    assert "File name too long" in line
    fits = _fill(shot, folder / f"{'x' * 200}.####.exr", "-b", "telea")
    assert fits.returncode == 0, fits.stderr
    assert len([p for p in folder.iterdir() if p.name.endswith(".exr")]) == len(FRAMES)


def test_a_refused_run_leaves_no_output_folder_it_made(shot, tmp_path):
    """A run refused once its output folder was made (and probed), before any frame was written, left the
    folder behind, empty: ``-o renders/v001/<a name too long>.####.exr`` left renders/ and renders/v001/, a
    LaMa model file that is not there (found as the model loads, under the output's lock) left out/. A run
    removes the folders it made when it stops before writing into them; a folder that was there is kept, and so
    is one a finished frame is in."""
    made = tmp_path / "renders" / "v001"
    refused(_fill(shot, made / f"{'x' * 230}.####.exr"), "the output file name is too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]
    refused(
        _fill(shot, made / "clean.####.exr", "-b", "lama", "--model", str(tmp_path / "big-lama.pt")),
        "no such LaMa model file",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]
    there = tmp_path / "there"
    there.mkdir()
    refused(_fill(shot, there / "sub" / f"{'x' * 230}.####.exr"), "the output file name is too long")
    assert there.is_dir() and list(there.iterdir()) == []
    done = _fill(shot, made / "clean.####.exr", "-b", "telea")
    assert done.returncode == 0 and len(list(made.glob("clean.*.exr"))) == len(FRAMES), done.stderr


def test_an_output_frame_hard_linked_to_a_plate_names_the_plate(shot, tmp_path):
    """A "copy" of the plates made with hard links (``cp -al``) as the output: refused even with --overwrite,
    and the message names the plate frame it is linked to, not the output path again."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "clean.1002.exr").hardlink_to(shot / "plate.1002.exr")
    before = digest(shot)
    line = refused(
        _fill(shot, out / "clean.####.exr", "-b", "telea", "--overwrite"),
        "clean.1002.exr: the output frame would overwrite the plate frame",
        f"{shot / 'plate.1002.exr'} (it is a hard link to it)",
    )
    assert "-o/--output" in line
    assert digest(shot) == before


def test_an_empty_mask_path_is_refused_not_read_as_the_plate_alpha(shot, tmp_path):
    """``-m "$MASK"`` with MASK unset in a wrapper script, or ``"mask": ""`` in a generated job: the plates'
    alpha (a soft matte here) used to become the hole, filling 95 % of a frame with exit 0."""
    out = tmp_path / "out" / "clean.####.exr"
    plate = str(shot / "plate.####.exr")
    line = refused(aifx("fill", plate, "-m", "", "-o", str(out), "-b", "telea"), "the mask path is empty")
    assert "leave it out" in line and "plate's alpha" in line
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"input": plate, "mask": " ", "output": str(out), "backend": "telea"}))
    refused(aifx("run", str(job)), "the mask path is empty")
    assert not out.parent.exists() or not any(out.parent.glob("clean.*.exr"))


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_colorspace_is_refused_not_taken_for_the_guess(shot, tmp_path, name):
    """``--colorspace "$CS"`` with CS unset in a wrapper script, or ``"colorspace": ""`` in a generated job: an
    empty name used to mean "guess" silently and a blank one failed as an unknown colourspace after the output
    folder was made. Both are refused before anything is written, saying how to ask for the guess; ``aifx eval``
    the same."""
    out = tmp_path / "out" / "clean.####.exr"
    plate = str(shot / "plate.####.exr")
    mask = str(shot / "mask.####.png")
    line = refused(
        aifx("fill", plate, "-m", mask, "-o", str(out), "--colorspace", name), "the colourspace is empty"
    )
    assert "leave it out" in line
    assert not out.parent.exists()
    evaluated = tmp_path / "eval"
    refused(aifx("eval", plate, "--out", str(evaluated), "--colorspace", name), "the colourspace is empty")
    assert not evaluated.exists()


@pytest.mark.parametrize("name", ["", "  "])
@pytest.mark.parametrize("given", ["fill with a mask", "fill without a mask", "job", "python", "eval"])
def test_an_empty_mask_channel_is_refused_before_any_frame_is_read(shot, tmp_path, given, name):
    """``--mask-channel "$CH"`` with CH unset in a wrapper script, or ``"mask_channel": ""`` in a generated job:
    with no mask the empty name was taken as "not given" and the plate's alpha filled the shot (exit 0, four
    frames written); with a mask it was refused only by the first mask frame's read, as a channel named ''
    the file lacks. It is refused as the other empty settings are, by the job's own check (``aifx serve``'s
    submit too) and eval's, before any frame is read or anything written, saying how to leave it out."""
    out = tmp_path / "out" / "clean.####.exr"
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    job = {"input": plate, "mask": mask, "output": str(out), "backend": "telea", "mask_channel": name}
    words = ["the mask channel is empty", "leave it out", "name one such as A"]
    if given == "python":
        from aifx_core import FillJob, fill

        with pytest.raises(
            InputError, match=r'^the mask channel is empty \(--mask-channel "" or "mask_channel": ""\)'
        ):
            fill(FillJob(**job))
    elif given == "job":
        (tmp_path / "job.json").write_text(json.dumps(job))
        refused(aifx("run", str(tmp_path / "job.json")), *words, '"mask_channel": ""')
    elif given == "eval":
        evaluated = tmp_path / "eval"
        refused(aifx("eval", plate, "--mask", mask, "--mask-channel", name, "--out", str(evaluated)), *words)
        assert not evaluated.exists()
    else:
        masked = ["-m", mask] if given == "fill with a mask" else []
        done = aifx("fill", plate, *masked, "-o", str(out), "-b", "telea", "--mask-channel", name)
        refused(done, *words, '--mask-channel ""')
    assert not out.parent.exists()


@pytest.mark.parametrize("name", ["", "  "])
@pytest.mark.parametrize(
    "case",
    ["fill --contact-sheet", "fill --save-job", "run contact_sheet", "run --path-map", "eval --reference",
     "eval --mask", "eval --plate", "eval --out"],
)  # fmt: skip
def test_an_empty_path_option_is_refused_like_an_empty_mask(shot, tmp_path, case, name):
    """``--contact-sheet "$SHEET"``, ``--save-job "$JOB"``, eval's ``--reference "$TRUTH"``/``--mask "$ROTO"``
    (a wrapper's unset variable) or ``"contact_sheet": ""`` in a generated job were ignored with exit 0: no
    sheet, no job saved, an eval with no reference and no hole that a QC script read as a pass; ``aifx run
    --path-map "$RULES"`` ran the job on its unmapped paths (a blank one failed reading a file named " "). Each
    is refused as ``-m ""`` is, in one line, before anything is written."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    out = tmp_path / "out"
    command, flag = case.split(" ")
    if command == "fill":
        done = aifx(
            "fill", plate, "-m", mask, "-o", str(out / "c.####.exr"), "-b", "telea", flag, name, cwd=tmp_path
        )
    elif command == "eval":
        more = ["--out", str(out)] if flag != "--out" else []
        done = aifx("eval", plate, "--reference", plate, flag, name, *more, cwd=tmp_path)
        assert not (shot / "aifx_eval").exists()
    else:
        job = {"input": plate, "mask": mask, "output": str(out / "c.####.exr"), "backend": "telea"}
        option = [flag, name] if flag.startswith("--") else []
        (tmp_path / "job.json").write_text(json.dumps(job if option else {**job, "contact_sheet": name}))
        done = aifx("run", str(tmp_path / "job.json"), *option, cwd=tmp_path)
    what = "--contact-sheet" if flag == "contact_sheet" else flag
    refused(done, "path is empty", f'{what} ""', "leave it out")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["shot", "job.json"][: 1 + (command == "run")]
    )


def test_an_empty_contact_sheet_given_to_fill_is_refused(shot, tmp_path):
    """``fill(FillJob(contact_sheet=""))`` and ``fill(job, save_job="")`` from a Python caller: the same."""
    from aifx_core import FillJob, fill

    out = tmp_path / "out" / "c.####.exr"
    base = {"input": str(shot / "plate.####.exr"), "mask": str(shot / "mask.####.png"), "output": str(out)}
    with pytest.raises(InputError, match=r'^the contact sheet path is empty \(--contact-sheet "" or'):
        fill(FillJob(**base, backend="telea", contact_sheet=""))
    with pytest.raises(InputError, match=r'^the saved job path is empty \(--save-job ""'):
        fill(FillJob(**base, backend="telea"), save_job="")
    assert not out.parent.exists()


def test_a_typod_range_end_past_a_machine_integer_is_refused_in_one_line(shot, tmp_path):
    """``--frames 1001-10010000000000000000`` (a range end typed with extra digits) gave an OverflowError
    traceback and "internal error", exit 1, for aifx info, fill (--frames, --keyframes) and a job's frames;
    ``1001-10000000`` is refused as a typo. Both are now."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    out = tmp_path / "out" / "c.####.exr"
    huge = "1001-10010000000000000000"
    line = refused(
        aifx("info", plate, "--frames", huge), "more than 1000000 frames", "check the range for a typo"
    )
    assert line.startswith(f"aifx: error: --frames '{huge}'"), line
    refused(aifx("fill", plate, "-m", mask, "-o", str(out), "--frames", huge), "--frames", "typo")
    refused(aifx("fill", plate, "-m", mask, "-o", str(out), "--keyframes", huge), "--keyframes", "typo")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"input": plate, "mask": mask, "output": str(out), "frames": huge}))
    refused(aifx("run", str(job)), 'job field "frames"', "typo")
    assert not out.parent.exists()


@pytest.mark.parametrize("spec", ["-3--1", "-3-2"])
def test_a_negative_frame_range_is_taken_as_a_separate_argument(tmp_path, spec):
    """A shot with negative frames: aifx info prints its range as "-3-2" and frames.py documents "-5--1", but
    ``--frames -3--1`` (or ``--keyframes``) as a separate argument stopped in argparse with "expected one
    argument" (only ``--frames=-3--1`` worked). aifx info, fill, eval and run now take it."""
    shot = make_shot(tmp_path / "shot", range(-3, 3))
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    wanted = list(range(-3, -1 + 1 if spec == "-3--1" else 3))
    names = sorted(f"c.{frame:04d}.exr" for frame in wanted)
    assert "frames:      -3-2 (6 on disk)" in aifx("info", plate).stdout

    done = aifx("info", plate, "--frames", spec, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requested"] == wanted

    out = tmp_path / "fill"
    done = aifx("fill", plate, "-m", mask, "-o", str(out / "c.####.exr"), "-b", "telea", "--frames", spec)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.glob("c.*.exr")) == names

    done = aifx("eval", str(out / "c.####.exr"), "--frames", spec, "--out", str(tmp_path / "eval"), "--json")
    assert done.returncode == 0, done.stderr
    assert [f["frame"] for f in json.loads(done.stdout)["frames"]] == wanted

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"input": plate, "mask": mask, "output": str(tmp_path / "run" / "c.####.exr"),
                               "backend": "telea"}))  # fmt: skip
    done = aifx("run", str(job), "--frames", spec)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "run").glob("c.*.exr")) == names

    saved = tmp_path / "keyed.json"
    keyed = ["-o", str(tmp_path / "keyed" / "c.####.exr"), "--keyframes", spec, "--save-job", str(saved)]
    done = aifx("fill", plate, "-m", mask, "-b", "propagate", "--spatial-backend", "telea", *keyed)
    assert done.returncode == 0, done.stderr
    assert json.loads(saved.read_text())["options"]["keyframes"] == wanted


def test_an_unknown_colorspace_is_refused_before_the_output_folder_is_made(shot, tmp_path):
    out = tmp_path / "out" / "clean.####.exr"
    plate = str(shot / "plate.####.exr")
    mask = str(shot / "mask.####.png")
    refused(aifx("fill", plate, "-m", mask, "-o", str(out), "--colorspace", "ACEScgg"), "unknown colourspace")
    assert not out.parent.exists()


def _outputs(folder: Path, pattern: str = "clean") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"{pattern}.*.exr"))}


def _rewrite_plate(shot: Path, frame: int) -> None:
    """A re-rendered plate frame: other pixels, same name."""
    channels = plate_frame(frame)
    channels["R"] = (channels["R"] * 0.5).astype(channels["R"].dtype)
    write_exr(shot / f"plate.{frame:04d}.exr", channels)


def _rewrite_mask(shot: Path, frame: int, grow: bool) -> None:
    """The matte written again: unchanged (as Blender's add-on does on every run), or an updated roto."""
    path = shot / f"mask.{frame:04d}.png"
    matte = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grow:
        matte[2:8, 2:8] = 255
    path.unlink()  # a new file, as a render or an export writes it
    cv2.imwrite(str(path), matte)


def test_a_rerun_after_the_plate_or_mask_changed_is_refused_not_called_done(shot, tmp_path):
    """A re-rendered plate frame or an updated roto under the same names: the rerun used to say "already done"
    and keep frames made from the old versions (pixels outside the hole no longer the plate's). It is refused,
    naming the file; --overwrite fills again, equal to a fresh fill. A matte written again unchanged (Blender
    rasterises its Mask on every run) still resumes: masks are compared by content."""
    out = tmp_path / "out" / "clean.####.exr"

    def run(*more: str) -> subprocess.CompletedProcess:
        return _fill(shot, out, "-b", "telea", *more)

    assert run().returncode == 0
    for frame in FRAMES:
        _rewrite_mask(shot, frame, grow=False)
    again = run()
    assert again.returncode == 0 and "4 already done" in again.stderr, again.stderr

    _rewrite_plate(shot, 1003)
    line = refused(run(), "the inputs of 1 finished frame(s) changed", "plate.1003.exr of frame 1003")
    assert "pass --overwrite" in line
    _rewrite_mask(shot, 1002, grow=True)
    refused(run(), "the inputs of 2 finished frame(s) changed", "mask.1002.png of frame 1002")

    assert run("--overwrite").returncode == 0
    fresh = tmp_path / "fresh" / "clean.####.exr"
    assert _fill(shot, fresh, "-b", "telea").returncode == 0
    assert _outputs(out.parent) == _outputs(fresh.parent)
    assert "4 already done" in run().stderr


class _RerenderedDuringFill:
    """Telea, but while it fills frame 1003 (its plate and mask already read, its output not written) plate
    1003 is re-rendered and the roto of 1002 (written already, so on the next frame) updated: files that land
    in the middle of a fill, as a render farm or a roto artist leaves them."""

    shot: Path = Path()

    def __init__(self, context) -> None:
        from aifx_core.inpaint.telea import TeleaBackend

        self.telea = TeleaBackend(context)

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        if frame == 1002:
            _rewrite_mask(self.shot, 1002, grow=True)
        if frame == 1003:
            _rewrite_plate(self.shot, 1003)
        return self.telea.inpaint(rgb, hole, frame=frame)


def test_a_plate_or_mask_replaced_during_the_fill_is_not_recorded_as_done(shot, tmp_path):
    """The manifest recorded a frame's input files as they were when the frame was written, not when it was
    read: plate 1003 re-rendered between its read and its write was recorded as the new version, the output
    made from the old one, and the rerun skipped it ("already done"). The rerun is now refused, naming it."""
    from aifx_core import FillJob, fill
    from aifx_core.backends import register_spatial

    register_spatial("rerendered-during-fill", _RerenderedDuringFill)
    _RerenderedDuringFill.shot = shot
    out = tmp_path / "out" / "clean.####.exr"
    job = FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(out),
        backend="rerendered-during-fill",
    )
    assert fill(job).written == list(FRAMES)
    with pytest.raises(InputError) as caught:
        fill(job)
    assert "the inputs of 2 finished frame(s) changed" in str(caught.value)
    assert "mask.1002.png of frame 1002" in str(caught.value)
    (out.parent / "clean.1002.exr").unlink()
    with pytest.raises(InputError, match="plate.1003.exr of frame 1003"):
        fill(job)


def _copy_plates_without_times(shot: Path) -> None:
    """Each plate frame copied as ``cp`` without ``-p`` leaves it: the same bytes in a new file with a later
    modification time."""
    for frame in FRAMES:
        path = shot / f"plate.{frame:04d}.exr"
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_plates_copied_without_their_times_still_resume(shot, tmp_path, backend):
    """Plates copied without their times (``cp`` without ``-p``, a sync tool, a restore): every plate frame has a
    new modification time and the same content. The rerun used to refuse every finished frame ("the inputs of 4
    finished frame(s) changed") until --overwrite threw them away; the content says they are the same frames,
    so it resumes. A plate re-rendered to the same byte size (an uncompressed EXR) is still refused: only the
    time, not the size, lets the content decide. The temporal engine's frames are made from their
    neighbours' plates too, which are checked the same way."""
    out = tmp_path / "out" / "clean.####.exr"
    for frame in FRAMES:  # uncompressed: a re-render with other pixels keeps the byte size
        write_exr(
            shot / f"plate.{frame:04d}.exr",
            plate_frame(frame - FRAMES[0]),
            compression=OpenEXR.NO_COMPRESSION,
        )
    assert _fill(shot, out, "-b", backend).returncode == 0
    made = _outputs(out.parent)
    _copy_plates_without_times(shot)
    again = _fill(shot, out, "-b", backend)
    assert again.returncode == 0 and "4 already done" in again.stderr, again.stderr
    assert _outputs(out.parent) == made

    before = (shot / "plate.1003.exr").stat().st_size
    channels = plate_frame(1003 - FRAMES[0])
    channels["R"] = (channels["R"] * 0.5).astype(channels["R"].dtype)
    write_exr(shot / "plate.1003.exr", channels, compression=OpenEXR.NO_COMPRESSION)
    assert (shot / "plate.1003.exr").stat().st_size == before
    line = refused(_fill(shot, out, "-b", backend), "finished frame(s) changed", "plate.1003.exr")
    assert "pass --overwrite" in line


#: Plate paths whose Python-level opens are being counted (an audit hook cannot be removed once added).
_COUNTED: dict[str, int] = {}


def _count_opens(event: str, args: tuple) -> None:
    if event == "open" and str(args[0]) in _COUNTED:
        _COUNTED[str(args[0])] += 1


def test_a_resume_after_the_plates_were_copied_hashes_each_plate_frame_once(shot, tmp_path):
    """After plates were copied without their times, the resume compares each finished frame's plate frame by
    content, as its own input and again as a neighbour the temporal engine read. Each comparison used to read
    the whole file again (a 1000-frame 1080p shot is ~12 GB of EXRs); now each is hashed once a run. The
    files are read for their content only through Python's ``open`` (the image readers are C++)."""
    from aifx_core import FillJob, fill

    job = FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(tmp_path / "out" / "clean.####.exr"),
    )
    assert fill(job).written == list(FRAMES)
    _copy_plates_without_times(shot)
    sys.addaudithook(_count_opens)
    _COUNTED.update({str(shot / f"plate.{frame:04d}.exr"): 0 for frame in FRAMES})
    try:
        again = fill(job)
    finally:
        opens = dict(_COUNTED)
        _COUNTED.clear()
    assert again.written == [] and len(again.skipped) == len(FRAMES), again
    assert sorted(opens.values()) == [1] * len(FRAMES), opens


def _anchor_files(out: Path) -> dict[str, tuple[int, int]]:
    """The anchors cache's block files by name, with inode and time: a rebuild writes each anew."""
    found = sorted(out.parent.glob(".*.aifx-cache/anchors-*/block-*.npy"))
    assert found
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def test_a_resume_after_the_plates_were_copied_keeps_the_temporal_engines_anchors(shot, tmp_path):
    """Plates copied without their times resume their finished frames (the manifest compares them by content);
    the temporal engine's anchors cache fingerprinted them by size and time, so the resume made every keyframe
    block again first: tennis 432x240, 10 of 70 frames left, 2.8 s to resume as is, 8.7 s after a copy (the
    whole shot took ~8). It compares them by the digests the manifest recorded, and keeps the cache; a plate
    re-rendered to the same size still remakes it."""
    from aifx_core import FillJob, fill

    for frame in FRAMES:  # uncompressed: a re-render with other pixels keeps the byte size
        write_exr(
            shot / f"plate.{frame:04d}.exr",
            plate_frame(frame - FRAMES[0]),
            compression=OpenEXR.NO_COMPRESSION,
        )
    out = tmp_path / "out" / "clean.####.exr"
    job = FillJob(input=str(shot / "plate.####.exr"), mask=str(shot / "mask.####.png"), output=str(out))
    assert fill(job).written == list(FRAMES)
    made, anchors = _outputs(out.parent), _anchor_files(out)
    _copy_plates_without_times(shot)
    (out.parent / "clean.1004.exr").unlink()
    assert fill(job).written == [1004]
    assert _outputs(out.parent) == made and _anchor_files(out) == anchors
    assert fill(job).written == [] and _anchor_files(out) == anchors  # renewed: the quick way now

    before = (shot / "plate.1003.exr").stat().st_size
    channels = plate_frame(1003 - FRAMES[0])
    channels["R"] = (channels["R"] * 0.5).astype(channels["R"].dtype)
    write_exr(shot / "plate.1003.exr", channels, compression=OpenEXR.NO_COMPRESSION)
    assert (shot / "plate.1003.exr").stat().st_size == before
    assert fill(replace(job, overwrite=True)).written == list(FRAMES)
    remade = _anchor_files(out)
    assert remade.keys() == anchors.keys() and all(remade[n] != anchors[n] for n in anchors)


def test_overwrite_after_a_roto_update_remakes_the_temporal_engines_anchors(shot, tmp_path):
    """The temporal engine caches its keyframe fills (the anchors) beside the output. After the roto changed,
    --overwrite used to stop on that cache ("the cached keyframe was made for another mask; run the anchors
    stage again"), and a changed plate frame would have been filled around keyframes made from the old one:
    the cache records what its inputs were and is made again when they changed."""
    out = tmp_path / "out" / "clean.####.exr"
    assert _fill(shot, out).returncode == 0
    _rewrite_mask(shot, 1001, grow=True)
    _rewrite_plate(shot, 1004)
    refused(_fill(shot, out), "the inputs of 4 finished frame(s) changed", "mask.1001.png of frame 1001")
    done = _fill(shot, out, "--overwrite")
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "fresh" / "clean.####.exr"
    assert _fill(shot, fresh).returncode == 0
    assert _outputs(out.parent) == _outputs(fresh.parent)


def _temporal_shot(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 12-frame shot, its output pattern and a job file filling it with the temporal engine (short reach,
    so a 4-frame chunk's neighbours are known: plate 1007 is within the reach of 1001-1004, 1012 beyond it)."""
    shot = make_shot(tmp_path / "shot", range(1001, 1013))
    out = tmp_path / "out" / "clean.####.exr"
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "input": str(shot / "plate.####.exr"),
                "mask": str(shot / "mask.####.png"),
                "output": str(out),
                "backend": "propagate",
                "options": {"radius": 1, "keyframe_interval": 2},
            }
        )
    )
    return shot, out, job


def test_a_plate_frame_changed_before_its_own_output_exists_still_stops_its_neighbours(tmp_path):
    """The temporal engine makes each output from its neighbours too. A killed run (here: a chunk) had written
    1001-1004 from plate 1007 as it then was; plate 1007 was re-rendered before its own output existed. The
    rerun used to keep them (the manifest knew only each frame's own plate) and fill the rest from the new
    plate (each of 1001-1004 reads 1007: the engine's reach, with the bridge's two pairs, is 6 frames after).
    It is refused, naming the re-rendered plate and a frame made from it; a plate beyond every
    finished frame's reach changes nothing."""
    shot, out, job = _temporal_shot(tmp_path)
    first = aifx("run", str(job), "--frames", "1001-1004")
    assert first.returncode == 0, first.stderr
    _rewrite_plate(shot, 1012)  # beyond the reach of 1001-1004: they stay done
    again = aifx("run", str(job), "--frames", "1001-1004")
    assert again.returncode == 0 and "4 already done" in again.stderr, again.stderr
    _rewrite_plate(shot, 1007)
    line = refused(aifx("run", str(job)), "the inputs of 4 finished frame(s) changed", "plate.1007.exr")
    assert "which frame 1001 was made from" in line and "pass --overwrite" in line
    assert aifx("run", str(job), "--overwrite").returncode == 0
    assert "12 already done" in aifx("run", str(job)).stderr


def test_a_later_chunk_reading_the_changed_plate_does_not_make_an_earlier_chunks_frames_current(tmp_path):
    """Farm chunks of one shot write one manifest. Chunk 1001-1004 was made from plate 1007; the plate was
    re-rendered; then chunk 1005-1008 ran and read the new plate 1007. The manifest used to keep one record per
    plate frame (the latest run's), so the earlier chunk's frames looked current and a whole-shot rerun kept
    them. Each run's reads are now its own: the rerun refuses, naming the plate and a frame made from it."""
    shot, out, job = _temporal_shot(tmp_path)
    assert aifx("run", str(job), "--frames", "1001-1004").returncode == 0
    _rewrite_plate(shot, 1007)
    later = aifx("run", str(job), "--frames", "1005-1008")
    assert later.returncode == 0, later.stderr
    line = refused(aifx("run", str(job)), "the inputs of 4 finished frame(s) changed", "plate.1007.exr")
    assert "which frame 1001 was made from" in line
    # The later chunk's own frames were made from the new plate: filling the earlier ones again settles it.
    assert aifx("run", str(job), "--frames", "1001-1004", "--overwrite").returncode == 0
    rest = aifx("run", str(job))
    assert rest.returncode == 0 and "8 already done" in rest.stderr, rest.stderr
    final = aifx("run", str(job))
    assert final.returncode == 0 and "12 already done" in final.stderr, final.stderr


def test_a_manifest_from_before_reads_were_kept_per_run_is_still_checked(tmp_path):
    """A manifest written before each run's reads were its own holds one table of them and names no run
    per frame. It is read as one run's, so its frames are still checked against it."""
    shot, out, job = _temporal_shot(tmp_path)
    assert aifx("run", str(job), "--frames", "1001-1004").returncode == 0
    manifest = out.parent / ".clean.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    assert len(data["reads"]) == 1 and set(data["runs"].values()) == set(data["reads"])
    data["reads"] = next(iter(data["reads"].values()))  # the older form: {frame: identity}
    del data["runs"]
    manifest.write_text(json.dumps(data))
    _rewrite_plate(shot, 1007)
    line = refused(aifx("run", str(job)), "the inputs of 4 finished frame(s) changed", "plate.1007.exr")
    assert "which frame 1001 was made from" in line


def test_a_mask_numbered_unlike_the_plate_says_so(shot, tmp_path):
    """Mattes exported from 1 for a plate from 1001: the message used to say "check --frames"."""
    mattes = tmp_path / "mattes"
    mattes.mkdir()
    for index, frame in enumerate(FRAMES, start=1):
        (mattes / f"matte.{index}.png").write_bytes((shot / f"mask.{frame:04d}.png").read_bytes())
    line = refused(
        aifx(
            "fill",
            str(shot / "plate.####.exr"),
            "-m",
            str(mattes / "matte.#.png"),
            "-o",
            str(tmp_path / "o.####.exr"),
        ),
        "none of the requested mask frames 1001-1004 exist (on disk: 1-4)",
    )
    assert line.endswith("number the mask frames like the plate's"), line


def test_a_path_that_is_not_utf8_is_refused_before_anything_is_made(shot, tmp_path):
    """A folder named caf\\xe9 from a Latin-1 share: the image libraries take UTF-8 only, so a PNG plate
    failed with a traceback (exit 1), an EXR one was called damaged, and an output there failed at write time
    after its folder was made. Each is one line naming the name and how to rename it, before anything is made."""
    latin = tmp_path / os.fsdecode(b"caf\xe9")  # (how Python spells the byte 0xe9 in a file name)
    latin.mkdir()
    for frame in FRAMES:
        for name in (f"plate.{frame}.exr", f"mask.{frame}.png"):
            (latin / name).write_bytes((shot / name).read_bytes())
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    before = digest(shot)
    cases = [
        (str(latin / "plate.####.exr"), mask, str(tmp_path / "o" / "c.####.exr")),
        (plate, str(latin / "mask.####.png"), str(tmp_path / "o" / "c.####.exr")),
        (plate, mask, str(latin / "o" / "c.####.png")),
    ]
    for source, matte, output in cases:
        line = refused(aifx("fill", source, "-m", matte, "-o", output, "-b", "telea"))
        assert "the folder name caf\\xe9 is not valid UTF-8" in line and "convmv -f latin1 -t utf8" in line
        assert str(tmp_path) + "/*" in line, line
    assert not (tmp_path / "o").exists() and not (latin / "o").exists()
    # a plate given as a folder whose listing holds such a file name
    folder = tmp_path / "frames"
    folder.mkdir()
    for frame in FRAMES:
        name = f"plate.{frame}.exr" if frame != FRAMES[-1] else os.fsdecode(b"plate_\xe9.%d.exr" % frame)
        (folder / name).write_bytes((shot / f"plate.{frame}.exr").read_bytes())
    line = refused(
        aifx("fill", str(folder), "-m", mask, "-o", str(tmp_path / "o" / "c.####.exr"), "-b", "telea")
    )
    assert f"the file name plate_\\xe9.{FRAMES[-1]}.exr is not valid UTF-8" in line, line
    assert not (tmp_path / "o").exists()
    assert digest(shot) == before


def test_a_stray_byte_in_a_text_argument_is_named_as_typed(shot, tmp_path):
    """``aifx fill ... --colorspace $'sRGB\\xff'`` (a byte that is not UTF-8: a Latin-1 terminal or script) was
    refused in the job JSON's words, ``--colorspace ("sRGB\\udcff") holds a lone UTF-16 surrogate ... (a broken
    \\u escape in the job's JSON?); correct it in the job``, and other commands echoed ``\\udcff`` (``--frames
    '1001\\udcff': cannot read``, ``--host 127.0.0.1\\udcff is reachable from other machines``). Each is one line
    naming the option and the value as typed, with the byte, before anything is read or written (the option as
    the parser took the argument: ``backends --json telea\\xff`` named the value-less ``--json``)."""
    stray = os.fsdecode(b"\xff")  # (how Python hands the byte 0xff of an argument to the program)
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    fill = ["fill", plate, "-m", mask, "-o", str(tmp_path / "out" / "c.####.exr"), "-b", "telea"]
    job = tmp_path / "job.json"
    FillJob(input=plate, output=str(tmp_path / "out" / "c.####.exr")).save(job)
    cases = [
        ([*fill, "--colorspace", f"sRGB{stray}"], "--colorspace sRGB\\xff:"),
        ([*fill, f"--backend=telea{stray}"], "--backend telea\\xff:"),
        ([*fill, "--frames", f"1001{stray}"], "--frames 1001\\xff:"),
        ([*fill, "--option", f"flow_preset=fast{stray}"], "--option flow_preset=fast\\xff:"),
        ([*fill, "--option", f"k{stray}=1"], "--option k\\xff=1:"),
        ([*fill, "--prompt", f"a{stray}b"], "--prompt a\\xffb:"),
        (["info", plate, "--frames", f"1001{stray}"], "--frames 1001\\xff:"),
        (["run", str(job), "--frames", f"1001{stray}"], "--frames 1001\\xff:"),
        (["serve", "--host", f"127.0.0.1{stray}", "--root", str(tmp_path)], "--host 127.0.0.1\\xff:"),
        (["submit", str(job), "--server", f"http://127.0.0.1:9{stray}"], "--server http://127.0.0.1:9\\xff:"),
        (["backends", f"telea{stray}"], "telea\\xff (the name argument):"),
        # (a positional after a flag that takes no value is no value of that flag: it was "--json telea\\xff")
        (["backends", "--json", f"telea{stray}"], "telea\\xff (the name argument):"),
        ([*fill, "--colors", f"sRGB{stray}"], "--colorspace sRGB\\xff:"),  # (abbreviated: named in full)
    ]
    for args, named in cases:
        line = refused(aifx(*args), named, "the byte \\xff is not UTF-8")
        assert "surrogate" not in line and "JSON" not in line and "udcff" not in line, line
    assert not (tmp_path / "out").exists()


def test_a_path_with_a_lone_surrogate_escape_is_one_line(shot, tmp_path):
    """``\\ud800`` in a job's JSON is valid JSON and a lone surrogate in Python, which no file name can hold:
    the UTF-8 check's own message encoded it again (os.fsencode takes only U+DC80-U+DCFF) and `aifx run`
    ended in a traceback, exit 1 (a farm retries that), instead of one line and exit 2."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    out = str(tmp_path / "o" / "c.####.exr")
    cases = [
        ({"input": str(shot / "plate.####\ud800.exr")}, "the file name plate.####\\ud800.exr holds a lone"),
        ({"mask": str(tmp_path / "m\ud800" / "mask.####.png")}, "the folder name m\\ud800 holds a lone"),
        ({"output": str(tmp_path / "o\udfff" / "c.####.exr")}, "the folder name o\\udfff holds a lone"),
    ]
    for index, (field, words) in enumerate(cases):
        job = tmp_path / f"job{index}.json"
        # (json.dumps writes the lone surrogate as its escape, \\ud800, as a client's JSON carries it)
        job.write_text(json.dumps({"input": plate, "mask": mask, "output": out, "backend": "telea", **field}))
        refused(aifx("run", str(job)), words, "correct the path in the job")
    assert not (tmp_path / "o").exists()


def test_a_lone_surrogate_escape_in_any_text_of_the_job_is_one_line(shot, tmp_path):
    """``"colorspace": "sRGB\\ud800"`` (valid JSON) made `aifx run` end in an internal-error traceback, exit 1
    (OCIO's getColorSpace took no such text), where an unknown colourspace is one line, exit 2; a contact
    sheet of such a name did the same, after the frames had been written."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    out = str(tmp_path / "o" / "c.####.exr")
    cases = [
        (
            {"colorspace": "sRGB\ud800"},
            'job field "colorspace" ("sRGB\\ud800") holds a lone UTF-16 surrogate',
        ),
        (
            {"colorspace": "sRGB\udc80"},
            'job field "colorspace" ("sRGB\\udc80") holds a lone UTF-16 surrogate',
        ),
        ({"contact_sheet": str(tmp_path / "s\ud800.png")}, 'job field "contact_sheet"'),
    ]
    for index, (field, words) in enumerate(cases):
        job = tmp_path / f"job{index}.json"
        # (json.dumps writes the lone surrogate as its escape, \\ud800, as a client's JSON carries it)
        job.write_text(json.dumps({"input": plate, "mask": mask, "output": out, "backend": "telea", **field}))
        refused(aifx("run", str(job)), words, "correct")
    assert not (tmp_path / "o").exists()


def test_an_output_under_a_folder_with_at_or_hash_in_its_name_is_made(shot, tmp_path):
    """An SSSD user's home (/home/jane@studio.com) or a shot#12 folder above an output folder not made yet: the
    output was refused ("the frame token must be in the file name, not the folder"); a plate under a missing
    such folder is named as a missing folder."""
    args = [str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-b", "telea"]
    for above in ("jane@studio.com", "shot#12"):
        out = tmp_path / above / "comp" / "clean.####.exr"
        done = aifx("fill", *args, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in out.parent.glob("clean.*.exr")) == [f"clean.{f}.exr" for f in FRAMES]
    missing = tmp_path / "jane@studio.com" / "nothere" / "plate.####.exr"
    done = aifx("fill", str(missing), "-m", args[2], "-o", str(tmp_path / "x" / "c.####.exr"), "-b", "telea")
    assert "plate folder" in refused(done, str(missing.parent), "does not exist")


def test_an_output_into_the_folder_given_as_the_plate_or_mask_is_refused_up_front(shot, tmp_path):
    """Plate given as a folder (sh010/) and output written into it: the first run wrote, the resume was refused
    ("sh010_clean.1001.png and sh010_plate.1001.png are both frame 1001"). Now the first run says so, naming the
    pattern to give instead, before anything is written; a mask folder and a contact sheet likewise."""
    plates, masks = tmp_path / "sh010", tmp_path / "roto"
    plates.mkdir()
    masks.mkdir()
    for frame in FRAMES:
        (plates / f"sh010_plate.{frame}.exr").write_bytes((shot / f"plate.{frame}.exr").read_bytes())
        (masks / f"roto.{frame}.png").write_bytes((shot / f"mask.{frame}.png").read_bytes())
    before = digest(tmp_path)
    for args, where in [
        ([str(plates), "-m", str(masks), "-o", str(plates / "sh010_clean.####.exr")], "plate"),
        ([str(plates), "-m", str(masks), "-o", str(masks / "clean.####.exr")], "mask"),
        ([f"{plates}/", "-m", str(masks), "-o", str(plates / "sub" / ".." / "clean.####.exr")], "plate"),
    ]:
        line = refused(aifx("fill", *args, "-b", "telea"), f"the output goes into the {where} folder")
        assert f"give the {where} as a pattern" in line, line
    line = refused(
        aifx(
            "fill",
            str(plates),
            "-m",
            str(masks),
            "-o",
            str(tmp_path / "o" / "c.####.exr"),
            "-b",
            "telea",
            "--contact-sheet",
            str(plates / "sheet.png"),
        ),
        "the contact sheet (--contact-sheet) goes into the plate folder",
        str(plates / "sh010_plate.####.exr"),
    )
    assert digest(tmp_path) == before and not (tmp_path / "o").exists()
    # the pattern, as the line says: written there, and resumed
    pattern = [
        str(plates / "sh010_plate.####.exr"),
        "-m",
        str(masks),
        "-o",
        str(plates / "sh010_clean.####.exr"),
    ]
    for _ in range(2):
        done = aifx("fill", *pattern, "-b", "telea")
        assert done.returncode == 0, done.stderr
    assert "4 already done" in done.stdout + done.stderr


def test_a_houdini_dollar_f_with_a_suffix_stuck_to_it_is_refused(shot, tmp_path):
    """``plate.$F4_v2.exr`` was read as ``$F`` then ``4_v2``: ``aifx info`` said one-digit padding, the fill
    filled one frame under a wrong number into ``clean.10014_v2.exr``, exit 0."""
    versioned = tmp_path / "v"
    versioned.mkdir()
    for frame in FRAMES:
        (versioned / f"plate.{frame:04d}_v2.exr").write_bytes((shot / f"plate.{frame:04d}.exr").read_bytes())
    refused(aifx("info", str(versioned / "plate.$F4_v2.exr")), "$F4_v2", "write ${F4}_v2 or ####_v2")
    out = tmp_path / "out"
    args = [
        "fill",
        str(versioned / "plate.$F4_v2.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out / "c.####.exr"),
    ]
    refused(aifx(*args), "plate.$F4_v2.exr", "${F4}_v2")
    args = [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out / "c.$F4_v2.exr"),
    ]
    refused(aifx(*args), "c.$F4_v2.exr", "${F4}_v2")
    assert not out.exists()
    braced = aifx(
        "fill",
        str(versioned / "plate.${F4}_v2.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out / "c.${F4}_v2.exr"),
    )
    assert braced.returncode == 0, braced.stderr
    assert sorted(p.name for p in out.glob("c.*")) == [f"c.{frame}_v2.exr" for frame in FRAMES]


@pytest.mark.parametrize("name", ["AIFX_THREADS", "AIFX_FLOW_PROCESS"])
def test_a_thread_switch_aifx_does_not_know_is_refused_before_any_work(shot, tmp_path, name):
    """``AIFX_FLOW_PROCESS=abc`` turned the helper process on and ``AIFX_THREADS=abc`` left the threads on,
    without a word."""
    out = tmp_path / "out"
    args = [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out / "c.####.exr"),
    ]
    refused(aifx(*args, env={name: "abc"}), f"{name}='abc'", "unset it")
    assert not out.exists()
    assert aifx(*args, env={name: "off"}).returncode == 0


def test_frames_after_the_pattern_and_a_frames_flag_that_disagree_are_refused(shot, tmp_path):
    """``'plate.####.exr 1001-1002' --frames 1003-1004`` filled 1003-1004 and dropped the range typed after the
    pattern without a word. ``--frames`` within that range, and a mask's own (wider) range, are fine."""
    out = tmp_path / "out"
    plate = f"{shot / 'plate.####.exr'} 1001-1002"
    args = ["fill", plate, "-m", f"{shot / 'mask.####.png'} 1001-1004", "-o", str(out / "c.####.exr")]
    refused(aifx(*args, "--frames", "1002-1003"), "--frames 1002-1003", "(1001-1002), first 1003", "once")
    refused(aifx("info", plate, "--frames", "1004"), "1001-1002", "--frames 1004")
    assert not out.exists()
    done = aifx(*args, "--frames", "1002")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.glob("c.*")] == ["c.1002.exr"]


def test_submit_to_a_server_that_does_not_answer_is_one_line_saying_what_to_check(shot, tmp_path):
    """Exit 1 (a failure a farm may retry: the server may be restarting), as docs/serve.md and
    docs/troubleshooting.md say, and a line that says what to check, not only the socket's errno."""
    from aifx_core import FillJob

    job = tmp_path / "job.json"
    FillJob(input=str(shot / "plate.####.exr"), output=str(tmp_path / "out" / "c.####.exr")).save(job)
    done = aifx("submit", str(job), "--server", "http://127.0.0.1:9")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        "aifx: error: cannot reach the aifx server at http://127.0.0.1:9 ([Errno 111] Connection refused); check "
        "the address and that aifx serve runs there, then try again"
    ]


def test_one_frame_of_the_plate_given_for_the_sequence_is_refused_naming_the_pattern(shot, tmp_path):
    """``aifx fill shot/plate.1001.exr -m shot/mask.####.png -o out/clean.####.exr --frames 1001-1004``: a frame
    file typed where the sequence was meant was read as a still for every frame, so every output frame held
    frame 1001's plate (exit 0, no word). Refused now, naming the pattern meant, for frames asked with --frames
    or after the path (``'plate.1001.exr 1001-1004'``); a file alone in its folder, or a version beside other
    versions (``dmp_v2.exr``), is still a still. (Asked for its one frame it fills: the next test.)"""
    plate = shot / "plate.1001.exr"
    masks = str(shot / "mask.####.png")
    before = digest(shot)
    for given in ([str(plate), "--frames", "1001-1004"], [f"{plate} 1001-1004"]):
        out = tmp_path / "out" / "clean.####.exr"
        done = aifx("fill", *given, "-m", masks, "-o", str(out), "-b", "telea")
        line = refused(
            done, f"{plate}: ", "(1001-1004)", f"did you mean {shot / 'plate.####.exr'}?", "--frames 1001"
        )
        assert not out.parent.exists(), line
    # One frame asked, but not the file's own: plate 1001 was written as frame 1003, exit 0 (a reviewer's repro).
    for given in ([str(plate), "--frames", "1003"], [f"{plate} 1004"]):
        out = tmp_path / "other" / "clean.####.exr"
        done = aifx("fill", *given, "-m", masks, "-o", str(out), "-b", "telea")
        line = refused(done, f"{plate}: ", f"did you mean {shot / 'plate.####.exr'}?", "--frames 1001")
        assert not out.parent.exists(), line
    assert digest(shot) == before
    for name, sibling in (("plate.1001.exr", None), ("dmp_v2.exr", "dmp_v1.exr")):
        alone = tmp_path / f"still_{name}"
        alone.mkdir()
        for file in (name, sibling):
            if file is not None:
                (alone / file).write_bytes(plate.read_bytes())
        out = tmp_path / f"held_{name}" / "clean.####.exr"
        done = aifx(
            "fill", str(alone / name), "-m", masks, "-o", str(out), "-b", "telea", "--frames", "1001-1004"
        )
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in out.parent.glob("clean.*.exr")) == [f"clean.{f}.exr" for f in FRAMES]


def test_a_still_beside_other_numbered_files_fills_for_its_one_frame(shot, tmp_path):
    """``aifx fill photos/IMG_0001.exr -m hole.png -o clean.exr``, a photo from a camera folder beside
    IMG_0002.exr, was refused as one frame of ``photos/IMG_####.exr`` ("give that pattern with --frames 1"):
    the refusal is for a still served for several frames, and one frame is the file's own fill. It fills again,
    as the same photo alone in a folder does, bit for bit, the pixels outside the hole the photo's; so do the
    one frame asked with --frames and a frame of a shot filled alone into a sequence output (no dilate, no
    feather: the hole is the matte's white)."""
    photos, alone = tmp_path / "photos", tmp_path / "alone"
    for folder, names in ((photos, ("IMG_0001.exr", "IMG_0002.exr")), (alone, ("IMG_0001.exr",))):
        folder.mkdir()
        for name, frame in zip(names, (1001, 1002), strict=False):
            (folder / name).write_bytes((shot / f"plate.{frame}.exr").read_bytes())
    hole = shot / "mask.1001.png"
    before = digest(photos)
    made = {}
    for name, args in {
        "photo": [str(photos / "IMG_0001.exr")],
        "photo --frames 1": [str(photos / "IMG_0001.exr"), "--frames", "1"],
        "alone": [str(alone / "IMG_0001.exr")],
    }.items():
        out = tmp_path / name / "clean.exr"
        done = aifx(
            "fill", *args, "-m", str(hole), "-o", str(out), "-b", "telea", "--dilate", "0", "--feather", "0"
        )
        assert done.returncode == 0 and "error" not in done.stderr, (name, done.stderr)
        made[name] = read_exr(out)[1]
    as_bytes = {name: {c: data.tobytes() for c, data in channels.items()} for name, channels in made.items()}
    assert as_bytes["photo"] == as_bytes["alone"] == as_bytes["photo --frames 1"]
    outside = cv2.imread(str(hole), cv2.IMREAD_GRAYSCALE) == 0
    for channel, data in read_exr(photos / "IMG_0001.exr")[1].items():
        assert made["photo"][channel][outside].tobytes() == data[outside].tobytes(), channel
    assert digest(photos) == before
    out = tmp_path / "frame" / "clean.####.exr"
    done = aifx(
        "fill", str(shot / "plate.1001.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out), "-b", "telea"
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.startswith(".")) == ["clean.1001.exr"]


def test_one_frame_of_the_mask_held_for_the_shot_is_said_in_a_note(shot, tmp_path):
    """``-m shot/mask.1001.png`` for a moving object: the first roto frame typed instead of the sequence held one
    hole over the shot, without a word. A hold matte can be meant, so it fills, with one note naming the
    sequence beside it; a still matte with no sequence beside it says nothing of one."""
    out = tmp_path / "out" / "clean.####.exr"
    done = aifx(
        "fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.1001.png"), "-o", str(out), "-b", "telea"
    )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "mask.1001.png" in line]
    assert len(notes) == 1 and notes[0].startswith("aifx: note: "), done.stderr
    assert str(shot / "mask.####.png") in notes[0], notes[0]
    held = tmp_path / "held"
    held.mkdir()
    (held / "roto.png").write_bytes((shot / "mask.1001.png").read_bytes())
    done = aifx(
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(held / "roto.png"),
        "-o",
        str(tmp_path / "o2" / "c.####.exr"),
        "-b",
        "telea",
    )
    # (the shot's plate alpha is semi-transparent, so the run has the unpremultiply note: only this one must not be)
    assert done.returncode == 0 and "one frame of the sequence" not in done.stderr, done.stderr


def _in_a_deleted_folder(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``aifx <args>`` run from a folder deleted after the shell went into it (a sync that made the shot's folder
    again): the process's current folder is gone, so a relative path leads nowhere."""
    script = 'cd gone && rmdir ../gone && exec "$@"'
    command = ["sh", "-c", script, "sh", sys.executable, "-m", "aifx_core", *args]
    (tmp_path / "gone").mkdir()
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_relative_paths_from_a_deleted_folder_are_named_as_such(shot, tmp_path):
    """From a deleted current folder a relative ``-o out/...`` (and ``aifx eval --out``) was called "a symlink
    loop", and a relative ``--contact-sheet``/``--save-job`` ended in a FileNotFoundError traceback, exit 1. Each
    is one line now, saying the folder is gone and what to do, before anything is written."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    out = tmp_path / "out" / "clean.####.exr"
    before = digest(shot)
    cases = {
        "-o": ["fill", plate, "-m", mask, "-o", "out/clean.####.exr", "-b", "telea"],
        "--contact-sheet": ["fill", plate, "-m", mask, "-o", str(out), "--contact-sheet", "sheet.png"],
        "--save-job": ["fill", plate, "-m", mask, "-o", str(out), "--save-job", "job.json"],
        "plate": ["fill", "plate.####.exr", "-m", mask, "-o", str(out)],
        "eval --out": ["eval", plate, "--mask", mask, "--out", "ev"],
    }
    for case, args in cases.items():
        line = refused(_in_a_deleted_folder(tmp_path, *args), "the folder aifx runs in no longer exists")
        assert "symlink loop" not in line and "give absolute paths" in line, (case, line)
        shutil.rmtree(tmp_path / "gone", ignore_errors=True)
        assert not out.parent.exists(), case
    assert digest(shot) == before


def test_every_relative_input_from_a_deleted_folder_is_named_as_such(shot, tmp_path):
    """After the fix above, from a deleted current folder a relative plate folder (``aifx fill p/``), ``aifx info
    p/`` and ``aifx eval res/`` still said "p/: folder not found; check the path", and ``aifx info
    plate.####.exr`` "no frames found; check the path, name and padding": all read as a wrong path. Every
    command gives the one line saying the folder aifx runs in is gone, for a pattern, a folder or a still."""
    mask = str(shot / "mask.####.png")
    out = tmp_path / "out" / "clean.####.exr"
    before = digest(shot)
    cases = {
        "fill folder": ["fill", "p/", "-m", mask, "-o", str(out)],
        "fill still": ["fill", "p/plate.1001.exr", "-m", str(shot / "mask.1001.png"), "-o", str(out)],
        "info pattern": ["info", "p/plate.####.exr"],
        "info folder": ["info", "p/"],
        "info still": ["info", "plate.1001.exr"],
        "eval folder": ["eval", "res/", "--reference", f"{shot}/"],
        "eval pattern": ["eval", "res/clean.####.exr", "--reference", str(shot / "plate.####.exr")],
    }
    for case, args in cases.items():
        line = refused(
            _in_a_deleted_folder(tmp_path, *args), f"{args[1]}: the folder aifx runs in no longer exists"
        )
        assert "give absolute paths" in line and "not found" not in line, (case, line)
        shutil.rmtree(tmp_path / "gone", ignore_errors=True)
        assert not out.parent.exists(), case
    assert digest(shot) == before


def test_job_files_and_server_settings_from_a_deleted_folder_are_named_as_such(shot, tmp_path):
    """From a deleted current folder ``aifx run job.json`` said "job.json: job file not found; check the path"
    and ``aifx serve --root X`` "--root X: no such folder" (so did ``submit``/``export``'s job file, serve's
    --state, --token-file and --path-map, ``serve token add``'s --token-file ("cannot write the token file (No
    such file or directory)"), run's --path-map and the storyboard's YAML): all read as a wrong path;
    ``aifx submit`` of a job naming its plate relatively was a FileNotFoundError traceback, exit 1,
    where every other relative path says the folder aifx runs in is gone. Each gives that one line now, naming
    the path as typed (the option with it where a path alone would not say which)."""
    job = tmp_path / "job.json"
    FillJob(input=str(shot / "plate.####.exr"), output=str(tmp_path / "out" / "c.####.exr")).save(job)
    FillJob(input="p/plate.####.exr", output=str(tmp_path / "out" / "c.####.exr")).save(tmp_path / "rel.json")
    state = str(tmp_path / "state")
    server = ["--server", "http://127.0.0.1:9"]
    cases = {
        "run": (["run", "job.json"], "job.json:"),
        "run --path-map": (["run", str(job), "--path-map", "rules.json"], "rules.json:"),
        "submit": (["submit", "job.json", *server], "job.json:"),
        "submit's relative plate": (["submit", str(tmp_path / "rel.json"), *server], "p/plate.####.exr:"),
        "export": (["export", "openjd", "job.json", "-o", str(tmp_path / "t")], "job.json:"),
        "serve --root": (["serve", "--root", "shots", "--state", state], "--root shots:"),
        "serve --state": (["serve", "--root", str(tmp_path), "--state", "st"], "--state st:"),
        "serve --token-file": (
            ["serve", "--root", str(tmp_path), "--token-file", "tok"],
            "--token-file tok:",
        ),
        "serve --path-map": (
            ["serve", "--root", str(tmp_path), "--path-map", "map.json"],
            "--path-map map.json:",
        ),
        "serve token add --token-file": (
            ["serve", "token", "add", "bob", "--token-file", "tok"],
            "--token-file tok:",
        ),
        "storyboard": (["storyboard", "shots.yaml", "-o", str(tmp_path / "sb")], "shots.yaml:"),
    }
    for case, (args, named) in cases.items():
        line = refused(
            _in_a_deleted_folder(tmp_path, *args), f"{named} the folder aifx runs in no longer exists"
        )
        assert "give absolute paths" in line and "not found" not in line, (case, line)
        shutil.rmtree(tmp_path / "gone", ignore_errors=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()


def test_a_stray_image_in_the_plate_folder_is_named_and_never_filled(shot, tmp_path):
    """``p/`` holding plate.1001-1004 and a reference grab ``reference_v2.png``: aifx info showed the folder as
    ``p/reference_v#.png``, fill said "plate frames 3-1000 missing; ... pass --skip-missing", and --skip-missing
    filled the grab as frame 2 of the shot and read it as a neighbour of the real frames. Refused in one line
    naming it (with --skip-missing too), and nothing is written."""
    plates = tmp_path / "p"
    plates.mkdir()
    for frame in FRAMES:
        cv2.imwrite(
            str(plates / f"plate.{frame}.png"), cv2.imread(str(shot / f"mask.{frame:04d}.png")) // 2 + 60
        )
    (plates / "reference_v2.png").write_bytes((plates / "plate.1003.png").read_bytes())
    out = tmp_path / "out" / "clean.####.png"
    fill = ["fill", f"{plates}/", "-m", str(shot / "mask.####.png"), "-o", str(out), "-b", "telea"]
    for args in (["info", f"{plates}/"], fill, [*fill, "--skip-missing"]):
        line = refused(aifx(*args), "reference_v2.png", str(plates / "plate.####.png"))
        assert "--skip-missing" not in line and "missing" not in line, line
    assert not out.parent.exists()


def test_a_stray_byte_in_a_model_name_is_named_as_typed(shot, tmp_path):
    """``aifx fill ... --model $'org/inpaint\\xff'`` (a hub id or model name typed in another encoding) echoed
    Python's escape in its refusal, ``model 'org/inpaint\\udcff' could not be fetched ...`` (``mo\\udcffdel: no
    such LaMa model file`` with ``-b lama``), where every other text argument names the option and the byte. A
    model given as a file whose name is not UTF-8 is refused as every other path is (rename it), before any
    load or output."""
    stray = os.fsdecode(b"\xff")
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    fill = ["fill", plate, "-m", mask, "-o", str(tmp_path / "out" / "c.####.exr")]
    named = "the byte \\xff is not UTF-8"
    cases = [
        ([*fill, "-b", "diffusers", "--model", f"org/inpaint{stray}"], "--model org/inpaint\\xff:", named),
        ([*fill, "-b", "lama", "--model", f"big{stray}lama"], "--model big\\xfflama:", named),
        (
            [*fill, "-b", "diffusers", "--option", f"model=org/in{stray}"],
            "--option model=org/in\\xff:",
            named,
        ),
    ]
    checkpoint = tmp_path / os.fsdecode(b"lama\xff.pt")  # (a file of a Latin-1 share, on disk)
    checkpoint.write_bytes(b"not read")
    renamed = "the file name lama\\xff.pt is not valid UTF-8"
    cases += [
        ([*fill, "-b", "lama", "--model", str(checkpoint)], renamed, "convmv -f latin1 -t utf8"),
        (
            [*fill, "-b", "lama", "--model", str(tmp_path / os.fsdecode(b"gone\xff.pt"))],
            "gone\\xff.pt",
            "UTF-8",
        ),
    ]
    for args, *words in cases:
        line = refused(aifx(*args), *words)
        assert "udcff" not in line and "surrogate" not in line, line
    assert not (tmp_path / "out").exists()


def test_a_side_output_whose_name_is_not_utf8_is_refused_like_every_path(shot, tmp_path):
    """``--contact-sheet $'sheet\\xff.png'`` and ``--save-job $'job\\xff.json'`` were written under those names
    (the run said ``contact sheet .../sheet\\udcff.png``), where a plate, mask or output so named is refused
    before anything is made: they are refused the same way now, naming the name and how to rename it."""
    plate, mask = str(shot / "plate.####.exr"), str(shot / "mask.####.png")
    fill = ["fill", plate, "-m", mask, "-o", str(tmp_path / "out" / "c.####.exr"), "-b", "telea"]
    sides = tmp_path / "sides"
    sides.mkdir()
    cases = [
        (["--contact-sheet", str(sides / os.fsdecode(b"sheet\xff.png"))], "the file name sheet\\xff.png"),
        (["--save-job", str(sides / os.fsdecode(b"job\xff.json"))], "the file name job\\xff.json"),
        (["--contact-sheet", str(tmp_path / os.fsdecode(b"caf\xe9") / "s.png")], "the folder name caf\\xe9"),
    ]
    (tmp_path / os.fsdecode(b"caf\xe9")).mkdir()
    before = digest(shot)
    for extra, words in cases:
        line = refused(aifx(*fill, *extra), words, "is not valid UTF-8", "convmv -f latin1 -t utf8")
        assert "udcff" not in line, line
    assert not (tmp_path / "out").exists() and not list(sides.iterdir())
    assert not list((tmp_path / os.fsdecode(b"caf\xe9")).iterdir())
    assert digest(shot) == before
