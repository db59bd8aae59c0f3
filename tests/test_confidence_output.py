"""The fill's confidence as an output: EXR channel, PNG sidecar sequence, CLI flag, contact sheet row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
from shot_files import HEIGHT, WIDTH, make_shot, on_small_disk, plate_frame, read_exr, shot_job, write_exr

from aifx_core import FillJob, fill
from aifx_core.backends import create_spatial, register_fill
from aifx_core.confidence import CHANNEL, legacy_sidecar_path, read_confidence, sidecar_path
from aifx_core.contact_sheet import before_after_sheet
from aifx_core.errors import InputError
from aifx_core.mask import feather_weight, make_hole
from aifx_core.propagate import PropagateBackend
from aifx_core.sequence import open_sequence
from aifx_core.sequence.atomic import temp_path_for

FRAMES = range(1001, 1009)


def _weight(shot, frame, job) -> np.ndarray:
    matte = cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    return feather_weight(make_hole(matte, job.threshold, job.dilate), job.feather)


def test_exr_output_gets_a_confidence_channel_only_when_asked(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES, empty_mask_frames=(1004,))
    plain = shot_job(shot, tmp_path / "plain" / "clean.####.exr", backend="propagate")
    fill(plain)
    assert CHANNEL not in read_exr(tmp_path / "plain" / "clean.1002.exr")[1]
    job = shot_job(shot, tmp_path / "out" / "clean.####.exr", backend="propagate", confidence=True)
    fill(job)
    inside = []
    for frame in FRAMES:
        _, out = read_exr(tmp_path / "out" / f"clean.{frame:04d}.exr")
        _, plain_out = read_exr(tmp_path / "plain" / f"clean.{frame:04d}.exr")
        for name in ("R", "G", "B", "A", "Z"):  # the confidence changes nothing else
            assert np.array_equal(out[name].view(np.uint8), plain_out[name].view(np.uint8))
        confidence = out[CHANNEL].astype(np.float32)
        weight = _weight(shot, frame, job)
        assert (confidence[weight == 0] == 1.0).all()
        assert ((confidence >= 0) & (confidence <= 1)).all()
        if weight.max() > 0:
            inside.append(float(confidence[weight >= 1].mean()))
    # The plate pans and the hole moves: other frames saw most of what it hides.
    assert np.mean(inside) > 0.3 and min(inside) < 1.0


def test_png_output_gets_a_confidence_sequence_and_telea_is_a_guess(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES)
    job = shot_job(shot, tmp_path / "out" / "clean.####.png", backend="telea", confidence=True)
    fill(job)
    for frame in FRAMES:
        side = sidecar_path(tmp_path / "out" / f"clean.{frame:04d}.png")
        grey = cv2.imread(str(side), cv2.IMREAD_UNCHANGED)
        assert grey.dtype == np.uint16 and grey.ndim == 2
        weight = _weight(shot, frame, job)
        assert (grey[weight == 0] == 65535).all()
        assert (grey[weight >= 1] == 0).all()  # a per-frame spatial fill is invented everywhere


def test_cli_flag_and_contact_sheet_row(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out" / "clean.####.exr"
    args = [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", *args, "--confidence"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert CHANNEL in read_exr(tmp_path / "out" / "clean.1003.exr")[1]
    result = open_sequence(str(out))
    with_row = before_after_sheet(
        tmp_path / "with.png", None, result, list(FRAMES), mask=shot / "mask.####.png"
    )
    plain = tmp_path / "plain" / "clean.####.exr"
    fill(shot_job(shot, plain))
    without = before_after_sheet(
        tmp_path / "without.png",
        None,
        open_sequence(str(plain)),
        list(FRAMES),
        mask=shot / "mask.####.png",
    )
    taller = cv2.imread(str(with_row)).shape[0] - cv2.imread(str(without)).shape[0]
    assert taller > 20  # one more row of thumbnails: the confidence


def test_a_fill_without_confidence_over_one_with_it_leaves_no_stale_sidecar(tmp_path) -> None:
    """Re-filled with --overwrite and no --confidence, a PNG output kept the earlier run's confidence/ frames,
    and the contact sheet and aifx eval showed them as the new fill's confidence."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    fill(shot_job(shot, output, confidence=True))
    assert all(sidecar_path(tmp_path / "out" / f"clean.{f:04d}.png").exists() for f in FRAMES)
    fill(shot_job(shot, output, overwrite=True))
    assert not any(sidecar_path(tmp_path / "out" / f"clean.{f:04d}.png").exists() for f in FRAMES)


