"""Work that overlaps the fill on a second core: a bounded, in-order background worker.

The fill is a chain of stages that used to take turns on one core: the engine computes a frame, then the
pipeline composites, encodes, fsyncs and renames it. Encoders (OpenEXR, OpenImageIO), file I/O and OpenCV
release the GIL, so one background thread doing the writing runs beside the engine on the second core.

:class:`InOrder` runs one callable per item, in submission order, in a single thread, with at most ``depth``
items in flight (waiting or running), so memory stays bounded. Its contract is what the pipeline's
guarantees need: an item counts as done only once its callable returned; the first failure stops the worker,
drops what was still waiting, and is raised in the submitting thread (the same exception object, so an
:class:`~aifx_core.errors.InputError` naming the frame stays one); :meth:`InOrder.abandon` (on Ctrl-C, a
cancel or an error of the caller) drops what waits and lets the running item finish, so a file is written
whole or not at all.

``AIFX_THREADS=1`` turns every overlap off (work runs in the caller's thread, as before): for debugging, and
to check that the output does not depend on it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

#: Environment variable: ``1`` runs everything in the calling thread (no writer thread, no flow worker).
THREADS_ENV = "AIFX_THREADS"


def overlap() -> bool:
    """Whether background workers may run (``AIFX_THREADS`` unset, or more than 1)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return True
    try:
        return int(value) > 1
    except ValueError:
        return True


class InOrder:
    """Runs ``work(item)`` for each submitted item in order, in one background thread (see the module doc).

    With ``threaded=False`` the work runs inside ``submit``, in the caller's thread.
    """

    def __init__(
        self, work: Callable[[Any], None], depth: int = 2, threaded: bool = True, name: str = ""
    ) -> None:
        self._work = work
        self._depth = max(1, depth)
        self._waiting: deque[Any] = deque()
        self._running = False
        self._error: BaseException | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._loop, name=name or "aifx-worker", daemon=True)
            self._thread.start()

    def submit(self, item: Any) -> None:
        """Queue ``item`` (waiting while ``depth`` items are in flight); raises the worker's failure."""
        if self._thread is None:
            self._work(item)
            return
        with self._cond:
            while self._error is None and len(self._waiting) + self._running >= self._depth:
                self._cond.wait()
            self._raise()
            self._waiting.append(item)
            self._cond.notify_all()

    def finish(self) -> None:
        """Wait until every item is done; raises the worker's failure."""
        if self._thread is None:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        """Drop the waiting items and wait for the running one to end (it is never cut off halfway)."""
        if self._thread is None:
            return
        with self._cond:
            self._waiting.clear()
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                item = self._waiting.popleft()
                self._running = True
            try:
                self._work(item)
            except BaseException as exc:  # handed to the submitting thread, which raises it
                with self._cond:
                    self._error = exc
                    self._waiting.clear()
                    self._running = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._running = False
                self._cond.notify_all()


class Prefetch:
    """The items of ``source`` passed through ``work``, made up to ``depth`` ahead in one background thread.

    Iterating gives the results in order. An exception raised by ``source`` (a file that cannot be read) is
    raised where that item would have come, and the iteration ends there. :meth:`close` stops the thread
    (the item being made is finished, nothing more is pulled from ``source``). With ``threaded=False`` it is
    ``map(work, source)``.
    """

    def __init__(
        self,
        source: Iterator[Any],
        work: Callable[[Any], Any],
        depth: int = 2,
        threaded: bool = True,
        name: str = "",
    ) -> None:
        self._source = source
        self._work = work
        self._depth = max(1, depth)
        self._ready: deque[tuple[bool, Any]] = deque()
        self._ended = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._loop, name=name or "aifx-prefetch", daemon=True)
            self._thread.start()

    def __iter__(self) -> Prefetch:
        return self

    def __next__(self) -> Any:
        if self._thread is None:
            return self._work(next(self._source))
        with self._cond:
            while not self._ready and not self._ended:
                self._cond.wait()
            if not self._ready:
                raise StopIteration
            ok, value = self._ready.popleft()
            self._cond.notify_all()
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._thread is None:
            return
        with self._cond:
            self._closed = True
            self._ready.clear()
            self._cond.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while len(self._ready) >= self._depth and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
            try:
                value = (True, self._work(next(self._source)))
            except StopIteration:
                value = None
            except BaseException as exc:  # raised in the reading thread, at this item's place
                value = (False, exc)
            with self._cond:
                if value is not None and not self._closed:
                    self._ready.append(value)
                if value is None or not value[0]:
                    self._ended = True
                self._cond.notify_all()
                if self._ended:
                    return
