"""End to end through ``aifx_core.fill`` with real EXR plates and PNG mattes."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from shot_files import make_shot, read_exr, shot_job

from aifx_core import Cancelled, CancelToken, FillJob, InputError, fill
from aifx_core.backends import pixel_options
from aifx_core.flow import DISFlow
from aifx_core.manifest import OutputLock, lock_path
from aifx_core.mask import feather_weight, make_hole
from aifx_core.pipeline import prepare_anchors
from aifx_core.protocol.job import absolute_paths

FRAMES = range(1001, 1007)


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def outside_region(frame_index: int, job: FillJob, shot: Path, frame: int) -> np.ndarray:
    matte = cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    return feather_weight(make_hole(matte, job.threshold, job.dilate), job.feather) == 0


@pytest.fixture
def shot(tmp_path):
    return make_shot(tmp_path / "shot", FRAMES, empty_mask_frames=(1004,))


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_fill_changes_only_the_masked_area_and_keeps_everything_else(shot, tmp_path, backend):
    before = digest(shot)
    job = shot_job(shot, tmp_path / "out" / "clean.####.exr", backend=backend)
    result = fill(job)
    assert result.written == list(FRAMES)
    assert digest(shot) == before, "inputs must never be modified"

    for i, frame in enumerate(FRAMES):
        in_header, plate = read_exr(shot / f"plate.{frame:04d}.exr")
        out_header, out = read_exr(tmp_path / "out" / f"clean.{frame:04d}.exr")
        assert set(out) == set(plate)
        assert out_header["owner"] == "aifx tests" and out_header["comments"] == f"frame {frame}"
        assert out_header["compression"] == in_header["compression"]
        for name in ("A", "Z"):  # alpha and extra channels are never touched
            assert out[name].dtype == plate[name].dtype
            assert np.array_equal(out[name].view(np.uint8), plate[name].view(np.uint8))
        keep = outside_region(i, job, shot, frame)
        for name in ("R", "G", "B"):
            assert out[name].dtype == np.float16
            # bit-exact outside the feathered hole, HDR, negatives, NaN and Inf included
            assert np.array_equal(out[name].view(np.uint16)[keep], plate[name].view(np.uint16)[keep])
        if frame == 1004:
            assert (tmp_path / "out" / "clean.1004.exr").read_bytes() == (
                shot / "plate.1004.exr"
            ).read_bytes()
        else:
            hole = ~keep
            assert hole.any()
            filled = np.stack([out[c][hole].astype(np.float32) for c in "RGB"])
            original = np.stack([plate[c][hole].astype(np.float32) for c in "RGB"])
            assert np.isfinite(filled).all()
            assert not np.array_equal(filled, original), "the object must be replaced"


def test_rerun_resumes_and_changed_settings_do_not_mix(shot, tmp_path):
    out = tmp_path / "out"
    job = shot_job(shot, out / "clean.####.exr")
    fill(job)
    (out / "clean.1003.exr").unlink()
    again = fill(job)
    assert again.written == [1003]
    assert again.skipped == [f for f in FRAMES if f != 1003]

    changed = shot_job(shot, out / "clean.####.exr", dilate=job.dilate + 3)
    with pytest.raises(InputError, match="--overwrite"):
        fill(changed)
    changed.overwrite = True
    assert fill(changed).written == list(FRAMES)


def test_a_finished_frame_emptied_or_cut_short_is_made_again_on_resume(shot, tmp_path):
    """Finished output frames emptied or cut short after the run (a failed copy back, a full disk elsewhere,
    a tool that truncated them): the rerun said "already done" and kept them. Each is made again, named in a
    note, the same bytes as before; a frame that reads fine but changed (a paint fix by hand) is kept."""
    out = tmp_path / "out"
    job = shot_job(shot, out / "clean.####.exr")
    fill(job)
    made = digest(out)
    whole = (out / "clean.1003.exr").read_bytes()
    (out / "clean.1003.exr").write_bytes(whole[:100])
    (out / "clean.1005.exr").write_bytes(b"")
    (out / "clean.1002.exr").write_bytes((out / "clean.1001.exr").read_bytes())  # reads fine: kept
    again = fill(job)
    assert again.written == [1003, 1005]
    assert any("1003" in n and "1005" in n and "made again" in n for n in again.notices), again.notices
    frames = lambda found: {n: d for n, d in found.items() if n.startswith("clean.")}  # noqa: E731
    assert frames(digest(out)) == {**frames(made), "clean.1002.exr": made["clean.1001.exr"]}


def test_a_finished_frame_cut_short_past_its_header_is_made_again_on_resume(shot, tmp_path):
    """A finished EXR cut to 75% (or a few bytes short) still has a whole header, so the resume's header read
    took it for done while reading it failed ('EXR is truncated or damaged'). The manifest records each output's
    size as written: one of another size is read whole, and made again when it cannot be; a frame changed by
    hand that reads whole (another size) is kept. A manifest from before sizes were recorded keeps the header
    check."""
    out = tmp_path / "out"
    job = shot_job(shot, out / "clean.####.exr")
    fill(job)
    made = digest(out)
    for frame, keep in ((1003, 0.75), (1005, 0.99)):
        whole = (out / f"clean.{frame}.exr").read_bytes()
        (out / f"clean.{frame}.exr").write_bytes(whole[: int(len(whole) * keep)])
    (out / "clean.1002.exr").write_bytes((out / "clean.1001.exr").read_bytes())  # a fix by hand: kept
    assert made["clean.1002.exr"] != made["clean.1001.exr"]
    again = fill(job)
    assert again.written == [1003, 1005]
    assert any("1003" in n and "1005" in n and "made again" in n for n in again.notices), again.notices
    frames = lambda found: {n: d for n, d in found.items() if n.startswith("clean.")}  # noqa: E731
    assert frames(digest(out)) == {**frames(made), "clean.1002.exr": made["clean.1001.exr"]}

    record = out / ".clean.####.exr.aifx.json"  # as an aifx before sizes were recorded left it
    data = json.loads(record.read_text())
    assert set(data.pop("outputs")) == {str(f) for f in FRAMES}
    record.write_text(json.dumps(data))
    (out / "clean.1004.exr").write_bytes((out / "clean.1004.exr").read_bytes()[:100])
    assert fill(job).written == [1004]


def test_cancel_keeps_finished_frames_valid_and_a_rerun_resumes(shot, tmp_path):
    out = tmp_path / "out"
    job = shot_job(shot, out / "clean.####.exr")
    cancel = CancelToken()

    def stop_after_two(event):
        if event.stage == "write" and event.index == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        fill(job, progress=stop_after_two, cancel=cancel)
    done = sorted(p.name for p in out.glob("clean.*.exr"))
    assert done == ["clean.1001.exr", "clean.1002.exr"]
    assert not [p for p in out.iterdir() if "tmp" in p.name], "no temp file may be left behind"
    for name in done:
        read_exr(out / name)  # complete, readable frames
    assert fill(job).written == [1003, 1004, 1005, 1006]


def test_output_that_would_overwrite_the_input_is_refused(shot):
    before = digest(shot)
    job = shot_job(shot, shot / "plate.%04d.exr")
    with pytest.raises(InputError, match="overwrite"):
        fill(job)
    assert digest(shot) == before


def test_existing_foreign_outputs_are_not_clobbered(shot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "clean.1002.exr").write_bytes(b"someone else's render")
    job = shot_job(shot, out / "clean.####.exr")
    with pytest.raises(InputError, match="already exist"):
        fill(job)
    assert (out / "clean.1002.exr").read_bytes() == b"someone else's render"


def test_the_output_is_one_sequence_however_its_pattern_is_spelled(shot, tmp_path):
    """``clean.####.exr``, ``clean.%04d.exr`` and ``clean.$F4.exr`` name the same files. Each spelling kept its
    own manifest and lock, so a run with other settings spelled apart resumed on the first run's frames (and
    two such runs could write the same frames at once)."""
    out = tmp_path / "out"
    first = fill(shot_job(shot, out / "clean.####.exr", dilate=2))
    assert first.written == [1001, 1002, 1003, 1004, 1005, 1006]
    with pytest.raises(InputError, match="different settings"):
        fill(shot_job(shot, out / "clean.%04d.exr", dilate=9))
    fill(shot_job(shot, out / "clean.%04d.exr", dilate=9, overwrite=True))  # replaced, on purpose
    with pytest.raises(InputError, match="different settings"):  # not "6 already done" on the other frames
        fill(shot_job(shot, out / "clean.####.exr", dilate=2))
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name.endswith(".json")] == [
        ".clean.####.exr.aifx.json"
    ]
    spellings = [str(out / name) for name in ("clean.####.exr", "clean.%04d.exr", "clean.$F4.exr")]
    assert len({lock_path(spelling) for spelling in spellings}) == 1  # one owner at a time, too


def test_an_output_begun_under_its_spelled_manifest_name_still_resumes(shot, tmp_path):
    """Before manifests were named for the ``#`` form, ``clean.%04d.exr`` kept ``.clean.%04d.exr.aifx.json``."""
    out = tmp_path / "out"
    job = shot_job(shot, out / "clean.%04d.exr", frames="1001-1003")
    assert fill(job).written == [1001, 1002, 1003]
    (out / ".clean.####.exr.aifx.json").rename(out / ".clean.%04d.exr.aifx.json")
    again = fill(job)
    assert again.written == [] and again.skipped == [1001, 1002, 1003]


