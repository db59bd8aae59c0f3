"""The one job description.

A :class:`FillJob` is what every entry point passes: the Python API, ``aifx fill`` / ``aifx run job.json``,
the Blender and Nuke adapters (which write it to a file and launch ``aifx run``), and later the server and
the Ray executor. It is plain data and round-trips through JSON, so a job can be saved, diffed, resubmitted
on a farm and compared for resume.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import InputError

#: Job fields that never change pixels, left out of the resume key.
_NOT_IN_RESUME_KEY = {"overwrite", "frames", "skip_missing", "contact_sheet"}
#: Backend options that change how the work is scheduled, never the pixels (the engine's output does not depend
#: on its window size), so a rerun with another value may resume.
_OPTIONS_NOT_IN_RESUME_KEY = {"window"}

JOB_FORMAT_VERSION = 1
#: A job file is a few hundred bytes; anything above this is not one (and ``/dev/zero`` never ends).
MAX_JOB_BYTES = 1_000_000


def read_job_text(path: str | Path) -> str:
    """The text of a job file, refusing what is not one: missing, a folder, a FIFO or device (which would
    block or never end), over :data:`MAX_JOB_BYTES`, or not UTF-8. Stdlib only (the adapters use it too)."""
    p = Path(path)
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{p}: job file not found; check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{p}: job file is a symlink loop; fix the link") from None
        raise InputError(f"{p}: cannot read job file ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO or device, not a regular file"
        raise InputError(f"{p}: job file is {kind}; give the path of a job JSON file")
    if info.st_size > MAX_JOB_BYTES:
        raise InputError(
            f"{p}: job file is {info.st_size:,} bytes (a job is at most {MAX_JOB_BYTES:,}); check the path"
        )
    try:
        with open(p, "rb") as handle:
            data = handle.read(MAX_JOB_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{p}: cannot read job file ({exc.strerror})") from None
    if len(data) > MAX_JOB_BYTES:
        raise InputError(f"{p}: job file is over {MAX_JOB_BYTES:,} bytes; check the path")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{p}: job file is not UTF-8 text (bad byte at offset {exc.start}); write it with FillJob.to_json()"
        ) from None


@dataclass
class FillJob:
    """Everything needed to fill one shot.

    Paths may be frame patterns (``plate.####.exr``, ``plate.%04d.exr``, ``plate.$F4.exr``,
    ``plate.@@@@.exr``), a folder of frames, or a single image.
    """

    input: str
    output: str
    #: Mask sequence/still; ``None`` takes the plate's alpha (or :attr:`mask_channel`).
    mask: str | None = None
    #: Channel of the mask (or of the plate when ``mask`` is None) that holds the matte, e.g. ``"A"``.
    mask_channel: str | None = None
    #: Frame range spec such as ``"1001-1100"`` or ``"1001-1010,1020"``; ``None`` means every frame found.
    frames: str | None = None
    #: Skip missing frames instead of failing on gaps.
    skip_missing: bool = False
    backend: str = "propagate"
    #: Backend options: e.g. ``model``, ``prompt``, ``negative_prompt``, ``steps``, ``guidance``, ``strength``,
    #: ``scheduler``, ``keyframes``, ``spatial_backend``, ``flow_preset``.
    options: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5
    invert_mask: bool = False
    #: Grow the hole by this many pixels (covers the object's soft edge and motion blur).
    dilate: int = 4
    #: Soften the fill's edge over this many pixels outside the dilated hole (weight ramps 1 → 0).
    feather: int = 2
    #: Colourspace of the plate's values; ``None`` guesses (scene-linear for EXR, sRGB for 8/16-bit files).
    colorspace: str | None = None
    #: EXR compression of the output (``"zip"``, ``"piz"``, ``"dwaa"``...); ``None`` keeps the input's.
    compression: str | None = None
    seed: int = 0
    device: str = "auto"
    overwrite: bool = False
    #: Optional before/after contact sheet PNG written at the end.
    contact_sheet: str | None = None

    # -- JSON -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"aifx_job": JOB_FORMAT_VERSION, **asdict(self)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FillJob:
        data = dict(data)
        version = data.pop("aifx_job", JOB_FORMAT_VERSION)
        if version != JOB_FORMAT_VERSION:
            raise InputError(
                f"job format {version} is not supported by this aifx (expects {JOB_FORMAT_VERSION}); upgrade aifx-core"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown job field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}"
            )
        missing = [name for name in ("input", "output") if name not in data]
        if missing:
            raise InputError(f"job is missing required field(s) {', '.join(missing)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> FillJob:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"job is not valid JSON ({exc}); write it with FillJob.to_json()") from None
        if not isinstance(data, dict):
            raise InputError("job JSON must be an object with at least 'input' and 'output'")
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write the job atomically (temp file beside ``path``, then rename): never half a job file."""
        target = Path(path)
        temp = target.with_name(f".{target.name}.aifx-tmp-{os.getpid()}")
        try:
            temp.write_text(self.to_json() + "\n", encoding="utf-8")
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    @classmethod
    def load(cls, path: str | Path) -> FillJob:
        return cls.from_json(read_job_text(path))

    # -- validation and identity ------------------------------------------------------------------------
    def validate(self) -> None:
        """Reject option values that cannot work, before anything is read or written."""
        if not self.input:
            raise InputError("no input given; pass a plate sequence such as plate.####.exr")
        if not self.output:
            raise InputError("no output given; pass -o OUTPUT such as clean.####.exr")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise InputError(f"threshold {self.threshold} is outside 0..1")
        for name in ("dilate", "feather"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise InputError(f"{name} must be a whole number of pixels >= 0, got {value!r}")
        if not isinstance(self.options, dict):
            raise InputError("options must be a JSON object of backend options")

    def resume_key(self) -> str:
        """Hash of every setting that changes output pixels: a rerun with the same key may skip done frames."""
        data = {k: v for k, v in asdict(self).items() if k not in _NOT_IN_RESUME_KEY}
        scheduling_only = _OPTIONS_NOT_IN_RESUME_KEY if self.backend != "video-diffusion" else set()
        data["options"] = {k: v for k, v in self.options.items() if k not in scheduling_only}
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