def test_a_confidence_sequence_that_would_land_on_the_mask_is_refused_before_any_work(tmp_path) -> None:
    """A second pass whose matte is the first pass's confidence sequence, written into the same folder with
    --confidence, overwrote its own mask frames (exit 0): the sidecars were never checked against the inputs."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.tif"
    mattes = sidecar_path(output)  # (the mask is exactly where the confidence frames would go)
    for frame in FRAMES:
        side = sidecar_path(tmp_path / "out" / f"clean.{frame:04d}.tif")
        side.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot / f"mask.{frame:04d}.png", side)
    before = {path: path.read_bytes() for path in mattes.parent.iterdir()}
    job = replace(shot_job(shot, output, confidence=True), mask=str(mattes))
    with pytest.raises(InputError, match=r"confidence frame would overwrite the mask frame .*-o/--output"):
        fill(job)
    assert {path: path.read_bytes() for path in mattes.parent.iterdir()} == before
    assert not list((tmp_path / "out").glob("clean.*.tif"))  # refused up front


def test_a_confidence_sequence_that_would_go_into_a_mask_folder_is_refused(tmp_path) -> None:
    """The mask given as a folder that the confidence frames would go into: the next run would read them as
    mask frames too."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.tif"
    mattes = sidecar_path(tmp_path / "out" / "clean.1001.tif").parent
    mattes.mkdir(parents=True)
    for frame in FRAMES:
        shutil.copyfile(shot / f"mask.{frame:04d}.png", mattes / f"matte.{frame:04d}.png")
    job = replace(shot_job(shot, output, confidence=True), mask=str(mattes))
    with pytest.raises(InputError, match=r"the confidence sequence goes into the mask folder"):
        fill(job)
    assert sorted(p.name for p in mattes.iterdir()) == [f"matte.{f:04d}.png" for f in FRAMES]


@pytest.mark.parametrize("kind", ["file", "broken link"])
def test_a_file_where_the_confidence_folder_goes_is_refused_before_any_work(tmp_path, kind) -> None:
    """A file or a dangling symlink named ``confidence`` beside a PNG output: a FileExistsError traceback
    (exit 1) after the whole fill."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    folder = sidecar_path(tmp_path / "out" / "clean.1001.png").parent
    folder.parent.mkdir()
    if kind == "file":
        folder.write_text("notes")
    else:
        folder.symlink_to(tmp_path / "nowhere")
    with pytest.raises(InputError, match=rf"{kind} named 'confidence' .* move or rename it, or write \.exr"):
        fill(shot_job(shot, output, confidence=True))
    assert not list(folder.parent.glob("clean.*.png"))  # refused up front
    fill(shot_job(shot, tmp_path / "out" / "plain.####.png"))  # (without --confidence it is no matter)


def test_a_confidence_folder_on_a_full_disk_is_refused_before_any_work(tmp_path) -> None:
    """Whether confidence frames could be written was asked of os.access, which a full disk does not refuse:
    a confidence/ folder on another, full disk let the whole fill run (and its sidecars came out empty, exit
    0). It is now the output folder's rule (a file written there up front)."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    folder = sidecar_path(out / "clean.1001.png").parent
    script = (
        f"dd if=/dev/zero of={folder}/full bs=4096 2>/dev/null; "
        f"{sys.executable} -m aifx_core fill {shot}/plate.####.exr -m {shot}/mask.####.png "
        f"-o {out}/clean.####.png --backend telea --confidence --json-progress"
    )
    done = on_small_disk(folder, "48k", script)
    assert done.returncode == 2, done.stderr
    assert f"{folder}: confidence folder is not writable (No space left on device)" in done.stderr
    assert '"stage": "write"' not in done.stdout and "Traceback" not in done.stderr