def test_one_digit_padding_over_four_digit_frames_is_the_same_output_as_four(shot, tmp_path):
    """``clean.$F.exr``, ``clean.%d.exr`` and ``clean.#.exr`` write frame 1001 as ``clean.1001.exr``, as
    ``clean.####.exr`` does, but kept their own manifest, lock and cache (``.clean.#.exr.aifx.json``): a run
    with other settings spelled so (and --overwrite) replaced the frames, and the first spelling's rerun said
    "0 written, 6 already done" and kept them."""
    out = tmp_path / "out"
    assert fill(shot_job(shot, out / "clean.####.exr", dilate=2)).written == list(FRAMES)
    for spelling in ("clean.$F.exr", "clean.%d.exr", "clean.#.exr"):
        with pytest.raises(InputError, match="different settings"):
            fill(shot_job(shot, out / spelling, dilate=9))
    fill(shot_job(shot, out / "clean.$F.exr", dilate=9, overwrite=True))  # replaced, on purpose
    with pytest.raises(InputError, match="different settings"):  # not "6 already done"
        fill(shot_job(shot, out / "clean.####.exr", dilate=2))
    assert fill(shot_job(shot, out / "clean.%d.exr", dilate=9)).skipped == list(FRAMES)
    assert [p.name for p in out.glob(".*.json")] == [".clean.####.exr.aifx.json"]
    # Over frames 1-3 they name other files (clean.1.exr, clean.0001.exr): apart they stay.
    low = make_shot(tmp_path / "low", range(1, 4))
    assert fill(shot_job(low, out / "low.####.exr")).written == [1, 2, 3]
    assert fill(shot_job(low, out / "low.#.exr", dilate=9)).written == [1, 2, 3]
    assert {p.name for p in out.glob("low.*")} == {f"low.{f}.exr" for f in (1, 2, 3, "0001", "0002", "0003")}


def test_an_output_an_older_aifx_named_for_its_typed_padding_resumes_under_any_spelling(
    shot, tmp_path, monkeypatch
):
    """An aifx of 2026-12-06 kept ``clean.$F.exr``'s manifest as ``.clean.#.exr.aifx.json``, its frames under
    the key of ``clean.#.exr``: the output resumes, spelled ``$F`` or ``####``, and is recorded anew."""
    monkeypatch.chdir(tmp_path)
    job = FillJob(
        input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.$F.exr", backend="telea"
    )
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    data = json.loads((tmp_path / "out" / ".c.####.exr.aifx.json").read_text())
    typed = replace(absolute_paths(job), output=str(tmp_path / "out" / "c.#.exr"))
    old_key = typed.resume_key(pixel_options(job.backend, job.options))  # (per-frame: no frame range in it)
    data["frames"] = {frame: old_key for frame in data["frames"]}
    data["ranges"] = {old_key: next(iter(data["ranges"].values()))}
    (tmp_path / "out" / ".c.#.exr.aifx.json").write_text(json.dumps(data))
    (tmp_path / "out" / ".c.####.exr.aifx.json").unlink()
    again = fill(replace(job, output="out/c.####.exr"))
    assert again.written == [1004, 1005, 1006] and again.skipped == [1001, 1002, 1003]
    assert fill(job).skipped == list(FRAMES)
    assert set(json.loads((tmp_path / "out" / ".c.####.exr.aifx.json").read_text())["frames"].values()) != {
        old_key
    }


