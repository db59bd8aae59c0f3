"""One running fill, driven by whoever owns the clock.

The modal operator calls :meth:`FillSession.tick` from a window-manager timer; tests call it in a loop
(``bpy.app.timers`` and modal timers do not fire in the ``bpy`` module build). No ``bpy`` here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .aifx_protocol import client, events, remote
from .aifx_protocol.errors import AifxError
from .jobs import format_eta

RUNNING, DONE, CANCELLED, ERROR = "running", "done", "cancelled", "error"


class FillSession:
    """Starts ``aifx run JOB --json-progress`` and turns its events into a state and a status line."""

    def __init__(
        self,
        python: str,
        job_path: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        server: tuple[str, str] | None = None,
    ) -> None:
        self.python = python
        self.job_path = job_path
        self.on_event = on_event
        #: ``(url, token)``: the job runs on that ``aifx serve`` machine, polled the same way as a local worker.
        self.server = server
        #: Built by :meth:`start`, so a server URL the client refuses ends the session as an error (nothing
        #: raised past the operator: its modal handler and the running-jobs set were left behind).
        self.worker: client.WorkerProcess | remote.RemoteWorker | None = None
        self.state = RUNNING
        self.message = ""
        self.events: list[dict[str, Any]] = []
        #: What the finished job asks the artist to check (``warning: the hole covers...``), one line each.
        self.notices: list[str] = []
        self.cancel_requested = False

    def start(self) -> FillSession:
        try:
            self.worker = (
                remote.RemoteWorker(self.server[0], self.server[1], self.job_path)
                if self.server
                else client.WorkerProcess(self.python, self.job_path)
            )
            self.worker.start()
        except OSError as exc:
            self.state, self.message = ERROR, f"cannot start {self.python} ({exc})"
        except AifxError as exc:  # a bad server URL, the server refused the job or could not be reached
            self.state, self.message = ERROR, str(exc)
        return self

    def tick(self) -> str:
        """Read what the worker said since the last tick; returns the state (``running`` until it ends)."""
        if self.state != RUNNING or self.worker is None:
            return self.state
        running = self.worker.running()
        if not running:
            self.worker.wait()  # joins the reader threads, so every line the worker printed is queued
        for event in self.worker.poll():
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
        if not running:
            self._finish()
        return self.state

    def _finish(self) -> None:
        assert self.worker is not None
        final = self.worker.final or {}
        kind = final.get("event")
        code = self.worker.returncode
        if kind == events.DONE and code == 0:
            self.state, self.message = DONE, events.summary(final)
            self.notices = events.notices(final)
        elif kind == events.CANCELLED or (self.cancel_requested and kind != events.ERROR):
            self.state = CANCELLED
            self.message = "AI Fill cancelled: finished frames are kept, run it again to resume"
        else:
            self.state, self.message = ERROR, self.worker.error_message()

    def cancel(self) -> None:
        """Stop the worker (SIGTERM): it finishes no partial frame, and a rerun resumes."""
        self.cancel_requested = True
        if self.worker is not None:
            self.worker.cancel()

    def wait(self, timeout: float | None = None, interval: float = 0.05) -> FillSession:
        """Tick until the worker ends (the synchronous path and tests); cancels it after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.tick() == RUNNING:
            if deadline is not None and time.monotonic() > deadline and not self.cancel_requested:
                self.cancel()
            time.sleep(interval)
        return self

    @property
    def fraction(self) -> float:
        return self.worker.fraction() if self.worker is not None else 0.0

    def status_text(self) -> str:
        """What the status bar shows: stage, frame i/n and ETA."""
        if self.state != RUNNING:
            return self.message
        event: dict[str, Any] | None = self.worker.last_progress if self.worker is not None else None
        if not event:
            return "AI Fill: starting aifx… (Esc to cancel)"
        return (
            f"AI Fill {events.describe(event)}, ETA {format_eta(self.worker.eta_seconds())} (Esc to cancel)"
        )


def run_blocking(
    python: str,
    job_path: str,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    interval: float = 0.1,
) -> FillSession:
    """Run the job to the end in the foreground (``blender -b``), forwarding every event to ``on_event``.

    The same loop as the modal operator's timer, so both paths report the same way.
    """
    return FillSession(python, job_path, on_event).start().wait(interval=interval)


def describe_event(event: dict[str, Any]) -> str:
    """One log line per worker event for ``blender -b`` runs."""
    return f"AI Fill {events.describe(event)}"