def test_a_confidence_folder_that_fills_up_stops_the_run_like_a_frame(tmp_path) -> None:
    """With ~4 KB free on the confidence folder's disk, a run gave exit 0 with the first sidecar whole and the
    rest 0-byte files, which a resume then counted as there: a PNG small enough for the writer's buffer (a
    sidecar, grey and flat, is a few hundred bytes) reached the disk only when OpenImageIO closed it, whose
    error it drops. The sidecar now fails as a frame does: exit 2, one line, no temp file, the frame not done."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    folder = sidecar_path(out / "clean.1001.png").parent
    run = (
        f"{sys.executable} -m aifx_core fill {shot}/plate.####.exr -m {shot}/mask.####.png "
        f"-o {out}/clean.####.png --backend telea --confidence --json-progress"
    )
    script = (
        f"dd if=/dev/zero of={folder}/full bs=4096 count=11 2>/dev/null; {run}; echo rc=$?; "
        f"ls -a {out} {folder}; rm {folder}/full; {run} >{tmp_path}/again 2>&1; cp -r {folder} {tmp_path}/kept"
    )
    done = on_small_disk(folder, "48k", script)
    first, _, listing = done.stdout.partition("rc=")
    assert listing.startswith("2"), done.stderr
    said = [line for line in done.stderr.splitlines() if "note:" not in line]
    assert len(said) == 1 and f"disk full while writing {folder}/clean." in said[0], done.stderr
    assert ".aifx-tmp-" not in listing
    made = [f for f in FRAMES if f"clean.{f:04d}.png\n" in listing.split(str(folder))[0]]
    assert made != list(FRAMES)  # (stopped at the sidecar that did not fit)
    again = json.loads((tmp_path / "again").read_text().splitlines()[-1])
    assert again["written"] == [f for f in FRAMES if f not in made], again
    for frame in FRAMES:  # (every sidecar whole now; the small disk is gone with the script, a copy kept)
        side = cv2.imread(str(tmp_path / "kept" / f"clean.{frame:04d}.png.png"), cv2.IMREAD_UNCHANGED)
        assert side is not None and side.shape == (HEIGHT, WIDTH), frame


def test_an_output_of_another_format_in_the_same_folder_keeps_the_first_ones_confidence(tmp_path) -> None:
    """A TIFF master with --confidence, then a JPEG proxy of the same name without it into the same folder:
    the two shared confidence/clean.1001.png, the JPEG run deleted the TIFF's, and the TIFF's resume said
    '20 already done' without it."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    master = tmp_path / "out" / "clean.####.tif"
    fill(shot_job(shot, master, confidence=True))
    sides = [sidecar_path(tmp_path / "out" / f"clean.{f:04d}.tif") for f in FRAMES]
    kept = {side: side.read_bytes() for side in sides}
    fill(shot_job(shot, tmp_path / "out" / "clean.####.jpg"))
    assert {side: side.read_bytes() for side in sides if side.exists()} == kept
    result = open_sequence(str(master))
    for frame in FRAMES:
        shown = read_confidence(result.read(frame), result.path(frame))
        assert shown is not None and shown.min() < 1.0


