"""``fill(job)``: the one orchestration behind the CLI, the adapters, the server and Ray.

Read top to bottom it is the data flow: open the plate and the mask, decide which frames are still to do
(resume), stream packets lazily into the backend, composite each result inside the feathered mask only, and
write it atomically. Memory is bounded by the backend's window plus the frames it has not returned yet.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import OpenEXR

from .backends import check_options, create_backend, is_per_frame, pixel_options, route
from .colour import guess_colorspace, resolve_colorspace
from .composite import composite
from .confidence import attach as attach_confidence
from .confidence import confidence_map
from .inpaint import BackendContext, FramePacket
from .manifest import Manifest, OutputLock, fault_point, run_key
from .mask import MaskSource, feather_weight, make_hole, open_mask
from .progress import CancelToken, ProgressCallback, Reporter
from .protocol.job import FillJob
from .sequence import (
    FORMATS,
    FramePattern,
    Image,
    Sequence,
    atomic_write,
    check_side_output,
    check_writable,
    clean_stale_temps,
    open_sequence,
    output_pattern,
    protected_inputs,
    write_image,
)
from .sequence.exr import LOSSY
from .sequence.window import in_display_window, reframe, windows

#: Warn when the hole covers at least this fraction of a frame (the fill is then mostly invented).
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


def fill(
    job: FillJob | dict | str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    save_job: str | os.PathLike | None = None,
    job_file: str | os.PathLike | None = None,
) -> FillResult:
    """Run a fill job; ``job`` may be a :class:`FillJob`, its dict, or the path of a saved job JSON.

    ``save_job`` also writes the job to that file: checked with everything else before any work, written
    (atomically) only once every check has passed, so a bad job never leaves a job file or replaces an input.
    ``job_file`` is the file the job was read from (``aifx run job.json``): it is an input too, so nothing the
    job writes may replace it (given a path as ``job``, that path is taken).
    """
    if job_file is None and isinstance(job, (str, os.PathLike)):
        job_file = job
    job = _as_job(job)
    job.validate()
    check_options(job.backend, job.options)  # a typo or a bad value fails now, not after flow or a model load
    reporter = Reporter(progress, cancel)

    plate = open_sequence(job.input, frames=job.frames, skip_missing=job.skip_missing, role="plate")
    out = output_pattern(job.output, plate)
    mask = open_mask(job.mask, job.mask_channel, plate, invert=job.invert_mask)
    protected = protected_inputs(plate, mask.mask)
    if job_file is not None:
        protected.add(job_file, "job file")
    for frame in plate.frames:
        protected.refuse(out.path(frame), "output frame", "-o/--output")
    protected.add_frames(out, "output frame", plate.frames)  # side outputs must not land on frames either
    out_dir = Path(out.path(plate.frames[0])).parent
    # Created (and probed) before the side outputs are checked: a contact sheet or saved job next to the frames
    # (`-o out/clean.####.exr --contact-sheet out/sheet.png` on a fresh machine) goes into the folder the job makes.
    check_writable(out_dir)  # fail now, not after minutes of model loading
    if job.contact_sheet:
        check_side_output(
            job.contact_sheet,
            "contact sheet",
            protected,
            suffixes=(".png",),
            example="contact_sheet.png",
            flag="--contact-sheet",
        )
    if save_job:
        check_side_output(
            save_job, "saved job", protected, suffixes=(".json",), example="job.json", flag="--save-job"
        )

    clean_stale_temps(out_dir)
    if save_job:
        job.save(Path(save_job))

    # The routing rule (a generative backend on a sequence runs under the temporal engine) is the registry's.
    name, options = route(job.backend, job.options, len(plate.frames))
    context = BackendContext(seed=job.seed, device=job.device, options=options)
    settings = job.resume_key(pixel_options(job.backend, job.options))  # the backends say what changes pixels
    key = run_key(job, plate.frames, range_dependent=not is_per_frame(name), settings_key=settings)
    with OutputLock(str(out), settings, str(out)) as lock:
        if not lock.joined:  # alone on this output: a killed run's temp files of its frames are stale now
            clean_stale_temps(out_dir, 0.0, {out.path(f).name for f in plate.frames})
        with lock.exclusive():
            manifest = Manifest.load(out, job, key, lock)
            existing = {f for f in plate.frames if Path(out.path(f)).exists()}
            todo = manifest.plan(plate.frames, existing, job.overwrite, str(out))
            manifest.record_range(plate.frames)
        result = FillResult(output=str(out), skipped=[f for f in plate.frames if f not in todo])
        if todo:
            _fill_frames(job, plate, mask, out, manifest, todo, name, context, reporter, result)
        else:
            reporter("write", 0, 0, None, "all frames already done")
        if job.contact_sheet:
            from .contact_sheet import before_after_sheet

            result.contact_sheet = str(
                before_after_sheet(job.contact_sheet, plate, out, plate.frames, mask=mask)
            )
    return result


def _fill_frames(
    job: FillJob,
    plate: Sequence,
    mask: MaskSource,
    out: FramePattern,
    manifest: Manifest,
    todo: list[int],
    name: str,
    context: BackendContext,
    reporter: Reporter,
    result: FillResult,
) -> None:
    first = plate.read(plate.frames[0])
    colorspace = (
        resolve_colorspace(job.colorspace)
        if job.colorspace
        else guess_colorspace(first, plate.path(plate.frames[0]))
    )
    compression = _output_compression(job, first, out, result.notices)
    backend = create_backend(name, replace(context, colorspace=colorspace))
    # A temporal backend reads every frame (done ones are sources for the rest); a per-frame one only the todo.
    context_frames = plate.frames if getattr(backend, "temporal", True) else todo
    wanted = set(todo)
    # Only the holes wait for the backend: the plate frame is read again at write time, so the frames a
    # temporal backend reads ahead do not cost a second full-resolution copy each.
    pending: dict[int, np.ndarray] = {}

    largest = (0.0, plate.frames[0])

    def packets() -> Iterator[FramePacket]:
        nonlocal largest
        for frame in context_frames:
            image = in_display_window(plate.read(frame))  # the fill works on the frame (display window)
            hole = make_hole(mask.matte(frame, image), job.threshold, job.dilate)
            if frame in wanted:
                pending[frame] = hole
                largest = max(largest, (float(hole.mean()), frame))
            yield FramePacket(frame=frame, rgb=image.rgb(), hole=hole)

    for frame, rgb in backend.fill(packets(), reporter):
        if frame not in wanted:
            continue
        hole = pending.pop(frame)
        target = Path(out.path(frame))
        with manifest.writing(frame) as intend:
            if hole.any():
                original = plate.read(frame)
                data, display = windows(original)  # back into the plate's own data window
                shown = feather_weight(hole, job.feather)
                weight = reframe(shown, display, data)
                filled = composite(original, reframe(rgb, display, data), weight)
                if job.confidence:
                    unsure = 1.0 - confidence_map(backend, hole, shown)  # 0 wherever the plate is kept
                    sure = 1.0 - reframe(unsure, display, data)
                    filled = attach_confidence(filled, target, sure)
                write_image(target, filled, compression=compression, before_replace=intend)
            elif job.confidence:  # nothing filled: all plate, fully sure (the file gets the channel anyway)
                unchanged = plate.read(frame)
                sure = np.ones(unchanged.shape, np.float32)
                write_image(
                    target,
                    attach_confidence(unchanged, target, sure),
                    compression=compression,
                    before_replace=intend,
                )
            else:
                _copy_through(plate, frame, target, compression, intend)
        result.written.append(frame)
        reporter("write", len(result.written), len(todo), frame)
        fault_point("written", frame)
    if largest[0] >= HOLE_WARNING:
        result.notices.append(
            f"warning: the hole covers {100 * largest[0]:.0f} % of frame {largest[1]}: that much is invented, "
            "not restored; check the mask, --invert-mask, --threshold and --dilate"
        )


def _output_compression(job: FillJob, first: Image, out: FramePattern, notices: list[str]) -> str | None:
    """The output's compression, and one-line notices for what the output format cannot keep.

    A lossy input compression (DWAA/DWAB/B44) is not reused unless asked for: re-encoding would change every
    pixel outside the mask, so the output defaults to lossless ZIP and says so.
    """
    header = first.header
    source_format = header.get("format")
    target_format = FORMATS.get(out.extension, "")
    compression = job.compression
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
    if source_format == "exr" and target_format != "exr":
        lost = [n for n in first.channels if n not in ("R", "G", "B", "A", "Y")]
        parts = [f"channels {', '.join(lost)}" if lost else "", "values above 1 and below 0 (clipped)"]
        if mip_mapped:
            parts.append("mip-map levels")
        if int(header.get("parts", 1)) > 1:
            parts.append("parts " + ", ".join(header.get("part_names", [])[1:]))
        notices.append(
            f"note: {target_format.upper()} output drops the EXR plate's "
            + ", ".join(p for p in parts if p)
            + "; write .exr to keep them"
        )
    return compression


def _as_job(job: FillJob | dict | str | os.PathLike) -> FillJob:
    if isinstance(job, FillJob):
        return job
    if isinstance(job, dict):
        return FillJob.from_dict(job)
    return FillJob.load(job)


def _copy_through(
    plate: Sequence,
    frame: int,
    target: Path,
    compression: str | None,
    before_replace: Callable[[Path], None] | None = None,
) -> None:
    """A frame with nothing to fill: copy the file byte for byte when the format allows, else rewrite it."""
    source = Path(plate.path(frame))
    if source.suffix.lower() == target.suffix.lower() and compression is None:
        atomic_write(target, lambda tmp: shutil.copyfile(source, tmp), before_replace)
    else:
        write_image(target, plate.read(frame), compression=compression, before_replace=before_replace)
