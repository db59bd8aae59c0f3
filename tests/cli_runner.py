"""Run the ``aifx`` command line as users do: a real ``python -m aifx_core`` process, its output captured.

One runner for every test module that drives the CLI, so they all start it the same way (the interpreter of
the test run, the environment of the test run plus what a test adds) and a hang fails the test instead of the
suite (``timeout``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def aifx(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    warnings: str = "ignore",
) -> subprocess.CompletedProcess:
    """``aifx <args>``; ``env`` is added to this process's environment, ``warnings`` is ``PYTHONWARNINGS``
    (``"default"`` where a test checks that a refused run prints one line and no warning)."""
    return subprocess.run(
        [sys.executable, "-m", "aifx_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": warnings, **(env or {})},
    )