def test_a_finished_frame_whose_confidence_is_gone_is_made_again(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    fill(shot_job(shot, output, confidence=True))
    lost = [sidecar_path(tmp_path / "out" / f"clean.{f:04d}.png") for f in (1002, 1005)]
    kept = lost[0].read_bytes()
    for side in lost:
        side.unlink()
    result = fill(shot_job(shot, output, confidence=True))
    assert result.written == [1002, 1005]
    assert lost[0].read_bytes() == kept and lost[1].exists()
    assert fill(shot_job(shot, output, confidence=True)).written == []


def test_a_finished_frames_empty_confidence_sidecar_is_made_again(tmp_path) -> None:
    """Sidecars an aifx wrote empty on a full disk (it did not notice) counted as there on resume."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    fill(shot_job(shot, output, confidence=True))
    side = sidecar_path(tmp_path / "out" / "clean.1004.png")
    whole = side.read_bytes()
    side.write_bytes(b"")
    assert fill(shot_job(shot, output, confidence=True)).written == [1004]
    assert side.read_bytes() == whole


def test_a_confidence_sequence_of_the_earlier_name_is_still_read(tmp_path) -> None:
    """Sidecars named until 2026-12-06 (confidence/clean.1001.png for clean.1001.tif) count for resume and
    are read by the sheet; a frame re-made without --confidence removes its old one too."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.tif"
    fill(shot_job(shot, output, confidence=True))
    for frame in FRAMES:
        target = tmp_path / "out" / f"clean.{frame:04d}.tif"
        sidecar_path(target).rename(legacy_sidecar_path(target))
    assert fill(shot_job(shot, output, confidence=True)).written == []
    result = open_sequence(str(output))
    assert read_confidence(result.read(1003), result.path(1003)) is not None
    fill(shot_job(shot, output, overwrite=True))
    assert not list(legacy_sidecar_path(result.path(1003)).parent.iterdir())
    assert read_confidence(result.read(1003), result.path(1003)) is None


def _first_pass(shot, out, earlier_names: bool) -> dict:
    """A PNG fill of ``shot`` into ``out`` with --confidence (its sidecars renamed as an aifx before
    2026-12-06 named them when ``earlier_names``); returns each sidecar's bytes by path."""
    fill(shot_job(shot, out / "clean.####.png", confidence=True))
    sides = {}
    for frame in FRAMES:
        side = sidecar_path(out / f"clean.{frame:04d}.png")
        if earlier_names:
            side = side.rename(legacy_sidecar_path(out / f"clean.{frame:04d}.png"))
        sides[side] = side.read_bytes()
    return sides


@pytest.mark.parametrize("earlier_names", [True, False])
def test_a_run_without_confidence_never_deletes_its_mask_at_a_sidecar_name(tmp_path, earlier_names) -> None:
    """A second pass whose matte is the first pass's confidence sequence (fill where unsure), without
    --confidence: the run removed 'its stale sidecars' before each frame, which were the mask frames it read
    (a TIFF master over a PNG first pass of the earlier names; the same PNG output, overwritten, today's)."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    masks = _first_pass(shot, out, earlier_names)
    second = FillJob(
        input=str(out / "clean.####.png" if earlier_names else shot / "plate.####.exr"),
        mask=str(next(iter(masks)).parent / ("clean.####.png" if earlier_names else "clean.####.png.png")),
        invert_mask=True,
        threshold=0.99,
        output=str(out / ("clean.####.tif" if earlier_names else "clean.####.png")),
        overwrite=True,
        backend="telea",
    )
    assert fill(second).written == list(FRAMES)
    assert {side: side.read_bytes() for side in masks if side.exists()} == masks


def test_a_run_without_confidence_keeps_another_formats_sidecar_of_the_earlier_name(tmp_path) -> None:
    """confidence/clean.1001.png, the earlier name, was the sidecar of clean.1001.png as much as of
    clean.1001.tif: a TIFF run without --confidence deleted the PNG output's confidence. It is kept; with two
    frames of its name beside it, it is read as neither's (it may be either's)."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    sides = _first_pass(shot, out, earlier_names=True)
    png = open_sequence(str(out / "clean.####.png"))
    assert read_confidence(png.read(1003), png.path(1003)) is not None
    fill(shot_job(shot, out / "clean.####.tif"))
    assert {side: side.read_bytes() for side in sides if side.exists()} == sides
    assert read_confidence(png.read(1003), png.path(1003)) is None


def _earlier_master(shot, out) -> dict:
    """A TIFF master made with --confidence by an aifx before 2026-12-06 (sidecars ``confidence/<stem>.png``);
    returns each sidecar's bytes by path."""
    fill(shot_job(shot, out / "clean.####.tif", confidence=True))
    sides = {}
    for frame in FRAMES:
        target = out / f"clean.{frame:04d}.tif"
        side = sidecar_path(target).rename(legacy_sidecar_path(target))
        sides[side] = side.read_bytes()
    return sides


def test_another_outputs_sidecar_of_the_earlier_name_is_not_read_as_this_ones(tmp_path) -> None:
    """A TIFF master's confidence/clean.1001.png (the earlier name) was read as the confidence of a JPEG proxy
    clean.1001.jpg made beside it without --confidence (its sheet and eval showed the master's), and a
    --confidence JPEG run counted it as its own sidecar (a frame whose own was gone was not made again)."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    sides = _earlier_master(shot, out)
    fill(shot_job(shot, out / "clean.####.jpg"))
    proxy = open_sequence(str(out / "clean.####.jpg"))
    assert read_confidence(proxy.read(1003), proxy.path(1003)) is None
    assert {
        side: side.read_bytes() for side in sides if side.exists()
    } == sides  # (not the proxy's to remove)
    fill(shot_job(shot, out / "clean.####.jpg", confidence=True, overwrite=True))
    sidecar_path(proxy.path(1003)).unlink()
    assert fill(shot_job(shot, out / "clean.####.jpg", confidence=True)).written == [1003]


def test_an_output_begun_with_the_earlier_names_ends_with_one_confidence_sequence(tmp_path) -> None:
    """An output begun by an aifx before 2026-12-06 and resumed today had its first frames' sidecars under the
    earlier name and the rest under today's (a Read of either pattern showed half the shot); --overwrite
    --confidence left the earlier fill's sidecars beside the new ones. Now each is renamed (or removed once
    its frame is made again), so confidence/ holds one sequence of today's names."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    sides = _earlier_master(shot, out)
    killed = [f for f in FRAMES if f > 1004]  # (killed after four frames)
    for frame in killed:
        (out / f"clean.{frame:04d}.tif").unlink()
        legacy_sidecar_path(out / f"clean.{frame:04d}.tif").unlink()
    assert fill(shot_job(shot, out / "clean.####.tif", confidence=True)).written == killed
    names = sorted(p.name for p in (out / "confidence").iterdir())
    assert names == [f"clean.{f:04d}.tif.png" for f in FRAMES]
    for side, data in sides.items():  # (the frames kept keep their confidence, renamed)
        if int(side.name.split(".")[1]) not in killed:
            assert sidecar_path(out / side.name.replace(".png", ".tif")).read_bytes() == data
    for frame in FRAMES:
        target = out / f"clean.{frame:04d}.tif"
        sidecar_path(target).rename(legacy_sidecar_path(target))
    fill(shot_job(shot, out / "clean.####.tif", confidence=True, overwrite=True, dilate=4))
    assert sorted(p.name for p in (out / "confidence").iterdir()) == names


