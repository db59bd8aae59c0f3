"""The long-lived worker process behind ``aifx serve``: one per visible GPU (or one on the CPU).

It runs jobs one at a time through the same :func:`aifx_core.pipeline.fill` as ``aifx run``, so outputs are
bit-identical, and it stays alive between jobs so the models the backends loaded stay warm (the backends'
own caches, keyed by model, dtype and device); a model nobody used for ``--idle-unload`` seconds is dropped.

Protocol: JSON lines. In on stdin: ``{"op": "run", "id", "job"}`` (and ``"written"``: the frames an
interrupted job wrote before, counted as its writes and, with ``overwrite``, not written again), ``{"op": "cancel", "id"}``,
``{"op": "quit"}``. Out on stdout: ``{"id", "event"}`` where ``event`` is exactly what ``aifx run
--json-progress`` prints, and ``{"models": [...]}`` whenever the loaded models change. Everything else that
would go to stdout (a library's chatter) is sent to stderr. When the server goes away (stdin closes, or on
Linux the parent dies) the worker exits at once, so a restarted server never races an orphan on the same
output frames. SIGINT and SIGTERM are the server's to act on, not the worker's: a Ctrl+C at the server's
terminal, or a systemd stop (SIGTERM to every process of the service), would otherwise end the job in hand as
a failure; the server leaves it running for the next start to resume and then goes, and the worker with it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any

from ..progress import CancelToken, stdout_for_events
from ..protocol import events
from ..protocol.errors import EXIT_INTERNAL, AifxError, Cancelled
from ..protocol.events import ProgressEvent


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Runner:
    def __init__(self, out: Any, idle_unload: float) -> None:
        self.out = out
        self.idle_unload = idle_unload
        self.jobs: queue.Queue[dict | None] = queue.Queue()
        self.current: str | None = None
        self.cancel = CancelToken()
        self.cancelled_early: set[str] = set()
        self._write_lock = threading.Lock()
        self._models: list[dict] = []

    def send(self, message: dict) -> None:
        with self._write_lock:
            self.out.write(json.dumps(message) + "\n")
            self.out.flush()

    def read_commands(self) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            op = command.get("op")
            if op == "run":
                self.jobs.put(command)
            elif op == "cancel":
                if command.get("id") == self.current:
                    self.cancel.cancel()
                else:
                    self.cancelled_early.add(command.get("id"))
            elif op == "quit":
                self.jobs.put(None)
        os._exit(0)  # the server is gone: stop now, mid-frame or not (frames are written atomically)

    def serve_forever(self) -> None:
        threading.Thread(target=self.read_commands, daemon=True).start()
        self.report_models()
        while True:
            try:
                command = self.jobs.get(timeout=min(30.0, max(1.0, self.idle_unload / 4)))
            except queue.Empty:
                self.unload_idle()
                continue
            if command is None:
                return
            self.run(command["id"], command["job"], command.get("written") or [])
            self.unload_idle()

    def run(self, job_id: str, job: dict, written: list[int]) -> None:
        from ..cli import done_event
        from ..pipeline import fill

        self.cancel = CancelToken()
        self.current = job_id
        if job_id in self.cancelled_early:
            self.cancel.cancel()

        def emit(event: dict) -> None:
            self.send({"id": job_id, "event": event})

        def on_progress(event: ProgressEvent) -> None:
            emit(event.to_dict())

        started = time.monotonic()
        try:
            result = fill(job, progress=on_progress, cancel=self.cancel, written=written)
            self.current = None
            emit(done_event(result))
        except Cancelled as exc:
            emit(events.cancelled_event(str(exc)))
        except AifxError as exc:
            emit(events.error_event(str(exc), exc.exit_code))
        except Exception as exc:  # a bug: the server log gets the traceback, the client one line
            traceback.print_exc()
            emit(events.error_event(f"internal error: {exc}", EXIT_INTERNAL))
        finally:
            self.current = None
            self.cancelled_early.discard(job_id)
            _used_until_now(started)  # the job held its models to its end: idle counts from here
            self.report_models()

    def report_models(self) -> None:
        models = _loaded_models()
        same = [{k: v for k, v in m.items() if k != "idle_s"} for m in models]
        if same != self._models:
            self._models = same
            self.send({"models": models})

    def unload_idle(self) -> None:
        try:
            from ..inpaint import models
        except ImportError:
            return
        if models.unload_idle(self.idle_unload):
            _free_device_memory()
        self.report_models()


def _loaded_models() -> list[dict]:
    try:
        from ..inpaint import models
    except ImportError:
        return []
    return models.loaded_models()


def _used_until_now(started: float) -> None:
    try:
        from ..inpaint import models
    except ImportError:
        return
    models.touch_since(started)


def _free_device_memory() -> None:
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _server_decides(_signum: int, _frame: Any) -> None:
    """SIGTERM: nothing (see the module docstring); the worker ends when the server does."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aifx_core.serve.runner")
    parser.add_argument("--idle-unload", type=float, default=600.0)
    args = parser.parse_args(argv)
    _die_with_parent()
    with (
        stdout_for_events() as out
    ):  # the protocol owns the real stdout; anything else printed goes to stderr
        signal.signal(
            signal.SIGINT, signal.SIG_IGN
        )  # Ctrl+C on the server's terminal is the server's to handle
        # A handler, not SIG_IGN: an ignored signal stays ignored in the processes a job starts (exec keeps it).
        signal.signal(signal.SIGTERM, _server_decides)
        from .. import pipeline  # noqa: F401  (imported now, not on the first artist's job)

        Runner(out, args.idle_unload).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
