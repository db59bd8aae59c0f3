"""Progress reporting and cooperative cancellation.

The same two objects serve the Python API, the CLI's progress bar, the ``--json-progress`` stream the
Blender and Nuke adapters read, and the server: a callback that receives a
:class:`~aifx_core.protocol.events.ProgressEvent` (defined on the protocol floor, since it crosses process
boundaries) and a :class:`CancelToken` that the long loops poll between frames.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from types import FrameType

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


_shield_depth = 0
_shield_lock = threading.Lock()  # the writer thread enters shields too (its progress lines)


@contextlib.contextmanager
def signal_shield() -> Iterator[None]:
    """A short section a signal handler must not raise into (a stream swap, an event line half written):
    the CLI's SIGTERM handler then only sets the cancel flag, and the next progress check raises."""
    global _shield_depth
    with _shield_lock:
        _shield_depth += 1
    try:
        yield
    finally:
        with _shield_lock:
            _shield_depth -= 1


def shielded() -> bool:
    """True inside :func:`signal_shield`."""
    return _shield_depth > 0


#: Where the standard library keeps its thread bookkeeping (see :func:`in_thread_machinery`).
_THREAD_MACHINERY = (
    os.path.normcase(threading.__file__),
    os.path.normcase(queue.__file__),
    os.path.normcase(os.path.dirname(concurrent.futures.__file__)) + os.sep,
)


def in_thread_machinery(frame: FrameType | None) -> bool:
    """True when ``frame`` (where a signal found the main thread) or one of its callers runs the standard
    library's thread code (``threading``, ``queue``, ``concurrent.futures``).

    A signal handler must not raise there. Raised inside ``Thread.start`` between starting the thread and
    registering it, the exception left ``threading``'s bookkeeping half done (a ``KeyError`` and exit code 1
    instead of a cancel); raised inside a ``join``, it let the job end while a thread still ran native code
    (an OpenCV pass), and the interpreter's exit then aborted ("terminate called without an active
    exception", signal 6). About 3 % of cancels did one or the other (``tests/test_worker.py``'s cancel, in a
    loop). The handler only sets the cancel flag there; the next progress check raises."""
    while frame is not None:
        name = os.path.normcase(frame.f_code.co_filename)
        if name in _THREAD_MACHINERY[:2] or name.startswith(_THREAD_MACHINERY[2]):
            return True
        frame = frame.f_back
    return False
