"""Resume and ownership of an output sequence: the manifest, its intent records, and the output lock.

Frames are written atomically, so a file on disk is always complete; what the file alone cannot say is
whether it was made with the *same settings*. The manifest, a small JSON file beside the output frames
(``.clean.####.exr.aifx.json``), records for every finished frame the key it was made with (see
:func:`run_key`) and what its input files were (:func:`plate_identity`, :func:`source_identity`). A rerun
with the same key skips those frames; a frame made with other settings, by something else, or from another
version of its plate or mask frame (a re-render, an updated roto) is never silently mixed in (``--overwrite``
replaces it); a plate copied without its times is the same frame (its content says so). A temporal backend's
frame is made from its neighbours' plates too: each run records what those were when it first read them, under
the run's own name, so a later run (the next farm chunk) that reads a re-rendered neighbour cannot
make an earlier run's frames look current.

**Kill-safe.** Before a finished temp file is renamed onto its frame, the manifest records the *intent*: the
frame and the temp file's identity (inode, size, modification time, which a rename keeps). A run killed
between the rename and the manifest update leaves a frame that the next run recognises as its own; a cancel
(SIGTERM, Ctrl-C) raised there records the frame, since the file on disk is the intent's.

**One owner at a time.** :class:`OutputLock` (``.clean.####.exr.aifx.lock``) is held for the whole run. Runs
making the same frames share it (the same settings, and for a whole-shot backend the same shot: farm chunks of
one shot, or a rerun while one is still going: they join, and
every manifest update is read-merge-written under a short exclusive lock); a run with other settings is
refused with exit code 2, and so is a whole-shot backend's run of another frame range. The lock is an OS file lock (``flock``), so a crashed run's lock file is stale by
construction: the OS drops the lock with the process, and the next run takes it over (another user's too: a
lock file it may not write is locked read-only, and a free one replaced by its own). On a filesystem that
refuses file locks (some network filesystems) the run goes on unlocked, as before locks existed.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from .errors import AifxError, InputError
from .job import FillJob
from .protocol.job import absolute_paths
from .sequence import FramePattern, atomic_write, beside_output, earlier_beside, format_frames
from .sequence.atomic import NO_FOLLOW, linked_side_file, open_lock_file
from .sequence.identity import content_digest, plate_identity, same_plate, source_identity

MANIFEST_SUFFIX = ".aifx.json"
LOCK_SUFFIX = ".aifx.lock"
MANIFEST_FORMAT = 3  # 3: reads kept per run (runs)
#: The digest recorded for a mask file replaced between the run's read of it and the frame's write: no file has it.
CHANGED_WHILE_READ = "changed while the fill ran"

try:  # POSIX; on Windows runs are not locked (stated in the README)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


#: errno values meaning "this filesystem has no file locks".
_NO_LOCKS = {errno.ENOLCK, errno.EBADF, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS}


def manifest_path(output_pattern: str | FramePattern) -> Path:
    """``out/clean.####.exr`` → ``out/.clean.####.exr.aifx.json`` (one manifest per output sequence, however
    its pattern is spelled: see :func:`~aifx_core.sequence.beside_output`)."""
    return beside_output(output_pattern, MANIFEST_SUFFIX)


def lock_path(output_pattern: str | FramePattern) -> Path:
    return beside_output(output_pattern, LOCK_SUFFIX)


def settings_keys(
    job: FillJob,
    pixel_options: dict[str, Any],
    spelled: dict[str, Any],
    spelled_options: dict[str, Any] | None = None,
    earlier: list[dict[str, Any]] | None = None,
) -> tuple[str, frozenset[str]]:
    """The job's settings key, and the keys the same settings had before paths were keyed as ``spelled``.

    ``spelled`` holds the job's path fields as the files they name, one spelling for all (relative to the
    output's folder, the pattern's ``#`` form: the pipeline spells them from the opened sequences), so a job run
    here and sent to a Ray worker or a server (its relative paths made absolute there), given as
    ``./shot/plate.%04d.exr``, or run again after its project folder moved whole keys the same. ``spelled_options``: the pixel options with those naming files (a model, a config, a reference
    image) spelled so too (absolute), so ``--model models/lama.pt`` and its absolute path, which ``aifx submit``
    and Ray send, key the same. Outputs made before were keyed on the fields as written, or as a Ray worker got
    them (absolute), and the file options as typed: those keys stay accepted (:attr:`Manifest.accepted`), so no
    finished frame is made again, as do the keys of ``earlier``, the spellings an earlier aifx gave the files
    (``clean.#.exr`` for ``clean.$F.exr`` over 1001-1100, now ``clean.####.exr``), with either form of the file
    options."""
    options = spelled_options if spelled_options is not None else pixel_options
    key = replace(job, **spelled).resume_key(options)
    # The paths as written, as a Ray worker got them, spelled (outputs made on 2026-12-06), and as earlier aifx
    # spelled the files; each with the file options as typed and as spelled.
    spellings = [job, absolute_paths(job), replace(job, **spelled)]
    spellings += [replace(job, **paths) for paths in earlier or []]
    before = set()
    for spelling in spellings:
        for opts in (pixel_options, options):
            before.add(spelling.resume_key(opts))
            # (a whole-number threshold keyed as written, 1 apart from 1.0: outputs made before 2026-12-07)
            before |= {written.resume_key(opts, numbers_as_written=True) for written in _as_written(spelling)}
    return key, frozenset(before - {key})


def _as_written(job: FillJob) -> list[FillJob]:
    """``job`` with its threshold as each way a job could have held it: an aifx before 2026-12-07 keyed the number
    as written, so frames of a job file's ``"threshold": 1`` carry another key than ``--threshold 1``'s 1.0, and
    a rerun of either spelling must find the other's frames done."""
    t = job.threshold
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not float(t).is_integer():
        return [job]
    return [job, replace(job, threshold=int(t)), replace(job, threshold=float(t))]


def run_key(job: FillJob, frames: list[int], range_dependent: bool, settings_key: str | None = None) -> str:
    """The key a frame is made under: the job's settings, plus the frame range when the backend's pixels
    depend on which frames it saw (the temporal engine), so a frame filled as part of 1001-1030 is never taken
    for one of a whole-shot run. ``settings_key`` is the job's resume key over the options that change pixels
    (the pipeline asks the backends: ``job.resume_key(backends.pixel_options(...))``)."""
    key = settings_key or job.resume_key()
    if not range_dependent:
        return key
    blob = f"{key}|{format_frames(frames)}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# -- the lock ---------------------------------------------------------------------------------------------


class OutputLock:
    """Exclusive ownership of an output pattern by one group of same-settings runs (see module docstring).

    ``group`` is what runs must share to join: the key their frames are made under (:func:`run_key`: the job's
    settings, plus the shot for a whole-shot backend), so farm chunks of one shot run side by side while a run
    of another frame range, whose frames differ, is refused; the file records it with the owner's pid and host
    for messages.
    """

    def __init__(
        self,
        output_pattern: str | FramePattern,
        group: str,
        describe: str,
        accepted: frozenset[str] = frozenset(),
        on_last: Callable[[], None] | None = None,
        per_shot: bool = False,
    ) -> None:
        self.path = lock_path(output_pattern)
        #: Run by the group's last holder as it lets go, under the gate with the lock its own (:meth:`release`):
        #: no run of the group writes anything then, so a temp file of the output's is a killed holder's.
        self.on_last = on_last
        self.group = group
        #: Groups that are these settings too: the settings keys of the paths as written (:func:`settings_keys`),
        #: which an aifx from before 2026-12-06 holds the lock under, so a farm still running it is joined.
        self.accepted = accepted
        self.describe = describe
        #: Whether ``group`` holds the shot (a whole-shot backend): a run refused may differ by its frame range
        #: alone, and the refusal says so, as :meth:`Manifest.plan`'s does.
        self.per_shot = per_shot
        self._hold: int | None = None
        self.joined = False
        #: False where the output's filesystem refuses file locks: the run then goes on unlocked.
        self.supported = True

    def _flock(self, fd: int, operation: int) -> bool:
        """``flock``; False (and the lock is off for this run) where the filesystem has no file locks (some
        network filesystems refuse them), so a run there works as it did before locks rather than failing."""
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            raise
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            self.supported = False
            return False
        return True

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        with self.exclusive():
            if not self.supported:
                return
            hold, writable = open_lock_file(self.path)
            try:
                if not self._flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB):
                    os.close(hold)
                    with contextlib.suppress(OSError):
                        os.unlink(self.path)
                    return
            except BlockingIOError:
                owner = _read_owner(hold)
                if owner.get("group") != self.group and owner.get("group") not in self.accepted:
                    os.close(hold)
                    who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
                    why = (
                        "different settings or another frame range (shot)"
                        if self.per_shot
                        else "different settings"
                    )
                    raise InputError(
                        f"{self.describe}: another aifx job ({who}) is writing this output with {why}; wait for it "
                        "to finish or choose another output"
                    ) from None
                fcntl.flock(hold, fcntl.LOCK_SH)  # same settings: join (the owners hold it shared)
                self.joined = True
            else:
                # Free, or left by a crashed run (the OS dropped its lock): take it over.
                if not writable:  # (another user's: its record names their run, not this one)
                    hold = self._replace_foreign(hold)
                payload = {"group": self.group, "pid": os.getpid(), "host": socket.gethostname()}
                os.ftruncate(hold, 0)
                os.pwrite(hold, json.dumps(payload).encode(), 0)
                fcntl.flock(hold, fcntl.LOCK_SH)  # others of the group may join; the gate is still ours
            self._hold = hold

    def _replace_foreign(self, hold: int) -> int:
        """A fresh lock file of this run's, in place of ``hold``: a free one another user's run left, which
        this run can lock but not write its record into. Replaced under the gate with ``hold`` locked, so no run
        holds or opens the old one meanwhile."""
        try:
            os.unlink(self.path)
            fresh = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            os.close(hold)
            raise InputError(
                f"{self.path}: this lock file, left by another user's run, cannot be replaced "
                f"({exc.strerror or exc}); delete it (no aifx job is writing this output now) and rerun"
            ) from None
        os.close(hold)
        fcntl.flock(fresh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fresh

    def release(self) -> None:
        """Drop the lock; the last holder runs :attr:`on_last` (a killed holder's temp files: the run that took
        the lock alone cleaned those left before it, not those of a holder killed while it ran beside it) and
        removes the lock file (under the gate, so no one is opening it). An output folder deleted or renamed
        during the run has no lock file left to remove: the run's own error (:func:`folder_kept`) is the one
        raised, not this clean-up's."""
        if self._hold is None:
            return
        hold, self._hold = self._hold, None
        try:
            with self.exclusive():
                try:
                    fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # others of the group still run
                if self.on_last is not None:
                    with contextlib.suppress(OSError):
                        self.on_last()
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
        except FileNotFoundError:
            pass  # (the folder is gone)
        finally:
            os.close(hold)  # closing drops the flock

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """A short exclusive section (the gate) for checking the lock and for manifest read-merge-writes.

        The gate is a lock on the output folder itself, which no run ever deletes, so it leaves no file.
        """
        if fcntl is None:  # pragma: no cover
            yield
            return
        if not self.supported:
            yield
            return
        gate = os.open(self.path.parent, os.O_RDONLY)
        try:
            self._flock(gate, fcntl.LOCK_EX)
            yield
        finally:
            os.close(gate)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def folder_kept(folder: Path, cache: Path) -> Iterator[None]:
    """Held around a run writing into ``folder`` (its job cache ``cache`` beside it): a failure once the folder
    (or the cache) was deleted or renamed during the run, whatever it failed on (the manifest's gate, a frame's
    or a block's write), is one line saying so, not an internal error."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, AifxError):
            raise
        if not folder.is_dir():
            raise InputError(
                f"{folder}: the output folder disappeared during the run (deleted or renamed); rerun to resume"
            ) from exc
        missing = getattr(exc, "filename", None)
        if isinstance(exc, FileNotFoundError) and missing and Path(missing).is_relative_to(cache):
            raise InputError(
                f"{cache}: the output's cache folder disappeared during the run (deleted or renamed); rerun to "
                "resume"
            ) from exc
        raise


#: The run of frames recorded before reads were kept per run (one table for every run).
LEGACY_RUN = ""


def _reads_by_run(data: object) -> dict[str, dict[int, list[Any]]]:
    """The manifest's ``reads``: {run: {frame: identity}}; an older file's single {frame: identity} table
    becomes the :data:`LEGACY_RUN`'s (its frames name no run). Another shape raises (see :func:`_tables`)."""
    if data is None:
        return {}
    if isinstance(data, dict) and any(
        isinstance(v, list) for v in data.values()
    ):  # one table, not one per run
        return {LEGACY_RUN: _table(data, _identities)}
    return {run: _table(read, _identities) for run, read in _table_of(data).items()}


def _tables(data: dict[str, Any]) -> dict[str, Any]:
    """The manifest's tables, by the :class:`Manifest` attribute each fills, from its JSON ``data``.

    Raises ValueError or TypeError where ``data`` is not the shape aifx writes (a hand edit, a sync tool's
    merge, another tool): the caller then reads it as no manifest at all, as one that is not JSON, instead of
    failing on it further on, deep in the run (and in an ``--overwrite`` run, which is the way out).
    """
    if "done" in data and "frames" not in data:  # format 1: one key for every frame
        key = str(data.get("resume_key"))
        done = data["done"]
        frames = {int(_number(f)): key for f in (done if isinstance(done, list) else _not_a("list", done))}
    else:
        frames = _table(data.get("frames"), _text)
    return {
        "frames": frames,
        "ranges": {name: _text(text) for name, text in _table_of(data.get("ranges")).items()},
        "sources": _table(data.get("sources"), _identities),
        "models": _table(data.get("models"), _text),
        "reads": _reads_by_run(data.get("reads")),
        "spans": _table(data.get("spans"), _numbers),
        "outputs": _table(data.get("outputs"), _numbers),
        "runs": _table(data.get("runs"), _text),
        "pending": _table(data.get("pending"), _intent),
    }


def _table_of(data: object) -> dict[str, Any]:
    """A JSON object (``None``: an empty one; anything else raises)."""
    if data is None:
        return {}
    return data if isinstance(data, dict) else _not_a("table", data)


def _table(data: object, value: Callable[[Any], Any]) -> dict[int, Any]:
    """A manifest table ``{"1001": ...}``: its frames as numbers (one that is none raises ValueError), each value
    checked by ``value``."""
    return {int(frame): value(item) for frame, item in _table_of(data).items()}


def _not_a(kind: str, value: object) -> Any:
    raise TypeError(f"expected a {kind}, got {type(value).__name__}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else _not_a("string", value)


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else _not_a("number", value)


def _numbers(value: object) -> list[int]:
    return [_number(item) for item in value] if isinstance(value, list) else _not_a("list", value)


def _identity_record(value: object) -> list[Any] | None:
    """One file's identity as recorded (:func:`~.sequence.identity.source_identity`): numbers and text, or none."""
    if value is None or (isinstance(value, list) and all(isinstance(item, (int, str)) for item in value)):
        return value
    return _not_a("file identity", value)


def _identities(value: object) -> list[Any]:
    """A frame's input files' identities (its sources, or a neighbour's as a run read them)."""
    return [_identity_record(item) for item in value] if isinstance(value, list) else _not_a("list", value)


def _intent(value: object) -> dict[str, Any]:
    """A pending frame's intent as :meth:`Manifest.writing` saves it (what :meth:`Manifest._recover` takes)."""
    intent = _table_of(value)
    _text(intent.get("key"))
    _numbers(intent.get("identity"))
    if intent.get("sources") is not None:
        _identities(intent["sources"])
    if intent.get("model") is not None:
        _text(intent["model"])
    if intent.get("span") is not None:
        _numbers(intent["span"])
        _table(intent.get("reads"), _identities)
        _text(intent.get("run", LEGACY_RUN))
    return intent


def _read_owner(fd: int) -> dict[str, Any]:
    for _ in range(50):  # the owner writes its record right after locking; give it a moment
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            return data
        time.sleep(0.02)
    return {}


class _Pattern(Protocol):
    def path(self, frame: int) -> Path: ...


# -- the manifest -----------------------------------------------------------------------------------------


class Manifest:
    """Which output frames exist, and under which key each was made (see the module docstring)."""

    def __init__(
        self,
        output: _Pattern,
        job: FillJob,
        key: str,
        lock: OutputLock | None = None,
        accepted: frozenset[str] = frozenset(),
    ) -> None:
        self.output = output
        self.path = manifest_path(output if isinstance(output, FramePattern) else str(output))
        self.key = key
        #: Keys that mean this run's settings too: what frames made before the key's paths were spelled one way
        #: were recorded under (:func:`settings_keys`). Their frames are done; new frames get :attr:`key`.
        self.accepted = accepted
        self.job = job
        self.lock = lock
        #: frame → key it was made with (this run's frames and any others the file records).
        self.frames: dict[int, str] = {}
        #: frame → identity of the temp file about to be renamed onto it (see :meth:`writing`).
        self.pending: dict[int, dict[str, Any]] = {}
        #: key → frame range text it was made over, for messages.
        self.ranges: dict[str, str] = {}
        #: frame → what its input files were when it was made (:func:`source_identity` of each).
        self.sources: dict[int, list[Any]] = {}
        #: The files frame N is made from (its plate frame; its mask file, known by content), set by the run;
        #: None: not kept. See :func:`source_identity`.
        self.inputs: Callable[[int], list[tuple[Path, bool]]] | None = None
        #: frame → the fingerprint of the model it was made with (:func:`~aifx_core.inpaint.models.model_fingerprint`).
        self.models: dict[int, str] = {}
        #: The fingerprint of the model (and reference image) this run fills with (set by the run; None: no
        #: model, or not known) and what it covers as the job names it (``the model M or its reference R``), for
        #: messages. A finished frame made from another is not done; one with none recorded (made before models
        #: were, or by a run without one) is.
        self.model: str | None = None
        self.model_name = "the model"
        #: The plate frames output N is made from (a temporal backend reads its neighbours), set by the run once
        #: its backend is known; None: only its own (see :meth:`_changed_read`).
        self.depends: Callable[[int], list[int]] | None = None
        #: run → {frame: what its input files were when that run's written frames first read them}
        #: (:func:`source_identity` each). Kept per run: a later run (another farm chunk) that reads a plate
        #: frame after it was re-rendered records the new version under its own name, and never overwrites
        #: the version an earlier run's frames were made from.
        self.reads: dict[str, dict[int, list[Any]]] = {}
        #: frame → [size, modification time] of the output file as this aifx wrote it (none: made before
        #: 2026-12-07): a resume finds a frame cut short since by its size (:meth:`output_state`).
        self.outputs: dict[int, list[int]] = {}
        #: frame → [first, last] plate frame it was made from (frames whose pixels depend on their neighbours).
        self.spans: dict[int, list[int]] = {}
        #: frame → the run that made it (whose :attr:`reads` its span is compared with).
        self.runs: dict[int, str] = {}
        #: This run's name in :attr:`reads` and :attr:`runs`.
        self.run = uuid.uuid4().hex[:12]
        #: Frames this run wrote (and recorded): kept when the file read back has lost them (see :meth:`_update`).
        self._written: set[int] = set()
        #: Frames whose inputs this run has recorded in :attr:`reads` (each is looked at once a run).
        self._recorded: set[int] = set()
        #: input file → its stat (:func:`_identity`) when this run first read it (see :meth:`reading`), and the
        #: files a later read of this run found changed since.
        self._read_as: dict[str, list[int] | None] = {}
        self._read_twice_changed: set[str] = set()
        self._hashed: dict[tuple[str, int, int], list[Any] | None] = {}
        self._digests: dict[tuple[str, int, int], str] = {}
        #: Whether frames were recorded in memory after the last save (see :meth:`writing`).
        self._unsaved = False
        #: The bytes this run last saved (None: none yet): while the file still holds them, nobody else wrote it
        #: and reading it back would give what is in memory (see :meth:`_update`).
        self._saved: bytes | None = None

    @property
    def done(self) -> set[int]:
        """Frames made with this run's key."""
        return {f for f, k in self.frames.items() if k == self.key or k in self.accepted}

    @classmethod
    def load(
        cls,
        output: _Pattern,
        job: FillJob,
        key: str | None = None,
        lock: OutputLock | None = None,
        accepted: frozenset[str] = frozenset(),
    ) -> Manifest:
        """The manifest of ``output`` (a :class:`~aifx_core.sequence.FramePattern`) for a run of ``job``."""
        manifest = cls(output, job, key or job.resume_key(), lock, accepted)
        manifest._read()
        return manifest

    def _readable(self) -> Path:
        """The manifest file to read: this output's, else one an older aifx kept under another name
        (:func:`~aifx_core.sequence.earlier_beside`: the padding as typed, the pattern as spelled)."""
        if os.path.lexists(self.path):  # (a link naming nothing is this output's too: refused as it is read)
            return self.path
        output = self.output if isinstance(self.output, FramePattern) else str(self.output)
        earlier = earlier_beside(output, MANIFEST_SUFFIX)
        return next((path for path in earlier if os.path.lexists(path)), self.path)

    def _read(self) -> None:
        """Refresh from disk, recovering frames whose rename happened but whose record did not.

        A manifest that cannot be read, is not JSON, or is JSON of another shape than aifx writes (a hand edit,
        a sync tool's merge, another tool) is read as none: the frames on disk are then made by something else
        (:meth:`plan` says to pass ``--overwrite``), and an ``--overwrite`` run writes it anew. One a newer aifx
        wrote is refused, naming it (see :meth:`_ours`)."""
        path = self._readable()
        try:
            data = json.loads(_read_unlinked(path).decode("utf-8"))
        except (OSError, ValueError):
            data = {}
        try:
            tables = _tables(data if self._ours(path, data) else {})
        except (TypeError, ValueError):
            tables = _tables({})
        for name, table in tables.items():
            setattr(self, name, table)
        for frame, intent in list(self.pending.items()):
            if _identity(self.output.path(frame)) == intent.get("identity"):
                self._recover(frame, intent)  # renamed, then killed before the record
                del self.pending[frame]

    def _ours(self, path: Path, data: object) -> bool:
        """Whether this aifx reads the manifest ``data`` (at ``path``): not one a newer aifx wrote (its
        ``aifx_manifest`` above :data:`MANIFEST_FORMAT`), which is refused in one line naming it (it used to be
        refused as made "with different settings", and the user went looking for a setting), or, in an
        ``--overwrite`` run, read as none (the run writes its own). Raises TypeError for data of another shape
        (see :func:`_tables`)."""
        stamped = _table_of(data).get("aifx_manifest")
        if stamped is None or _number(stamped) <= MANIFEST_FORMAT:
            return True
        if self.job.overwrite:
            return False
        raise InputError(
            f"{path}: written by a newer aifx (manifest format {stamped}; this aifx reads up to "
            f"{MANIFEST_FORMAT}); run that aifx, or pass --overwrite to fill the output again with this one"
        )

    def _recover(self, frame: int, intent: dict[str, Any]) -> None:
        """Record ``frame`` as its saved ``intent`` says: the file it names was renamed onto the frame."""
        self.frames[frame] = str(intent["key"])
        if intent.get("sources") is not None:
            self.sources[frame] = list(intent["sources"])
        self._note_output(frame, intent.get("identity"))
        self._record_model(frame, intent.get("model"))
        self._settle_reads(frame, intent)

    def _abandon(self, frame: int) -> None:
        """Drop ``frame``'s intent after its write failed, unless the rename already happened (a Ctrl-C or
        SIGTERM raised while the folder is synced, just after it): the frame on disk is then this run's, and
        its intent is the only record of that, so it is recorded, not dropped."""
        intent = self.pending.pop(frame, None)
        if intent is not None and _identity(self.output.path(frame)) == intent.get("identity"):
            self._recover(frame, intent)
            self._written.add(frame)

    def plan(self, frames: list[int], existing: set[int], overwrite: bool, output_name: str) -> list[int]:
        """Frames still to render. Refuses to clobber outputs made with other (or unknown) settings."""
        if overwrite:
            return list(frames)
        self.refuse_foreign(existing, output_name)
        done = self.done
        changed: dict[int, str] = {}  # finished frame -> its first input that is not what it was
        # Each run's neighbours whose inputs changed since it read them, shared by its finished frames.
        neighbours: dict[str, list[tuple[int, Path]]] = {}
        finished = [f for f in frames if f in done and f in existing]
        spans = [self.spans[f] for f in finished if f in self.spans]
        # Only neighbours within some finished frame's span are looked at (a chunk's plan reads its reach).
        reach = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else (0, -1)
        for frame in finished:
            path = self._changed_input(frame)
            if path is not None:
                changed[frame] = f"{path} of frame {frame}"
            elif self._changed_model(frame):
                changed[frame] = f"{self.model_name}, which frame {frame} was made with"
            else:
                path = self._changed_read(frame, neighbours, reach)
                if path is not None:
                    changed[frame] = f"{path}, which frame {frame} was made from"
        if changed:
            first = next(iter(changed))  # (in the order of frames)
            raise InputError(
                f"{output_name}: the inputs of {len(changed)} finished frame(s) changed since they were made "
                f"(first: {changed[first]}; a plate frame is compared by size, and by content where its "
                "modification time changed, a mask by content, a model by its files' sizes and times, a reference "
                "image by content); pass "
                "--overwrite to fill them again"
            )
        return [f for f in frames if f not in done or f not in existing]

    def refuse_foreign(self, existing: set[int], output_name: str, chunk: list[int] | None = None) -> None:
        """Refuse when any of the ``existing`` output frames was made with other (or unknown) settings. A farm
        chunk or the anchors stage passes every frame of the shot on disk, not only those it writes, with its
        own frames as ``chunk`` (None: the whole shot): a chunk run with edited settings would otherwise write
        beside an earlier fill's frames, a mix no one-process run of the shot makes."""
        done = self.done
        foreign = sorted(f for f in existing if f not in done)
        if not foreign:
            return
        first = foreign[0]
        other = self.frames.get(first)
        if other is None:
            why = "by something else"
        elif other in self.ranges and self.ranges.get(self.key) != self.ranges[other]:
            why = f"with different settings or frame range ({self.ranges[other]})"
        else:
            why = "with different settings"
        where = ""
        if chunk is not None and first not in chunk:
            where = (
                f", not in this chunk ({format_frames(chunk, max_parts=4)}): every frame of the shot counts"
            )
        raise InputError(
            f"{output_name}: {len(foreign)} output frame(s) already exist, made {why} "
            f"(first: {first}{where}); pass --overwrite to replace them or choose another output"
        )

    def _changed_model(self, frame: int) -> bool:
        """Whether ``frame`` was made with another model than this run's: other weights at the same path, or a
        hub id's cache moved to another revision. A frame with no model recorded is not checked."""
        made = self.models.get(frame)
        return made is not None and self.model is not None and made != self.model

    def _record_model(self, frame: int, model: Any) -> None:
        """Record the model ``frame`` was made with (none: forget one an earlier fill of the frame recorded)."""
        if model is None:
            self.models.pop(frame, None)
        else:
            self.models[frame] = str(model)

    def _changed_input(self, frame: int) -> Path | None:
        """The input file of ``frame`` that is not what it was when the frame was made, if one is known.

        Frames made before inputs were recorded, or by a run that does not say its inputs, are not checked."""
        return self._changed_since(frame, self.sources.get(frame))

    def _changed_read(
        self, frame: int, checked: dict[str, list[tuple[int, Path]]], reach: tuple[int, int]
    ) -> Path | None:
        """The input file of another frame that ``frame`` was made from (a temporal backend's neighbour) and
        that is not what it was when the run that made ``frame`` read it, if one is known. ``checked`` holds,
        per run, its neighbours within ``reach`` that changed (frame order), found once for the plan: a whole-shot
        backend's every frame spans the shot, and looking its span up frame by frame made the plan quadratic."""
        span = self.spans.get(frame)
        run = self.runs.get(frame, LEGACY_RUN)
        read = self.reads.get(run)
        if span is None or read is None:
            return None
        if run not in checked:
            within = sorted((f, identity) for f, identity in read.items() if reach[0] <= f <= reach[1])
            found = ((other, self._changed_since(other, identity)) for other, identity in within)
            checked[run] = [(other, path) for other, path in found if path is not None]
        changed = checked[run]
        at = bisect.bisect_left(changed, span[0], key=lambda item: item[0])
        for other, path in changed[at : at + 2]:  # (at most one of them is ``frame`` itself)
            if other != frame and other <= span[1]:
                return path
        return None

    def _changed_since(self, frame: int, recorded: list[Any] | None) -> Path | None:
        """The first input file of ``frame`` whose identity is not ``recorded``'s (None: nothing recorded)."""
        if recorded is None or self.inputs is None:
            return None
        files = self.inputs(frame)
        if len(recorded) != len(files):
            return files[0][0] if files else None
        for (path, by_content), before in zip(files, recorded, strict=True):
            if by_content:  # (a still mask is hashed once: _identity_of)
                if self._identity_of(path, by_content) != before:
                    return path
            elif not same_plate(path, before, source_identity(path), digest=self.digest_of):
                return path
        return None

    def reading(self, frame: int) -> None:
        """Note what ``frame``'s input files are as the run is about to read them (call before the read). The
        record a frame is written with is taken at write time, frames (and a temporal backend's neighbours)
        later: a plate or mask re-rendered in between was recorded as its new version while the frame had been
        made from the old one, and the rerun took it for done (:meth:`_as_read` compares the two)."""
        if self.inputs is None:
            return
        for path, _ in self.inputs(frame):
            name, now = str(path), _identity(path)
            if name not in self._read_as:
                self._read_as[name] = now
            elif self._read_as[name] != now:
                self._read_twice_changed.add(name)

    def _sources_of(self, frame: int) -> list[Any] | None:
        if self.inputs is None:
            return None
        return [self._as_read(path, by_content) for path, by_content in self.inputs(frame)]

    def _as_read(self, path: Path, by_content: bool) -> list[Any] | None:
        """What the manifest records for an input file: its identity now (:meth:`_identity_of`) while it is the
        file this run read (the same inode, size and time as :meth:`reading` noted; a file the run never noted
        is taken as it is). One replaced or re-rendered since is recorded as it was read, which the file on disk
        no longer matches, so the rerun refuses the frame as made from another version of its input (a plate
        frame: its size and time then; a mask, known by content: a digest nothing has)."""
        name = str(path)
        identity = self._identity_of(path, by_content)
        if name not in self._read_as:
            return identity
        before = self._read_as[name]
        if name not in self._read_twice_changed and _identity(path) == before:
            return identity
        if before is None:
            return None
        return [before[1], CHANGED_WHILE_READ] if by_content else [before[1], before[2]]

    def _identity_of(self, path: Path, by_content: bool) -> list[Any] | None:
        """What the manifest records for an input file: a plate frame's :func:`plate_identity`, a mask's
        :func:`source_identity` by content; each file hashed once while its size and time stay (a still mask is
        the same file for every frame the run writes; a plate frame is recorded as a frame's own input and
        again as a neighbour a temporal backend read)."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        memo = (str(path), info.st_size, info.st_mtime_ns)
        if memo not in self._hashed:
            self._hashed[memo] = (
                source_identity(path, by_content=True)
                if by_content
                else plate_identity(path, digest=self.digest_of)
            )
        return self._hashed[memo]

    def digest_of(self, path: Path) -> str:
        """:func:`content_digest` of ``path``, once while its size and time stay: a plate frame copied without its
        times is compared by content as its own input, again as each run's neighbour and once more when its
        new identity is recorded; each of those read the whole file."""
        info = os.stat(path)
        memo = (str(path), info.st_size, info.st_mtime_ns)
        if memo not in self._digests:
            self._digests[memo] = content_digest(path)
        return self._digests[memo]

    def plate_digests(self, plate_path: Callable[[int], Path]) -> dict[tuple[str, int, int], str]:
        """The content digests recorded for plate frames (as a frame's own input or a neighbour a run read), by
        the frame's ``plate_path``, size and modification time when recorded: what the anchors cache compares
        a plate copied without its times with (:meth:`aifx_core.anchors.AnchorStore.load`)."""
        found: dict[tuple[str, int, int], str] = {}
        recorded = [*self.sources.items(), *(item for read in self.reads.values() for item in read.items())]
        for frame, identities in recorded:
            plate = identities[0] if identities else None
            if isinstance(plate, list) and len(plate) >= 3:
                found[(str(plate_path(frame)), int(plate[0]), int(plate[1]))] = str(plate[2])
        return found

    def left_over(self, shot: list[int]) -> list[int]:
        """The frames outside ``shot`` still on disk that the manifest has as made under another key: an earlier
        fill of a longer or renumbered shot (then trimmed in editorial), which no run of this shot writes,
        replaces or refuses, so a Read of the output would take them as part of it. They are left alone (a farm
        chunk never touches frames but its own); the run names them (:func:`~aifx_core.pipeline.fill`)."""
        inside = set(shot)
        current = {self.key, *self.accepted}
        return sorted(
            f
            for f, key in self.frames.items()
            if f not in inside and key not in current and self.output.path(f).exists()
        )

    def record_range(self, frames: list[int]) -> None:
        self.ranges[self.key] = format_frames(frames)

    @contextlib.contextmanager
    def writing(self, frame: int) -> Iterator[Callable[[Path], None]]:
        """Write one frame: yields ``intend(temp_path)``, to call once the temp file is complete and before it
        is renamed; on leaving, records the frame as done. Held under the lock's exclusive section, so runs
        that joined the lock never lose each other's records."""
        # The inputs as they are now, just read for this frame: found before the lock is taken, since hashing
        # them (a plate frame's digest, a mask's content) concerns this run only, and farm chunks sharing the
        # lock wait for every moment it is held.
        sources = self._sources_of(frame)
        reads, span = self._reads_now(frame)
        model = self.model
        section = self.lock.exclusive() if self.lock is not None else contextlib.nullcontext()
        renamed: list[Any] = []  # (the temp file's identity, which the rename keeps)
        with section:

            def intend(temp: Path) -> None:
                intent: dict[str, Any] = {"key": self.key, "identity": _identity(temp), "sources": sources}
                renamed[:] = [intent["identity"]]
                if model is not None:
                    intent["model"] = model
                if span is not None:
                    intent.update(reads={str(f): v for f, v in reads.items()}, span=span, run=self.run)
                self._update(lambda: self.pending.__setitem__(frame, intent))
                fault_point("before-rename", frame)

            try:
                yield intend
            except BaseException:
                with contextlib.suppress(Exception):
                    self._update(lambda: self._abandon(frame))
                raise
            fault_point("after-rename", frame)
            # The saved intent (the renamed file's identity) already makes the frame this run's for any reader
            # (:meth:`_read` recovers it), so its record is settled in memory here and reaches the file with the
            # next update: the next frame's intent, or :meth:`settle` at the end. One manifest write (two
            # fsyncs, ~15 ms of disk latency on the writer thread) a frame instead of two; a kill in between
            # leaves what a kill right after the rename always left, which the next run recovers.
            self.pending.pop(frame, None)
            self.frames[frame] = self.key
            self._written.add(frame)
            self._note_output(frame, renamed[0] if renamed else _identity(self.output.path(frame)))
            if sources is not None:
                self.sources[frame] = sources
            self._record_model(frame, model)
            if span is not None:
                self.reads.setdefault(self.run, {}).update(reads)
                self.spans[frame] = span
                self.runs[frame] = self.run
            self._unsaved = True

    def _note_output(self, frame: int, identity: list[Any] | None) -> None:
        """Record output ``frame``'s size and modification time as written (``identity``: its
        :func:`_identity`, that of the temp file renamed onto it; None: not known, nothing recorded)."""
        if identity is not None:
            self.outputs[frame] = [int(identity[1]), int(identity[2])]
        else:
            self.outputs.pop(frame, None)

    def output_state(self, frame: int) -> str:
        """Whether output ``frame`` on disk is what this aifx wrote: ``"same"`` (its size and time as recorded:
        whole, nothing to read), ``"resized"`` (another size than written: cut short, or changed by hand),
        ``"touched"`` (the size as written, another time) or ``"unknown"`` (nothing recorded: made before
        2026-12-07, or gone). One stat, no read: a resume looks at every finished frame."""
        recorded = self.outputs.get(frame)
        now = _identity(self.output.path(frame))
        if recorded is None or now is None:
            return "unknown"
        if now[1] != recorded[0]:
            return "resized"
        return "same" if now[2] == recorded[1] else "touched"

    def _reads_now(self, frame: int) -> tuple[dict[int, list[Any]], list[int] | None]:
        """What the neighbours ``frame`` is made from are now ({frame: identity} of those this run has not
        recorded yet), and its span: a plate frame re-rendered after its neighbours' outputs were written, but
        before its own was, must not leave those outputs taken for done on the next run."""
        if self.depends is None or self.inputs is None:
            return {}, None
        frames = self.depends(frame)
        if not frames:
            return {}, None
        reads: dict[int, list[Any]] = {}
        for other in frames:
            if other not in self._recorded:
                identity = self._sources_of(other)
                if identity is not None:
                    reads[other] = identity
                self._recorded.add(other)
        return reads, [min(frames), max(frames)]

    def _settle_reads(self, frame: int, intent: dict[str, Any]) -> None:
        """Take a recovered intent's reads and span (see :meth:`_reads_now`)."""
        if intent.get("span") is None:
            return
        run = str(intent.get("run", LEGACY_RUN))
        self.spans[frame] = [int(x) for x in intent["span"]]
        self.runs[frame] = run
        self.reads.setdefault(run, {}).update(
            {int(f): list(v) for f, v in dict(intent.get("reads") or {}).items()}
        )

    def settle(self) -> None:
        """Save the frames :meth:`writing` recorded in memory only (nothing to do when none is waiting)."""
        if not self._unsaved:
            return
        section = self.lock.exclusive() if self.lock is not None else contextlib.nullcontext()
        with section:
            self._update(lambda: None)

    def _update(self, change: Callable[[], Any]) -> None:
        """Read what other runs recorded, apply ``change``, write back atomically. What this run wrote and the
        file no longer records (deleted during the run) is kept: the frames on disk are still this run's."""
        mine = self.ranges.get(self.key)
        if not self._still_mine():
            ours = self._own_records()
            self._read()
            self._restore(ours)
        if mine is not None:
            self.ranges[self.key] = mine
        change()
        self._rekey()
        self.save()
        self._unsaved = False

    def rekey(self) -> None:
        """Save now if any frame carries an :attr:`accepted` key, recording it under :attr:`key` (call under the
        lock's exclusive section): a rerun that finds every frame done writes none, so without this the old key
        stayed and Ray or another spelling of the paths kept refusing a finished output."""
        if any(k in self.accepted for k in self.frames.values()):
            self._update(lambda: None)

    def _rekey(self) -> None:
        """Record frames made under an :attr:`accepted` key under :attr:`key`: the same settings, so a run that
        spells the paths another way (a Ray worker's absolute ones) takes them as done too."""
        if not self.accepted:
            return
        for frame, key in self.frames.items():
            if key in self.accepted:
                self.frames[frame] = self.key
        for key in self.accepted:
            if key in self.ranges:
                self.ranges.setdefault(self.key, self.ranges[key])
                del self.ranges[key]

    def _own_records(self) -> tuple[dict[int, tuple[str, Any, Any, Any, Any, Any]], dict[int, list[Any]]]:
        """This run's records in memory: each frame it wrote (key, sources, span, run, output, model) and its
        reads."""
        frames = {
            f: (
                self.frames[f],
                self.sources.get(f),
                self.spans.get(f),
                self.runs.get(f),
                self.outputs.get(f),
                self.models.get(f),
            )
            for f in self._written
            if f in self.frames
        }
        return frames, dict(self.reads.get(self.run, {}))

    def _restore(
        self, ours: tuple[dict[int, tuple[str, Any, Any, Any, Any, Any]], dict[int, list[Any]]]
    ) -> None:
        """Put back :meth:`_own_records` the file read back lacks (another run's newer record of a frame wins)."""
        frames, reads = ours
        for frame, (key, sources, span, run, output, model) in frames.items():
            if frame in self.frames:
                continue
            self.frames[frame] = key
            tables = (
                (self.sources, sources),
                (self.spans, span),
                (self.runs, run),
                (self.outputs, output),
                (self.models, model),
            )
            for table, value in tables:
                if value is not None:
                    table[frame] = value
        if reads:
            kept = self.reads.setdefault(self.run, {})
            for frame, identity in reads.items():
                kept.setdefault(frame, identity)

    def save(self) -> None:
        # Only runs some recorded frame was made by are kept (a frame filled again by a later run, or with
        # --overwrite, leaves its old run's reads behind).
        made_by = {self.runs.get(f, LEGACY_RUN) for f in self.spans if f in self.frames}
        data = {
            "aifx_manifest": MANIFEST_FORMAT,
            "frames": {str(f): k for f, k in sorted(self.frames.items())},
            "pending": {str(f): v for f, v in sorted(self.pending.items())},
            "sources": {str(f): v for f, v in sorted(self.sources.items()) if f in self.frames},
            "models": {str(f): v for f, v in sorted(self.models.items()) if f in self.frames},
            "reads": {
                run: {str(f): v for f, v in sorted(read.items())}
                for run, read in self.reads.items()
                if run in made_by
            },
            "spans": {str(f): v for f, v in sorted(self.spans.items()) if f in self.frames},
            "runs": {str(f): r for f, r in sorted(self.runs.items()) if f in self.frames},
            "outputs": {str(f): v for f, v in sorted(self.outputs.items()) if f in self.frames},
            "ranges": self.ranges,
            "job": self.job.to_dict(),
        }
        # (a Python caller's flow estimator is recorded by repr) Not indented: with ``indent`` the json module
        # encodes in Python, not C, holding the GIL on the writer thread, and the file grows with the shot
        # (every frame's record and sources): 0.35 → 0.06 ms a save at 70 frames, 4.9 → 0.85 ms at 1000.
        blob = json.dumps(data, default=repr).encode("utf-8")
        atomic_write(self.path, lambda tmp: tmp.write_bytes(blob))
        self._saved = blob

    def _still_mine(self) -> bool:
        """Whether the file holds exactly what this run saved last: then no other run (a farm chunk that joined
        the lock) wrote it since, and :meth:`_read` would rebuild what is in memory (this run's frames recorded
        since, the intent they were saved with recovered), so it is not parsed again. The file grows with the
        shot, and parsing it back before every frame's save was the writer's largest Python cost on long shots."""
        if self._saved is None:
            return False
        try:
            return _read_unlinked(self.path) == self._saved
        except OSError:
            return False


def _read_unlinked(path: Path) -> bytes:
    """The bytes of the manifest ``path``, never read through a symlink (:data:`NO_FOLLOW`): no aifx run makes
    one (:meth:`Manifest.save` renames a file onto the name), and one planted there (``cp -s`` of another
    version's output) had a plain run take the file it names for this output's record of finished frames, where
    ``aifx serve`` refuses the link. Raises the one-line :class:`InputError` for a link, OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | NO_FOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            harm = "the run would read the file it names as this output's record of finished frames"
            raise linked_side_file(path, "manifest", harm) from None
        raise
    with os.fdopen(fd, "rb") as file:
        return file.read()


def _identity(path: Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def fault_point(name: str, frame: int) -> None:
    """Test hooks, read only by the bad-input suite's subprocesses (unset in real use).

    ``AIFX_TEST_FAULT=after-rename:1003`` (or ``before-rename:1003``) kills the process (SIGKILL) at that point,
    to prove a kill there is recoverable; ``AIFX_TEST_WAIT=written:1001:/path/go`` pauses there until the file
    ``/path/go`` exists (at most a minute), so a test can start a second run while the first is mid-shot.
    """
    wanted = os.environ.get("AIFX_TEST_FAULT")
    if wanted and wanted == f"{name}:{frame}":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    wait = os.environ.get("AIFX_TEST_WAIT", "")
    if wait.startswith(f"{name}:{frame}:"):
        go = Path(wait.split(":", 2)[2])
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