def test_the_same_job_with_its_paths_spelled_another_way_resumes(shot, tmp_path, monkeypatch):
    """A job run here and on Ray (or a server) with its relative paths made absolute, or given as
    ``./shot/plate.%04d.exr``, reads the same files: its frames were refused as "made with different settings"."""
    monkeypatch.chdir(tmp_path)
    job = FillJob(input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.####.exr")
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    again = fill(absolute_paths(job))  # what `aifx run --executor ray` and `aifx submit` send
    assert again.written == [1004, 1005, 1006] and again.skipped == [1001, 1002, 1003]
    respelled = replace(job, input="./shot/plate.%04d.exr", mask=str(tmp_path / "shot" / "mask.$F4.png"))
    assert fill(respelled).skipped == list(FRAMES)


def test_a_plate_read_through_a_symlinked_folder_resumes_the_same_frames(shot, tmp_path):
    """Studios link project roots (``/show`` → ``/mnt/projects/show``): the same plate read through the link
    and through its target was refused as "made with different settings". Frames made before through the link
    (keyed on the link's path) resume too, and once rerun so, through the target as well."""
    (tmp_path / "link").symlink_to(shot, target_is_directory=True)
    linked = FillJob(
        input=str(tmp_path / "link" / "plate.####.exr"),
        mask=str(tmp_path / "link" / "mask.####.png"),
        output=str(tmp_path / "out" / "c.####.exr"),
        backend="telea",
    )
    real = shot_job(shot, tmp_path / "out" / "c.####.exr")
    assert fill(real, frames="1001-1003").written == [1001, 1002, 1003]
    again = fill(linked)
    assert again.written == [1004, 1005, 1006] and again.skipped == [1001, 1002, 1003]
    assert fill(real).skipped == list(FRAMES)
    _made_before_the_new_key(tmp_path / "out" / ".c.####.exr.aifx.json", linked)  # (as through the link)
    assert fill(linked).skipped == list(FRAMES)
    assert fill(real).skipped == list(FRAMES)


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_a_project_folder_moved_whole_resumes_its_output(tmp_path, backend):
    """Plate, mattes and output moved together (another disk, a colleague's machine): the key held the absolute
    input and mask paths, so every rerun was refused as "2 output frame(s) already exist, made with different
    settings". The same plate and mask, at the same place relative to the output, are the same job: nothing
    is made again, and the frames are byte for byte those of the first run."""
    first_root, moved_root = tmp_path / "projA", tmp_path / "projB"
    make_shot(first_root / "plates", FRAMES)
    job = shot_job(first_root / "plates", first_root / "plates" / "aifx_fill" / "c.####.exr", backend=backend)
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    before = digest(first_root / "plates" / "aifx_fill")
    first_root.rename(moved_root)
    moved = shot_job(
        moved_root / "plates", moved_root / "plates" / "aifx_fill" / "c.####.exr", backend=backend
    )
    again = fill(moved, frames="1001-1003")
    assert (again.written, again.skipped) == ([], [1001, 1002, 1003])
    after = digest(moved_root / "plates" / "aifx_fill")
    assert {n: d for n, d in after.items() if n.startswith("c.")} == {
        n: d for n, d in before.items() if n.startswith("c.")
    }
    # The rest of the shot after the move: byte for byte a whole run's (a temporal run's keyframes included).
    rest = fill(moved)
    assert (rest.written, rest.skipped) == ([1004, 1005, 1006], [1001, 1002, 1003])
    whole = tmp_path / "whole"
    make_shot(whole / "plates", FRAMES)
    fill(shot_job(whole / "plates", whole / "plates" / "aifx_fill" / "c.####.exr", backend=backend))
    for frame in FRAMES:
        name = f"c.{frame}.exr"
        assert (moved_root / "plates" / "aifx_fill" / name).read_bytes() == (
            whole / "plates" / "aifx_fill" / name
        ).read_bytes(), name
    # Another plate of the same file name, elsewhere, is still not taken for it.
    make_shot(tmp_path / "other", FRAMES)
    with pytest.raises(InputError, match="different settings"):
        fill(replace(moved, input=str(tmp_path / "other" / "plate.####.exr")), frames="1001-1003")


def test_an_output_keyed_on_absolute_paths_resumes_in_place_and_then_moves(tmp_path):
    """Frames made before paths were keyed relative to the output's folder carry the key of the absolute paths:
    a rerun in place takes them as done and records them under the new key, after which the folder moves."""
    root, moved_root = tmp_path / "projA", tmp_path / "projB"
    make_shot(root / "plates", FRAMES)
    job = shot_job(root / "plates", root / "plates" / "aifx_fill" / "c.####.exr")
    assert fill(job).written == list(FRAMES)
    manifest = root / "plates" / "aifx_fill" / ".c.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    absolute = replace(job, output=str(root / "plates" / "aifx_fill" / "c.####.exr"))
    old_key = absolute.resume_key(
        pixel_options(job.backend, job.options)
    )  # (per-frame: no frame range in it)
    data["frames"] = {frame: old_key for frame in data["frames"]}
    data["ranges"] = {old_key: next(iter(data["ranges"].values()))}
    manifest.write_text(json.dumps(data))
    assert fill(job).skipped == list(FRAMES)
    root.rename(moved_root)
    moved = shot_job(moved_root / "plates", moved_root / "plates" / "aifx_fill" / "c.####.exr")
    assert fill(moved).skipped == list(FRAMES)


def test_an_output_made_under_the_old_key_still_resumes_and_then_takes_any_spelling(
    shot, tmp_path, monkeypatch
):
    """Frames made before paths were keyed as the files they name carry the key of the paths as written: a
    rerun of that job takes them as done (and records them under the new key, so Ray takes them too)."""
    monkeypatch.chdir(tmp_path)
    job = FillJob(
        input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.####.exr", backend="telea"
    )
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    manifest = tmp_path / "out" / ".c.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    old_key = job.resume_key(pixel_options(job.backend, job.options))  # (per-frame: no frame range in it)
    data["frames"] = {frame: old_key for frame in data["frames"]}
    manifest.write_text(json.dumps(data))
    with pytest.raises(InputError, match="different settings"):  # (a spelling that never made them)
        fill(replace(job, input="./shot/plate.####.exr"))
    again = fill(job)
    assert again.written == [1004, 1005, 1006] and again.skipped == [1001, 1002, 1003]
    assert fill(absolute_paths(job)).skipped == list(FRAMES)


def _made_before_the_new_key(manifest: Path, job: FillJob) -> None:
    """Record a per-frame output's frames (and range) as the code before 2026-12-06 did: under the key of the
    paths as written, ``job.resume_key`` over the pixel options (the key still accepted)."""
    data = json.loads(manifest.read_text())
    old_key = job.resume_key(pixel_options(job.backend, job.options))  # (per-frame: no frame range in it)
    data["frames"] = {frame: old_key for frame in data["frames"]}
    data["ranges"] = {old_key: next(iter(data["ranges"].values()))}  # (one run, one range)
    manifest.write_text(json.dumps(data))


def test_a_finished_output_made_under_the_old_key_is_rekeyed_by_a_rerun_that_writes_nothing(
    shot, tmp_path, monkeypatch
):
    """A rerun that finds every frame done wrote none and never saved the manifest, so the frames kept the old
    key and Ray (absolute paths) or another spelling refused the finished output as "different settings"."""
    monkeypatch.chdir(tmp_path)
    job = FillJob(
        input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.####.exr", backend="telea"
    )
    assert fill(job).written == list(FRAMES)
    _made_before_the_new_key(tmp_path / "out" / ".c.####.exr.aifx.json", job)
    again = fill(job)
    assert again.written == [] and again.skipped == list(FRAMES)
    assert fill(absolute_paths(job)).skipped == list(FRAMES)  # what `aifx run --executor ray` sends
    assert fill(replace(job, input="./shot/plate.%04d.exr")).skipped == list(FRAMES)


def test_a_run_joins_an_older_aifx_writing_the_same_settings_to_the_output(shot, tmp_path, monkeypatch):
    """An aifx from before the key named the files holds the output lock under the settings key of the paths
    as written: the same job run with this one was refused as "another aifx job ... with different settings"."""
    monkeypatch.chdir(tmp_path)
    job = FillJob(
        input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.####.exr", backend="telea"
    )
    (tmp_path / "out").mkdir()
    older = job.resume_key(pixel_options(job.backend, job.options))  # the group such a run holds the lock as
    with OutputLock(job.output, older, job.output):  # a real flock, as the older aifx holds it
        assert fill(job).written == list(FRAMES)
        assert lock_path(job.output).exists()  # joined: still held by the first owner
    other = replace(job, dilate=9).resume_key()  # (other settings are still refused)
    with OutputLock(job.output, other, job.output), pytest.raises(InputError, match="different settings"):
        fill(replace(job, overwrite=True))


def test_fill_accepts_a_saved_job_file_and_reports_progress(shot, tmp_path):
    job = shot_job(shot, tmp_path / "o" / "clean.####.exr", frames="1002-1003")
    path = tmp_path / "job.json"
    job.save(path)
    events = []
    result = fill(str(path), progress=events.append)
    assert result.written == [1002, 1003]
    writes = [(e.index, e.total, e.frame) for e in events if e.stage == "write"]
    assert writes == [(1, 2, 1002), (2, 2, 1003)]


def test_plate_alpha_is_the_default_mask(tmp_path):
    import OpenEXR
    from shot_files import plate_frame, write_exr

    shot = tmp_path / "a"
    shot.mkdir()
    for i, frame in enumerate((1, 2, 3)):
        ch = plate_frame(i)
        alpha = np.zeros(ch["A"].shape, np.float16)
        alpha[10:20, 20:30] = 1
        ch["A"] = alpha
        write_exr(shot / f"p.{frame}.exr", ch, compression=OpenEXR.PIZ_COMPRESSION)
    result = fill(
        FillJob(input=str(shot / "p.#.exr"), output=str(tmp_path / "o" / "c.#.exr"), backend="telea")
    )
    assert result.written == [1, 2, 3]
    _, out = read_exr(tmp_path / "o" / "c.2.exr")
    _, src = read_exr(shot / "p.2.exr")
    assert not np.array_equal(out["R"][10:20, 20:30], src["R"][10:20, 20:30])
    assert np.array_equal(out["R"].view(np.uint16)[30:], src["R"].view(np.uint16)[30:])


def test_a_hole_covering_most_of_a_frame_is_named_with_its_share(tmp_path):
    """The notice for a hole covering most of a frame names the frame with the largest share of it and that
    share (counted over the frame's pixels), and a run whose holes are all small gives none."""
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1004))
    big = cv2.imread(str(shot / "mask.1002.png"), cv2.IMREAD_UNCHANGED)
    big[:] = 0
    big[:, : big.shape[1] * 3 // 5] = 255  # 60 % of the frame
    cv2.imwrite(str(shot / "mask.1002.png"), big)
    job = shot_job(shot, tmp_path / "o" / "c.####.exr")
    result = fill(job)
    hole = make_hole(big.astype(np.float32) / 255, job.threshold, job.dilate)  # (the hole as the fill has it)
    share = np.count_nonzero(hole) / hole.size
    assert 0.6 < share < 0.7
    assert [n for n in result.notices if "covers" in n] == [
        f"warning: the hole covers {100 * share:.0f} % of frame 1002: what no other frame saw there is "
        "invented, not restored; check the mask, --invert-mask, --threshold and --dilate"
    ]
    small = fill(shot_job(make_shot(tmp_path / "small"), tmp_path / "p" / "c.####.exr"))
    assert not [n for n in small.notices if "covers" in n]


def test_a_mask_empty_on_every_frame_is_warned_about(tmp_path):
    """A mask that is empty on every frame (the wrong channel, an inverted matte, a threshold above its values)
    wrote the plate back, exit 0 and no word. A whole-shot run says so; a mask empty on some frames only (an
    object off screen) and a run of part of the shot (a farm chunk) do not."""
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1004))
    some = fill(shot_job(shot, tmp_path / "some" / "c.####.exr"))
    assert not [n for n in some.notices if "empty" in n] and some.holed == 3
    for frame in (1001, 1002, 1003):
        matte = cv2.imread(str(shot / f"mask.{frame}.png"), cv2.IMREAD_UNCHANGED)
        matte[:] = 0
        cv2.imwrite(str(shot / f"mask.{frame}.png"), matte)
    part = fill(shot_job(shot, tmp_path / "part" / "c.####.exr"), frames="1002-1003")
    assert part.written == [1002, 1003] and not [n for n in part.notices if "empty" in n] and part.holed == 0
    whole = fill(shot_job(shot, tmp_path / "whole" / "c.####.exr"))
    assert [n for n in whole.notices if "empty" in n] == [
        "warning: the mask is empty on every frame (1001-1003): nothing was filled, the output is the plate; "
        "check the mask, --mask-channel, --invert-mask and --threshold"
    ]
    assert whole.written == [1001, 1002, 1003]


