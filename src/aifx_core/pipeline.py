"""``fill(job)``: the one orchestration behind the CLI, the adapters, the server and Ray.

Read top to bottom it is the data flow: open the plate and the mask, decide which frames are still to do
(resume), stream packets lazily into the backend, composite each result inside the feathered mask only, and
write it atomically. Memory is bounded by the backend's window plus the frames it has not returned yet.

**Exact chunks.** ``fill(job, frames=...)`` writes only those frames of the job's shot (``job.frames`` stays
the whole shot), bit-identical to the same frames of a whole-shot run. A chunked backend
(:class:`~aifx_core.inpaint.ChunkedFill`, e.g. ``propagate``) says which context each run of frames needs
(``chunk_context``); the frames still to do are cut into runs, each widened by its context, overlapping ones merged,
and each read once. Keyframe decisions are the shot's, made once by the anchors stage and cached
(:mod:`aifx_core.anchors`, :func:`prepare_anchors`); a whole-shot run makes them as it goes and caches them
too, so a later resume reads only the unfinished frames plus their context. Other temporal backends read the
whole shot (exact by construction); per-frame backends read only the frames to do.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import numbers
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import OpenEXR

from .anchors import CACHE_SUFFIX, AnchorStore, cache_folder
from .backends import check_options, create_backend, is_per_frame, pixel_options, route
from .backends import get as registered_backend
from .colour import (
    DEFAULT_FLOAT_COLORSPACE,
    DEFAULT_INTEGER_COLORSPACE,
    check_colorspace,
    doubt_of,
    guess_colorspace,
    interop_id,
    is_linear,
    log_transfer,
    resolve_colorspace,
)
from .composite import composite
from .confidence import FOLDER as CONFIDENCE_FOLDER
from .confidence import adopt as adopt_confidence
from .confidence import attach as attach_confidence
from .confidence import (
    carried,
    carried_notice,
    check_sidecars,
    confidence_map,
    has_sidecars,
    sidecar_path,
)
from .confidence import forget as forget_confidence
from .errors import AifxError, InputError
from .inpaint import Anchor, BackendContext, FramePacket, Span
from .inpaint.models import absolute_options
from .manifest import (
    LOCK_SUFFIX,
    MANIFEST_SUFFIX,
    Manifest,
    OutputLock,
    fault_point,
    folder_kept,
    lock_path,
    manifest_path,
    run_key,
    settings_keys,
)
from .mask import DROPOUT_RUN, MaskSource, dropouts_read, feather_weight, make_hole, open_mask
from .progress import CancelToken, ProgressCallback, Reporter
from .protocol import events
from .protocol.job import FillJob, absolute_paths, refuse_empty_path
from .sequence import (
    FORMATS,
    JOB_FRAMES,
    FramePattern,
    Image,
    ProtectedFiles,
    Sequence,
    atomic_write,
    check_frame_paths,
    check_names_fit,
    check_outside_input_folder,
    check_side_output,
    check_writable,
    clean_stale_temps,
    earlier_beside,
    format_frames,
    frame_numbers,
    frame_spec_items,
    missing_folders,
    open_sequence,
    output_pattern,
    parse_frame_spec,
    protected_inputs,
    read_image,
    read_info,
    remove_made_folders,
    write_image,
)
from .sequence.atomic import DiskError
from .sequence.exr import LOSSY
from .sequence.image import colour_alpha, layer_of, to_float, unfilled_colour
from .sequence.imageio import check_output_compression, rounded_to_half
from .sequence.raster import (
    MAX_PAGES,
    png_whole,
    target_dtype,
    written_channels,
)
from .sequence.smpte import KEEPING_FORMATS, held
from .sequence.window import beyond_display, in_display_window, reframe, windows
from .workers import InOrder, check_environment, overlap

#: Warn when the hole covers at least this fraction of a frame (what no other frame saw there is invented).
HOLE_WARNING = 0.5


@dataclass
class FillResult:
    """What a job did: frames written now, frames skipped as already done, where they went."""

    output: str
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    contact_sheet: str | None = None
    #: One-line notes for the user: what the output format could not keep, a lossy compression not reused,
    #: a hole covering most of the frame.
    notices: list[str] = field(default_factory=list)
    #: How many of the frames this run filled had a hole (a driver of chunks adds them up: none over the whole
    #: shot is a mask that selects nothing, which no chunk alone can tell).
    holed: int = 0


def empty_mask_warning(frames: list[int]) -> str:
    """The warning of a whole shot whose mask is empty on every frame (the plate is written back as it is)."""
    return (
        f"warning: the mask is empty on every frame ({frames[0]}-{frames[-1]}): nothing was filled, the output "
        f"is the plate; {events.CHECK_EMPTY_MASK}"
    )


def fill(
    job: FillJob | dict | str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    frames: Iterable[int] | int | str | None = None,
    save_job: str | os.PathLike | None = None,
    job_file: str | os.PathLike | None = None,
    written: Iterable[int] = (),
) -> FillResult:
    """Run a fill job; ``job`` may be a :class:`FillJob`, its dict, or the path of a saved job JSON.

    ``frames`` (frame numbers, or a range text such as ``"1026-1050"`` or ``"1001-1010,1020-1030"``) writes
    only those frames of the job's shot, bit-identical to the same frames of a whole-shot run (see the module
    docstring); a frame outside the shot is an :class:`InputError`, but a span ``a-b`` between two frames of the
    shot means the shot's frames in it (a farm chunk on a shot on twos; :func:`select_frames`). ``save_job`` also writes the job to that
    file: checked with everything else before any work, written (atomically) only once every check has passed
    and the output's lock is taken, so a bad job never leaves a job file or replaces an input. ``job_file`` is the file the job was read from
    (``aifx run job.json``): it is an input too, so nothing the job writes may replace it (given a path as
    ``job``, that path is taken). ``written``: frames this same job wrote before it was interrupted (a server
    job resumed after a restart); with ``overwrite`` those the manifest has as made by this job's settings from
    today's inputs are not written again (:func:`_not_again`). Those not written again count as written by this
    job (``FillResult.written``, and the ``write`` progress goes on from them), not as skipped.
    """
    if job_file is None and isinstance(job, (str, os.PathLike)):
        job_file = job
    job = as_job(job)
    checked = preflight(job, save_job=save_job, job_file=job_file)
    selection = select_frames(frames, checked.plate.frames)
    check_frame_paths(checked.out, selection)  # (an existing frame path that is a folder: before any write)
    reporter = Reporter(progress, cancel)
    with _made_folders_removed_if_stopped(checked.out_dir):
        return _fill_checked(job, checked, selection, reporter, written)


def _fill_checked(
    job: FillJob, checked: Checked, selection: list[int], reporter: Reporter, written: Iterable[int]
) -> FillResult:
    """:func:`fill` once every check that changes nothing has passed (``checked``): from the making of the
    output folder on."""
    plate, out, mask = checked.plate, checked.out, checked.mask
    protected, out_dir, sheet, saved = checked.protected, checked.out_dir, checked.sheet, checked.saved
    # Created (and probed) here: a contact sheet or saved job next to the frames (`-o out/clean.####.exr
    # --contact-sheet out/sheet.png` on a fresh machine) goes into the folder the job makes.
    check_writable(out_dir)  # fail now, not after minutes of model loading
    _check_names(out, plate, out_dir, job.confidence)

    sides = out_dir / CONFIDENCE_FOLDER  # (the confidence sidecars' temps, by the same rules as the frames')
    clean_stale_temps(out_dir)
    clean_stale_temps(sides)

    run = _RunSetup.of(job, plate, out, mask)
    kept = folder_kept(out_dir, cache_folder(out))
    left_by_killed = lambda: _clean_killed_temps(out, plate.frames, (sheet, saved))  # noqa: E731
    with (
        OutputLock(out, run.key, str(out), run.accepted, left_by_killed, per_shot=run.per_shot) as lock,
        kept,
    ):
        if not lock.joined:  # alone on this output: a killed run's temp files of its frames are stale now
            clean_stale_temps(out_dir, 0.0, {out.path(f).name for f in plate.frames})
            if has_sidecars(out):
                clean_stale_temps(sides, 0.0, {sidecar_path(out.path(f)).name for f in plate.frames})
        # The side outputs (saved job, contact sheet) are written under the lock, so a run alone on it takes their
        # temps beside them for a killed run's at once; one that joined others, once over 5 minutes old. No
        # folder clean-up reaches them (a review folder of their own), so each removes its own.
        side_age = 300.0 if lock.joined else 0.0
        if saved is not None:  # (once the lock is taken: a run refused for other settings saves no job)
            clean_stale_temps(saved.parent, side_age, {saved.name})
            _as_saved(job).save(saved)
        with lock.exclusive():
            # Every manifest write (any run's of the group) is made in this section: a temp of it is a killed one's.
            if lock.supported:
                record = manifest_path(out)
                clean_stale_temps(record.parent, 0.0, {record.name})
            manifest = Manifest.load(out, job, run.key, lock, run.accepted)
            manifest.inputs = lambda frame: _input_files(plate, mask, frame)
            _model_of(job, manifest)
            existing = _on_disk(out, selection)
            if not job.overwrite and selection != list(plate.frames):  # a chunk: the shot's other frames too
                manifest.refuse_foreign(_on_disk(out, plate.frames), str(out), selection)
            todo = manifest.plan(selection, existing, job.overwrite, str(out))
            mine = set(written)
            if job.overwrite and mine:
                todo = _not_again(manifest, todo, existing, mine, str(out))
            if job.confidence and has_sidecars(out):
                todo = _lost_confidence(todo, selection, existing, out, protected)
            unreadable = _unreadable_outputs(todo, selection, existing, out, manifest)
            todo = [f for f in selection if f in unreadable or f in todo]
            halved = _rounded_to_half(todo, selection, existing, out, plate)
            left = manifest.left_over(plate.frames)
            todo = [f for f in selection if f in halved or f in todo]
            manifest.record_range(plate.frames)
            manifest.rekey()  # (frames made under the key of the paths as written: taken by every spelling now)
        # The frames this job wrote before its interruption and keeps are its own writes, not "already done":
        # its write count goes on from them (after 5/41 comes 6/41, not 1/36).
        earlier = [f for f in selection if f in mine and f not in todo]
        result = FillResult(
            output=str(out),
            written=earlier,
            skipped=[f for f in selection if f not in todo and f not in mine],
        )
        result.notices.extend(mask.notices)
        if unreadable:
            result.notices.append(
                f"note: {out}: finished frame(s) {format_frames(sorted(unreadable), max_parts=4)} on disk are empty "
                "or cannot be read (cut short or damaged since they were written); they are made again"
            )
        if halved:
            result.notices.append(
                f"note: {out}: frame(s) {format_frames(sorted(halved), max_parts=4)} were written as half float by "
                "an earlier aifx, which moved the plate's values outside the mask; they are made again as float, "
                "like the rest of the shot"
            )
        if left:
            result.notices.append(left_over_note(str(out), left, plate.frames))
        if job.feather > DEFAULT_FEATHER and run.keeps_plate:
            ran = run.name if run.name == job.backend else f"{job.backend} (on a sequence: under {run.name})"
            result.notices.append(feather_note(job.feather, ran))
        if run.name == "propagate" and given_keyframes(job.options):
            from .propagate.options import PropagateOptions  # (the engine, imported only where it runs)

            interval = PropagateOptions.from_dict(dict(run.context.options)).keyframe_interval
            note = keyframes_note(given_keyframes(job.options), interval, plate.frames)
            if note:
                result.notices.append(note)
        if todo:
            _fill_frames(job, plate, mask, out, manifest, todo, run, reporter, result, protected)
        else:
            reporter("write", len(earlier), len(earlier), None, "all frames already done")
        # A chunk (frames short of the shot) leaves the shot's sheet to the whole-shot run after every chunk
        # (Ray's last task, OpenJD's Sheet step): chunks ending together would each write theirs over it.
        if job.contact_sheet is not None and selection == list(plate.frames):
            from .contact_sheet import before_after_sheet

            # The outline is the hole as filled: the job's threshold and dilate (a matte read at 0.5 was not).
            filled = lambda frame: make_hole(mask.matte(frame), job.threshold, job.dilate)  # noqa: E731
            result.contact_sheet = str(
                before_after_sheet(
                    sheet or job.contact_sheet, plate, out, selection, mask=filled, stale_after=side_age
                )
            )
    return result


def _on_disk(out: FramePattern, frames: Iterable[int]) -> set[int]:
    """Which of ``frames`` have an output file now."""
    return {f for f in frames if Path(out.path(f)).exists()}


@contextlib.contextmanager
def _made_folders_removed_if_stopped(folder: Path) -> Iterator[None]:
    """Around a run from the making of its output ``folder`` on: a run refused or stopped before it wrote into
    the folders it made (a name too long for them, a model file found missing as it loads, Ctrl+C) removes
    them again, so a refusal leaves no empty folder behind. Only the folders this run made, and each only while
    it is empty (:func:`~.sequence.remove_made_folders`)."""
    made = missing_folders(folder)
    try:
        yield
    except BaseException:
        remove_made_folders(made)
        raise


@dataclass
class Checked:
    """What :func:`preflight` opened and decided: the plate, the output as opened, the mask, the files the job
    must not write onto, the output folder (not made yet), and the side outputs' paths (None: not asked)."""

    plate: Sequence
    out: FramePattern
    mask: MaskSource
    protected: ProtectedFiles
    out_dir: Path
    sheet: Path | None = None
    saved: Path | None = None


