"""What one client may hold of the server: its connections, their time and the server's file descriptors.

uvicorn closes an idle keep-alive connection after a few seconds, but waits for ever on a connection that sent
part of a request's head (a slow or stuck client, or someone holding connections on purpose): a few hundred
of those used up the server's file descriptors (1024 by default under systemd), new connections then failed,
asyncio logged "socket.accept() out of system resource" with a traceback up to 2048 times a second, and a
real submit timed out. So:

* :func:`timed_h11` closes a connection whose request head has not fully arrived ``header_timeout`` seconds
  after it opened (or after its previous answer); the app gives a job's body its own limit (408);
* :func:`raise_open_files` raises the soft limit on open files to the hard one at start, and
  :func:`concurrency_limit` keeps uvicorn's ``limit_concurrency`` (503 beyond it) well inside it;
* :class:`AcceptFlood` lets asyncio's "out of system resource" through once a minute, one line, no traceback.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: The most connections served at once whatever the file limit (an SSE stream per following client counts).
MAX_CONCURRENCY = 1000
#: What a raised file limit aims for when the hard limit is unlimited.
_UNLIMITED_FILES = 65536


def raise_open_files() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the soft limit now in force
    (a large number where there is no such limit, Windows)."""
    try:
        import resource
    except ImportError:
        return _UNLIMITED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < want:
        # (ValueError, OSError: a hard limit the kernel's nr_open caps lower; keep what we have)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return _UNLIMITED_FILES if soft == resource.RLIM_INFINITY else int(soft)


def concurrency_limit(open_files: int) -> int:
    """uvicorn's ``limit_concurrency`` for this file limit: half of it (the store, the workers' pipes and the
    connections waiting to be turned away need the rest), at most :data:`MAX_CONCURRENCY`."""
    return max(16, min(MAX_CONCURRENCY, open_files // 2))


def timed_h11(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is not in ``header_timeout`` seconds
    after it opened or after the answer before."""

    class TimedH11(H11Protocol):
        _head_timer: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._wait_for_head()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a whole request head is in (or the connection ended)
                self._stop_waiting()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._wait_for_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _wait_for_head(self) -> None:
            self._stop_waiting()
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _stop_waiting(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return TimedH11


class AcceptFlood(logging.Filter):
    """asyncio's "socket.accept() out of system resource" (no file descriptor left for a new connection),
    which it logs with a traceback for every connection waiting, up to the listen backlog, every second: one
    line a minute instead (the connections wait in the backlog and are taken once descriptors free up)."""

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every = every
        self._last = float("-inf")
        self._hidden = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            self._hidden += 1
            return False
        record.msg = (
            "out of file descriptors: new connections wait until some close "
            f"({self._hidden} more like this hidden); raise LimitNOFILE (docs/serve.md)"
        )
        record.args = ()
        record.exc_info = record.exc_text = None
        self._last, self._hidden = now, 0
        return True
