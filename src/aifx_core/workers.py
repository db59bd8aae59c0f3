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

import atexit
import concurrent.futures
import contextlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, TypeVar

from .protocol.errors import InputError

T = TypeVar("T")

#: Environment variable: ``1`` runs everything in the calling thread (no writer thread, no flow worker).
THREADS_ENV = "AIFX_THREADS"


#: The words a switch in the environment takes, whatever their case (a number of threads for AIFX_THREADS too).
_ON = ("true", "on", "yes")
_OFF = ("false", "off", "no")


def overlap() -> bool:
    """Whether background workers may run: ``AIFX_THREADS`` unset, ``true``/``on``/``yes`` or a number above 1
    (``1``, ``0``, ``false``/``off``/``no``: one thread). Anything else is an :class:`InputError` naming the
    variable: ``false`` or ``off`` kept the threads on, the opposite of what was meant."""
    text = os.environ.get(THREADS_ENV, "").strip()
    value = text.lower()
    if not value or value in _ON:
        return True
    if value in _OFF:
        return False
    if value.isascii() and value.isdigit():
        return int(value) > 1
    raise InputError(
        f"{THREADS_ENV}={text!r}: not a value aifx knows; set it to 1 (or off, false, no) to run in one thread, "
        "or unset it (on, true, yes, or 2 and up) for background threads"
    )


_local = threading.local()


@contextlib.contextmanager
def in_turn() -> Iterator[None]:
    """Within it, :func:`concurrently` runs its calls one after another in this thread: for work already off
    the engine's critical path (a spatial fill started ahead, in a thread of its own), where threads of their
    own would only add their start and contention (measured: the 432x240 moving blob 16.6 → 17.5 frames/s
    with Telea's passes in turn there while its fill was joined early; no difference since it is joined late:
    docs/method.md "Speed, eighth pass")."""
    previous = getattr(_local, "in_turn", False)
    _local.in_turn = True
    try:
        yield
    finally:
        _local.in_turn = previous


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


def concurrently(calls: Sequence[Callable[[], T]], name: str = "aifx-worker") -> list[T]:
    """The results of independent ``calls``, run at once: the first in the calling thread, each other one in a
    thread of its own, joined before this returns (none outlives it). Worth it for native calls that release
    the GIL (OpenCV's), e.g. Telea's per-channel passes, which otherwise take turns on the calling thread while
    the second core waits. One after another here with ``AIFX_THREADS=1``, a single call or within
    :func:`in_turn`. The first failure in call order is raised, once every thread has finished."""
    if len(calls) < 2 or not overlap() or getattr(_local, "in_turn", False):
        return [call() for call in calls]
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as error:  # (raised below, in the caller, after the joins)
            errors[index] = error

    threads = [
        threading.Thread(target=run, args=(index,), name=f"{name}-{index}", daemon=True)
        for index in range(1, len(calls))
    ]
    # Shielded from a cancel's signal (the CLI's handler then only sets the flag): raised between two starts,
    # it would leave the started threads running native code past the job, and the interpreter's exit aborts.
    with signal_shield():
        for thread in threads:
            thread.start()
        run(0)
        for thread in threads:
            thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


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


# -- a helper process ----------------------------------------------------------------------------------------

#: Environment variable: ``0`` keeps the flow worker's computation in its thread (no helper process).
PROCESS_ENV = "AIFX_FLOW_PROCESS"
#: Seconds a flow worker waits for the helper while another run of this process uses it.
BUSY_WAIT = 1.0
#: Seconds a new helper may take to start (its imports, on a loaded machine) before it is given up.
START_WAIT = 60.0
#: Types of module settings copied into the helper before each call (a caller may have changed them).
_SETTING_TYPES = (bool, int, float, str, tuple, type(None))


class HelperUnavailable(RuntimeError):
    """The helper process could not be started, died, or is busy: compute in the calling thread instead."""


