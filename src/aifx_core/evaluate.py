"""``aifx eval``: how good and how stable is a fill?

With a ground-truth ``--reference`` (a clip whose hidden pixels are known, e.g. a synthetic hole cut into a clean
plate) it reports PSNR and SSIM over the frame and inside the hole, and the warping error E_warp measured with
the reference's motion. Without one it reports temporal stability only: E_warp on the result's own motion, whose
inside-the-hole value is the flicker a viewer sees. It also writes a per-frame plot and a before/after contact
sheet, so a number in a ticket comes with a picture.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .arguments import path_argument
from .errors import InputError
from .metrics import FrameScores, SequenceScorer, display_unit, json_number
from .protocol.job import refuse_empty_path, refuse_empty_setting

if TYPE_CHECKING:
    from .sequence import ProtectedFiles

#: Columns of the summary and per-frame tables: (key, heading, format).
_COLUMNS = (
    ("psnr", "PSNR dB", "{:8.2f}"),
    ("psnr_hole", "hole PSNR", "{:9.2f}"),
    ("ssim", "SSIM", "{:7.4f}"),
    ("ssim_hole", "hole SSIM", "{:9.4f}"),
    ("ewarp", "E_warp", "{:10.3e}"),
    ("ewarp_hole", "hole E_warp", "{:11.3e}"),
)


@dataclass
class EvalReport:
    """Everything ``aifx eval`` measured, ready for a table or JSON."""

    result: str
    reference: str | None
    mask: str | None
    colorspace: str
    frames: list[FrameScores]
    summary: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)
    #: The reference's own colourspace (a linear EXR truth for an sRGB PNG result is decoded as linear).
    reference_colorspace: str | None = None
    #: Mask values at or above this were scored as hole (the sheet outlines the same hole).
    threshold: float = 0.5
    #: The mask's channel read as the matte (None: the fill's default choice), and whether it was inverted: a
    #: fill made with --mask-channel or --invert-mask is scored inside the hole it filled.
    mask_channel: str | None = None
    invert_mask: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reference": self.reference,
            "mask": self.mask,
            "colorspace": self.colorspace,
            "reference_colorspace": self.reference_colorspace,
            "threshold": self.threshold,
            "mask_channel": self.mask_channel,
            "invert_mask": self.invert_mask,
            "frame_count": len(self.frames),
            "summary": {k: json_number(v) for k, v in self.summary.items()},
            "frames": [f.to_dict() for f in self.frames],
            "files": self.files,
        }


def _open(spec: str, frames: str | None, role: str, skip_missing: bool = False) -> Any:
    from .sequence import open_sequence

    # (aifx eval has no --skip-missing: it scores the frames all its sequences have, chosen with --frames)
    return open_sequence(
        spec,
        frames=frames,
        skip_missing=skip_missing,
        role=role,
        fix_missing="render them or score others with --frames",
    )


def _open_mask(
    spec: str, plate: Any, threshold: float = 0.5, channel: str | None = None, invert: bool = False
) -> Callable[[int], np.ndarray]:
    """``frame -> matte`` (float, 0..1) for a mask sequence or still, read by the fill's own
    :class:`~.mask.MaskSource` (``channel``, ``invert`` as ``aifx fill``'s --mask-channel, --invert-mask), so the
    hole scored is the hole the fill filled; ``threshold``: what counts as hole."""
    from .mask import open_mask

    source = open_mask(spec, channel, plate, invert=invert, threshold=threshold)
    return source.matte


def evaluate(
    result: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    mask: str | os.PathLike[str] | None = None,
    frames: Iterable[int] | int | str | None = None,
    colorspace: str | None = None,
    threshold: float = 0.5,
    progress: Callable[[int, int, int], None] | None = None,
    *,
    mask_channel: str | None = None,
    invert_mask: bool = False,
) -> EvalReport:
    """Score the ``result`` sequence (against ``reference`` when given, inside ``mask`` when given).

    Frames are read one at a time, so any length fits in memory. ``colorspace`` defaults to the guess aifx makes
    for the result's first frame; all images are compared display-encoded on 0..1 (:func:`display_unit`).
    ``mask_channel`` and ``invert_mask`` read ``mask`` as the fill's ``mask_channel`` and ``invert_mask`` do.
    """
    from .colour import check_colorspace, convert, guess_colorspace, resolve_colorspace
    from .sequence import format_frames
    from .sequence.frames import frames_text

    # Kept as text: the report is JSON (a pathlib.Path there stopped write_outputs after two of its files).
    result = os.fspath(result)
    reference = None if reference is None else os.fspath(reference)
    mask = None if mask is None else os.fspath(mask)
    frames = frames_text(frames)
    check_colorspace(colorspace)
    _refuse_empty_inputs(reference, mask)
    refuse_empty_setting(
        mask_channel,
        "mask channel",
        '--mask-channel ""',
        "to take the mask's own matte, or name one such as A",
    )
    if mask is None and (invert_mask or mask_channel is not None):
        raise InputError(
            "--invert-mask and --mask-channel read the --mask matte; give --mask (the matte the fill was made with; "
            "for the plate's alpha: --mask plate.####.exr --mask-channel A)"
        )
    result_seq = _open(result, frames, "result")
    wanted = list(result_seq.frames)
    # The reference's frames among the result's, so its gaps elsewhere (or frames past the result) do not
    # matter; one the result has and it lacks is refused below.
    reference_seq = (
        _open(reference, format_frames(wanted), "reference", skip_missing=True)
        if reference is not None
        else None
    )
    if reference_seq is not None:
        missing = [f for f in wanted if f not in set(reference_seq.frames)]
        if missing:
            raise InputError(
                f"{reference}: no reference frame(s) {_short_list(missing)} for the result; "
                "give a reference covering the same frames or limit them with --frames"
            )
    matte = _open_mask(mask, result_seq, threshold, mask_channel, invert_mask) if mask is not None else None
    from .mask import make_hole

    first = result_seq.read(wanted[0])
    space = (
        resolve_colorspace(colorspace)
        if colorspace is not None
        else guess_colorspace(first, result_seq.path(wanted[0]))
    )
    # Each sequence is decoded in its own colourspace, and the truth converted into the result's before both go
    # to the display: a scene-linear EXR truth of an sRGB PNG result read as sRGB scored the same picture at
    # 11 dB, and each shown through its own space's display curve (a roll-off for scene-linear only) at 29 dB.
    reference_space = None
    first_truth = None  # (the reference's first frame, read once: for its colourspace, then scored)
    if reference_seq is not None:
        first_truth = reference_seq.read(wanted[0])
        reference_space = (
            space if colorspace is not None else guess_colorspace(first_truth, reference_seq.path(wanted[0]))
        )

    # Pairs only at the frames' own step: the pair across a gap (1002 -> 1005) is not a neighbour's motion.
    from .sequence.window import in_display_window

    # Frames are scored in their display window, the frame the mask and the reference are drawn in: a result
    # keeps its plate's data window (overscan, a bbox per frame), which was refused as another resolution or,
    # with frames of different data windows, failed in E_warp with a traceback.
    scorer = SequenceScorer(
        step=min((b - a for a, b in zip(wanted[:-1], wanted[1:], strict=True)), default=None)
    )
    for index, frame in enumerate(wanted):
        image = in_display_window(first if index == 0 else result_seq.read(frame))
        result_rgb = display_unit(image.rgb(), space)
        reference_rgb = None
        if reference_seq is not None:
            truth = in_display_window(
                first_truth if index == 0 and first_truth is not None else reference_seq.read(frame)
            )
            if truth.shape != image.shape:
                raise InputError(
                    f"{reference_seq.path(frame)}: reference is {truth.width}x{truth.height} but the result is "
                    f"{image.width}x{image.height}; compare sequences of the same resolution"
                )
            reference_rgb = display_unit(convert(truth.rgb(), reference_space or space, space), space)
        hole = None
        if matte is not None:
            values = np.asarray(matte(frame))
            if values.shape != image.shape:
                raise InputError(
                    f"{mask}: mask of frame {frame} is {values.shape[1]}x{values.shape[0]} but the result is "
                    f"{image.width}x{image.height}; use the mask the fill was made with"
                )
            hole = make_hole(values, threshold)  # the fill's own rule (at or above; 0: any non-zero)
        scorer.add(frame, result_rgb, reference_rgb, hole)
        if progress is not None:
            progress(index + 1, len(wanted), frame)
    return EvalReport(
        result=result,
        reference=reference,
        mask=mask,
        colorspace=space,
        frames=scorer.frames,
        summary=scorer.summary(),
        reference_colorspace=reference_space,
        threshold=threshold,
        mask_channel=mask_channel,
        invert_mask=invert_mask,
    )


def _refuse_empty_inputs(reference: str | None, mask: str | None) -> None:
    """An empty ``--reference``/``--mask`` (a QC script's unset variable) is refused, not taken as "not given":
    the eval then scored stability only, with no hole, and exited 0 (see :func:`refuse_empty_path`)."""
    refuse_empty_path(
        reference,
        "reference",
        '--reference ""',
        "to score stability only, or give the ground truth such as truth.####.exr",
    )
    refuse_empty_path(
        mask,
        "mask",
        '--mask ""',
        "to score the whole frame only, or give the matte the fill was made with, such as roto.####.png",
    )


def _refuse_empty_outputs(out_dir: str | os.PathLike[str] | None, plate: str | None) -> None:
    """An empty ``--out``/``--plate`` is refused as the inputs are (:func:`_refuse_empty_inputs`): the eval
    wrote into aifx_eval/ or left the sheet's "before" row out, with exit 0."""
    refuse_empty_path(
        out_dir,
        "eval folder",
        '--out ""',
        "for aifx_eval/ beside the result, or give a folder such as eval/",
    )
    refuse_empty_path(
        plate,
        "plate",
        '--plate ""',
        "for a sheet without the 'before' row, or give the plate such as plate.####.exr",
    )


def _short_list(values: Sequence[int], limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


# -- outputs ----------------------------------------------------------------------------------------------


def write_plot(
    path: str | Path,
    panels: list[tuple[str, dict[str, tuple[list[int], list[float]]]]],
    title: str = "",
    log_y: Sequence[str] = (),
) -> Path:
    """A PNG with one panel per ``(y label, {series label: (frames, values)})``; NaN points are gaps.

    Panels whose label is in ``log_y`` get a log scale when all their values are positive (E_warp spans
    orders of magnitude between a clean clip and a flickering fill).

    Uses matplotlib's Agg canvas directly (no pyplot), so it works headless and in any thread.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 2.6 * len(panels) + 0.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (ylabel, series) in zip(axes, panels, strict=True):
        for label, (xs, ys) in series.items():
            ax.plot(xs, [np.nan if v is None else v for v in ys], marker=".", label=label)
        ax.set_ylabel(ylabel)
        values = [v for _, ys in series.values() for v in ys if v is not None and math.isfinite(v)]
        if ylabel in log_y and values and min(values) > 0:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if len(series) > 1:
            ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("frame")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    return target


def _finite(values: list[float]) -> bool:
    return any(not math.isnan(v) and not math.isinf(v) for v in values)


def write_eval_plot(path: str | Path, report: EvalReport) -> Path:
    """Per-frame E_warp (full frame and hole) and, with a reference, per-frame PSNR."""
    frames = [f.frame for f in report.frames]
    pick = {name: [getattr(f, name) for f in report.frames] for name, _, _ in _COLUMNS}
    panels: list[tuple[str, dict[str, tuple[list[int], list[float]]]]] = []
    ewarp = {label: (frames, pick[key]) for key, label in (("ewarp", "full frame"), ("ewarp_hole", "hole"))}
    ewarp_label = "E_warp (frame t vs warped t+1)"
    panels.append((ewarp_label, {k: v for k, v in ewarp.items() if _finite(v[1])}))
    if report.reference is not None:
        psnr = {label: (frames, pick[key]) for key, label in (("psnr", "full frame"), ("psnr_hole", "hole"))}
        panels.append(("PSNR dB vs reference", {k: v for k, v in psnr.items() if _finite(v[1])}))
    return write_plot(path, panels, title=Path(report.result).name, log_y=(ewarp_label,))


def default_out_dir(result: str) -> Path:
    """``aifx_eval/`` beside the result (beside its folder when the result is a folder)."""
    path = Path(result)
    return (path.parent if path.name else path) / "aifx_eval"


#: The files :func:`write_outputs` puts in its folder.
EVAL_FILES = ("per_frame.png", "contact_sheet.png", "metrics.json")


def write_outputs(report: EvalReport, out_dir: str | Path, plate: str | None = None) -> dict[str, str]:
    """The per-frame plot, the contact sheet and ``metrics.json`` in ``out_dir``; returns their paths.

    ``plate`` (the sequence before the fill) adds a "before" row to the sheet, with the hole outlined. Every file
    is checked (:func:`_check_eval_files`) before the folder is made or anything is written.
    """
    from .contact_sheet import before_after_sheet
    from .sequence import format_frames

    _refuse_empty_outputs(out_dir, plate)
    folder = Path(out_dir)
    spec = format_frames(  # the frames scored, so gaps elsewhere on disk do not matter
        [f.frame for f in report.frames]
    )
    protected = _check_eval_files(report.result, report.reference, report.mask, plate, spec, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{folder}: cannot create the output folder ({exc.strerror}); pass --out DIR"
        ) from None
    from .sequence import check_side_output

    for name in EVAL_FILES:  # (the fill's side-output rules: a file path, not a FIFO or a folder, writable)
        check_side_output(folder / name, f"eval {name}", protected, flag="--out")
    frames_list = [f.frame for f in report.frames]
    files = {"plot": str(write_eval_plot(folder / "per_frame.png", report))}
    result_seq = _open(report.result, spec, "result")
    reference_seq = _open(report.reference, spec, "reference") if report.reference is not None else None
    plate_seq = _open(plate, spec, "plate") if plate is not None else None
    mask = None
    if report.mask is not None:  # the hole as scored (--threshold), not the matte cut at 0.5
        from .mask import make_hole

        matte = _open_mask(report.mask, result_seq, report.threshold, report.mask_channel, report.invert_mask)

        def mask(frame: int) -> np.ndarray:
            return make_hole(np.asarray(matte(frame)), report.threshold)

    files["contact_sheet"] = str(
        before_after_sheet(
            folder / "contact_sheet.png",
            plate_seq,
            result_seq,
            frames_list,
            mask=mask,
            reference_seq=reference_seq,
            colorspace=report.colorspace,
            reference_colorspace=report.reference_colorspace,
        )
    )
    report.files = files
    metrics_path = folder / "metrics.json"
    files["json"] = str(metrics_path)
    from .sequence import atomic_write

    text = json.dumps(report.to_dict(), indent=2) + "\n"
    atomic_write(metrics_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return files


def check_out_folder(
    out_dir: str | os.PathLike[str],
    result: str,
    reference: str | None = None,
    mask: str | None = None,
    plate: str | None = None,
    frames: Iterable[int] | int | str | None = None,
) -> None:
    """Refuse an ``--out`` eval cannot write before a frame is scored (scoring a long shot takes minutes):
    what :func:`write_outputs` checks, made without writing anything. ``frames``: as given to
    :func:`evaluate` (the result's frames it scores, whose inputs' files are protected)."""
    from .sequence import format_frames
    from .sequence.frames import frames_text

    _refuse_empty_inputs(reference, mask)
    _refuse_empty_outputs(out_dir, plate)
    folder = Path(out_dir)
    spec = format_frames(_open(result, frames_text(frames), "result").frames)
    protected = _check_eval_files(result, reference, mask, plate, spec, folder)
    _check_creatable(folder)
    if folder.is_dir():
        from .sequence import check_side_output

        for name in EVAL_FILES:
            check_side_output(folder / name, f"eval {name}", protected, flag="--out")


def _check_creatable(folder: Path) -> None:
    """Refuse a --out folder that ``mkdir -p`` would fail on, without making it: a file in its place or above
    it, or a missing folder under one this user cannot write to (the line :func:`write_outputs` gives)."""
    above = folder
    while not os.path.lexists(above) and above.parent != above:
        above = above.parent
    problem = None
    if not above.is_dir():
        problem = "Not a directory" if above != folder else "File exists"
    elif above != folder and not os.access(above, os.W_OK | os.X_OK):
        problem = "Permission denied"
    if problem is not None:
        raise InputError(f"{folder}: cannot create the output folder ({problem}); pass --out DIR")


def _check_eval_files(
    result: str,
    reference: str | None,
    mask: str | None,
    plate: str | None,
    spec: str,
    folder: Path,
) -> ProtectedFiles:
    """Refuse, before ``folder`` is made, what eval would write where it reads (the rules aifx fill has for its
    side outputs): a file replacing an input (a mask named contact_sheet.png in --out), or a file put in a
    folder given as an input (``aifx eval res/ --out res/`` wrote per_frame.png among the result's frames, then
    failed on it as a frame without a number, and res/ could no longer be read by eval or fill). ``spec``: the
    frames scored (a reference lacking some is left to :func:`evaluate`'s line). Returns the inputs' files, for
    :func:`~.sequence.check_side_output` once the folder exists."""
    from .sequence import ProtectedFiles, open_sequence
    from .sequence.reader import check_outside_input_folder

    inputs = [_open(result, spec, "result")]
    if reference is not None:
        inputs.append(_open(reference, spec, "reference", skip_missing=True))
    if plate is not None:
        inputs.append(_open(plate, spec, "plate"))
    if mask is not None:
        inputs.append(open_sequence(mask, frames=spec, skip_missing=True, role="mask"))
    protected = ProtectedFiles()
    for sequence in inputs:
        protected.add_frames(sequence, f"{sequence.role} frame")
    for name in EVAL_FILES:
        target = folder / name
        for sequence in inputs:
            check_outside_input_folder(target, sequence, str(target), f"eval {name} (--out)")
        protected.refuse(target, f"eval {name}", "--out")
    return protected


def _cell(value: float, fmt: str) -> str:
    width = len(fmt.format(0.0))
    if math.isnan(value):
        return "-".rjust(width)
    if math.isinf(value):
        return "inf".rjust(width)
    return fmt.format(value)


def format_table(report: EvalReport, per_frame: bool = False) -> str:
    """The human-readable table: one summary line, optionally one line per frame."""
    columns = [c for c in _COLUMNS if report.reference is not None or c[0].startswith("ewarp")]
    if report.mask is None:
        columns = [c for c in columns if not c[0].endswith("_hole")]
    header = "frame".rjust(8) + " " + " ".join(h.rjust(len(fmt.format(0.0))) for _, h, fmt in columns)
    lines = [header]
    if per_frame:
        for scores in report.frames:
            cells = [_cell(getattr(scores, key), fmt) for key, _, fmt in columns]
            lines.append(str(scores.frame).rjust(8) + " " + " ".join(cells))
    cells = [_cell(report.summary[key], fmt) for key, _, fmt in columns]
    lines.append("mean".rjust(8) + " " + " ".join(cells))
    return "\n".join(lines)


def describe(report: EvalReport) -> str:
    against = (
        f"vs {report.reference}"
        if report.reference is not None
        else "(no reference: stability only, hole E_warp = flicker)"
    )
    inside = f", hole from {report.mask}" if report.mask is not None else ""
    if report.mask is not None and report.mask_channel is not None:
        inside += f" channel {report.mask_channel}"
    if report.mask is not None and report.invert_mask:
        inside += " (inverted)"
    space = report.colorspace
    if report.reference_colorspace not in (None, space):
        space = f"{space} (reference decoded from {report.reference_colorspace})"
    return f"{report.result} {against}{inside}; {len(report.frames)} frames, compared in {space}"


# -- CLI --------------------------------------------------------------------------------------------------


def register_cli(subparsers: Any) -> None:
    """Add ``aifx eval`` to the main parser."""
    parser = subparsers.add_parser(
        "eval",
        help="measure a fill: PSNR/SSIM vs a reference, E_warp temporal stability",
        description=(
            "Score a filled sequence. With --reference: PSNR and SSIM (full frame and inside the --mask hole) "
            "and the warping error E_warp (Lai et al. 2018) on the reference's motion. Without: E_warp of the "
            "result on its own motion; inside the hole that is flicker. Writes a per-frame plot, a contact sheet "
            "and metrics.json into --out."
        ),
    )
    path_argument(parser, "result", help="filled sequence, e.g. clean.####.exr")
    path_argument(parser, "--reference", help="ground truth of the same frames (what the hole really hid)")
    path_argument(parser, "--mask", help="hole mask sequence or still (as given to aifx fill)")
    parser.add_argument(
        "--mask-channel", help="channel of --mask holding the matte, e.g. A or mask.Y (as given to aifx fill)"
    )
    parser.add_argument(
        "--invert-mask",
        action="store_true",
        help="the hole is where the --mask matte is 0 (a fill made with --invert-mask, e.g. from a holdout)",
    )
    parser.add_argument("--frames", help="frame range, e.g. 1001-1100, 1001-1100x2 or 1001-1010,1020")
    path_argument(
        parser, "--plate", help="the plate before the fill: adds a 'before' row to the contact sheet"
    )
    path_argument(
        parser,
        "--out",
        help="folder for the plot, contact sheet and metrics.json (default: aifx_eval/ beside the result)",
    )
    parser.add_argument(
        "--colorspace", help="colourspace of the sequences (default: guessed from the result)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="mask values at or above this are hole, as for aifx fill (0.5)",
    )
    parser.add_argument("--per-frame", action="store_true", help="print one line per frame too")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold {args.threshold} is outside 0..1")
    out = args.out if args.out is not None else default_out_dir(args.result)
    # Every --out check before the scoring, as the inputs' (it reads every frame: minutes on a long shot).
    check_out_folder(out, args.result, args.reference, args.mask, args.plate, args.frames)
    report = evaluate(
        args.result,
        reference=args.reference,
        mask=args.mask,
        frames=args.frames,
        colorspace=args.colorspace,
        threshold=args.threshold,
        mask_channel=args.mask_channel,
        invert_mask=args.invert_mask,
    )
    if len(report.frames) < 2:
        print("aifx eval: one frame only, so no E_warp (it needs frame pairs)", file=sys.stderr)
    write_outputs(report, out, plate=args.plate)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(describe(report))
        print(format_table(report, per_frame=args.per_frame))
        print(f"plot: {report.files['plot']}\ncontact sheet: {report.files['contact_sheet']}")
    return 0
