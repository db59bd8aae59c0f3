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


def _sigterm_in(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_a_cancel_during_parallel_native_work_waits_for_its_threads(token, monkeypatch):
    monkeypatch.delenv("AIFX_THREADS", raising=False)
    finished = []

    def slow() -> int:
        time.sleep(0.6)  # the signal comes while the calling thread joins this one
        finished.append(True)
        return 1

    timer = _sigterm_in(0.2)
    results = concurrently([lambda: 0, slow], "aifx-cancel-test")
    timer.join()
    assert results == [0, 1] and finished
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
    timer = _sigterm_in(0.1)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        while time.monotonic() - started < 10:
            sum(range(1000))
    timer.join()
    assert time.monotonic() - started < 5
    assert token.cancelled


def test_ctrl_c_is_held_the_same_way_and_given_back(monkeypatch):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("this runner does not have Python's own Ctrl-C handler")
    monkeypatch.delenv("AIFX_THREADS", raising=False)
    cancel = CancelToken()
    with cli._cancel_on_signals(cancel):
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        results = concurrently([lambda: 0, lambda: time.sleep(0.6) or 1], "aifx-cancel-test")
        timer.join()
        assert results == [0, 1] and cancel.cancelled
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C, out of the thread code, stops at once
            while time.monotonic() - started < 10:
                sum(range(1000))
        timer.join()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