def test_a_confidence_run_never_renames_its_mask_at_the_earlier_sidecar_name(tmp_path) -> None:
    """The earlier-named sidecars of the output a run remakes are renamed to today's name, but not when they are
    the run's matte (a second pass, fill where unsure, over the first pass's PNG output)."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out"
    masks = _first_pass(shot, out, earlier_names=True)
    second = replace(
        shot_job(shot, out / "clean.####.png", confidence=True, overwrite=True),
        mask=str(out / "confidence" / "clean.####.png"),
        invert_mask=True,
        threshold=0.99,
    )
    assert fill(second).written == list(FRAMES)
    assert {side: side.read_bytes() for side in masks if side.exists()} == masks
    assert all(sidecar_path(out / f"clean.{f:04d}.png").is_file() for f in FRAMES)


def test_a_killed_runs_confidence_temp_file_is_cleaned_like_a_frames(tmp_path) -> None:
    """A run killed while writing a confidence sidecar left its hidden temp file in confidence/ for good: the
    clean-up of a killed run's temps looked in the output folder only."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    fill(shot_job(shot, output, confidence=True, frames="1001-1004"))
    folder = sidecar_path(tmp_path / "out" / "clean.1001.png").parent
    killed = temp_path_for(sidecar_path(tmp_path / "out" / "clean.1005.png"))
    killed.write_bytes(b"half a png")  # (what SIGKILL during the write leaves)
    other = temp_path_for(folder / "proxy.1001.jpg.png")  # another output's, being written now: kept
    other.write_bytes(b"being written")
    fill(shot_job(shot, output, confidence=True))
    assert not killed.exists() and other.exists()
    aged = time.time() - 3600  # an hour old: stale whoever wrote it
    os.utime(other, (aged, aged))
    fill(shot_job(shot, output, confidence=True))
    assert not other.exists()


def _plate_with_confidence(tmp_path):
    """A shot whose plate frames already carry an earlier fill's half ``fill.confidence``: 0.25 in a band
    (its guess), 1 elsewhere."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    earlier = np.ones((HEIGHT, WIDTH), np.float16)
    earlier[:, :8] = 0.25
    for i, frame in enumerate(FRAMES):
        write_exr(shot / f"plate.{frame:04d}.exr", {**plate_frame(i), CHANNEL: earlier})
    return shot, earlier


@pytest.mark.parametrize("asked", [True, False])
def test_a_plate_with_an_earlier_fills_confidence_keeps_both_fills_guesses(tmp_path, asked) -> None:
    """A second pass over a first pass's EXRs (or chained AIFill nodes): the plate's fill.confidence was
    replaced by this fill's, so the first fill's guess read 1 (sure), and the half channel became float; without
    --confidence the carried channel said 'sure' in this fill's hole."""
    shot, earlier = _plate_with_confidence(tmp_path)
    job = shot_job(shot, tmp_path / "out" / "clean.####.exr", confidence=asked)
    result = fill(job)
    assert any("already has a fill.confidence channel" in note for note in result.notices)
    for frame in FRAMES:
        channel = read_exr(tmp_path / "out" / f"clean.{frame:04d}.exr")[1][CHANNEL]
        assert channel.dtype == np.float16
        weight = _weight(shot, frame, job)
        band = np.zeros_like(weight, bool)
        band[:, :8] = True
        assert (channel[band & (weight == 0)] == 0.25).all()  # the earlier fill's guess, as it was
        assert (channel[~band & (weight == 0)] == 1.0).all()
        assert (channel[weight >= 1] == 0.0).all()  # Telea's fill: a guess, whatever the plate said there
        assert (channel <= earlier).all()