def test_a_callers_mixed_up_arguments_fail_before_anything_is_written(shot, tmp_path):
    """``frames=1002`` was a TypeError deep inside, ``cancel=True`` an AttributeError once the output folder
    existed, ``progress=5`` a TypeError at the first event."""
    out = tmp_path / "o"
    job = shot_job(shot, out / "clean.####.exr")
    with pytest.raises(TypeError, match="cancel must be a CancelToken"):
        fill(job, cancel=True)
    with pytest.raises(TypeError, match="progress must be a function"):
        fill(job, progress=5)
    with pytest.raises(InputError, match="give frame numbers"):
        fill(job, frames=[1001, "x"])
    assert not out.exists()
    assert fill(job, frames=1002).written == [1002]  # one frame number is one frame


def test_frames_from_python_are_read_one_way_for_fill_and_info():
    """select_frames and frames_text read numbers through one helper: a numpy frame number was a TypeError
    traceback in fill and a refusal in info/evaluate; an empty list keeps the wording each one gives."""
    from aifx_core.pipeline import select_frames
    from aifx_core.sequence.frames import frames_text

    shot = [1001, 1002, 1003]
    assert select_frames(np.int64(1002), shot) == [1002]
    assert select_frames(np.arange(1001, 1003), shot) == [1001, 1002]
    assert frames_text(np.int64(1002)) == "1002"
    with pytest.raises(InputError, match=re.escape("--frames (fill(frames=...)) names no frame")):
        select_frames([], shot)
    with pytest.raises(InputError, match="give frame numbers"):
        frames_text([])
    for bad in ([1001, True], [1001, "x"], 1001.0):
        with pytest.raises(InputError, match="give frame numbers"):
            select_frames(bad, shot)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="give frame numbers"):
            frames_text(bad)  # type: ignore[arg-type]


