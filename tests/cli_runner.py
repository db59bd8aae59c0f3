"""Run the ``aifx`` command line as users do: a real ``python -m aifx_core`` process, its output captured.

One runner for every test module that drives the CLI, so they all start it the same way (the interpreter of
the test run, the environment of the test run plus what a test adds) and a hang fails the test instead of the
suite (``timeout``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def aifx(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    warnings: str = "ignore",
    killed_at: tuple[str, int] | None = None,
    file_size_limit: int | None = None,
) -> subprocess.CompletedProcess:
    """``aifx <args>``; ``env`` is added to this process's environment, ``warnings`` is ``PYTHONWARNINGS``
    (``"default"`` where a test checks that a refused run prints one line and no warning). ``killed_at``:
    ``(regex, n)``, the run is SIGKILLed at that rename (see :func:`killed_at_rename`). ``file_size_limit``
    (bytes): the run's ``ulimit -f`` (see :func:`file_size_limited`)."""
    command = killed_at_rename(*killed_at) if killed_at else [sys.executable, "-m", "aifx_core"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": warnings, **(env or {})},
        preexec_fn=None if file_size_limit is None else file_size_limited(file_size_limit),
    )


def file_size_limited(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` that sets the child's file size limit to ``limit`` bytes, as ``ulimit -f`` in the shell
    that starts it (a farm's per-file cap). A shell's ``ulimit`` only sets ``RLIMIT_FSIZE``: the kernel then
    sends SIGXFSZ to a write past it, which Python ignores from start-up (as it does SIGPIPE), so the write
    fails with EFBIG ("File too large") instead of the signal ending the process; the child is Python here too.
    """

    def limit_file_size() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_file_size


_KILL_AT_RENAME = """
import os, re, signal, sys
pattern, nth, seen, real = re.compile(sys.argv[1]), int(sys.argv[2]), [0], os.replace
def replace(src, dst, *args, **kwargs):
    if pattern.search(os.fspath(dst)):
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
os.replace = replace
sys.argv = ["aifx", *sys.argv[3:]]
from aifx_core.cli import main
sys.exit(main())
"""


def killed_at_rename(target: str, nth: int = 1) -> list[str]:
    """The command that starts ``aifx`` (its arguments follow) and SIGKILLs it just before its ``nth`` rename
    (``os.replace``) onto a path the regex ``target`` matches: a kill landing the instant a temp file is complete,
    wherever aifx writes one (a frame, the manifest, a contact sheet, a saved job), with no hook in aifx."""
    return [sys.executable, "-c", _KILL_AT_RENAME, target, str(nth)]