#: Whether the flow worker uses the helper process when ``AIFX_FLOW_PROCESS`` is unset (``1``: on, ``0``: off).
#: Off since 2026-12-04: on an idle 2-core machine, four interleaved end-to-end runs (docs/benchmarks.md's A/B
#: rows) gave the flow in the worker thread 4-9 % more frames/s than in the helper in every case (432x240
#: moving blob and nine squares, 1080p), and it saves the helper's ~175 MB at 1080p. The helper had paid on the
#: loaded box where it was chosen (docs/method.md, "Speed, third pass"); ``AIFX_FLOW_PROCESS=1`` still uses it.
FLOW_PROCESS_DEFAULT = False


def helper_wanted() -> bool:
    """Whether work may go to a helper process: overlap is on and ``AIFX_FLOW_PROCESS`` is ``1``/``true``/
    ``on``/``yes`` (``0``/``false``/``off``/``no``: not; unset: :data:`FLOW_PROCESS_DEFAULT`). Anything else is
    an :class:`InputError` naming the variable: ``false`` or ``off`` turned the helper on."""
    text = os.environ.get(PROCESS_ENV, "").strip()
    value = text.lower()
    threads = overlap()  # (checked whatever this says)
    if not value:
        return threads and FLOW_PROCESS_DEFAULT
    if value in ("1", *_ON):
        return threads
    if value in ("0", *_OFF):
        return False
    raise InputError(
        f"{PROCESS_ENV}={text!r}: not a value aifx knows; set it to 1 (or on, true, yes) to compute the flow in a "
        "helper process, 0 (or off, false, no) not to, or unset it"
    )


def check_environment() -> None:
    """Refuse a bad ``AIFX_THREADS`` or ``AIFX_FLOW_PROCESS`` before any work (:func:`overlap`,
    :func:`helper_wanted`), not when the first thread would start."""
    helper_wanted()


def module_settings(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The UPPER_CASE settings (plain values) of the named, already imported modules, as they are now: a test
    or a caller may have switched one (``ring_layers.OBJECT_LAYERS = True``); the helper must see the same."""
    import sys

    found: dict[str, dict[str, Any]] = {}
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        found[name] = {
            key: value
            for key, value in vars(module).items()
            if key.isupper() and not key.startswith("_") and isinstance(value, _SETTING_TYPES)
        }
    return found


def _killed(proc: Any) -> bool:
    """Whether a child that never said it runs was ended by a signal (killed while starting: the next call may
    start a new one) rather than being an interpreter that cannot run the helper (given up for the process)."""
    import subprocess

    try:
        code = proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return False
    return code is not None and code < 0


class Helper:
    """One persistent Python child process that runs module-level functions for this process, one call at
    a time: a second core free of this process's GIL.

    A thread that waits for :meth:`call` holds no GIL, so the helper's NumPy/OpenCV work (the flow worker's:
    DIS, completion, movers) runs fully beside this process's threads instead of taking turns with them.
    Arguments and results travel pickled through a pipe (arrays included). The child is started on first use
    in a session of its own (a Ctrl-C at the terminal reaches this process only, which then stops asking),
    with this interpreter and this copy of ``aifx_core``; it reads no ``__main__`` module, so scripts without
    a main guard are safe. It ends when this process closes its pipe (at exit, or when killed). An exception
    raised by the function is raised by :meth:`call` (the same type); if the child cannot be started, dies,
    or another thread is using it, :meth:`call` raises :class:`HelperUnavailable` and the caller computes
    in its own thread (same result: the function is pure).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._failed = False
        self._ready = False
        #: Calls answered (for tests and benchmarks: proof that work went to the child).
        self.calls = 0

    def call(self, module: str, function: str, *args: Any, settings: dict | None = None) -> Any:
        # (another run of this process may be using it: wait a moment, then compute in the caller's thread)
        if self._failed or not self._lock.acquire(timeout=BUSY_WAIT):
            raise HelperUnavailable("helper busy or unavailable")
        try:
            proc = self._start()
            try:
                if not self._ready:
                    self._handshake(proc)
                _send(proc.stdin, (module, function, args, settings or {}))
                ok, value = _receive(proc.stdout)
            except (OSError, EOFError, ValueError) as exc:
                self._stop()  # (the next call starts a new one)
                raise HelperUnavailable(f"helper process lost: {exc}") from None
            self.calls += 1
        finally:
            self._lock.release()
        if not ok:
            raise value
        return value

    def _handshake(self, proc: Any) -> None:
        """Wait (at most :data:`START_WAIT` s) for the child to say it runs: an interpreter that is not the
        Python it should be (an embedding host's binary) must not hang the fill."""
        import select

        try:
            ready, _, _ = select.select([proc.stdout], [], [], START_WAIT)
            said = _receive(proc.stdout) if ready else None
        except Exception:  # noqa: BLE001 - whatever it wrote (or a platform without select on pipes): give up
            said = None
        if said != (True, "ready"):
            self._stop(failed=not _killed(proc))
            raise HelperUnavailable("helper process did not start")
        self._ready = True

    def start(self) -> None:
        """Start the child now (its imports then overlap with the caller's own start), if not running."""
        if self._failed or not self._lock.acquire(blocking=False):
            return
        try:
            self._start()
        except HelperUnavailable:
            pass
        finally:
            self._lock.release()

    def _start(self) -> Any:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        import subprocess
        import sys
        from pathlib import Path

        root = str(Path(__file__).resolve().parent.parent)
        code = f"import sys; sys.path.insert(0, {root!r}); from aifx_core.workers import _serve; _serve()"
        self._ready = False
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._failed = True
            raise HelperUnavailable(f"helper process not started: {exc}") from None
        return self._proc

    def _stop(self, failed: bool = False) -> None:
        proc, self._proc = self._proc, None
        self._failed = self._failed or failed
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - it did not end on its own: end it
            proc.kill()
            proc.wait()

    def usage(self) -> tuple[float, float]:
        """(CPU seconds, peak resident MB) of the child so far; (0, 0) when none runs or where ``/proc`` is
        missing. A benchmark adds them to its own: the helper's work is the fill's work."""
        proc = self._proc
        if proc is None:
            return 0.0, 0.0
        try:
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{proc.pid}/status") as status:
                peak = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
        except (OSError, IndexError, StopIteration):
            return 0.0, 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks, int(peak) / 1024.0

    def close(self) -> None:
        """End the child (it finishes the call in progress first)."""
        with self._lock:
            self._stop()