def test_keyframes_given_as_numpy_numbers_or_a_set_key_as_their_values(shot, tmp_path):
    """The resume key spelled what JSON cannot hold by its type's name: keyframes ``[np.int64(1001)]`` and
    ``[np.int64(1006)]`` (or the sets ``{1001}`` and ``{1006}``) keyed the same, so the second run skipped every
    frame the first had made with other keyframes. They key as the numbers they are now."""
    out = tmp_path / "o" / "clean.####.exr"
    assert fill(shot_job(shot, out, backend="propagate", options={"keyframes": [np.int64(1001)]})).written
    for other in ([np.int64(1006)], {1006}, np.int64(1006)):
        with pytest.raises(InputError, match="different settings"):
            fill(shot_job(shot, out, backend="propagate", options={"keyframes": other}))
    for same in ([1001], {1001}, (np.int32(1001),)):  # the same keyframe however it is spelled: done
        again = fill(shot_job(shot, out, backend="propagate", options={"keyframes": same}))
        assert again.written == [] and again.skipped == list(FRAMES)


@pytest.mark.parametrize(
    "keyframes, said",
    [
        (np.array([1001, 1003]), "NumPy array: pass array.tolist()"),
        ([1001.5], "1001.5 is not a whole frame number"),
        ([True], "True is not a frame number"),
        ([np.bool_(True)], "is not a frame number"),
    ],
)
def test_keyframes_that_are_not_frame_numbers_are_refused_by_name(shot, tmp_path, keyframes, said):
    """An array failed in the options check with NumPy's "truth value ... is ambiguous" (exit 1), 1001.5 was cut
    to 1001 and ``True`` read as frame 1."""
    job = shot_job(
        shot, tmp_path / "o" / "clean.####.exr", backend="propagate", options={"keyframes": keyframes}
    )
    with pytest.raises(InputError, match=f"keyframes.*{re.escape(said)}"):
        fill(job)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "name, compression, said",
    [
        ("clean.####.exr", "zipp", "--compression zipp: EXR output takes b44, b44a, dwaa"),
        ("clean.####.exr", "dwaa:45", "--compression dwaa:45: EXR output takes"),
        ("clean.####.png", "", 'the compression is empty (--compression "" or "compression": "")'),
        ("clean.####.exr", " ", "the compression is empty"),
    ],
)
def test_an_output_compression_it_cannot_take_is_refused_before_any_work(
    shot, tmp_path, name, compression, said
):
    """An EXR compression typo was refused by the writer at the first frame: after the seen-plate pass and a
    fill (9-13 s on 40 frames), with the output folder and manifest made, and ``aifx run --anchors`` passed it,
    so every farm chunk failed. An empty one was "--compression : PNG output takes zip", never saying so."""
    out = tmp_path / "o" / name
    job = shot_job(shot, out, backend="propagate", compression=compression)
    for run in (fill, prepare_anchors):
        with pytest.raises(InputError, match=re.escape(said)):
            run(job)
        assert not out.parent.exists()
    taken = "PIZ" if name.endswith(".exr") else "zip:3"  # (the names it takes, any case)
    assert fill(replace(job, compression=taken)).written == list(FRAMES)