def preflight(
    job: FillJob, *, save_job: str | os.PathLike | None = None, job_file: str | os.PathLike | None = None
) -> Checked:
    """Every check :func:`fill` makes before any work that changes nothing on disk (no folder made, no file
    written): the job's fields, options and colourspace, the plate, the output pattern and its compression,
    the mask and its channel, what the output, its confidence frames, the contact sheet and the saved job
    (``save_job``) must not land on (the plate, the mask, ``job_file``, each other). One list for
    ``aifx run`` and ``aifx serve``'s submit, so a job the run would refuse at once is a 422 at submit with
    the same line, never a queued job that fails when a worker takes it. Raises :class:`InputError`."""
    job.validate()
    check_environment()  # AIFX_THREADS, AIFX_FLOW_PROCESS
    check_options(job.backend, job.options)  # a typo or a bad value fails now, not after flow or a model load
    check_colorspace(job.colorspace)  # (before anything is read or written)
    refuse_empty_path(
        save_job, "saved job", '--save-job ""', "to save no job, or give a file such as job.json"
    )
    if save_job is not None:
        _check_savable(job)
    plate = open_plate(job)
    check_keyframes(job, plate.frames)
    out = output_pattern(job.output, plate)
    check_output_compression(
        FORMATS.get(out.extension, ""), job.compression
    )  # (EXR's: not at the first write)
    mask = open_mask(job.mask, job.mask_channel, plate, invert=job.invert_mask, threshold=job.threshold)
    mask.check_channel()  # (from the first frame's header: not after flow or a model load)
    _check_outside_folders(job, out, plate, mask)
    protected = protected_inputs(plate, mask.mask)
    if job_file is not None:
        protected.add(job_file, "job file")
    for frame in plate.frames:
        protected.refuse(out.path(frame), "output frame", "-o/--output")
    protected.add_frames(out, "output frame", plate.frames)  # side outputs must not land on frames either
    protect_beside_output(protected, out)
    if job.confidence:
        check_sidecars(out, plate.frames, protected)
    out_dir = Path(out.path(plate.frames[0])).parent
    checked = Checked(plate, out, mask, protected, out_dir)
    if job.contact_sheet is not None:
        checked.sheet = check_side_output(
            job.contact_sheet,
            "contact sheet",
            protected,
            suffixes=(".png",),
            example="contact_sheet.png",
            flag="--contact-sheet",
            made=out_dir,
        )
    if save_job is not None:
        checked.saved = check_side_output(
            save_job,
            "saved job",
            protected,
            suffixes=(".json",),
            example="job.json",
            flag="--save-job",
            made=out_dir,
            why="so no job or farm template (UTF-8 text) can name it",
        )
    return checked


def protect_beside_output(protected: ProtectedFiles, out: FramePattern) -> None:
    """Add what the run keeps beside its output frames to ``protected``: its manifest and lock file, and its cache
    folder as one nothing may be written into, each as named now and as an earlier aifx named it (the names a run
    still reads, :func:`~.sequence.earlier_beside`). ``--save-job o/.clean.####.png.aifx.json`` was written, then
    overwritten by the manifest (exit 0, the job lost), and a job saved over a finished output's manifest would
    have lost its record of the frames."""
    for path, suffix, role in (
        (manifest_path(out), MANIFEST_SUFFIX, "output's manifest"),
        (lock_path(out), LOCK_SUFFIX, "output's lock file"),
    ):
        for named in (path, *earlier_beside(out, suffix)):
            protected.add(named, role)
    for folder in (cache_folder(out), *earlier_beside(out, CACHE_SUFFIX)):
        protected.add_folder(folder, "output's cache folder")


def _clean_killed_temps(out: FramePattern, frames: list[int], sides: Iterable[Path | None]) -> None:
    """Remove the temp files a killed run of this output left, whatever their age: its frames', their confidence
    sidecars', the manifest's and this run's side outputs' (``sides``: the saved job, the contact sheet). Run by
    the group's last holder of the output's lock as it lets go (``OutputLock.on_last``): a run that joined
    others took nothing for stale when it started, since they were writing, and one of them may have been
    killed since (its frame's temp complete, the rename never made)."""
    files = [Path(out.path(f)) for f in frames]
    if has_sidecars(out):
        files += [sidecar_path(out.path(f)) for f in frames]
    files += [manifest_path(out), *(Path(p) for p in sides if p is not None)]
    folders: dict[Path, set[str]] = {}
    for path in files:
        folders.setdefault(path.parent, set()).add(path.name)
    for folder, names in folders.items():
        clean_stale_temps(folder, 0.0, names)


def left_over_note(output: str, left: list[int], shot: list[int]) -> str:
    """The note naming frames an earlier fill left beyond the shot (:meth:`.manifest.Manifest.left_over`)."""
    return (
        f"note: {output}: frame(s) {format_frames(left, max_parts=4)} there are not frames of this shot "
        f"({format_frames(shot, max_parts=4)}): an earlier run made them with other settings or another frame "
        "range, and they are left as they are; delete them if the shot no longer has them (a Read of the "
        "sequence takes them too)"
    )


def _not_again(
    manifest: Manifest, todo: list[int], existing: set[int], written: set[int], name: str
) -> list[int]:
    """``todo`` of an overwriting job less the frames it already wrote before an interruption: overwrite means
    "replace what was there before this job", not "from frame one after every restart". Only frames the manifest
    has as made with this run's key from unchanged inputs are kept (its resume checks, as without overwrite);
    if any is not, all of them are written again."""
    kept = [f for f in todo if f in written and f in existing]
    if not kept:
        return todo
    try:
        again = set(manifest.plan(kept, existing & set(kept), False, name))
    except InputError:  # made with other settings since, or an input changed: overwrite them after all
        return todo
    return [f for f in todo if f not in kept or f in again]


def _lost_confidence(
    todo: list[int], selection: list[int], existing: set[int], out: FramePattern, protected: ProtectedFiles
) -> list[int]:
    """``todo`` plus the finished frames whose confidence sidecar is gone (removed by hand, or by an older aifx's
    run of another format into the same folder, which shared its sidecars): they are made again, since a run
    asking for the confidence is done only when each frame has it. The frames kept first get their sidecar of
    the earlier name renamed to today's (:func:`~.confidence.adopt`), so the output has one sequence; one that
    cannot be (a file the job reads) counts as gone, and so does one cut short (:func:`~.sequence.raster.png_whole`:
    the empty files an earlier aifx left on a full disk without noticing)."""
    for frame in existing.difference(todo):
        adopt_confidence(out.path(frame), protected)
    lost = {f for f in existing if not png_whole(sidecar_path(out.path(f)))}
    if not lost:
        return todo
    again = lost | set(todo)
    return [f for f in selection if f in again]


