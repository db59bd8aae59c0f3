"""The adapters' Cancel (SIGTERM to the worker) raises at once, but never inside the thread machinery.

Raised inside ``Thread.start`` the cancel broke ``threading``'s bookkeeping (exit 1, a ``KeyError``); raised
inside a ``join`` it let the job end while a Telea pass still ran in a thread, and the interpreter's exit
aborted (signal 6). About 3 % of the worker's cancels did one or the other; these tests put the signal where
those did, on purpose, with a real SIGTERM to this process where they can.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest

from aifx_core import cli
from aifx_core.progress import CancelToken, Reporter
from aifx_core.protocol.errors import Cancelled
from aifx_core.workers import concurrently

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to oneself is POSIX")


@pytest.fixture
def token():
    """The CLI's SIGTERM handler installed for the test (pytest runs it in the main thread), then the one before."""
    previous = signal.getsignal(signal.SIGTERM)
    cancel = CancelToken()
    with cli._cancel_on_signals(cancel):
        yield cancel
    assert signal.getsignal(signal.SIGTERM) is previous


def _joining() -> bool:
    """True while the main thread waits in a ``Thread.join`` (where a signal found the worker's cancels)."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        if frame.f_code.co_filename == threading.__file__ and frame.f_code.co_name == "join":
            return True
        frame = frame.f_back
    return False


def _signal_during_join(sig: int, cancel: CancelToken) -> Callable[[], int]:
    """Native work for a second thread that sends ``sig`` to this process once the main thread waits for it in
    the join (and not before: a signal sent by a timer came before the join on a busy machine, after it on a
    slow thread), then goes on until the handler has taken it: the signal is always met inside the join."""

    def work() -> int:
        deadline = time.monotonic() + 30
        while not _joining() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _joining(), "the main thread never joined this thread"
        os.kill(os.getpid(), sig)
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        return 1

    return work


def test_a_cancel_during_parallel_native_work_waits_for_its_threads(token, monkeypatch):
    monkeypatch.delenv("AIFX_THREADS", raising=False)
    results = concurrently([lambda: 0, _signal_during_join(signal.SIGTERM, token)], "aifx-cancel-test")
    assert results == [
        0,
        1,
    ]  # (raised in the join, the cancel came out of concurrently before the thread ended)
    assert token.cancelled
    assert not [t for t in threading.enumerate() if t.name.startswith("aifx-cancel-test")]
    with pytest.raises(Cancelled):  # the next progress check stops the job
        Reporter(cancel=token)("fill", 1, 2)


def test_a_cancel_inside_thread_code_only_sets_the_flag(token):
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    release = threading.Event()
    waiter = threading.Thread(target=release.wait)
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        frame = sys._current_frames().get(waiter.ident)
        while (frame is None or "threading" not in frame.f_code.co_filename) and time.monotonic() < deadline:
            time.sleep(0.01)
            frame = sys._current_frames().get(waiter.ident)
        assert frame is not None and "threading" in frame.f_code.co_filename
        handler(signal.SIGTERM, frame)  # where a signal would find a thread starting or a join waiting
        assert token.cancelled
    finally:
        release.set()
        waiter.join()


def test_a_cancel_elsewhere_still_raises_at_once(token):
    with pytest.raises(Cancelled):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 30  # (a guard against a lost signal only)
        while time.monotonic() < deadline:
            sum(range(1000))
    assert token.cancelled


def test_ctrl_c_is_held_the_same_way_and_given_back(monkeypatch):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("this runner does not have Python's own Ctrl-C handler")
    monkeypatch.delenv("AIFX_THREADS", raising=False)
    cancel = CancelToken()
    with cli._cancel_on_signals(cancel):
        results = concurrently([lambda: 0, _signal_during_join(signal.SIGINT, cancel)], "aifx-cancel-test")
        assert results == [0, 1] and cancel.cancelled
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C, out of the thread code, stops at once
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 30  # (a guard against a lost signal only)
            while time.monotonic() < deadline:
                sum(range(1000))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
