"""Progress reporting and cooperative cancellation.

The same two objects serve the Python API, the CLI's progress bar, the ``--json-progress`` stream the
Blender and Nuke adapters read, and the server: a callback that receives a
:class:`~aifx_core.protocol.events.ProgressEvent` (defined on the protocol floor, since it crosses process
boundaries) and a :class:`CancelToken` that the long loops poll between frames.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from .protocol import events
from .protocol.errors import Cancelled, InputError
from .protocol.events import ProgressEvent

__all__ = ["CancelToken", "ProgressCallback", "ProgressEvent", "Reporter"]

ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken:
    """Thread-safe flag: set it from anywhere, long loops call :meth:`raise_if_cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled; finished frames are kept and a rerun resumes after them")


class Reporter:
    """Bundles the callback and the cancel token so stages need one argument, not two."""

    def __init__(self, callback: ProgressCallback | None = None, cancel: CancelToken | None = None) -> None:
        # A caller's mix-up fails here, before anything is written (``cancel=True`` failed once the output
        # folder existed, ``progress=5`` at the first event).
        if callback is not None and not callable(callback):
            raise TypeError(
                f"progress must be a function taking a ProgressEvent, not {type(callback).__name__}"
            )
        if cancel is not None and not isinstance(cancel, CancelToken):
            raise TypeError(
                f"cancel must be a CancelToken (cancel.cancel() stops the run), not {type(cancel).__name__}"
            )
        self.callback = callback
        self.cancel = cancel or CancelToken()
        # The pipeline's writer thread reports written frames while the engine reports its own: callbacks
        # never run at the same time.
        self._lock = threading.Lock()

    def __call__(
        self, stage: str, index: int, total: int, frame: int | None = None, message: str = ""
    ) -> None:
        self.cancel.raise_if_cancelled()
        if self.callback is not None:
            with self._lock:
                self.callback(ProgressEvent(stage, index, total, frame, message))


@contextlib.contextmanager
def stdout_for_events() -> Iterator[TextIO]:
    """The process's stdout kept for one protocol's lines (JSON events): yielded as a stream on a copy of fd 1,
    while fd 1 and ``sys.stdout`` point at stderr, so whatever else is printed meanwhile (a library's
    ``print``; Ray's ``(raylet) A worker died ...`` lines, which it writes to ``sys.stdout`` whatever
    ``log_to_driver`` says; a C library's printf; the processes started meanwhile, which inherit fd 1) lands
    on stderr, never among the events. Both are put back as they were at the end (``aifx run`` may be called
    in a host process); the copy is not inherited by the processes started meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    before = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield events
    finally:
        sys.stdout = before
        os.dup2(saved, 1)
        os.close(saved)
        with contextlib.suppress(OSError):  # (its reader gone: the run's own error says so)
            events.close()


# -- the command line's progress output (aifx fill, run and submit) -------------------------------------------

#: Where ``--json-progress`` events go while stdout is kept for them alone (:func:`events_alone_on_stdout`);
#: None: ``sys.stdout``.
_events_out: TextIO | None = None


@contextlib.contextmanager
def events_alone_on_stdout(json_progress: bool) -> Iterator[None]:
    """With ``--json-progress``, stdout holds the events alone while inside: everything else printed to it goes
    to stderr (:func:`~aifx_core.progress.stdout_for_events`, as ``aifx serve``'s worker keeps its protocol).
    Ray prints a dead worker's ``(raylet) A worker died ...`` paragraph to ``sys.stdout``, in colour, which broke
    "one JSON object per line". Without a real stdout (a host's capture, ``>&-``) nothing changes."""
    global _events_out
    try:
        real = json_progress and sys.stdout is not None and sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        yield
        return
    with stdout_for_events() as out:
        _events_out = out
        try:
            yield
        finally:
            _events_out = None


def emit_event(payload: dict) -> None:
    """One event, one line, in one write: SIGTERM (cancel) raises between bytecodes, so a line written piecewise
    could be cut and glued to the ``cancelled`` event after it, and the reader would lose both. The write is also
    shielded: the handler only sets the cancel flag inside it, and the next progress check raises."""
    from .workers import signal_shield  # (here: ``import aifx_core`` stays light in a DCC's Python)

    stream = _events_out if _events_out is not None else sys.stdout
    if stream is None:  # (started with stdout closed, `>&-`)
        raise InputError(_events_unwritable("it is closed"))
    with signal_shield():
        data = (events.encode(payload) + "\n").encode("utf-8")
        try:
            stream.flush()
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # not a real file (captured in a test, embedded)
                stream.write(data.decode("utf-8"))
                stream.flush()
                return
            while data:
                data = data[os.write(fd, data) :]
        except BrokenPipeError:
            raise  # (its reader went away: main stops quietly, _reader_gone)
        except OSError as exc:  # a full disk (> /dev/full), a closed descriptor
            raise InputError(_events_unwritable(exc.strerror or exc)) from None


def stdout_unwritable(what: str, why: object, them: str, then: str) -> str:
    """The one line for ``what`` that stdout does not take (``why``: a full disk, a closed descriptor), every
    command's in the same words; ``them`` names it again, ``then`` ends the line."""
    return f"cannot write {what} to stdout ({why}); point stdout at a pipe or file that takes {them}{then}"


def _events_unwritable(why: object) -> str:
    """The one line for progress events that cannot be written (the frames written so far are kept)."""
    return stdout_unwritable(
        "the progress events", why, "them", ", or leave out --json-progress (frames written so far are kept)"
    )


_openjd_progress: Any = None


def openjd_line(payload: dict) -> None:
    """An event as OpenJD's stdout protocol (``aifx run --openjd-progress``, a farm task)."""
    from .workers import signal_shield

    global _openjd_progress
    if _openjd_progress is None:
        from .farm.openjd import OpenJDProgress

        _openjd_progress = OpenJDProgress()
    with signal_shield():
        _openjd_progress(payload)


class ProgressPrinter:
    """Context manager giving the progress callback: JSON lines, a tqdm bar on a terminal, or nothing."""

    def __init__(self, json_progress: bool, openjd: bool = False) -> None:
        self.json_progress = json_progress
        self.openjd = openjd
        self.bar: Any = None

    def __enter__(self) -> Callable[[ProgressEvent], None]:
        if self.json_progress:
            return lambda event: emit_event(event.to_dict())
        if self.openjd:
            return lambda event: openjd_line(event.to_dict())
        if sys.stderr is None or not sys.stderr.isatty():  # (no stderr, 2>&-: no terminal either)
            return lambda event: None
        return self._draw

    def _draw(self, event: ProgressEvent) -> None:
        """The bar counts frames written; it is drawn from the first event on, the stages before the first
        write (the seen plate, the anchors: seconds to minutes on a long shot) shown beside it, not silence."""
        from tqdm import tqdm

        overall = event.stage == events.OVERALL_STAGE
        if self.bar is None:
            total = event.total if overall else None
            self.bar = tqdm(total=total, unit="frame", desc="aifx fill", file=sys.stderr)
        if not overall:
            where = f" {event.frame}" if event.frame is not None else ""
            self.bar.set_postfix_str(f"{event.stage}{where}")
            return
        if self.bar.total != event.total:
            self.bar.total = event.total
        self.bar.update(event.index - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