def _send(stream: Any, value: Any) -> None:
    import pickle

    data = pickle.dumps(value, protocol=5)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def _receive(stream: Any) -> Any:
    import pickle

    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other side closed the pipe")
    size = int.from_bytes(head, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


def _serve() -> None:
    """The helper's loop: calls in, results out, until the pipe closes (then it ends at once and quietly:
    the parent may have ended, e.g. on a bad input, while this one was still starting). Print output goes to
    stderr (the protocol owns stdout)."""
    with contextlib.suppress(OSError, EOFError):
        _answer_calls()
    os._exit(0)  # (no flush at exit into a closed pipe: nothing to say, nothing on the parent's terminal)


def _answer_calls() -> None:
    import importlib
    import pickle
    import sys

    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not corrupt the protocol
    _send(answers, (True, "ready"))
    while True:
        module, function, args, settings = _receive(requests)
        try:
            for name, values in settings.items():
                target = importlib.import_module(name)
                for key, value in values.items():
                    setattr(target, key, value)
            result: tuple[bool, Any] = (True, getattr(importlib.import_module(module), function)(*args))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, which raises it
            result = (False, exc)
        try:
            _send(answers, result)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(answers, (False, RuntimeError(f"helper: result not picklable: {exc!r}")))
        sys.stderr.flush()


_HELPER: Helper | None = None
_HELPER_LOCK = threading.Lock()


def helper() -> Helper:
    """This process's helper (one, started on first use, ended at exit)."""
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None:
            _HELPER = Helper()
            atexit.register(_HELPER.close)
        return _HELPER


def _forget_helper() -> None:
    """In a forked child: the parent's helper is not ours (its pipes belong to the parent)."""
    global _HELPER
    _HELPER = None


if hasattr(os, "register_at_fork"):  # (POSIX)
    os.register_at_fork(after_in_child=_forget_helper)