def _unreadable_outputs(
    todo: list[int], selection: list[int], existing: set[int], out: FramePattern, manifest: Manifest
) -> set[int]:
    """The finished frames not in ``todo`` that are empty, cut short or damaged since the run wrote them (aifx
    itself writes whole files only), so a resume took them for done. A frame whose size and time are what the
    manifest recorded at its write is whole (a stat). One of another size is read in full: a header is whole
    in a frame cut past it, so that is the only read that tells a cut frame from a paint fix by hand, which
    reads fine and is the artist's, kept (docs/troubleshooting.md). Any other (changed in place, or made
    before sizes were recorded) has its header read."""
    waiting = set(todo)
    damaged = set()
    for frame in selection:
        if frame not in existing or frame in waiting:
            continue
        state = manifest.output_state(frame)
        if state == "same":
            continue
        try:
            (read_image if state == "resized" else read_info)(out.path(frame))
        except (InputError, OSError):
            damaged.add(frame)
    return damaged


def _rounded_to_half(
    todo: list[int], selection: list[int], existing: set[int], out: FramePattern, plate: Sequence
) -> set[int]:
    """The finished frames not in ``todo`` that an aifx from before 2026-12-06 wrote as half from a 16-bit
    plate (a 10/12-bit DPX scan too: :func:`~.sequence.imageio.rounded_to_half`), which rounded most of their
    samples outside the mask: made again as float, a resumed shot holds one pixel type and every plate code.
    Only an EXR output of a plate that is not EXR is looked at (a header read per finished frame)."""
    if FORMATS.get(out.extension) != "exr" or FORMATS.get(plate.pattern.extension) == "exr":
        return set()
    waiting = set(todo)
    finished = [f for f in selection if f in existing and f not in waiting]
    return {f for f in finished if rounded_to_half(out.path(f), plate.path(f))}


def _model_fingerprint(job: FillJob) -> str | None:
    """The fingerprint of the model files (and reference image) the job's options name
    (``inpaint.models.model_fingerprint``): kept with each frame's inputs and the anchors, so other weights or
    another reference at the same path are never taken for done."""
    from .inpaint.models import model_fingerprint

    return model_fingerprint(job.options)


def _model_of(job: FillJob, manifest: Manifest) -> None:
    """Tell ``manifest`` the model this run fills with (:func:`_model_fingerprint`) and what that covers as the
    job names it (the model, and its reference image), for the message refusing frames made with another."""
    from .inpaint.models import fingerprinted_files

    manifest.model = _model_fingerprint(job)
    manifest.model_name = fingerprinted_files(job.options)


def _input_files(plate: Sequence, mask: MaskSource, frame: int) -> list[tuple[Path, bool]]:
    """The files output ``frame`` is made from, and whether each is known by its content (see
    :func:`~aifx_core.sequence.identity.source_identity`): its plate frame, and its mask file when the mask is not the
    plate's alpha. The manifest keeps what they were, so a rerun never takes a frame made from another version
    of them (a re-rendered plate, an updated roto) for done."""
    files = [(Path(plate.path(frame)), False)]
    if mask.mask is not None:
        files.append((Path(mask.mask.path(frame)), True))
    return files


def _shot_inputs(plate: Sequence, mask: MaskSource, shot: list[int]) -> list[tuple[Path, bool]]:
    """Every input file of the shot once (see :func:`_input_files`; a still mask is one file for every frame):
    what the anchors cache was made from."""
    seen: dict[tuple[Path, bool], None] = {}
    for frame in shot:
        seen.update(dict.fromkeys(_input_files(plate, mask, frame)))
    return list(seen)


def _as_saved(job: FillJob) -> FillJob:
    """The job ``save_job`` (``--save-job``) writes: its paths and file options absolute, as this run read them.
    Saved as typed, ``plates/plate.####.exr`` was read by ``aifx run`` (or a farm) against the folder it ran in:
    started from another shot's folder of the same layout, the job silently filled that shot."""
    return absolute_options(absolute_paths(job))


def _check_savable(job: FillJob) -> None:
    """A job given ``save_job`` must be one a file can hold: an option that is a Python object (a caller's
    ``flow_estimator``) is named now, before any work (it failed in ``json`` with a TypeError)."""
    for name, value in job.to_dict()["options"].items():  # (NumPy numbers, sets: as the file holds them)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise InputError(
                f"option {name} is a Python object ({type(value).__name__}), which a job file cannot hold; "
                "leave out save_job or that option"
            ) from None


def _check_outside_folders(job: FillJob, out: FramePattern, plate: Sequence, mask: MaskSource) -> None:
    """Nothing the job writes goes into a plate or mask given as a folder (see
    :func:`~.sequence.reader.check_outside_input_folder`; the output against the plate's is checked by
    :func:`~.sequence.reader.output_pattern`, which opened ``out``; the confidence sequence against both):
    checked before the output folder is made."""
    for source in (plate, mask.mask):
        if source is None:
            continue
        folder_input = cast(Sequence, source)  # (a mask sequence is one, seen through the mask's protocol)
        if source is not plate:
            check_outside_input_folder(out.path(plate.frames[0]), folder_input, str(out), "output")
        if job.confidence and has_sidecars(out):
            check_outside_input_folder(
                sidecar_path(out.path(plate.frames[0])),
                folder_input,
                str(sidecar_path(str(out))),
                "confidence sequence",
            )
        if job.contact_sheet is not None:
            check_outside_input_folder(
                Path(os.path.expanduser(job.contact_sheet)),
                folder_input,
                job.contact_sheet,
                "contact sheet (--contact-sheet)",
            )


def _check_names(out: FramePattern, plate: Sequence, folder: Path, confidence: bool) -> None:
    """The names a run makes beside its frames fit the folder's filesystem (see :func:`check_names_fit`; the
    confidence sidecars' names are the frames' plus ``.png``)."""
    frames = [out.path(frame).name for frame in (plate.frames[0], plate.frames[-1])]
    plain = [lock_path(out).name, cache_folder(out).name]
    sides = [sidecar_path(name).name for name in frames] if confidence and has_sidecars(out) else []
    check_names_fit(str(out), folder, plain, [*frames, *sides, manifest_path(out).name])


def given_keyframes(options: Mapping[str, Any]) -> list[int]:
    """The ``keyframes`` option's frame numbers, sorted, read as the backends read it (one number, or a list;
    numbers as text too); empty when none are given or they do not read as numbers."""
    keyframes = options.get("keyframes")
    if keyframes is None or (isinstance(keyframes, (str, list, tuple, set, frozenset)) and not keyframes):
        return []
    listed = [keyframes] if isinstance(keyframes, (numbers.Integral, str)) else keyframes
    try:
        return sorted({int(f) for f in listed})
    except (TypeError, ValueError):
        return []