def test_a_whole_number_threshold_is_one_setting_however_it_is_written(shot, tmp_path, monkeypatch):
    """``aifx fill --threshold 1`` (the job holds 1.0) and then ``aifx run`` of a job file saying ``"threshold": 1``
    were refused as "made with different settings": the key spelled the number as given. Frames made before,
    keyed so, are still taken as done."""
    out = tmp_path / "o" / "clean.####.exr"
    assert fill(shot_job(shot, out, threshold=1.0)).written == list(FRAMES)
    again = fill(shot_job(shot, out, threshold=1))  # (as a job file's "threshold": 1 loads)
    assert (again.written, again.skipped) == ([], list(FRAMES))
    earlier = tmp_path / "e" / "clean.####.exr"
    keyed = FillJob.resume_key
    with monkeypatch.context() as patched:  # (how an aifx before this one keyed it)
        patched.setattr(
            FillJob, "resume_key", lambda job, options=None, **_: keyed(job, options, numbers_as_written=True)
        )
        assert fill(shot_job(shot, earlier, threshold=1)).written == list(FRAMES)
    for threshold in (1, 1.0):
        again = fill(shot_job(shot, earlier, threshold=threshold))
        assert (again.written, again.skipped) == ([], list(FRAMES))


def test_frames_an_earlier_aifx_made_with_threshold_1_resume_under_threshold_1_0(shot, tmp_path, monkeypatch):
    """Frames an aifx before 2026-12-07 made from a job file's ``"threshold": 1`` carry the key of the 1 as
    written; ``aifx fill --threshold 1`` (the job holds 1.0) was refused as "made with different settings",
    since only the job's own spelling of the number was tried. Either spelling of a whole number finds them done,
    with the paths spelled another way too."""
    keyed = FillJob.resume_key
    made = []
    for name in ("plain", "abs"):
        out = tmp_path / name / "clean.####.exr"
        with monkeypatch.context() as patched:  # (how an aifx before 2026-12-07 keyed it)
            patched.setattr(
                FillJob,
                "resume_key",
                lambda job, options=None, **_: keyed(job, options, numbers_as_written=True),
            )
            assert fill(shot_job(shot, out, threshold=1)).written == list(FRAMES)
        made.append(out)
    again = fill(shot_job(shot, made[0], threshold=1.0))
    assert (again.written, again.skipped) == ([], list(FRAMES))
    monkeypatch.chdir(tmp_path)
    again = fill(shot_job(shot, Path("abs") / "clean.####.exr", threshold=1.0))  # (as typed in the folder)
    assert (again.written, again.skipped) == ([], list(FRAMES))


@pytest.mark.parametrize("keyframes", [150, "150", ["1001", "150"], (1001, 150)])
def test_keyframes_outside_the_shot_are_refused_however_they_are_written(shot, tmp_path, keyframes):
    """A job file's keyframes as the backends read them: one number, numbers as text, a list or a tuple."""
    job = shot_job(
        shot, tmp_path / "o" / "clean.####.exr", backend="propagate", options={"keyframes": keyframes}
    )
    with pytest.raises(InputError, match="keyframes 150: not frames of the shot"):
        fill(job)
    assert not (tmp_path / "o").exists()


def test_side_outputs_under_home_and_a_job_a_file_cannot_hold(shot, tmp_path, monkeypatch):
    """``~/out/sheet.png`` and ``save_job="~/out/job.json"`` were read as a folder "./~" (refused after the output
    folder was made); a Python object option with ``save_job`` failed in json with a TypeError."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    job = shot_job(shot, "~/out/c.####.exr", contact_sheet="~/out/sheet.png")
    result = fill(job, save_job="~/out/job.json")
    assert result.contact_sheet == str(home / "out" / "sheet.png")
    assert (home / "out" / "sheet.png").is_file() and (home / "out" / "job.json").is_file()
    assert not (tmp_path / "~").exists()
    with pytest.raises(InputError, match="option flow_estimator is a Python object"):
        fill(
            shot_job(
                shot,
                tmp_path / "o2" / "c.####.exr",
                backend="propagate",
                options={"flow_estimator": DISFlow("fast")},
            ),
            save_job="j.json",
        )
    assert not (tmp_path / "o2").exists()


def test_a_plate_whose_chromaticities_are_of_no_standard_space_is_filled_with_a_note(tmp_path):
    from shot_files import object_matte, plate_frame, write_exr

    awg3 = (0.684, 0.313, 0.221, 0.848, 0.0861, -0.102, 0.3127, 0.329)
    shot = tmp_path / "shot"
    shot.mkdir()
    for i, frame in enumerate((1001, 1002)):
        write_exr(shot / f"plate.{frame:04d}.exr", plate_frame(i), chromaticities=awg3)
        cv2.imwrite(str(shot / f"mask.{frame:04d}.png"), object_matte(i))
    result = fill(shot_job(shot, tmp_path / "out" / "clean.####.exr"))
    assert [n for n in result.notices if "chromaticities" in n and "--colorspace" in n], result.notices
    named = fill(shot_job(shot, tmp_path / "named" / "clean.####.exr", colorspace="Linear ARRI Wide Gamut 3"))
    assert not [n for n in named.notices if "chromaticities" in n]


def test_the_same_model_spelled_another_way_resumes(shot, tmp_path, monkeypatch):
    """The resume key held the file options (model, config, reference) as typed: the same model given as
    ``models/lama.pt`` and then by its absolute path (what `aifx submit` and Ray send) was refused as "made
    with different settings". Frames made under the key of the model as typed still resume."""
    pytest.importorskip("torch")
    from tiny_models import cached_build

    from aifx_core.serve.paths import absolute_options

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "lama.pt").write_bytes(cached_build("lama", tmp_path).read_bytes())
    job = FillJob(
        input="shot/plate.####.exr", mask="shot/mask.####.png", output="out/c.####.exr", backend="lama",
        options={"model": "models/lama.pt", "size": 64, "per_frame": True},
    )  # fmt: skip
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    sent = absolute_options(absolute_paths(job))  # what `aifx submit` and `aifx run --executor ray` send
    assert sent.options["model"] == str(tmp_path / "models" / "lama.pt")
    again = fill(sent)
    assert again.written == [1004, 1005, 1006] and again.skipped == [1001, 1002, 1003]
    assert fill(replace(job, options={**job.options, "model": "./models/../models/lama.pt"})).written == []
    # An output made before: keyed on the paths as the files they name, the model as typed.
    manifest = tmp_path / "out" / ".c.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    old_key = absolute_paths(job).resume_key(pixel_options(job.backend, job.options))
    data["frames"] = {frame: old_key for frame in data["frames"]}
    manifest.write_text(json.dumps(data))
    assert fill(job).written == [] and fill(sent).written == []


