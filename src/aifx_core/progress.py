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
from typing import TextIO

from .protocol.errors import Cancelled
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
