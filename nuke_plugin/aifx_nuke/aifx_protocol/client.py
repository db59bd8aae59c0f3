"""Run an aifx job in another Python process and follow its progress.

Standard library only, and no imports from outside the protocol package: the Blender extension and the Nuke
plugin carry a copy of the package (``utils/sync_protocol.py``), because a DCC's Python has neither torch nor
aifx-core. The worker is ``python -m aifx_core run JOB.json --json-progress``; it prints one event per line
(see :mod:`.events`), the last one ``done``, ``cancelled`` or ``error``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from . import events
from .events import Event


def worker_command(python: str, job_path: str) -> List[str]:
    """The command line that runs a saved job with machine-readable progress."""
    return [python, "-m", "aifx_core", "run", job_path, "--json-progress"]


def check_environment(python: str, timeout: float = 60.0) -> "tuple[bool, str]":
    """Can ``python`` run aifx? Returns (ok, a sentence for the artist)."""
    if not python:
        return False, "No aifx Python set: point the add-on at a Python that has aifx-core installed"
    if not os.path.exists(python):
        return (
            False,
            "aifx Python not found at %s: install aifx-core in a virtualenv and point to its python" % python,
        )
    # What ``aifx run`` loads (the CLI and the pipeline, with NumPy, OpenEXR, OpenCV...), not aifx_core alone:
    # a half-installed Python (aifx-core put on its path without its dependencies) passed, then every fill failed.
    code = (
        "import aifx_core; print(aifx_core.__version__, flush=True); import aifx_core.cli, aifx_core.pipeline"
    )
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, "cannot run %s (%s)" % (python, exc)
    version = done.stdout.strip()
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        if version:
            return False, (
                "%s has aifx-core %s but not what 'aifx run' needs (%s): run '%s -m pip install aifx-core' "
                "to install its dependencies" % (python, version, last, python)
            )
        return False, "%s cannot import aifx_core (%s): run '%s -m pip install aifx-core'" % (
            python,
            last,
            python,
        )
    return True, "aifx-core %s found in %s" % (version, python)


class EventFollower:
    """What a UI polls while a job runs, wherever it runs (a local worker, or an ``aifx serve`` server): the
    events not yet polled, the last overall progress and the final event, recorded by a reader thread as
    they arrive so :meth:`fraction` and :attr:`final` are right whether or not anyone polls."""

    def __init__(self) -> None:
        self.events: "queue.Queue[Event]" = queue.Queue()
        self.last_progress: Optional[Event] = None
        self.final: Optional[Event] = None
        self.started_at = 0.0

    def _record(self, event: Event) -> None:
        if events.is_overall(event):
            self.last_progress = event
        elif events.is_final(event):
            self.final = event
        self.events.put(event)

    def poll(self) -> List[Event]:
        """Events received since the last call (never blocks)."""
        out: List[Event] = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            out.append(event)
        return out

    def fraction(self) -> float:
        """Progress 0..1: finished output frames over frames to do, from the last ``write`` event."""
        return events.fraction(self.last_progress) or 0.0

    def eta_seconds(self) -> Optional[float]:
        """Seconds left, extrapolated from the time taken so far; None until there is progress."""
        done = self.fraction()
        if done <= 0.0:
            return None
        spent = time.monotonic() - self.started_at
        return spent * (1.0 - done) / done


class WorkerProcess(EventFollower):
    """A running ``aifx run`` worker whose JSON-lines progress can be polled without blocking.

    A reader thread moves stdout lines into a queue, so a UI timer (Blender) or a progress loop (Nuke) calls
    :meth:`poll` and never waits on the pipe.
    """

    def __init__(self, python: str, job_path: str, env: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.command = worker_command(python, job_path)
        self.env = env
        self._stderr: List[str] = []
        self._proc: Optional[subprocess.Popen] = None
        self._threads: List[threading.Thread] = []

    def start(self) -> "WorkerProcess":
        kwargs: Dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            **kwargs,
        )
        self.started_at = time.monotonic()
        for target in (self._read_stdout, self._read_stderr):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            event = events.decode(line)
            if event is not None:
                self._record(event)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip())
            del self._stderr[:-50]

    @property
    def returncode(self) -> Optional[int]:
        return None if self._proc is None else self._proc.poll()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def cancel(self, grace: float = 10.0) -> None:
        """Ask the worker to stop (it finishes no partial frame), then kill it if it does not."""
        if not self.running():
            return
        assert self._proc is not None
        if sys.platform == "win32":
            self._proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def wait(self, timeout: Optional[float] = None) -> int:
        assert self._proc is not None
        code = self._proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    def error_message(self) -> str:
        """One line for the artist: the worker's own error, or the end of its stderr."""
        if self.final and self.final.get("event") == events.ERROR:
            return str(self.final.get("message", "aifx failed"))
        tail = [line for line in self._stderr if line.strip()]
        return tail[-1] if tail else "aifx worker exited with code %s" % self.returncode


def run_job(
    python: str,
    job_path: str,
    on_event: Optional[Callable[[Event], None]] = None,
    should_cancel: Optional[Callable[[], bool]] = None,
    poll_interval: float = 0.1,
) -> WorkerProcess:
    """Run a job to the end in the foreground (``blender -b``, ``nuke -t``), forwarding events."""
    worker = WorkerProcess(python, job_path).start()
    while worker.running():
        for event in worker.poll():
            if on_event:
                on_event(event)
        if should_cancel is not None and should_cancel():
            worker.cancel()
            break
        time.sleep(poll_interval)
    worker.wait()
    for event in worker.poll():
        if on_event:
            on_event(event)
    return worker
