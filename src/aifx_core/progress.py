"""Progress reporting and cooperative cancellation.

The same two objects serve the Python API, the CLI's progress bar, the ``--json-progress`` stream the
Blender and Nuke adapters read, and the server: a callback that receives a
:class:`~aifx_core.protocol.events.ProgressEvent` (defined on the protocol floor, since it crosses process
boundaries) and a :class:`CancelToken` that the long loops poll between frames.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

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
