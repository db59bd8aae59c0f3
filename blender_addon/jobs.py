"""Frame patterns and job files for the add-on.

Plain Python with no ``bpy`` at module level, so the tests import it without Blender. The job is the core's
``FillJob`` from the extension's copy of the protocol floor (``aifx_protocol``, written by
``utils/sync_protocol.py``): Blender's own Python has neither torch nor (usually) aifx-core, and still builds,
checks and writes the one job description the core reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .aifx_protocol.backend_options import read_options
from .aifx_protocol.job import FillJob

_LAST_DIGITS = re.compile(r"^(.*?)(\d+)(\D*)$")


@dataclass(frozen=True)
class SequenceName:
    """A numbered file split into the parts needed to name other frames of the same sequence."""

    folder: str
    head: str
    number: int
    padding: int
    tail: str

    @property
    def pattern(self) -> str:
        """The ``####`` pattern the core reads, e.g. ``/plates/sh010.####.exr``."""
        return os.path.join(self.folder, self.head + "#" * self.padding + self.tail)

    def path(self, number: int) -> str:
        return os.path.join(self.folder, f"{self.head}{number:0{self.padding}d}{self.tail}")

    @property
    def stem(self) -> str:
        """A readable base name: the file name without its number, or the folder name when that is empty."""
        stem = self.head.strip("._- ")
        return stem or os.path.basename(os.path.normpath(self.folder)) or "plate"


def split_sequence_path(path: str) -> SequenceName | None:
    """``/a/plate.0012.png`` -> parts; ``None`` when the file name has no frame number (a still)."""
    folder, name = os.path.split(path)
    root, ext = os.path.splitext(name)
    match = _LAST_DIGITS.match(root)
    if not match:
        return None
    head, digits, rest = match.groups()
    return SequenceName(folder, head, int(digits), len(digits), rest + ext)


def output_paths(stem: str, padding: int, output_dir: str, ext: str = ".exr") -> dict[str, str]:
    """Where a fill of the plate ``stem`` writes its frames (as ``ext``), its rasterised mask and its job file."""
    hashes = "#" * max(1, padding)
    return {
        "output": os.path.join(output_dir, f"{stem}_fill.{hashes}{ext}"),
        "mask_dir": os.path.join(output_dir, f"{stem}_mask"),
        "mask": os.path.join(output_dir, f"{stem}_mask", f"{stem}_mask.{hashes}.png"),
        "job": os.path.join(output_dir, f"{stem}_fill.aifx.json"),
    }


def pattern_frame_path(pattern: str, number: int) -> str:
    """Expand the last run of ``#`` in ``pattern`` to ``number`` (``a.####.exr``, 7 -> ``a.0007.exr``)."""
    match = re.search(r"#+(?!.*#)", pattern)
    if not match:
        return pattern
    width = match.end() - match.start()
    return pattern[: match.start()] + f"{number:0{width}d}" + pattern[match.end() :]


def frame_spec(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def backend_options(settings: Any) -> dict[str, Any]:
    """The options the chosen backend reads, from the panel's (or operator's) settings; ``settings`` is any
    object with the :class:`~.settings.FillOptions` attributes. Paths are expected absolute already.

    A Model or Prompt typed for another backend stays in the settings (the panel only hides it) and is left
    out here: the core refuses an option its backend does not read."""
    backend = settings.backend
    spatial = settings.spatial_backend if backend == "propagate" else None
    options: dict[str, Any] = {
        "model": settings.model,
        "prompt": settings.prompt,
        "negative_prompt": settings.negative_prompt,
    }
    if spatial:
        options["spatial_backend"] = spatial
    if backend == "video-diffusion":
        options.update(
            reference=settings.reference,
            window=int(settings.window),
            overlap=int(settings.overlap),
            steps=int(settings.steps),
            size=int(settings.model_size),
        )
    return read_options(backend, options, spatial)


def build_job(
    *,
    input: str,
    output: str,
    mask: str | None,
    backend: str,
    frames: str | None = None,
    options: dict[str, Any] | None = None,
    dilate: int = 4,
    feather: int = 2,
    seed: int = 0,
    colorspace: str | None = None,
    overwrite: bool = False,
    confidence: bool = False,
) -> FillJob:
    """The checked job; options with empty values are left out so backends use their defaults.

    Raises ``InputError`` (one line naming the setting) for a value the core would refuse.
    """
    job = FillJob(
        input=input,
        output=output,
        mask=mask or None,
        backend=backend,
        frames=frames,
        options={k: v for k, v in (options or {}).items() if v not in (None, "")},
        dilate=int(dilate),
        feather=int(feather),
        seed=int(seed),
        colorspace=colorspace or None,
        overwrite=bool(overwrite),
        confidence=bool(confidence),
    )
    job.validate()
    return job


def write_job(job: FillJob, path: str) -> str:
    """Save the job next to its output (atomically), so the same fill can be rerun (resumed) or sent to a farm."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    job.save(path)
    return path


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def existing_frames(pattern: str, numbers: list[int]) -> list[int]:
    """Which of ``numbers`` already have an output file (what a rerun will resume after)."""
    return [n for n in numbers if os.path.exists(pattern_frame_path(pattern, n))]


def frame_runs(numbers: list[int]) -> list[list[int]]:
    """``numbers`` (sorted) split where a number is missing: ``[1, 2, 5, 6]`` -> ``[[1, 2], [5, 6]]``."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def run_holding(numbers: list[int], wanted: list[int]) -> list[int]:
    """The unbroken run of ``numbers`` that holds ``wanted[0]`` (the first run when none does): what a Movie
    Clip of the sequence can show, since Blender's clip stops at the first missing file."""
    runs = frame_runs(numbers)
    for run in runs:
        if wanted and run[0] <= wanted[0] <= run[-1]:
            return run
    return runs[0] if runs else []