def test_a_model_replaced_at_the_same_path_is_not_taken_for_done(shot, tmp_path, monkeypatch):
    """Other weights copied over the model's path between two runs: the resume kept the finished frames and
    made the rest with the new model, one shot from two models without a word (plates and roto re-rendered were
    refused, the model was not). The frames record the model's fingerprint now; a changed one is refused as a
    changed plate is, and frames made before models were recorded still resume."""
    pytest.importorskip("torch")
    from tiny_models import build_tiny_lama, cached_build

    monkeypatch.chdir(tmp_path)
    model = tmp_path / "models" / "lama.pt"
    model.parent.mkdir()
    model.write_bytes(cached_build("lama", tmp_path).read_bytes())
    job = FillJob(
        input=str(shot / "plate.####.exr"), mask=str(shot / "mask.####.png"), output="out/c.####.exr",
        backend="lama", options={"model": "models/lama.pt", "size": 64, "per_frame": True},
    )  # fmt: skip
    assert fill(job, frames="1001-1003").written == [1001, 1002, 1003]
    assert fill(job).written == [1004, 1005, 1006]  # the same model: resumed
    (tmp_path / "out" / "c.1006.exr").unlink()
    model.write_bytes(build_tiny_lama(tmp_path / "other.pt", nan=True).read_bytes())  # new weights, same path
    with pytest.raises(InputError) as refused:
        fill(job)
    assert str(refused.value).startswith(
        "out/c.####.exr: the inputs of 5 finished frame(s) changed since they were made (first: the model "
        "models/lama.pt, which frame 1001 was made with; "
    )
    assert not (tmp_path / "out" / "c.1006.exr").exists()
    # Frames made before models were recorded resume (an absent fingerprint is accepted).
    manifest = tmp_path / "out" / ".c.####.exr.aifx.json"
    data = json.loads(manifest.read_text())
    assert set(data.pop("models")) == {"1001", "1002", "1003", "1004", "1005", "1006"}
    manifest.write_text(json.dumps(data))
    model.write_bytes(cached_build("lama", tmp_path).read_bytes())
    resumed = fill(job)
    assert resumed.written == [1006] and resumed.skipped == [1001, 1002, 1003, 1004, 1005]


def test_half_frames_an_older_aifx_made_of_a_16_bit_plate_are_made_again_as_float(tmp_path):
    """An EXR output of a 16-bit plate was half before 2026-12-06, which moved most samples outside the mask
    off the plate's code. Resumed, the rest of the shot was written as float and the half frames were taken for
    done: one shot of two pixel types, the old rounding kept. They are made again now, with a note, and the shot
    is what one run of today makes."""
    from shot_files import HEIGHT, WIDTH, frame_bytes, write_exr

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1005))  # (its masks; the plate is 16-bit PNG)
    rng = np.random.default_rng(16)
    for frame in range(1001, 1005):
        codes = rng.integers(0, 65536, (HEIGHT, WIDTH, 3), dtype=np.uint16)
        cv2.imwrite(str(shot / f"plate.{frame}.png"), codes)
    job = FillJob(
        input=str(shot / "plate.####.png"),
        mask=str(shot / "mask.####.png"),
        output=str(tmp_path / "o" / "c.####.exr"),
        backend="telea",
    )
    fill(job)
    for frame in (1001, 1002):  # as the aifx before wrote them: the same frames in half
        path = tmp_path / "o" / f"c.{frame}.exr"
        _, channels = read_exr(path)
        write_exr(path, {name: plane.astype(np.float16) for name, plane in channels.items()})

    again = fill(job)
    assert again.written == [1001, 1002]
    assert [n for n in again.notices if "half" in n] == [
        f"note: {tmp_path / 'o' / 'c.####.exr'}: frame(s) 1001-1002 were written as half float by an earlier "
        "aifx, which moved the plate's values outside the mask; they are made again as float, like the rest "
        "of the shot"
    ]
    fresh = fill(replace(job, output=str(tmp_path / "fresh" / "c.####.exr")))
    assert fresh.written == [1001, 1002, 1003, 1004]
    for frame in fresh.written:
        assert frame_bytes(tmp_path / "o" / "c.####.exr", frame) == frame_bytes(
            tmp_path / "fresh" / "c.####.exr", frame
        )
    assert fill(job).written == []  # (float frames are done)


