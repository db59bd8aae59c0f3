"""Keep the image libraries' own chatter off the user's terminal while a file is decoded.

On a damaged file, OpenEXR's core prints ``file: (EXR_ERR_...) ...`` and libpng ``libpng error: ...``
straight to the process's stderr, and the OpenEXR bindings print a warning to ``sys.stdout`` (which may
carry ``--json-progress`` lines). aifx already reports the problem as one clear :class:`InputError`, so
these messages are removed: stderr is captured at the file-descriptor level for the duration of the call,
the library lines are dropped and anything else written meanwhile (another thread's progress bar) is
passed on afterwards; stdout prints are dropped only for the decoding thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

#: Lines on stderr that come from the decoders' own error reporting.
LIBRARY_LINE_MARKERS = ("(EXR_ERR_", "libpng error:", "libpng warning:")


class _QuietStdout:
    """Stands in for ``sys.stdout``: writes from the decoding threads are dropped, others pass through."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.quiet_threads: set[int] = set()

    def write(self, text: str) -> int:
        if threading.get_ident() in self.quiet_threads:
            return len(text)
        return int(self.original.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class _StderrCapture:
    """fd 2 redirected into a temp file while at least one decode runs (reference counted).

    The temp file is made once per process and emptied for each capture: a 432x240 frame takes about four
    decoder calls, and creating (and deleting) a file for each cost 44 CPU µs a call against 20 now. It is remade in a forked child
    (the pid differs), which would otherwise share its offset and contents with the parent's.
    """

    def __init__(self) -> None:
        self.users = 0
        self.saved_fd: int | None = None
        self.capture: Any = None
        self.file: Any = None
        self.pid = -1

    def _empty_file(self) -> Any:
        """The process's capture file, emptied (made on first use, and again after a fork)."""
        if self.file is None or self.pid != os.getpid():
            self.file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - kept for the process's life
            self.pid = os.getpid()
        self.file.seek(0)
        self.file.truncate()
        return self.file

    def start(self) -> None:
        self.users += 1
        if self.users > 1:
            return
        try:
            sys.stderr.flush()
            self.capture = self._empty_file()
            self.saved_fd = os.dup(2)
            os.dup2(self.capture.fileno(), 2)
        except (OSError, AttributeError, ValueError):
            self._close()

    def stop(self) -> None:
        self.users -= 1
        if self.users > 0 or self.saved_fd is None:
            if self.users == 0:
                self._close()
            return
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sys.stderr.flush()
        os.dup2(self.saved_fd, 2)
        self.capture.seek(0)
        text = self.capture.read().decode("utf-8", "replace")
        self._close()
        kept = [line for line in text.splitlines(keepends=True) if not _is_library_line(line)]
        if kept:
            with contextlib.suppress(OSError):
                os.write(2, "".join(kept).encode("utf-8", "replace"))

    def _close(self) -> None:
        if self.saved_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.saved_fd)
        self.saved_fd = None
        self.capture = None


def _is_library_line(line: str) -> bool:
    return any(marker in line for marker in LIBRARY_LINE_MARKERS)


_lock = threading.Lock()
_stderr = _StderrCapture()


@contextlib.contextmanager
def decoder_messages_silenced() -> Iterator[None]:
    """Run a decoder call without its own messages reaching stdout/stderr (see the module docstring)."""
    from ..workers import signal_shield  # a SIGTERM raising mid-swap would leave stdout muted

    me = threading.get_ident()
    with signal_shield(), _lock:
        # No stdout (started with it closed, `>&-`): nothing to quiet, and a proxy of None would hide from
        # `sys.stdout is None` (the --json-progress check) that there is none: a traceback on its flush.
        proxy = None
        if sys.stdout is not None:
            proxy = sys.stdout if isinstance(sys.stdout, _QuietStdout) else _QuietStdout(sys.stdout)
            sys.stdout = proxy
            proxy.quiet_threads.add(me)
        _stderr.start()
    try:
        yield
    finally:
        with signal_shield(), _lock:
            _stderr.stop()
            if proxy is not None:
                proxy.quiet_threads.discard(me)
                if not proxy.quiet_threads and sys.stdout is proxy:
                    sys.stdout = proxy.original