def keyframes_note(keyframes: list[int], interval: int, shot: list[int]) -> str | None:
    """What ``--keyframes`` costs when it does not name every frame the model fills: the temporal engine fills
    one frame per block of ``interval`` frames (by position in the shot) that holds a hole, a given keyframe
    only replacing the automatic choice in its own block, so ``--keyframes 1001`` on 24 frames still made 6
    model calls. Names the number of blocks and, where one exists, the ``keyframe_interval`` that gives each
    keyframe a block of its own and no block without one. None when every block holds a given keyframe."""
    given = {shot.index(f) for f in keyframes if f in shot}
    blocks = -(-len(shot) // interval)
    if {p // interval for p in given} == set(range(blocks)) and len(given) == blocks:
        return None
    fits = [
        size
        for size in range(len(shot), 0, -1)
        if len({p // size for p in given}) == len(given) == -(-len(shot) // size)
    ]
    advice = (
        f"--option keyframe_interval={fits[0]} makes your {len(given)} keyframe(s) the only ones"
        if fits
        else "raise --option keyframe_interval for fewer"
    )
    return (
        f"note: --keyframes {format_frames(keyframes, max_parts=4)}: the model fills one keyframe in each block of "
        f"{interval} frames (keyframe_interval) that holds a hole, yours in its block: up to {blocks} keyframes "
        f"on these {len(shot)} frames; {advice}"
    )


def check_keyframes(job: FillJob, shot: list[int]) -> None:
    """Refuse ``keyframes`` (the option a generative fill is made on) that are not frames of the shot: the
    backend took only those that are, so a typo (``150`` for ``1050``) ran the default choice without a word.
    Read as the backends read it (one number, or a list; numbers as text too)."""
    wanted = given_keyframes(job.options)
    if not wanted:
        return  # (none given, or unreadable: the backend's options check, run before, says what is wrong)
    frames = set(shot)
    outside = [f for f in wanted if f not in frames]
    if outside:
        raise InputError(
            f"keyframes {format_frames(outside)}: not frames of the shot ({format_frames(shot)}); give "
            "keyframes within it, or leave them out to let aifx choose"
        )


#: What the frames a run writes are called in messages: the two ways they are given, ``aifx run``'s flag and
#: :func:`fill`'s argument, as the core's refusals of a setting name both (a job's own frames are its field:
#: :data:`~aifx_core.sequence.frames.JOB_FRAMES`).
FILL_FRAMES = "--frames (fill(frames=...))"


#: The job's default feather: a run whose backend keeps the plate around the hole says so only when the feather
#: was raised above it (a softer edge asked for, not given; the adapters send the feather always, and 0 is what
#: such a backend does anyway).
DEFAULT_FEATHER = FillJob(input="", output="").feather


def feather_note(feather: int, backend: str) -> str:
    """Why ``feather`` changed nothing: ``backend`` returns the plate's own values outside the hole (its fill meets
    the plate at the hole's edge, the seam stage matching the two), and the feather only blends what a backend
    returns *outside* the hole into the plate. An artist raising it to soften an edge is told what moves it.
    ``backend``: what ran, as the artist named it."""
    return (
        f'note: feather {feather} (--feather or "feather") changes nothing with the {backend} backend: outside '
        "the hole it returns the plate itself, so its fill already meets the plate at the hole's edge; the "
        "feather blends the pixels a backend changes around the hole (video-diffusion, a generative backend "
        'with per_frame); to move the fill\'s edge out, grow the hole (--dilate or "dilate")'
    )


def select_frames(frames: Iterable[int] | int | str | None, shot: list[int]) -> list[int]:
    """The frames a run writes: ``frames`` (numbers or a range text), which must lie in the shot; None: all.

    In a range text a span ``a-b`` whose ends are both frames of the shot means the shot's frames from ``a`` to
    ``b``: a farm names a chunk by its first and last frame (Deadline's ``<STARTFRAME>-<ENDFRAME>``,
    :func:`~aifx_core.chunks.plan_chunks`), and on a shot on twos or with gaps the frames between are not all
    the shot's. Any other frame not in the shot is refused, so a span reaching past the shot's ends (OpenCue's
    last chunk rounded up to a whole chunk) or ending on a frame the shot lacks is not guessed at.
    """
    if frames is None:
        return list(shot)
    wanted = (
        parse_frame_spec(frames, FILL_FRAMES)
        if isinstance(frames, str)
        else sorted(set(frame_numbers(frames, FILL_FRAMES)))
    )
    if not wanted:
        raise InputError(f"{FILL_FRAMES} names no frame; give frames like 1026-1050")
    inside = set(shot)
    spans = _shot_spans(frames, inside) if isinstance(frames, str) else []
    outside = [f for f in wanted if f not in inside and not any(f in span for span in spans)]
    if outside:
        raise InputError(
            f"{FILL_FRAMES} {format_frames(outside, max_parts=4)}: not in the job's shot "
            f"({format_frames(shot, max_parts=4)}); give frames of the shot, or widen the job's frames"
        )
    return [f for f in wanted if f in inside]


def _shot_spans(spec: str, shot: set[int]) -> list[range]:
    """The spans ``a-b`` of ``spec`` (no step) whose ends are both frames of the shot (see :func:`select_frames`)."""
    return [
        item
        for item in frame_spec_items(spec, FILL_FRAMES)
        if item.step == 1 and item[0] in shot and item[-1] in shot
    ]


@dataclass
class _RunSetup:
    """What the job runs as: the routed backend, its context, and the keys its frames are made under."""

    name: str
    context: BackendContext
    #: The key frames are made under: the settings, plus the shot for backends whose pixels depend on it. It
    #: is the output lock's group too: only runs making the same frames join (farm chunks share the shot, their
    #: range being ``fill(frames=...)``, not the job's); a run of another shot (the job's ``frames``, its
    #: ``skip_missing``, the plate's listing) is refused rather than writing its frames among the other's.
    key: str
    #: Keys frames made with these settings before had (paths keyed as written): done too (Manifest.accepted),
    #: and groups the lock joins. A per-frame backend's are the settings keys an aifx from before 2026-12-06
    #: holds the lock under; a whole-shot backend's hold the shot, so an older aifx's run of it (a group
    #: without the shot, which says nothing of its range) is refused until it ends, never joined.
    accepted: frozenset[str] = frozenset()
    #: Whether the backend's pixels depend on the shot (``key`` holds it): whole-shot, not per frame.
    per_shot: bool = False

    @property
    def keeps_plate(self) -> bool:
        """Whether the routed backend returns the plate around the hole (:attr:`.backends.Backend.keeps_plate`):
        the feather changes none of its pixels, and its confidence there is the plate's."""
        return registered_backend(self.name).keeps_plate

    @classmethod
    def of(cls, job: FillJob, plate: Sequence, out: FramePattern, mask: MaskSource) -> _RunSetup:
        # The routing rule (a generative backend on a sequence runs under the temporal engine) is the registry's.
        name, options = route(job.backend, job.options, len(plate.frames))
        context = BackendContext(seed=job.seed, device=job.device, options=options)
        pixels = pixel_options(job.backend, job.options)  # the backends say what changes pixels
        spelled = pixel_options(
            job.backend, _keyed_options(job.options)
        )  # a model's path as the file it names
        paths, earlier = _keyed_paths(plate, out, mask)
        settings, before = settings_keys(job, pixels, paths, spelled, earlier)
        per_shot = not is_per_frame(name)
        key = run_key(job, plate.frames, range_dependent=per_shot, settings_key=settings)
        accepted = {run_key(job, plate.frames, range_dependent=per_shot, settings_key=k) for k in before}
        return cls(name, context, key, frozenset(accepted - {key}), per_shot)


def _keyed_paths(
    plate: Sequence, out: FramePattern, mask: MaskSource
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The job's path fields spelled as the files they name, for the resume key (:func:`.manifest.settings_keys`):
    relative to the output's folder (:func:`_beside_output`), each folder with its symlinks resolved
    (:func:`_real_folder`), in the ``#`` form of the patterns as opened (a plate given as its folder keys as
    its frames'), with the padding the shot's frames really have (``plate.%d.exr`` over 1001-1100 is
    ``plate.####.exr``: :meth:`~aifx_core.sequence.FramePattern.settled`); and the spellings an earlier aifx
    keyed them by, whose keys frames made then carry: absolute so (to 2026-12-07), with the folders as given and
    the other paddings naming the same files (``plate.#.exr`` or ``plate.####.exr``, to 2026-12-06)."""
    patterns = {"input": plate.pattern, "output": out}
    masks = getattr(mask.mask, "pattern", None)  # (None: the plate's alpha or a channel, no file)
    if masks is not None:
        patterns["mask"] = masks
    settled = {name: p.settled(plate.frames) for name, p in patterns.items()}
    absolute = {name: _real_folder(p.hash_form()) for name, p in settled.items()}
    forms = [[p, *p.alike()] for p in settled.values()]
    earlier = [absolute] + [
        {name: os.path.abspath(p.hash_form()) for name, p in zip(settled, combination, strict=True)}
        for combination in itertools.product(*forms)
    ]
    return _beside_output(absolute), earlier


def _beside_output(paths: dict[str, str]) -> dict[str, str]:
    """The absolute ``paths`` relative to the ``output``'s folder (the output as its file name): a project
    folder moved whole (plates, mattes and output together, to another disk or machine) keys as it did, where
    its absolute paths had every rerun refused as "made with different settings". Another plate (or mask) is
    still another key, and a changed file at the same place is found by its identity (the manifest's sources).
    Absolute where no relative path reaches (another drive on Windows)."""
    folder = os.path.dirname(paths["output"])
    try:
        return {name: os.path.relpath(path, folder) for name, path in paths.items()}
    except ValueError:
        return paths


def _real_folder(path: str) -> str:
    """``path`` absolute, its folder with symlinks resolved (``/show`` → ``/mnt/projects/show``, as studios
    link their project roots): a plate read through the link and through its target keys the same. The file
    name is kept (a frame that is itself a link is still named as given)."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(folder), name)


def _keyed_options(options: dict[str, Any]) -> dict[str, Any]:
    """The job's options with those naming files (a model file or folder, a config, a reference image:
    ``inpaint.models.option_paths``; a hub id is no path) spelled as the files they name, absolute as the path
    fields are, for the resume key: ``--model models/lama.pt`` here and the absolute path that ``aifx submit``
    and Ray send key the same."""
    from .inpaint.models import absolute_option_paths

    named = absolute_option_paths(options)
    return {**options, **named} if named else options


def prepare_anchors(
    job: FillJob | dict | str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    rebuild: bool = False,
) -> str | None:
    """The anchors stage alone: decide and fill every keyframe block of the shot once and cache it in the
    output folder's job cache (idempotent: a valid cache is kept unless ``rebuild``). Returns the cache folder,
    or None for a backend that needs no anchors. Runs under the output lock, like a fill."""
    job = as_job(job)
    checked = preflight(job)
    reporter = Reporter(progress, cancel)
    with _made_folders_removed_if_stopped(checked.out_dir):
        return _prepare_checked_anchors(job, checked, reporter, rebuild)


def _prepare_checked_anchors(job: FillJob, checked: Checked, reporter: Reporter, rebuild: bool) -> str | None:
    """:func:`prepare_anchors` once every check that changes nothing has passed (``checked``)."""
    plate, out, mask = checked.plate, checked.out, checked.mask
    out_dir = check_writable(checked.out_dir)
    _check_names(out, plate, out_dir, job.confidence)
    run = _RunSetup.of(job, plate, out, mask)
    if not job.overwrite:  # (Ray's first task: a job with other settings is refused before any chunk writes)
        manifest = Manifest.load(out, job, run.key, accepted=run.accepted)
        manifest.refuse_foreign(_on_disk(out, plate.frames), str(out))
    if is_per_frame(run.name):
        return None  # frames on their own: nothing is decided for the shot (and no model is loaded)
    with (
        OutputLock(out, run.key, str(out), run.accepted, per_shot=run.per_shot),
        folder_kept(out_dir, cache_folder(out)),
    ):
        backend = _create(job, plate, run)
        if not hasattr(backend, "anchors"):
            return None
        feed = _Feed(job, plate, mask)
        feed.knows(Manifest.load(out, job, run.key, accepted=run.accepted))
        with _anchors(backend, feed, out, run, plate.frames, reporter, rebuild=rebuild) as found:
            store = found[0]
        return str(store.folder)


def whole_shot_notices(job: FillJob | dict | str | os.PathLike) -> list[str]:
    """What a whole-shot run warns about that no farm chunk can tell: the mask empty on every frame (an OpenJD
    job's Anchors step says it, the one task that sees the whole shot). Reads mask frames until one has a
    hole, so a mask that selects something costs a frame or a few; one that selects nothing, the whole shot
    (the plate's frames too when the mask is their alpha)."""
    job = as_job(job)
    plate = open_plate(job)
    mask = open_mask(job.mask, job.mask_channel, plate, invert=job.invert_mask, threshold=job.threshold)
    for frame in plate.frames:
        if make_hole(mask.matte(frame), job.threshold).any():
            return []
    return [empty_mask_warning(plate.frames)]


def _create(job: FillJob, plate: Sequence, run: _RunSetup, colorspace: str | None = None) -> Any:
    """The run's backend; ``colorspace``: the plate's (:func:`_plate_colorspace`) where already decided."""
    if colorspace is None:
        colorspace = _plate_colorspace(job, plate, plate.read(plate.frames[0]))
    return create_backend(run.name, replace(run.context, colorspace=colorspace))


def _plate_colorspace(job: FillJob, plate: Sequence, first: Image) -> str:
    """The colourspace the plate's values are in: the job's, else the guess from the first frame."""
    if job.colorspace is not None:
        return resolve_colorspace(job.colorspace)
    return guess_colorspace(first, plate.path(plate.frames[0]))


#: Most bytes of plate frames :class:`_Plates` keeps between the backend's read and the writer's: at 432x240 every
#: frame the engine reads ahead of the one being written (~20 of 0.6 MB), at 1080p (12 MB a half-float RGB
#: frame) the first two or three only, so the 1080p peak (docs/benchmarks.md, memory) grows by at most this.
PLATE_CACHE_BYTES = 32 << 20


class _Plates:
    """Plate frames the feed read for frames still to write, handed to the writer so it does not read (and
    decode) the file again: the same :class:`Image`, so the same pixels. Bounded by bytes: a frame read while
    the cache is full is not kept and is read again at write time, as every frame was before. Thread-safe
    (the feed runs in the engine's reading thread, the writer in its own)."""

    def __init__(self, plate: Sequence, wanted: set[int], limit: int | None = None) -> None:
        self.plate, self.wanted = plate, wanted
        self.limit = PLATE_CACHE_BYTES if limit is None else limit
        self.images: dict[int, Image] = {}
        self.bytes = 0
        self._lock = threading.Lock()

    def keep(self, frame: int, image: Image) -> None:
        """Keep ``image`` (plate frame ``frame`` as read) for the writer if it will write it and there is room."""
        if frame not in self.wanted:
            return
        size = _size(image)
        with self._lock:
            if frame in self.images or self.bytes + size > self.limit:
                return
            self.images[frame] = image
            self.bytes += size

    def take(self, frame: int) -> Image:
        """Plate frame ``frame``: the kept one (forgotten here), else read from disk."""
        image = self._pop(frame)
        return image if image is not None else self.plate.read(frame)

    def forget(self, frame: int) -> None:
        """Drop frame ``frame`` if it is kept (the writer does not need its pixels)."""
        self._pop(frame)

    def _pop(self, frame: int) -> Image | None:
        with self._lock:
            image = self.images.pop(frame, None)
            if image is not None:
                self.bytes -= _size(image)
        return image


def _size(image: Image) -> int:
    return sum(int(plane.nbytes) for plane in image.channels.values())


class _Feed:
    """Packets of the shot, read lazily: the plate frame in its display window and its thresholded hole."""

    def __init__(self, job: FillJob, plate: Sequence, mask: MaskSource) -> None:
        self.job, self.plate, self.mask = job, plate, mask
        #: Called with each packet as it is read (the pipeline keeps the holes of the frames it writes).
        self.seen: Callable[[FramePacket], None] | None = None
        #: Where each plate frame read is offered to the writer (None: the writer reads its own).
        self.plates: _Plates | None = None
        #: The plate digests the output's manifest recorded, and how a digest is taken (its memo): the anchors
        #: cache compares plates copied without their times by content, as the manifest does.
        self.digests: dict[tuple[str, int, int], str] = {}
        self.digest: Callable[[Path], str] | None = None
        #: The output's manifest, told before each frame's files are read (:meth:`.manifest.Manifest.reading`).
        self.manifest: Manifest | None = None
        #: The first frame read and the channels its colour is in (:meth:`_check_colour`).
        self.colour: tuple[int, tuple[str, ...]] | None = None
        #: The frames read (and kept) whose plate frame carries an earlier fill's confidence
        #: (:func:`~.confidence.carried`): only for these does an EXR output without ``--confidence`` ask the
        #: backend for its confidence map (a full frame each, ~24 ms at 4K, thrown away for the other frames).
        self.carrying: set[int] = set()
        #: The frames read (and kept) whose hole crosses semi-transparent alpha (:meth:`_crosses_coverage`).
        self.translucent: set[int] = set()

    def knows(self, manifest: Manifest) -> None:
        """Take ``manifest``'s plate digests (see :attr:`digests`)."""
        self.digests = manifest.plate_digests(lambda frame: Path(self.plate.path(frame)))
        self.digest = manifest.digest_of
        self.manifest = manifest

    def _check_colour(self, frame: int, image: Image) -> None:
        """Every frame's colour is in the same layer (the main one, or of a multilayer EXR without one the
        layer :meth:`.Image.colour_names` picks): a frame whose colour is in another layer would be filled
        there, and read as its neighbours' colour by the temporal backends. (A grey ``Y`` frame among ``R,G,B``
        ones is the main layer too, and fills.)"""
        names = image.colour_names()
        if self.colour is None:
            self.colour = (frame, names)
        elif layer_of(names) != layer_of(self.colour[1]):
            raise InputError(
                f"{image.source or self.plate.path(frame)}: its colour is {','.join(names)}, frame "
                f"{self.colour[0]}'s is {','.join(self.colour[1])}; give every frame of the shot the same layers"
            )

    def _crosses_coverage(self, image: Image, hole: np.ndarray) -> bool:
        """Whether ``hole`` covers pixels whose alpha (the colour's, :func:`.image.colour_alpha`) is below 1:
        the edge of a premultiplied element, where the fill makes rgb and keeps the alpha, so a Merge (over)
        downstream adds colour where the alpha is 0. Not where that alpha is the matte itself (it holds the hole,
        no coverage), nor an alpha of 0 everywhere (a plate written with an empty one)."""
        if not hole.any():
            return False
        name = colour_alpha(image.channels, image.colour_names())
        if name is None or self.mask.is_plate_channel(image, name):
            return False
        alpha = image.channels[name]
        return bool(alpha.any() and (to_float(alpha[hole]) < 1.0).any())

    def packets(self, frames: list[int], kept: bool = True) -> Iterator[FramePacket]:
        """The packets of ``frames`` in order; ``kept``: offered to the writer and the pipeline as they are read
        (False for a pass over the shot that fills nothing: :func:`_seen_plate`)."""
        for frame in frames:
            if self.manifest is not None:
                self.manifest.reading(frame)
            read = self.plate.read(frame)
            if kept and self.plates is not None:
                self.plates.keep(frame, read)
            if kept and carried(read):
                self.carrying.add(frame)
            image = in_display_window(read)  # the fill works on the frame (display window)
            self._check_colour(frame, image)
            hole = make_hole(self.mask.matte(frame, image), self.job.threshold, self.job.dilate)
            if kept and self._crosses_coverage(image, hole):
                self.translucent.add(frame)
            packet = FramePacket(frame=frame, rgb=image.rgb(), hole=hole)
            if kept and self.seen is not None:
                self.seen(packet)
            yield packet


def _seen_plate(backend: Any, feed: _Feed, shot: list[int], reporter: Reporter, store: AnchorStore) -> Any:
    """The shot's clean plate where its camera is locked off or handheld (a backend's ``seen_plate``, e.g.
    :func:`aifx_core.propagate.seen.scan`), from one pass over the whole shot, so every chunk of it reads the
    same; None where the backend makes none. A pan ends the pass at its first frame not registered. Kept
    in the anchors ``store`` (called with its build lock held), so the chunks of a shot make the pass once."""
    make = getattr(backend, "seen_plate", None)
    if not callable(make):
        return None
    cached, arrays = store.cached_seen()
    if cached:
        try:
            return None if arrays is None else backend.seen_plate_from(arrays)
        except ValueError:
            pass  # (damaged: made again)

    def reported() -> Iterator[FramePacket]:
        for index, packet in enumerate(feed.packets(shot, kept=False)):
            reporter("seen plate", index, len(shot), packet.frame)
            yield packet

    plate = make(reported())
    store.write_seen(None if plate is None else plate.arrays())
    return plate


@contextlib.contextmanager
def _anchors(
    backend: Any,
    feed: _Feed,
    output: FramePattern,
    run: _RunSetup,
    shot: list[int],
    reporter: Reporter,
    *,
    rebuild: bool = False,
    stream_from: int | None = None,
) -> Iterator[tuple[AnchorStore, Mapping[int, Anchor], Callable[[int, Anchor], None] | None, Any]]:
    """The shot's anchors and seen plate: ``(store, anchors, on_anchor, seen)`` (:func:`_seen_plate`).

    Cached blocks are read. The missing ones are decided by the run itself as it streams (``on_anchor`` then
    caches each; the build lock is held until the run ends) when ``stream_from`` says the run is one segment
    to the shot's end that starts early enough for them (a whole run, or a killed one resumed); otherwise the
    anchors stage makes them first, reading the shot from the first missing block on.

    A streaming run's blocks are written in order by a thread of their own (``aifx-anchors``; in the caller
    with ``AIFX_THREADS=1``), so the engine does not wait for their fsyncs (tennis nine squares: ~2 ms a frame
    of its wall), and all are written before the run ends; after a failure the blocks already handed over are
    still written (a kill keeps the blocks it finished, as before; so does a full disk), except after bad input
    (nothing is kept).
    A block written late is no hazard: a resumed run that misses it makes it again, the same values.
    """
    store = AnchorStore(
        output,
        run.key,
        shot,
        backend.blocks(len(shot)),
        _shot_inputs(feed.plate, feed.mask, shot),
        feed.digests,
        feed.digest,
        run.accepted,  # (a cache made before the key named the files: its decisions made the frames written)
        _model_fingerprint(feed.job),
    )
    with store.building():
        records = {} if rebuild else store.load()
        store.begin(records)
        missing = [b for b in range(store.blocks) if b not in records]
        try:
            seen = _seen_plate(backend, feed, shot, reporter, store)
            if missing and stream_from is not None and stream_from <= backend.anchor_start(missing[0]):
                writer = InOrder(
                    lambda item: store.write(*item), depth=4, threaded=overlap(), name="aifx-anchors"
                )
                try:
                    yield (
                        store,
                        store.reader(records),
                        lambda block, anchor: writer.submit((block, anchor)),
                        seen,
                    )
                except BaseException as exc:
                    if _bad_input(exc):
                        writer.abandon()
                    else:
                        with contextlib.suppress(Exception):  # (the run's own failure is the one to raise)
                            writer.finish()
                    raise
                writer.finish()
                return
            if missing:
                start = backend.anchor_start(missing[0])
                span = Span(tuple(shot), anchors=store.reader(records), seen=seen)
                for block, anchor in backend.anchors(feed.packets(shot[start:]), reporter, span):
                    store.write(block, anchor)
        except InputError as exc:
            if _bad_input(exc):
                store.discard()  # made from bad input: nothing of it is kept
            raise
    yield store, store.reader(), None, seen


def _bad_input(exc: BaseException) -> bool:
    """Whether ``exc`` is about the input itself (its anchors are not kept), not about where the run writes (a
    full disk, no permission: :class:`~aifx_core.sequence.atomic.DiskError`, whose anchors the rerun reads)."""
    return isinstance(exc, InputError) and not isinstance(exc, DiskError)


def segments(
    todo_positions: list[int], context: Callable[[int, int, int], tuple[int, int]], length: int
) -> list[tuple[int, int, list[int]]]:
    """Runs of consecutive positions to make, each widened by its ``context``: ``(first read, last read,
    outputs)`` per segment. A run whose context reaches back to the previous run's last output joins its
    segment (frames read once); one further on starts its own, read like a farm chunk. Between two outputs of
    one segment the engine forgets what the next one cannot need; across a wider gap that left a frame one
    output further on still asked for (two frames 46 apart to redo after a resume: KeyError, ContextError)."""
    runs: list[list[int]] = []
    for position in sorted(todo_positions):
        if runs and position == runs[-1][-1] + 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    merged: list[tuple[int, int, list[int]]] = []
    for run in runs:
        first, last = context(run[0], run[-1], length)
        if merged and first <= merged[-1][2][-1]:
            start, stop, outputs = merged[-1]
            merged[-1] = (start, max(stop, last), outputs + run)
        else:
            merged.append((first, last, list(run)))
    return merged


def _fill_frames(
    job: FillJob,
    plate: Sequence,
    mask: MaskSource,
    out: FramePattern,
    manifest: Manifest,
    todo: list[int],
    run: _RunSetup,
    reporter: Reporter,
    result: FillResult,
    protected: ProtectedFiles,
) -> None:
    earlier = len(result.written)  # (this job's own frames from before an interruption: see fill's written)
    first = plate.read(plate.frames[0])
    compression = _output_compression(job, first, out, result.notices)
    colorspace = _plate_colorspace(job, plate, first)
    doubt = doubt_of(first) if job.colorspace is None else None
    if doubt is not None and _says_doubt(first, out):
        result.notices.append(f"note: {first.source or plate.path(plate.frames[0])}: {doubt.text}")
    stated = _stated_colorspace(job, colorspace, first, out, result.notices, doubted=doubt is not None)
    backend = _create(job, plate, run, colorspace)
    _model_of(job, manifest)  # as loaded: a hub id's load with downloads on may have fetched a new revision
    exr_output = out.extension == ".exr"  # (another format's codecs are its own: see _lossless)
    # An earlier fill's confidence in the plate is combined with this one's where the output keeps it: an EXR
    # output carries the channel even without --confidence, and it must not say "sure" in this fill's hole.
    # Any frame may carry it (the first not), so what the backend says of a frame is kept for the writer
    # wherever the output holds it: with --confidence, else on an EXR output for each frame whose plate frame
    # carries the channel (the feed notes them as it reads them), and the note names the first frame written that
    # carries it.
    confident = job.confidence or exr_output
    carrying: list[int] = []

    def combines(image: Image, frame: int) -> bool:
        """Does plate frame ``image`` carry an earlier fill's confidence to combine (noted the first time)?"""
        if not carried(image) or not confident:
            return False
        if not carrying:
            carrying.append(frame)
            result.notices.append(carried_notice(frame, job.confidence))
        return True

    wanted = set(todo)
    # Only the holes wait for the backend; the plate frame as read waits too while it fits in _Plates' few MB,
    # else it is read again at write time, so the frames a temporal backend reads ahead do not cost a second
    # full-resolution copy each.
    pending: dict[int, np.ndarray] = {}
    largest = (0.0, plate.frames[0])
    holed: set[int] = set()
    feed = _Feed(job, plate, mask)
    feed.knows(manifest)
    plates = feed.plates = _Plates(plate, wanted)

    def keep(packet: FramePacket) -> None:
        nonlocal largest
        if packet.frame in wanted:
            pending[packet.frame] = packet.hole
            # (a count, not ``mean``: a bool mean sums as float64; 0.7 → 0.06 ms a 1080p frame, reading thread)
            share = np.count_nonzero(packet.hole) / max(packet.hole.size, 1)
            largest = max(largest, (share, packet.frame))
            if share:
                holed.add(packet.frame)

    dropouts = _Dropouts(plate.frames, wanted)

    def seen(packet: FramePacket) -> None:
        keep(packet)
        dropouts.see(packet)

    feed.seen = seen
    shot = plate.frames
    manifest.depends = _depends(backend, shot)

    def framed(image: Image, frame: int) -> Image:
        """Plate frame ``frame`` in the window its output keeps (see :func:`_output_window`)."""
        return _output_window(image, frame, out, result.notices, exr_output)

    def write(item: tuple[int, np.ndarray, np.ndarray, _Reported | None]) -> None:
        """Composite one frame, write it atomically and report it (in the writer thread: :mod:`.workers`)."""
        frame, rgb, hole, reported = item
        reporter.cancel.raise_if_cancelled()  # cancelled: a frame not started yet is dropped, not written
        target = Path(out.path(frame))
        with manifest.writing(frame) as intend:
            if not job.confidence:
                forget_confidence(
                    target, protected
                )  # (an earlier run's, shown with this frame; never an input)
            if hole.any():
                original = framed(plates.take(frame), frame)
                data, display = windows(
                    original
                )  # back into the output's window (EXR: the plate's data window)
                shown = feather_weight(hole, job.feather)
                weight = reframe(shown, display, data)
                filled = composite(original, reframe(rgb, display, data), weight)
                if combines(original, frame) or job.confidence:
                    # 0 wherever the plate is kept: a backend that returns the plate around the hole keeps it
                    # there whatever the feather (its band blends the plate with itself), so only its hole is unsure
                    unsure = 1.0 - confidence_map(
                        reported, hole, hole.astype(np.float32) if run.keeps_plate else shown
                    )
                    sure = 1.0 - reframe(unsure, display, data)
                    filled = attach_confidence(filled, target, sure)
                own = _lossless(compression, original, frame, result.notices, exr_output)
                write_image(target, stated(filled), compression=own, before_replace=intend)
            elif job.confidence:  # nothing filled: all plate, fully sure (the file gets the channel anyway)
                unchanged = framed(plates.take(frame), frame)
                combines(unchanged, frame)  # (its channel is kept as the lower of the two: all of it here)
                sure = np.ones(unchanged.shape, np.float32)
                write_image(
                    target,
                    stated(attach_confidence(unchanged, target, sure)),
                    compression=_lossless(compression, unchanged, frame, result.notices, exr_output),
                    before_replace=intend,
                )
            else:
                plates.forget(frame)  # (the file is copied, or read again to be rewritten)
                _copy_through(plate, frame, target, compression, intend, lambda i: stated(framed(i, frame)))
            if job.confidence:  # (its sidecar of the earlier name, now stale: one sequence, one name)
                adopt_confidence(target, protected)
        result.written.append(frame)
        reporter("write", len(result.written), len(todo) + earlier, frame)
        fault_point("written", frame)

    # Frames are composited and written in a background thread, at most two in flight, while the backend
    # makes the next ones (:mod:`.workers`). Its failure (a full disk, a cancel) is raised here, in order.
    writer = InOrder(write, depth=2, threaded=overlap(), name="aifx-writer")

    def submit(frame: int, rgb: np.ndarray) -> None:
        # What the backend reported about this frame is taken now: it moves on while the frame is written.
        # (Asked only where it is written: a full-frame map each frame costs the backend's thread ~24 ms at 4K.)
        asked = job.confidence or (exr_output and frame in feed.carrying)
        reported = _Reported(getattr(backend, "last_confidence", None)) if asked else None
        writer.submit((frame, rgb, pending.pop(frame), reported))

    try:
        try:
            _run_backend(backend, feed, out, run, shot, todo, wanted, reporter, submit)
        except _BadYield:
            writer.finish()  # the frames the backend did return are written (and kept), then its fault is raised
            raise
        writer.finish()
    except BaseException:
        writer.abandon()  # the frame being written is finished whole; those waiting are dropped
        with contextlib.suppress(Exception):  # (unsaved, the frames written are still recovered on resume)
            manifest.settle()
        raise
    manifest.settle()  # the last frame's record (each frame's is saved with the next one's intent)
    result.holed = len(holed)
    if wanted and len(wanted) == len(shot) and not holed:  # (a whole-shot run: a chunk's driver adds them up)
        result.notices.append(empty_mask_warning(shot))
    if dropouts.frames:
        result.notices.append(dropouts.warning())
    if largest[0] >= HOLE_WARNING:
        result.notices.append(
            f"warning: the hole covers {100 * largest[0]:.0f} % of frame {largest[1]}: what no other frame saw "
            f"there is invented, not restored; {events.CHECK_HOLE}"
        )
    translucent = sorted(feed.translucent & wanted)
    if translucent:
        result.notices.append(
            f"note: the hole crosses semi-transparent alpha (frame {translucent[0]}): rgb is filled there and the "
            f"alpha kept, so a premultiplied element gets colour where its alpha is 0; {events.UNPREMULTIPLY}"
        )


class _Dropouts:
    """The frames this run writes whose matte drops out next to frames with a hole (a forgotten roto key,
    :func:`.mask.dropout_at`: a run of up to two frames between two with a hole, or at the shot's first or last
    frames): the object stays in those frames' plates, unmasked. Told from the packets as they are read, in
    order; a frame whose verdict reads a frame this run does not read (a chunk's edge) is not judged.
    The temporal engine decides by the same rule (``Pairs._drop_outs``, one :func:`.mask.dropouts_read` for both),
    to never read such a frame where its object may be; this class only tells the artist."""

    def __init__(self, shot: list[int], wanted: set[int]) -> None:
        self.shot = shot
        self.index = {frame: i for i, frame in enumerate(shot)}
        self.wanted = wanted
        #: The holes of the last frames read in a row, by shot position (a pass that starts again: cleared).
        self.recent: dict[int, np.ndarray] = {}
        self.frames: set[int] = set()

    def see(self, packet: FramePacket) -> None:
        position = self.index.get(packet.frame)
        if position is None:
            return
        if position - 1 not in self.recent:
            self.recent = {}
        self.recent[position] = packet.hole
        self.recent.pop(position - DROPOUT_RUN - 2, None)
        for first, regions in dropouts_read(self.recent.get, position, len(self.shot)):
            dropped = self.shot[first : first + len(regions)]
            self.frames.update(frame for frame in dropped if frame in self.wanted)

    def warning(self) -> str:
        many = len(self.frames) > 1
        return (
            f"warning: the mask is empty on frame{'s' * many} {format_frames(sorted(self.frames))} but not "
            f"around {'them' if many else 'it'}: a missing roto key? The object stays in "
            f"{'those frames' if many else 'that frame'} and is not copied into the others' fill; "
            f"{events.CHECK_EMPTY_MASK}"
        )


def _depends(backend: Any, shot: list[int]) -> Callable[[int], list[int]] | None:
    """The plate frames each output of ``backend`` is made from, for the manifest (None: only its own).

    A chunked backend says its context (the engine's reach); a temporal one without chunks reads the whole
    shot; a per-frame one reads its own frame only."""
    if callable(getattr(backend, "chunk_context", None)):
        index = {f: i for i, f in enumerate(shot)}

        def around(frame: int) -> list[int]:
            first, last = backend.chunk_context(index[frame], index[frame], len(shot))
            return shot[first : last + 1]

        return around
    if getattr(backend, "temporal", True):
        return lambda frame: shot
    return None


def _run_backend(
    backend: Any,
    feed: _Feed,
    out: FramePattern,
    run: _RunSetup,
    shot: list[int],
    todo: list[int],
    wanted: set[int],
    reporter: Reporter,
    submit: Callable[[int, np.ndarray], None],
) -> None:
    """Stream the packets a backend needs for ``todo`` through it, handing each frame to do to ``submit``.

    What the backend yields is checked against what it was given (:class:`_Yields`): a plugin that skips a
    frame or names one it was not given once ended the run with exit 0 and frames missing."""
    if callable(getattr(backend, "chunk_context", None)):
        # Exact chunks: each run of frames to do, widened by its context; the shot's anchors first.
        index = {f: i for i, f in enumerate(shot)}
        parts = segments([index[f] for f in todo], backend.chunk_context, len(shot))
        # One segment to the shot's end (a whole run, or a resume after a kill) decides missing anchors itself.
        to_end = parts[0][0] if len(parts) == 1 and parts[0][1] == len(shot) - 1 else None
        with contextlib.ExitStack() as stack:
            anchors: Mapping[int, Anchor] | None = None
            on_anchor = None
            seen = None
            if hasattr(backend, "anchors"):
                _store, anchors, on_anchor, seen = stack.enter_context(
                    _anchors(backend, feed, out, run, shot, reporter, stream_from=to_end)
                )
            for start, stop, outputs in parts:
                span = Span(tuple(shot), frozenset(shot[p] for p in outputs), anchors, on_anchor, seen)
                given = shot[start : stop + 1]
                yields = _Yields(run.name, span.outputs or frozenset(), given)
                for frame, rgb in backend.fill(feed.packets(given), reporter, span):
                    if yields.take(frame):
                        submit(frame, rgb)
                    if yields.done():  # the rest of the segment is context only: do not make it
                        break
                yields.finish()
    elif getattr(backend, "temporal", True):
        # A temporal backend without chunks reads the whole shot (done frames are sources for the rest) and
        # stops once the last frame to do is written.
        yields = _Yields(run.name, wanted, shot)
        for frame, rgb in backend.fill(feed.packets(shot), reporter):
            if yields.take(frame):
                submit(frame, rgb)
            if yields.done():
                break
        yields.finish()
    else:  # a per-frame one reads only the frames to do
        yields = _Yields(run.name, wanted, todo)
        for frame, rgb in backend.fill(feed.packets(todo), reporter):
            if yields.take(frame):
                submit(frame, rgb)
        yields.finish()


class _BadYield(AifxError):
    """A backend broke its contract (:class:`_Yields`): the frames it did return are still written."""


class _Yields:
    """The frames a backend yields, held against the ones it was given and the ones to write: a frame it was
    not given, or one to write it skipped or yielded twice, is an error naming the backend and the frames (the
    frames written before it are kept)."""

    def __init__(self, name: str, outputs: Iterable[int], given: Iterable[int]) -> None:
        self.name = name
        self.outputs = set(outputs)
        self.given = set(given)
        self.made: set[int] = set()

    def take(self, frame: Any) -> bool:
        """True when ``frame`` is one to write (the others it was given are context: dropped)."""
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame not in self.given:
            raise _BadYield(
                f"backend {self.name!r} returned frame {frame!r}, which it was not given "
                f"(it was given {format_frames(sorted(self.given))}); {self._fix}"
            )
        if frame not in self.outputs:
            return False
        if frame in self.made:
            raise _BadYield(f"backend {self.name!r} returned frame {frame} twice; {self._fix}")
        self.made.add(int(frame))
        return True

    def done(self) -> bool:
        return len(self.made) == len(self.outputs)

    def finish(self) -> None:
        """The backend stopped: every frame to write must have come."""
        missing = sorted(self.outputs - self.made)
        if missing:
            raise _BadYield(
                f"backend {self.name!r} stopped without returning frame(s) {format_frames(missing)}; the "
                f"{len(self.made)} frame(s) it returned are written; {self._fix}"
            )

    _fix = "a backend must return each frame it is given, once; report it to the backend's maker, or choose another backend"


def _output_compression(job: FillJob, first: Image, out: FramePattern, notices: list[str]) -> str | None:
    """The output's compression, and one-line notices for what the output format cannot keep.

    A lossy input compression (DWAA/DWAB/B44) is not reused unless asked for: re-encoding would change every
    pixel outside the mask, so the output defaults to lossless ZIP and says so. JPEG has no lossless mode, so
    a JPEG output is written as asked, with a note that the pixels outside the mask are not kept exact.
    """
    header = first.header
    source_format = header.get("format")
    target_format = FORMATS.get(out.extension, "")
    compression = job.compression  # (checked against the format when the run began: check_output_compression)
    source_compression = str(header.get("compression") or "").lower()
    if (
        compression is None
        and source_format == "exr"
        and target_format == "exr"
        and source_compression in LOSSY
    ):
        compression = "zip"
        notices.append(
            f"note: the plate is {source_compression.upper()}-compressed (lossy); the output is written with ZIP "
            f"(lossless) so pixels outside the mask stay exact; pass --compression {source_compression} to keep it"
        )
    tiles = header.get("attributes", {}).get("tiles") if source_format == "exr" else None
    mip_mapped = tiles is not None and getattr(tiles, "mode", None) not in (None, OpenEXR.ONE_LEVEL)
    if mip_mapped and target_format == "exr":
        notices.append(
            "note: the plate is mip-mapped; the output holds level 0 only (the full-resolution image), "
            "rebuild the levels with maketx or oiiotool if you need them"
        )
    pages = int(header.get("parts", 1)) if source_format != "exr" else 1
    if pages > 1:
        notices.append(
            f"note: the plate's {str(source_format).upper()} files hold {pages if pages < MAX_PAGES else 'many'} "
            "images (pages); only the first is filled and written, the others are dropped"
        )
    orientation = header.get("attributes", {}).get("Orientation", 1) if source_format != "exr" else 1
    if orientation not in (1, None):
        unturned = (
            ""
            if target_format != "exr"
            else "; the EXR output does not keep the orientation, so it shows unturned"
        )
        notices.append(
            f"note: the plate's frames are stored turned or mirrored (EXIF Orientation {orientation}), which a "
            "viewer undoes; aifx fills them as stored, so the mask must match the stored frames, not the shown "
            f"ones (or write the plate upright: oiiotool IN --reorient -o OUT){unturned}"
        )
    if target_format == "jpeg":
        notices.append(
            "note: JPEG is lossy: every pixel is encoded again, outside the mask too, so they are not kept "
            "exact; write .png, .tif or .exr for that"
        )
    if target_format == "exr":  # (another format drops what is not filled, and says so below)
        notices.extend(_copied_as_they_are(first))
    if source_format == "exr" and target_format != "exr":
        colour = first.colour_names()  # (written: a layer's when the plate has no main layer)
        lost = [n for n in first.channels if n not in ("R", "G", "B", "A", "Y", *colour)]
        parts = [f"channels {', '.join(lost)}"] if lost else []
        if not _float_output(first, target_format):
            parts.append("values above 1 and below 0 (clipped)")
        if target_format not in KEEPING_FORMATS:
            parts += held(header.get("attributes", {}), "exr")
        if mip_mapped:
            parts.append("mip-map levels")
        if int(header.get("parts", 1)) > 1:
            parts.append("parts " + ", ".join(header.get("part_names", [])[1:]))
        if parts:  # (a float TIFF of a plain RGB(A) plate drops nothing)
            notices.append(
                f"note: {target_format.upper()} output drops the EXR plate's {', '.join(parts)}; write .exr to "
                "keep them"
            )
    if source_format != "exr" and target_format not in ("exr", ""):
        kept = written_channels(first, target_format)
        lost = [name for name in first.channels if name not in kept]
        if lost:
            notices.append(
                f"note: {target_format.upper()} output drops the plate's channels {', '.join(lost)}; write "
                f".exr{' or .tif' if source_format == 'tiff' else ''} to keep them"
            )
        timing = held(header.get("attributes", {}), str(source_format))
        if timing and target_format not in KEEPING_FORMATS:
            notices.append(
                f"note: {target_format.upper()} output drops the plate's {', '.join(timing)}; write .dpx or "
                ".exr to keep them"
            )
    return compression


#: The output formats that name the colourspace their values are in: EXR (``colorInteropID``) and PNG
#: (OpenImageIO stores ``oiio:ColorSpace`` there). A DPX keeps a transfer only (see below): ``Linear`` reads back
#: as linear Rec.709, whatever the primaries. OpenImageIO's TIFF writer keeps no colourspace, and its JPEG is
#: always read back as sRGB.
_NAMES_COLOURSPACE = ("exr", "png")
#: Output formats that, naming no colourspace, read back as naming none (``aifx info``: "float data without
#: colourspace metadata"): a guess the plate's header contradicts is left unnamed in them
#: (:func:`_stated_colorspace`). Not PNG: OpenImageIO reads a PNG without colour chunks as "sRGB", as viewers
#: do; nor DPX, whose transfer alone says linear, unmarked read as sRGB.
_UNNAMED_SAYS_SO = ("exr",)


def _float_output(first: Image, target_format: str) -> bool:
    """Whether ``first`` is written as float data in ``target_format`` (EXR, a float TIFF): float data holds
    values above 1 and below 0, and a reader takes it for linear; integer data is clipped and taken for sRGB."""
    return target_format == "exr" or target_dtype(first, target_format).kind == "f"


def _says_doubt(first: Image, out: FramePattern) -> bool:
    """Whether a fill says, once a run, what the plate's header says of its colourspace that the guess cannot
    follow (:func:`~aifx_core.colour.colorspace_doubt`): always for a name the config does not know or
    primaries of no standard space; for a log DPX only where the output is of another format (a scan filled
    into DPX keeps its values and its header, and ``aifx info`` says it is log)."""
    same_format = FORMATS.get(out.extension, "") == first.header.get("format")
    return not (same_format and log_transfer(first.header.get("attributes", {})))


def _stated_colorspace(
    job: FillJob,
    colorspace: str,
    first: Image,
    out: FramePattern,
    notices: list[str],
    *,
    doubted: bool = False,
) -> Callable[[Image], Image]:
    """How an output in another format than the plate says what its values are: they are written as they are
    (no colour conversion), so a linear EXR plate's PNG holds linear values and an sRGB PNG plate's EXR holds
    sRGB-encoded ones. The file names the plate's colourspace (``Image.header["write_colorspace"]``) where its
    format can (not TIFF or JPEG, :data:`_NAMES_COLOURSPACE`), and where that is not what the file's data usually
    holds (linear for float data, sRGB for integers), a note says so (not when the job names the colourspace: its
    caller, such as the Blender adapter loading the result with the plate's colourspace, knows); unnamed, a
    viewer (and ``aifx info``) took a PNG for sRGB and an EXR for linear, showing the frame far too dark or
    washed out. ``doubted``: the colourspace is a guess the plate's own header contradicts (a log DPX, a name
    the config does not know: :func:`~aifx_core.colour.colorspace_doubt`, said in a note of its own); an EXR
    output names none then, where it would state the guess as the plate's, and no conversion from the guess is
    advised: unnamed, it reads as "without colourspace metadata" (:data:`_UNNAMED_SAYS_SO`). Any other output is
    stamped and advised as usual: a PNG without colour chunks reads as sRGB "from the file's colourspace
    metadata", so a linear guess left unnamed would be shown as sRGB with no word of a conversion."""
    source_format, target_format = first.header.get("format"), FORMATS.get(out.extension, "")
    if not target_format or source_format == target_format:
        return lambda image: image
    if doubted and target_format in _UNNAMED_SAYS_SO:
        notices.append(
            f"note: the {target_format.upper()} output holds the {str(source_format).upper()} plate's values as "
            "they are and names no colourspace, since the plate's own is not known (see the note above)"
        )
        return lambda image: image
    usual = DEFAULT_FLOAT_COLORSPACE if _float_output(first, target_format) else DEFAULT_INTEGER_COLORSPACE
    tag, ext = interop_id(colorspace), out.extension.lstrip(".")
    # DPX keeps no colourspace name, only a transfer: "Linear" reads back as linear (Rec.709 primaries), where
    # an unmarked DPX is taken as sRGB-encoded and a linear one shown far too dark, scored wrong by aifx eval.
    linear_dpx = target_format == "dpx" and is_linear(colorspace)
    read_as = DEFAULT_FLOAT_COLORSPACE if linear_dpx else usual
    if colorspace != usual and job.colorspace is None:
        convert = f"oiiotool IN --colorconvert {tag} {interop_id(usual)} -o OUT"
        if target_format in _NAMES_COLOURSPACE or colorspace == read_as:
            named = (
                "named in its metadata as " + tag
                if target_format in _NAMES_COLOURSPACE
                else "marked as linear by its DPX transfer"
            )
            said = (
                f"in {colorspace} ({named}), not converted to the {interop_id(usual)} a viewer expects of a .{ext}; "
                f"convert it for viewing, e.g. {convert}"
            )
        else:
            said = (
                f"in {colorspace}, not converted to the {interop_id(usual)} a viewer expects of a .{ext}, and a "
                f".{ext} cannot name its colourspace, so it is read as {interop_id(read_as)}; convert it for "
                f"viewing (e.g. {convert}) or write .png or .exr, which name it"
            )
        notices.append(
            f"note: the {target_format.upper()} output holds the {str(source_format).upper()} plate's values "
            f"as they are, {said}"
        )
    transfer = {"write_transfer": "Linear"} if linear_dpx else {}

    def stated(image: Image) -> Image:
        return replace(image, header={**image.header, "write_colorspace": tag, **transfer})

    return stated


def _copied_as_they_are(first: Image) -> list[str]:
    """Notices for colour an EXR output carries through unfilled, the object still in it: a stereo plate's
    other views, and render passes (AOV layers with ``R,G,B``, in the first part or in parts of their own)
    beside the colour that is filled (:func:`.image.unfilled_colour`)."""
    notices = []
    filled = first.colour_names()
    others = first.header.get("other_parts") or []  # (attributes, channels) of each part after the first
    unfilled = unfilled_colour(filled, first.channels, first.header.get("attributes", {}), others)
    if unfilled.views:
        other = unfilled.views[0]
        hint = (
            f"oiiotool --ch R={other}.R,G={other}.G,B={other}.B takes it out"
            if f"{other}.R" in first.channels
            else "oiiotool --subimage takes its part out"
        )
        notices.append(
            f"note: the plate is stereo; only its {unfilled.hero} view is filled, the "
            f"{', '.join(unfilled.views)} view is copied as it is (the object is still there); fill each other "
            f"view as a plate of its own, with its own mask (e.g. {hint})"
        )
    if unfilled.passes:
        notices.append(
            f"note: only {layer_of(filled) or ','.join(filled)} is filled; the layers {', '.join(unfilled.passes)} "
            "are copied as they are, the object still in them; fill a pass as a plate of its own where it must "
            "match"
        )
    return notices


@dataclass(frozen=True)
class _Reported:
    """What a backend said about the frame it last returned, kept for the writer thread."""

    last_confidence: np.ndarray | None


def open_plate(job: FillJob) -> Sequence:
    """The job's plate, its shot's frames: what every run, chunk plan and submission opens. A bad ``frames`` is
    named as the job's field (from a job file there is no ``--frames`` flag to blame)."""
    return open_sequence(
        job.input, frames=job.frames, skip_missing=job.skip_missing, role="plate", frames_name=JOB_FRAMES
    )


def sheet_only(job: FillJob) -> FillJob:
    """``job`` as the run that writes only its contact sheet once a farm's chunks wrote every frame: with
    overwrite off the finished frames are kept, so only the sheet is new. The one form for ``fill --sheet``
    and the Ray executor's last task."""
    return replace(job, overwrite=False)


def as_job(job: FillJob | dict | str | os.PathLike) -> FillJob:
    """The job a caller handed in: a :class:`FillJob`, its dict, or the path of a saved job JSON."""
    if isinstance(job, FillJob):
        return job
    if isinstance(job, dict):
        return FillJob.from_dict(job)
    return FillJob.load(job)


def _lossless(
    compression: str | None, image: Image, frame: int, notices: list[str], exr_output: bool
) -> str | None:
    """The compression a filled frame is written with: the run's, but where the run keeps each frame's own
    (``None``) and this one's is lossy (a re-render patched into a ZIP plate as DWAA), ZIP, said once, as
    :func:`_output_compression` does for a plate lossy from its first frame: re-encoding would change its
    pixels outside the mask. (``exr_output``: another output format has codecs of its own.)"""
    header = image.header
    own = str(header.get("compression") or "").lower()
    if compression is not None or header.get("format") != "exr" or own not in LOSSY or not exr_output:
        return compression
    if not any(note.startswith("note: plate frame ") for note in notices):
        notices.append(
            f"note: plate frame {frame} is {own.upper()}-compressed (lossy), unlike the first; its output (and "
            "any other such frame's) is written with ZIP (lossless) so pixels outside the mask stay exact"
        )
    return "zip"


def _output_window(
    image: Image, frame: int, out: FramePattern, notices: list[str], exr_output: bool
) -> Image:
    """Plate frame ``frame`` in the window its output file keeps: an EXR its own data window, a format without
    windows the display window (a bbox padded with black, overscan cropped, as Nuke's Write does; the fill is
    composited there, see :mod:`.sequence.window`), said once when overscan is dropped. Written at the data
    window's size, each frame had its own size, the bbox's position was lost and overscan sat in the picture."""
    if exr_output:
        return image
    if beyond_display(image) and not any("(overscan)" in note for note in notices):
        x0, y0, x1, y1 = windows(image)[1]
        notices.append(
            f"note: plate frame {frame} holds pixels outside its display window (overscan); the "
            f"{FORMATS.get(out.extension, '').upper()} output holds the display window only ({x1 - x0 + 1}x"
            f"{y1 - y0 + 1}), so they are dropped; write .exr to keep them"
        )
    return in_display_window(image)


def _copy_through(
    plate: Sequence,
    frame: int,
    target: Path,
    compression: str | None,
    before_replace: Callable[[Path], None] | None = None,
    stated: Callable[[Image], Image] = lambda image: image,
) -> None:
    """A frame with nothing to fill: copy the file byte for byte when the format allows, else rewrite it
    (``stated``: what the rewrite names as its colourspace, see :func:`_stated_colorspace`)."""
    source = Path(plate.path(frame))
    if source.suffix.lower() == target.suffix.lower() and compression is None:
        atomic_write(target, lambda tmp: shutil.copyfile(source, tmp), before_replace)
    else:
        write_image(target, stated(plate.read(frame)), compression=compression, before_replace=before_replace)