def test_a_later_plate_frame_with_an_earlier_fills_confidence_keeps_this_fills_too(tmp_path) -> None:
    """Whether the backend's confidence was kept at all was decided from the first plate frame: an EXR output
    without --confidence over a plate whose channel starts at frame 1004 (a first pass over part of the shot)
    had that channel 0 ('invented') over this fill's whole hole, where propagation was sure, and no note."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    sure = np.ones((HEIGHT, WIDTH), np.float16)
    for i, frame in enumerate(FRAMES):
        if frame >= 1004:
            write_exr(shot / f"plate.{frame:04d}.exr", {**plate_frame(i), CHANNEL: sure})
    result = fill(shot_job(shot, tmp_path / "plain" / "clean.####.exr", backend="propagate"))
    assert [n for n in result.notices if "fill.confidence channel" in n] == [
        f"note: plate frame 1004 already has a {CHANNEL} channel (an earlier fill's); the output keeps it, "
        "lowered where this fill is a guess, so both fills' guesses show"
    ]
    asked = shot_job(shot, tmp_path / "asked" / "clean.####.exr", backend="propagate", confidence=True)
    fill(asked)
    sure_inside = []
    for frame in FRAMES:
        plain = read_exr(tmp_path / "plain" / f"clean.{frame:04d}.exr")[1]
        if frame < 1004:
            assert CHANNEL not in plain
            continue
        shown = read_exr(tmp_path / "asked" / f"clean.{frame:04d}.exr")[1][CHANNEL]
        assert np.array_equal(plain[CHANNEL], shown), frame  # (the lower of 1 and this fill's: this fill's)
        sure_inside.append(float(shown[_weight(shot, frame, asked) >= 1].max()))
    assert max(sure_inside) > 0.5  # (propagation was sure somewhere in the hole: not all 'invented')


class _AskedEngine(PropagateBackend):
    """The temporal engine, counting the frames whose full-frame confidence map was asked for."""

    asked: list[int] = []

    @property
    def last_confidence(self) -> np.ndarray | None:
        shown = super().last_confidence
        _AskedEngine.asked.append(self._asked_frame)
        return shown

    def fill(self, packets, reporter, *args, **kwargs):
        for frame, rgb in super().fill(packets, reporter, *args, **kwargs):
            self._asked_frame = frame
            yield frame, rgb


def test_an_exr_output_asks_for_the_confidence_only_of_frames_that_carry_it(tmp_path) -> None:
    """Every frame of an EXR output without --confidence had its full-frame confidence map built (~24 ms at 4K on
    the engine's thread) and thrown away unless its plate frame carried an earlier fill's: only those are asked
    for now, and every frame with --confidence."""
    register_fill(
        "asked-propagate",
        lambda context: _AskedEngine(context, spatial_factory=create_spatial),
        options="aifx_core.propagate.options:PropagateOptions",
        hosts_spatial=True,
    )
    shot = make_shot(tmp_path / "shot", FRAMES)
    sure = np.ones((HEIGHT, WIDTH), np.float16)
    for i, frame in enumerate(FRAMES):
        if frame >= 1004:
            write_exr(shot / f"plate.{frame:04d}.exr", {**plate_frame(i), CHANNEL: sure})
    _AskedEngine.asked.clear()
    fill(shot_job(shot, tmp_path / "plain" / "clean.####.exr", backend="asked-propagate"))
    assert _AskedEngine.asked == [frame for frame in FRAMES if frame >= 1004]
    _AskedEngine.asked.clear()
    fill(shot_job(shot, tmp_path / "asked" / "clean.####.exr", backend="asked-propagate", confidence=True))
    assert _AskedEngine.asked == list(FRAMES)


def test_a_png_confidence_sequence_over_a_plate_with_confidence_is_the_lower_of_both(tmp_path) -> None:
    shot, _ = _plate_with_confidence(tmp_path)
    job = shot_job(shot, tmp_path / "out" / "clean.####.png", confidence=True)
    fill(job)
    grey = cv2.imread(str(sidecar_path(tmp_path / "out" / "clean.1003.png")), cv2.IMREAD_UNCHANGED)
    weight = _weight(shot, 1003, job)
    assert (grey[:, :8][weight[:, :8] == 0] == 16384).all() and (
        grey[:, 8:][weight[:, 8:] == 0] == 65535
    ).all()
