"""The one job description, and the one set of rules that says whether a job is well formed.

A :class:`FillJob` is what every entry point passes: the Python API, ``aifx fill`` / ``aifx run job.json``,
the Blender and Nuke adapters (which build it here, write it to a file and launch ``aifx run``), the server
and the Ray executor. It is plain data and round-trips through JSON, so a job can be saved, diffed,
resubmitted on a farm and compared for resume.

Every field is checked against its own declaration (type annotation and ``metadata``) by
:meth:`FillJob.check_fields`: a JSON job with ``"overwrite": "false"`` or ``"dilate": true`` is refused with
one line naming the field, the same way for the CLI, the API and the server. Standard library only.

**Job format and forward compatibility.** A job file travels: an artist's Nuke writes it, a farm worker with
an older aifx-core runs it. Each field declares the job format that added it (``since``); the fields of format
1 are always written (they pin the pixels: a later default can never change what an old job means), a later
field only when it is not at its default, and ``"aifx_job"`` is the newest format the written fields need. So
a job that uses no new setting is format 1 and every aifx-core reads it; one that does use it names the
format, and an aifx-core that does not know a field refuses the job with one line naming the field, the format
that added it and "upgrade aifx-core" (a setting that changes pixels is never silently ignored). A new field
therefore defaults to the behaviour from before it existed, takes ``since=JOB_FORMAT_VERSION`` after bumping
the version, and never changes its default afterwards. docs/architecture.md (Job format) lists the formats.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import numbers
import os
import stat
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import PurePath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

from .errors import InputError

#: The newest job format this aifx-core reads and writes (see the module docstring; docs/architecture.md lists them).
JOB_FORMAT_VERSION = 2
#: A job file is a few hundred bytes; anything above this is not one (and ``/dev/zero`` never ends).
MAX_JOB_BYTES = 1_000_000
#: Job fields that never change pixels, left out of the resume key.
NOT_IN_RESUME_KEY = ("overwrite", "frames", "skip_missing", "contact_sheet")


def _limits(minimum: float | None = None, maximum: float | None = None, required: str = "") -> Dict[str, Any]:
    """Field metadata read by :meth:`FillJob.check_fields`: a numeric range, or (``required``: what to give)
    a string that must not be empty."""
    return {"min": minimum, "max": maximum, "required": required}


def _since(job_format: int) -> Dict[str, Any]:
    """Field metadata: the job format that added the field (written only when not at its default)."""
    return {"since": job_format}


#: The job fields that name files (path mapping, absolute paths for a farm, a caller's ``pathlib.Path``).
PATH_FIELDS = ("input", "mask", "output", "contact_sheet")


@dataclass
class FillJob:
    """Everything needed to fill one shot.

    Paths may be frame patterns (``plate.####.exr``, ``plate.%04d.exr``, ``plate.$F4.exr``,
    ``plate.@@@@.exr``), a folder of frames, or a single image.
    """

    input: str = field(metadata=_limits(required="a plate sequence such as plate.####.exr"))
    output: str = field(metadata=_limits(required="an output pattern such as clean.####.exr"))
    #: Mask sequence/still; ``None`` takes the plate's alpha (or :attr:`mask_channel`).
    mask: str | None = None
    #: Channel of the mask (or of the plate when ``mask`` is None) that holds the matte, e.g. ``"A"``.
    mask_channel: str | None = None
    #: Frame range spec such as ``"1001-1100"`` or ``"1001-1010,1020"``; ``None`` means every frame found.
    frames: str | None = None
    #: Skip missing frames instead of failing on gaps.
    skip_missing: bool = False
    backend: str = field(default="propagate", metadata=_limits(required="a backend name, see aifx backends"))
    #: Backend options: e.g. ``model``, ``prompt``, ``negative_prompt``, ``steps``, ``guidance``, ``strength``,
    #: ``scheduler``, ``keyframes``, ``spatial_backend``, ``flow_preset``.
    options: dict[str, Any] = field(default_factory=dict)
    #: A matte value at or above this is hole (``0``: any value above 0).
    threshold: float = field(default=0.5, metadata=_limits(0.0, 1.0))
    invert_mask: bool = False
    #: Grow the hole by this many pixels (covers the object's soft edge and motion blur).
    dilate: int = field(default=4, metadata=_limits(0))
    #: Soften the fill's edge over this many pixels outside the dilated hole (weight ramps 1 → 0).
    feather: int = field(default=2, metadata=_limits(0))
    #: Colourspace of the plate's values; ``None`` guesses (scene-linear for EXR, sRGB for 8/16-bit files).
    colorspace: str | None = None
    #: EXR compression of the output (``"zip"``, ``"piz"``, ``"dwaa"``...); ``None`` keeps the input's.
    compression: str | None = None
    seed: int = field(default=0, metadata=_limits(0, 2**32 - 1))
    device: str = field(default="auto", metadata=_limits(required="auto, cpu, cuda, cuda:1 or mps"))
    overwrite: bool = False
    #: Optional before/after contact sheet PNG written at the end.
    contact_sheet: str | None = None
    #: Also write the fill's confidence (1 = plate, or background other frames saw; towards 0 = invented): an
    #: EXR channel ``fill.confidence``, or a ``confidence/`` PNG sequence beside PNG/TIFF/JPEG outputs.
    confidence: bool = field(default=False, metadata=_since(2))

    # What type checkers see (the dataclass makes the real one): the path fields take a ``pathlib.Path`` too,
    # kept as its text (``__post_init__``). Every field, in order (tests/test_job.py checks it).
    if TYPE_CHECKING:

        def __init__(
            self,
            input: str | os.PathLike[str],
            output: str | os.PathLike[str],
            mask: str | os.PathLike[str] | None = ...,
            mask_channel: str | None = ...,
            frames: str | None = ...,
            skip_missing: bool = ...,
            backend: str = ...,
            options: dict[str, Any] = ...,
            threshold: float = ...,
            invert_mask: bool = ...,
            dilate: int = ...,
            feather: int = ...,
            colorspace: str | None = ...,
            compression: str | None = ...,
            seed: int = ...,
            device: str = ...,
            overwrite: bool = ...,
            contact_sheet: str | os.PathLike[str] | None = ...,
            confidence: bool = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        for name in PATH_FIELDS:  # a Python caller's ``pathlib.Path`` is taken as its text
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, os.fspath(value))
        for name, kinds in _FIELD_TYPES.items():  # a NumPy number as the Python number JSON holds
            value = getattr(self, name)
            if isinstance(value, bool) or type(value) in (int, float):
                continue
            if "int" in kinds and isinstance(value, numbers.Integral):
                setattr(self, name, int(value))
            elif "number" in kinds and isinstance(value, numbers.Real):
                setattr(self, name, float(value))

    # -- JSON -------------------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The job as JSON-ready data (a Python caller's option objects, e.g. a flow estimator, stay objects).

        Every format-1 field is written; a field added later only when it is not at its default, and
        ``aifx_job`` is the oldest format that holds what is written, so an older aifx-core can run every job
        that does not use what it lacks (see the module docstring)."""
        data: Dict[str, Any] = {}
        job_format = 1
        for spec in fields(self):
            value = getattr(self, spec.name)
            since = _field_since(spec)
            if since > 1 and value == _field_default(spec):
                continue
            data[spec.name] = _plain(dict(value), _kept) if spec.name == "options" else value
            job_format = max(job_format, since)
        return {"aifx_job": job_format, **data}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> FillJob:
        """A checked job from its dict: unknown, missing or mistyped fields are an :class:`InputError`."""
        if not isinstance(data, dict):
            raise InputError("job must be a JSON object with at least 'input' and 'output'")
        data = dict(data)
        version = data.pop("aifx_job", JOB_FORMAT_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(
                f"job format {_shown(version)} is not a job format (a whole number >= 1); "
                "write the job with FillJob.to_json()"
            )
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if version > JOB_FORMAT_VERSION:
            # A newer aifx-core wrote it, with a setting this one does not have: refuse, never ignore it.
            names = ", ".join(f'"{name}"' for name in unknown)
            what = (
                f"job field(s) {names} come from job format {version},"
                if unknown
                else f"job format {version} is"
            )
            raise InputError(
                f"{what} newer than this aifx-core reads (formats 1-{JOB_FORMAT_VERSION}); upgrade aifx-core on "
                "this machine to the version that wrote the job, or leave those settings at their default where "
                "the job is made"
            )
        if unknown:
            raise InputError(
                f"unknown job field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}"
            )
        missing = [name for name in ("input", "output") if name not in data]
        if missing:
            raise InputError(f"job is missing required field(s) {', '.join(missing)}")
        job = cls(**data)
        job.check_fields()
        return job

    @classmethod
    def from_json(cls, text: str) -> FillJob:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"job is not valid JSON ({exc}); write it with FillJob.to_json()") from None
        except RecursionError:  # (lists or objects nested thousands deep: no job is)
            raise InputError(
                "job JSON is nested too deeply to be a job; write it with FillJob.to_json()"
            ) from None
        if not isinstance(data, dict):
            raise InputError("job JSON must be an object with at least 'input' and 'output'")
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the job atomically (temp file beside ``path``, synced, then renamed): never half a job file,
        also after a power cut. The temp name is unique per call (pid and a random token: two threads saving
        at once once shared one and renamed each other's away) and is the one ``aifx_core.sequence.atomic``
        writes (``.job.aifx-tmp-<pid>-<token>.json``), so a killed save's temp is cleaned like a frame's.

        The paths are written as the job holds them (:meth:`load` gives the same job back): a relative one is
        read by whatever runs the file against its own working folder (``aifx run`` there; a farm export and a
        server refuse it). ``fill(job, save_job=...)`` and ``aifx fill --save-job`` write them absolute
        (:func:`absolute_paths`), as the run read them."""
        import secrets

        target = os.fspath(path)
        stem, suffix = os.path.splitext(os.path.basename(target))
        name = f".{stem}.aifx-tmp-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        temp = os.path.join(os.path.dirname(target), name)
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(self.to_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temp)
            raise
        _sync_folder(os.path.dirname(target) or ".")

    @classmethod
    def load(cls, path: str | os.PathLike) -> FillJob:
        """Read a job file; a missing, special (FIFO, device), huge or non-UTF-8 file is an :class:`InputError`,
        and so is a job that is not valid (the message starts with the file: a farm log shows which job)."""
        text = read_job_text(path)
        try:
            return cls.from_json(text)
        except InputError as exc:
            raise InputError(f"{os.fspath(path)}: {exc}") from None

    # -- validation and identity ------------------------------------------------------------------------
    def check_fields(self) -> None:
        """Check every field's type and range from its declaration; the first problem is one line naming it."""
        for spec in fields(self):
            _check_field(spec.name, getattr(self, spec.name), _FIELD_TYPES[spec.name], spec.metadata)
        for name in PATH_FIELDS:  # (the OS refuses such a name with "embedded null byte", a traceback)
            value = getattr(self, name)
            if isinstance(value, str) and "\x00" in value:
                raise InputError(
                    f'job field "{name}" holds a NUL character (\\u0000); give the path without it'
                )
        self._refuse_lone_surrogates()

    def _refuse_lone_surrogates(self) -> None:
        """Refuse a lone UTF-16 surrogate in any text of the job (``"sRGB\\ud800"``: valid JSON, a Python str,
        and text nothing downstream can encode): OCIO's getColorSpace raised TypeError on such a colorspace, so
        ``aifx run`` ended in a traceback, exit 1, where an unknown name is one line, exit 2. A path may still
        carry U+DC80-U+DCFF, Python's escapes of a name's stray bytes, which the core refuses by name
        (``check_utf8``); so may an option's value, which may be a file (``model``, ``reference``)."""
        for spec in fields(self):
            name, value = spec.name, getattr(self, spec.name)
            if name in PATH_FIELDS:
                refusal = surrogate_path_error(value) if isinstance(value, str) else None
                if refusal:
                    raise InputError(f'job field "{name}": {refusal}')
            elif name == "options" and isinstance(value, dict):
                for key, option in value.items():
                    if any(lone_surrogate(text) for text in _texts(key)):
                        _refuse_surrogate(name, f"the option name {_shown(key)}")
                    if any(lone_surrogate(text, raw_bytes=True) for text in _texts(option)):
                        _refuse_surrogate(name, f"{key}: {_shown(option)}")
            elif any(lone_surrogate(text) for text in _texts(value)):
                _refuse_surrogate(name, _shown(value))

    def validate(self) -> None:
        """Reject values that cannot work, before anything is read or written."""
        self.check_fields()
        refuse_empty_path(
            self.contact_sheet,
            "contact sheet",
            '--contact-sheet "" or "contact_sheet": ""',
            "(null in a job file) for no contact sheet, or give a PNG such as sheet.png",
        )
        refuse_empty_setting(
            self.mask_channel,
            "mask channel",
            '--mask-channel "" or "mask_channel": ""',
            "(null in a job file) to take the mask's own matte (the plate's alpha without a mask), or name one "
            "such as A",
        )
        if not is_device_name(self.device):  # (a typo fails here, also for a backend that needs no device)
            raise InputError(f'job field "device" is {self.device!r}; give auto, cpu, cuda, cuda:1 or mps')

    def resume_key(
        self, pixel_options: Dict[str, Any] | None = None, *, numbers_as_written: bool = False
    ) -> str:
        """Hash of every setting that changes output pixels: a rerun with the same key may skip done frames.

        ``pixel_options`` are the backend options that change pixels, as the backend itself says (see
        ``aifx_core.backends.pixel_options``); ``None`` keys on every option. A number field keys as a float
        (``"threshold": 1`` in a job file is the CLI's ``--threshold 1``, 1.0); ``numbers_as_written``: as the
        job holds it, the key outputs made before 2026-12-07 carry (accepted by ``manifest.settings_keys``).
        """
        import hashlib

        data = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name in NOT_IN_RESUME_KEY:
                continue
            if _field_since(spec) > _KEY_FORMAT and value == _field_default(spec):
                continue  # a field added later keys only when used: adding one keeps every old output resumable
            if not numbers_as_written and "number" in _FIELD_TYPES[spec.name]:
                value = _as_float(value)
            data[spec.name] = value
        data["options"] = dict(self.options if pixel_options is None else pixel_options)
        # Keyed as the values they are, not as Python spells them: ``numpy.int64(1006)`` keys as ``1006`` and a
        # set as its sorted list (both once keyed by their type's name alone, so other keyframes reused frames).
        blob = json.dumps(_plain(data, _type_name), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _sync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (best effort: some filesystems and Windows cannot open a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def relative_paths(job: FillJob) -> Dict[str, str]:
    """The job's file fields that hold a relative path, by field name: a run reads them against its working
    folder, which means nothing to a job sent elsewhere (a server, a farm task, a Ray worker). A path starting
    with ``~`` counts: it means this user's home folder, and elsewhere it would be read as that machine's
    user's."""
    found = {}
    for name in PATH_FIELDS:
        value = getattr(job, name)
        if value and not os.path.isabs(value):
            found[name] = value
    return found


def absolute_paths(job: FillJob) -> FillJob:
    """The job with its file paths made absolute against this process's working folder (and ``~`` expanded to
    this user's home), as a run here would read them: a job sent elsewhere (a server, a Ray worker) is read
    where that folder and home mean nothing. A Windows path off Windows (:func:`windows_path`) is left as it
    is: it names another machine's file, which a server's ``--path-map`` maps (or refuses as that)."""
    changes: Dict[str, Any] = {
        name: absolute(os.path.expanduser(value))
        for name, value in relative_paths(job).items()
        if not windows_path(value)
    }
    return replace(job, **changes) if changes else job


def windows_path(value: str) -> bool:
    """Whether ``value`` is a Windows drive or UNC path (``Z:\\shots\\...``, ``\\\\server\\share\\...``) read
    on a machine that is not Windows, where ``os.path.isabs`` calls it relative: made absolute, it became
    ``/cwd/Z:\\shots\\...``, a path no ``--path-map`` rule maps, refused as outside the server's roots."""
    return os.name != "nt" and bool(PureWindowsPath(value).drive)


def lone_surrogate(text: str, raw_bytes: bool = False) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (U+D800-U+DFFF), which no UTF-8 text can: a JSON ``\\ud800``
    reads as one. ``raw_bytes``: U+DC80-U+DCFF do not count, Python's escapes (``surrogateescape``) of the bytes of
    a file name that are not UTF-8, which a path read from a disk may carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return any(
            0xD800 <= ord(c) <= 0xDFFF and not (raw_bytes and 0xDC80 <= ord(c) <= 0xDCFF) for c in text
        )
    return False


def surrogate_path_error(path: str) -> Optional[str]:
    """The one-line refusal of ``path`` when one of its names holds a lone surrogate that no bytes make (None when
    none does): no file name can be it. The job's check and the core's ``check_utf8`` (a path as it comes in)."""
    parts = PurePath(path).parts
    for index, part in enumerate(parts):
        if lone_surrogate(part, raw_bytes=True):
            kind = "file" if index == len(parts) - 1 else "folder"
            return (
                f"{_escaped(path)}: the {kind} name {_escaped(part)} holds a lone UTF-16 surrogate, which no file "
                "name can (a broken \\u escape in the job's JSON?); correct the path in the job"
            )
    return None


def _escaped(text: str) -> str:
    """``text`` printable on one line, a lone surrogate written as its escape (``\\ud800``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _texts(value: Any) -> Iterator[str]:
    """Every string in ``value``: itself, or the items of a list and the keys and values of a mapping in it."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _texts(item)


def _refuse_surrogate(name: str, what: str) -> None:
    raise InputError(
        f'job field "{name}" ({what}) holds a lone UTF-16 surrogate, which no text can (a broken \\u escape in the '
        "job's JSON?); correct it in the job"
    )


def refuse_empty_path(value: str | os.PathLike[str] | None, what: str, given: str, instead: str) -> None:
    """Refuse a path that is given but empty or blank (``--contact-sheet "$SHEET"`` with SHEET unset in a wrapper
    script, ``"contact_sheet": ""`` in a generated job): taken as "not given", the sheet, the saved job or eval's
    reference was skipped without a word and the run ended with exit 0. ``None`` is "not given"; ``given``
    names how the empty value came in, ``instead`` what leaving it out does and what to give, in one line:
    ``the mask path is empty (-m ""); leave it out (null in a job file) to use the plate's alpha, or give ...``."""
    refuse_empty_setting(None if value is None else os.fspath(value), f"{what} path", given, instead)


def refuse_empty_setting(value: str | None, what: str, given: str, instead: str) -> None:
    """:func:`refuse_empty_path`'s rule for a setting that names something other than a file: an empty or blank
    ``--mask-channel "$CH"`` was taken as "not given" (the plate's alpha filled the shot, exit 0) or refused
    only by the first frame's read, as a channel named '' the file lacks. ``None`` is "not given"."""
    if value is not None and not value.strip():
        raise InputError(f"the {what} is empty ({given}); leave it out {instead}")


def is_device_name(device: str) -> bool:
    """Whether ``device`` names one torch can run on here or elsewhere: ``auto``, ``cpu``, ``mps``, ``cuda`` or
    ``cuda:N`` (any case, spaces around)."""
    name = device.strip().lower()
    index = name[len("cuda:") :] if name.startswith("cuda:") else ""
    return name in ("auto", "cpu", "mps", "cuda") or (index.isdigit() and index.isascii())


def current_folder(path: str | os.PathLike[str]) -> str:
    """The folder aifx runs in, which the relative ``path`` is read from; where there is none (deleted, or made
    again by a sync, after the shell went into it) one line naming ``path`` and what to do: a relative output
    was called a symlink loop there, a relative contact sheet or saved job a FileNotFoundError traceback."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise InputError(
            f"{path}: the folder aifx runs in no longer exists (deleted or made again since the shell went into "
            'it), so a relative path leads nowhere; cd into an existing folder (cd "$PWD" enters one made again) '
            "or give absolute paths, and rerun"
        ) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot tell the folder aifx runs in ({exc.strerror or exc}), which relative paths are read "
            "from; cd into another folder or give absolute paths, and rerun"
        ) from None


def absolute(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute as text, as ``os.path.abspath`` does, or the line of :func:`current_folder` (where
    abspath raised FileNotFoundError: ``aifx submit`` of a job with a relative field was a traceback, exit 1)."""
    text = os.fspath(path)
    base = "" if os.path.isabs(text) else current_folder(text)
    return os.path.normpath(os.path.join(base, text))


def check_current_folder(path: str | os.PathLike[str], named: str = "") -> None:
    """Where ``path`` is relative, :func:`current_folder`'s line if the folder aifx runs in is gone, naming
    ``named`` (``--root shots``; default: the path): a relative job file, ``--root`` or ``--state`` there was
    "not found" or "no such folder", a wrong path, not a folder that is gone. Called before the path is used."""
    if not os.path.isabs(os.path.expanduser(os.fspath(path))):
        current_folder(named or path)


def read_job_text(path: str | os.PathLike) -> str:
    """The text of a job file, refusing what is not one: missing, a folder, a FIFO or device (which would
    block or never end), over :data:`MAX_JOB_BYTES`, or not UTF-8."""
    p = os.fspath(path)
    check_current_folder(p)
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
        return data.decode("utf-8-sig")  # a byte-order mark (Notepad, PowerShell's UTF8) is not the job's
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{p}: job file is not UTF-8 text (bad byte at offset {exc.start}); write it with FillJob.to_json()"
        ) from None


#: Fields of job formats up to this one are always in the resume key (as they were when it was frozen), so the
#: keys of outputs made before later fields existed stay the same.
_KEY_FORMAT = 2


def _field_since(spec: Any) -> int:
    return int(spec.metadata.get("since", 1))


def _field_default(spec: Any) -> Any:
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return spec.default


def _type_name(value: Any) -> str:
    """A Python object in the options (a flow estimator) keys by its type: stable from one run to the next."""
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _as_float(value: Any) -> Any:
    """A number as a float (1 and 1.0 are one threshold); anything else, or an int no float holds, as it is."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            return float(value)
    return value


def _kept(value: Any) -> Any:
    return value


def _plain(value: Any, other: Any) -> Any:
    """``value`` as the JSON data it stands for: a NumPy number or array (anything with ``tolist``) as its
    Python numbers, any other ``numbers.Integral``/``Real`` as ``int``/``float``, a tuple as a list, a set as its
    sorted list. What is no data (a Python caller's flow estimator) is ``other(value)``. JSON data itself comes
    back as it is, so its resume key is the one it always had."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item, other) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, other) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(item, other) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=repr))
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy (stdlib only here: read through its own method)
        return _plain(tolist(), other)
    return other(value)


# -- the rule set --------------------------------------------------------------------------------------------

#: Annotation words → the JSON kind they accept (``from __future__ import annotations`` keeps them as text,
#: which is also why this works on Python 3.9 where ``str | None`` cannot be evaluated).
_KINDS: Dict[str, str] = {"str": "string", "bool": "bool", "int": "int", "float": "number", "None": "null"}
_KIND_WORDS = {
    "string": "a string",
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number",
    "null": "null",
    "object": "an object",
    "list": "a list",
}


def _parse_annotation(annotation: str) -> Tuple[str, ...]:
    kinds: List[str] = []
    for part in str(annotation).split("|"):
        word = part.strip()
        base = word.split("[", 1)[0]
        if base in ("dict", "Dict", "Mapping"):
            kinds.append("object")
        elif base in ("list", "List"):
            kinds.append("list")
        elif word in _KINDS:
            kinds.append(_KINDS[word])
        else:
            raise TypeError(f"FillJob field annotation {annotation!r}: no validation rule for {word!r}")
    return tuple(kinds)


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, list)


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _check_field(name: str, value: Any, kinds: Tuple[str, ...], meta: Any) -> None:
    if not any(_is_kind(value, kind) for kind in kinds):
        wanted = " or ".join(_KIND_WORDS[k] for k in kinds)
        plain = value is None or type(value) in (bool, int, float, str, list, dict)
        what = "" if plain else f" (a {type(value).__module__}.{type(value).__qualname__})"
        raise InputError(f'job field "{name}" must be {wanted}, got {_shown(value)}{what}')
    if meta.get("required") and isinstance(value, str) and not value.strip():
        raise InputError(f'job field "{name}" is empty; give {meta["required"]}')
    low, high = meta.get("min"), meta.get("max")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and ((low is not None and value < low) or (high is not None and value > high)):
        limits = f"within {low}..{high}" if high is not None else f">= {low}"
        raise InputError(f'job field "{name}" must be {limits}, got {_shown(value)}')


_FIELD_TYPES: Dict[str, Tuple[str, ...]] = {
    spec.name: _parse_annotation(str(spec.type)) for spec in fields(FillJob)
}

#: The fields of job format 1, frozen: always written, so their meaning never depends on the reader's defaults.
FORMAT_1_FIELDS = (
    "input", "output", "mask", "mask_channel", "frames", "skip_missing", "backend", "options", "threshold",
    "invert_mask", "dilate", "feather", "colorspace", "compression", "seed", "device", "overwrite", "contact_sheet",
)  # fmt: skip


def _check_declarations() -> None:
    """A new field must say which format added it, or every job would carry it and old workers refuse them all."""
    for spec in fields(FillJob):
        since = _field_since(spec)
        if spec.name in FORMAT_1_FIELDS:
            if since != 1:
                raise TypeError(f"FillJob.{spec.name} is a format-1 field; it cannot declare since={since}")
        elif not 2 <= since <= JOB_FORMAT_VERSION or _field_default(spec) is MISSING:
            raise TypeError(
                f"FillJob.{spec.name}: a field added after format 1 needs a default (the behaviour from before it "
                f"existed) and metadata since=N with 2 <= N <= JOB_FORMAT_VERSION ({JOB_FORMAT_VERSION}): bump "
                "JOB_FORMAT_VERSION and declare since=JOB_FORMAT_VERSION"
            )


_check_declarations()