def test_frames_an_earlier_longer_fill_left_beyond_a_trimmed_shot_are_named_and_kept(shot, tmp_path):
    """A shot trimmed in editorial (1001-1006 to 1001-1004) filled again with --overwrite into its output wrote
    its 4 frames and said nothing of 1005-1006, left from the longer fill: a Read of the output took them as the
    shot's. They are named in one note now, and left on disk: a run (a farm chunk above all) never touches
    frames but its own."""
    import shutil

    out = tmp_path / "o" / "c.####.exr"
    assert not [n for n in fill(shot_job(shot, out)).notices if "not frames of this shot" in n]
    before = digest(tmp_path / "o")
    trimmed = tmp_path / "trimmed"
    trimmed.mkdir()
    for frame in range(1001, 1005):
        for name in (f"plate.{frame}.exr", f"mask.{frame}.png"):
            shutil.copy(shot / name, trimmed / name)
    job = shot_job(trimmed, out, dilate=5, overwrite=True)
    result = fill(job)
    assert result.written == [1001, 1002, 1003, 1004]
    note = (
        f"note: {out}: frame(s) 1005-1006 there are not frames of this shot (1001-1004): an earlier run made "
        "them with other settings or another frame range, and they are left as they are; delete them if the "
        "shot no longer has them (a Read of the sequence takes them too)"
    )
    assert note in result.notices
    after = digest(tmp_path / "o")
    assert {n: after[n] for n in ("c.1005.exr", "c.1006.exr")} == {
        n: before[n] for n in ("c.1005.exr", "c.1006.exr")
    }
    assert note in fill(job, frames="1001-1002").notices  # (a chunk says it too, and leaves them)
    assert digest(tmp_path / "o")["c.1006.exr"] == before["c.1006.exr"]
    (tmp_path / "o" / "c.1005.exr").unlink()
    (tmp_path / "o" / "c.1006.exr").unlink()
    assert not [n for n in fill(replace(job, overwrite=False)).notices if "not frames of this shot" in n]


def _one_error_line(done) -> str:
    """The one ``aifx: error:`` line of a refused CLI run (exit 2)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("aifx: error: "), done.stderr
    return lines[0].removeprefix("aifx: error: ")


def test_frames_to_write_are_named_for_a_python_caller_and_the_command_line(shot, tmp_path):
    """``fill(job, frames=[])`` said ``--frames names no frame`` to a Python caller, who gave no flag. The frames a
    run writes are now named both ways, ``aifx run``'s flag and ``fill``'s argument, as the core names a setting
    for both audiences elsewhere (``-m "" or "mask": ""``): the same line from the API and from the CLI."""
    from cli_runner import aifx

    job = shot_job(shot, tmp_path / "o" / "clean.####.exr")
    with pytest.raises(InputError) as empty:
        fill(job, frames=[])
    assert str(empty.value) == "--frames (fill(frames=...)) names no frame; give frames like 1026-1050"
    said = (
        "--frames (fill(frames=...)) 5000: not in the job's shot (1001-1006); give frames of the shot, or "
        "widen the job's frames"
    )
    for frames in ([5000], "5000"):
        with pytest.raises(InputError) as outside:
            fill(job, frames=frames)
        assert str(outside.value) == said
    with pytest.raises(InputError) as unread:
        fill(job, frames="10x")
    assert str(unread.value).startswith("--frames (fill(frames=...)) '10x': cannot read '10x'")
    job.save(tmp_path / "job.json")
    assert _one_error_line(aifx("run", str(tmp_path / "job.json"), "--frames", "5000")) == said
    assert not (tmp_path / "o").exists()


def test_a_mask_channel_the_plate_lacks_is_named_for_a_python_caller_and_the_command_line(shot, tmp_path):
    """``FillJob(mask_channel="Q")`` from Python was told ``pass --mask-channel one of them``, a flag it never
    gave, and a plate without alpha ``pass --mask MASK or --mask-channel NAME``. Both now name the flag and the
    job's field, as the core's other refusals of a setting do (``-m "" or "mask": ""``): the same line from the
    API and from ``aifx fill``."""
    from cli_runner import aifx
    from shot_files import write_exr

    out = tmp_path / "o" / "clean.####.exr"
    plate = shot / "plate.1001.exr"
    pick = (
        f"{plate}: no channel 'Q' (channels: A, B, G, R, Z); give one of them as the mask channel "
        '(--mask-channel NAME or "mask_channel": NAME)'
    )
    with pytest.raises(InputError) as caught:
        fill(replace(shot_job(shot, out), mask=None, mask_channel="Q"))
    assert str(caught.value) == pick
    command = ["fill", str(shot / "plate.####.exr"), "-o", str(out), "--backend", "telea"]
    assert _one_error_line(aifx(*command, "--mask-channel", "Q")) == pick
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    half = np.zeros((24, 32), np.float16)
    write_exr(rgb / "plate.1001.exr", {"R": half, "G": half, "B": half})
    give = (
        f"{rgb / 'plate.1001.exr'}: no alpha channel to use as the mask (channels: B, G, R); give a mask "
        '(--mask MASK or "mask": MASK) or the channel that holds the matte (--mask-channel NAME or '
        '"mask_channel": NAME)'
    )
    with pytest.raises(InputError) as caught:
        fill(FillJob(input=str(rgb / "plate.####.exr"), output=str(out), backend="telea"))
    assert str(caught.value) == give
    assert _one_error_line(aifx("fill", str(rgb / "plate.####.exr"), "-o", str(out))) == give
    assert not list(out.parent.glob("clean.*"))  # (refused at the first frame: nothing written)


def test_mask_frames_short_of_the_shot_are_named_for_a_python_caller_and_the_command_line(shot, tmp_path):
    """A mask missing frame 1003 told a Python caller ``render the mask for those frames or limit --frames``, a
    flag it never gave (and ``Sequence.read`` of a frame it lacks ``check --frames``). The frames are now named
    both ways, the flag and the job's field, as the other refusals of a setting are: the same line from the API
    and from ``aifx fill``."""
    from cli_runner import aifx

    from aifx_core.sequence import open_sequence

    (shot / "mask.1003.png").unlink()
    out = tmp_path / "o" / "clean.####.exr"
    said = (
        f"{shot / 'mask.####.png'}: mask frames 1003 missing (the plate has 1001-1006); render the mask for "
        'those frames or limit the frames (--frames RANGE or "frames": RANGE)'
    )
    with pytest.raises(InputError) as caught:
        fill(shot_job(shot, out))
    assert str(caught.value) == said
    command = ["fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out)]
    assert _one_error_line(aifx(*command, "--backend", "telea")) == said
    assert not out.parent.exists()
    masks = open_sequence(str(shot / "mask.####.png"), skip_missing=True, role="mask")
    with pytest.raises(InputError) as caught:
        masks.read(1003)
    assert str(caught.value).endswith(
        '(1001-1002,1004-1006); check the frames asked for (--frames RANGE or "frames": RANGE)'
    )
