"""The worker processes and the threads that feed them from the queue.

One :class:`Worker` per visible GPU (``CUDA_VISIBLE_DEVICES`` narrowed to its GPU, so a job's ``device:
auto`` lands there and its resume key does not depend on which GPU ran it) or one on the CPU. Each has a
dispatcher thread: claim the next job from the :class:`~.store.Store`, hand it to the worker process, write
every event it sends back into the store. A worker that dies mid-job fails that job (the server log has its
stderr) and is started again; a cancelled job whose worker does not stop within ``cancel_grace`` seconds gets
its worker killed (frames are written atomically, so finished ones are kept). Once the server is stopping
(:meth:`Pool.begin_stop`, called as the exit signal arrives) nothing is claimed or restarted any more, and a
running job stays ``running`` whatever happens to its worker, for the next start to resume. A store that
refuses a write (a full disk under --state) holds its dispatcher up, trying again, never drops the event or
leaves a job half claimed (:meth:`Worker._store`); a dispatcher that fails otherwise is started again.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..protocol import events
from ..protocol.errors import EXIT_INPUT, EXIT_INTERNAL, InputError
from .store import CANCELLED_WHILE_RUNNING, Store

log = logging.getLogger("aifx.serve")
T = TypeVar("T")
#: Seconds between tries of a store write that failed (a full disk under --state), doubling up to the last.
_RETRY_PAUSES = (0.5, 1.0, 2.0, 5.0)
#: errno values of a process (EMFILE) or a machine (ENFILE) out of file descriptors.
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


class _Stopping(Exception):
    """The server began to stop while a dispatcher waited for its store."""


def visible_gpus(python: str = sys.executable) -> list[str]:
    """GPU indices torch can see in a fresh process (none without torch or CUDA)."""
    code = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
        count = int(done.stdout.strip() or 0)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        count = 0
    return [str(i) for i in range(count)]


def worker_devices(
    spec: str,
    visible: Callable[[], list[str]] = visible_gpus,
    environ: Mapping[str, str] = os.environ,
) -> list[str | None]:
    """``--workers`` → one entry per worker: the ``CUDA_VISIBLE_DEVICES`` of its process (its GPU), ``""``
    (CPU only) or None (leave the env alone). GPU indices are the GPUs this process sees (``visible``): a GPU
    that is not there is refused, not handed to a worker that would quietly run on the CPU."""
    if spec == "cpu":
        return [""]
    if spec == "auto":
        gpus = visible()
        return [gpu_for_worker(index, environ) for index in gpus] if gpus else [None]
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise InputError(f"--workers {spec}: expected auto, cpu or GPU indices such as 0,1")
    indices = [str(int(part)) for part in parts]
    twice = sorted({index for index in indices if indices.count(index) > 1})
    if twice:
        raise InputError(f"--workers {spec}: GPU {', '.join(twice)} named twice; one worker per GPU")
    gpus = visible()
    missing = [index for index in indices if index not in gpus]
    if missing:
        seen = f"GPUs {','.join(gpus)}" if gpus else "no GPU"
        raise InputError(
            f"--workers {spec}: this machine has no GPU {','.join(missing)} (torch sees {seen}); "
            "use --workers auto, cpu or the indices it sees"
        )
    return [gpu_for_worker(index, environ) for index in indices]


def gpu_for_worker(index: str, environ: Mapping[str, str]) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` that gives a worker the GPU this process sees as ``index``: the same
    number, unless this process's own ``CUDA_VISIBLE_DEVICES`` narrows the GPUs (``2,3``: its GPU 0 is the
    machine's GPU 2, and a worker given ``0`` would get the machine's GPU 0, one the server was kept off)."""
    narrowed = [
        entry.strip() for entry in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if entry.strip()
    ]
    return narrowed[int(index)] if int(index) < len(narrowed) else index


class Worker:
    def __init__(self, pool: Pool, gpu: str | None) -> None:
        self.pool = pool
        self.gpu = gpu
        self.name = "cpu" if not gpu else f"cuda:{gpu}"
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[dict | None] = queue.Queue()
        self.job_id: str | None = None
        self.cancel_deadline: float | None = None
        self.models: list[dict] = []
        #: Why this worker's dispatcher cannot go on just now (GET /v1/health shows it), or None.
        self.problem: str | None = None
        #: The last start of the worker process found no free file descriptor (said once, cleared on a start).
        self.starved = False
        #: The process whose death :meth:`_follow` logged (with its job), so the restart does not log it again.
        self.ended: subprocess.Popen | None = None
        #: The process this pool killed itself (a cancelled job past its grace): its end is no out-of-memory kill.
        self.killed: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, name=f"aifx-dispatch-{self.name}", daemon=True)

    # -- the process ----------------------------------------------------------------------------------------
    def start_process(self) -> None:
        env = dict(os.environ)
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu
        env.setdefault("PYTHONUNBUFFERED", "1")
        command = [
            sys.executable,
            "-m",
            "aifx_core.serve.runner",
            "--idle-unload",
            str(self.pool.idle_unload),
        ]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        log.info("worker %s started (pid %s)", self.name, self.proc.pid)
        if self.starved:
            self.starved, self.problem = False, None

    @staticmethod
    def _read(proc: subprocess.Popen, lines: queue.Queue[dict | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                lines.put(json.loads(line))
            except ValueError:
                continue
        lines.put(None)

    def send(self, message: dict) -> None:
        if self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process is gone; the dispatcher notices at EOF

    def stop_process(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()  # the runner exits when its stdin closes
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # -- the dispatcher -------------------------------------------------------------------------------------
    def _run(self) -> None:
        """The dispatcher thread: :meth:`_dispatch`, started again after an error nobody foresaw (logged), so
        the queue never goes on without its dispatcher while the server answers as if it had one."""
        pauses = iter(_RETRY_PAUSES)
        while not self.pool.stopping:
            try:
                self._dispatch()
                return
            except _Stopping:
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_DESCRIPTORS:
                    self._failed(exc)
                else:  # the machine's limit (a flood of connections, a low ulimit), not a bug: one line
                    if not self.starved:
                        self.starved = True
                        log.warning(
                            "worker %s: no file can be opened just now (%s); trying again",
                            self.name,
                            exc,
                        )
                    self.problem = (
                        f"worker {self.name}: out of file descriptors ({exc}); raise the limit (ulimit -n)"
                    )
                self.pool.wait_stopping(next(pauses, _RETRY_PAUSES[-1]))
            except Exception as exc:
                self._failed(exc)
                self.pool.wait_stopping(next(pauses, _RETRY_PAUSES[-1]))

    def _failed(self, exc: Exception) -> None:
        """An error nobody foresaw: logged with its traceback for the report, shown by GET /v1/health."""
        self.problem = f"worker {self.name}: {type(exc).__name__}: {exc}"
        log.exception("worker %s: the dispatcher failed; starting it again", self.name)

    def _store(self, call: Callable[[], T]) -> T:
        """``call()`` (store work, under the pool's lock), tried again until the store takes it: a full disk
        under --state, or a moment's I/O error there, holds the queue up rather than losing a job's state (its
        worker waits on its output pipe meanwhile). The lock is let go between tries, so a cancel or a submit
        meanwhile gets its 503 at once; GET /v1/health shows the problem until a try succeeds."""
        pauses = iter(_RETRY_PAUSES)
        while True:
            if self.pool.stopping:
                raise _Stopping
            try:
                with self.pool.lock:
                    result = call()
            except (sqlite3.Error, OSError) as exc:
                if self.problem is None:
                    log.warning("worker %s: cannot write the queue (%s); trying again", self.name, exc)
                self.problem = f"worker {self.name}: cannot write the queue ({exc}); check the --state folder"
                self.pool.store.shrink_log()
                self.pool.wait_stopping(next(pauses, _RETRY_PAUSES[-1]))
                continue
            if self.problem is not None:
                log.warning("worker %s: the queue is writable again", self.name)
                self.problem = None
            return result

    def _claim(self) -> dict | None:
        """The next job, made this worker's in the same locked step (called under the pool's lock): a cancel
        that comes before its ``run`` command is sent then finds it here and goes to the worker first, which
        keeps it for that job (the runner's ``cancelled_early``); set later, a cancel in between was lost and
        the job ran to its end."""
        job = None if self.pool.stopping else self.pool.store.claim_next()
        if job is not None:
            self.job_id = job["id"]
            self.cancel_deadline = None
        return job

    def _dispatch(self) -> None:
        store = self.pool.store
        if self.job_id is not None:  # started again with a job in hand: see it to its end first
            self._follow(self.job_id)
        while not self.pool.stopping:
            if self.proc is None or self.proc.poll() is not None:
                if self.pool.stopping:
                    break
                if self.proc is not None and self.proc is not self.ended:  # (one ended mid-job is logged)
                    log.warning(
                        "worker %s (pid %s) died while idle (%s); starting another",
                        self.name,
                        self.proc.pid,
                        self._how_it_ended(self.proc, self.proc.returncode),
                    )
                self.start_process()
            job = self._store(self._claim)
            if job is not None and self._refused(job):
                continue
            if job is not None:
                command = {"op": "run", "id": job["id"], "job": job["job"]}
                if job["interrupted"]:  # resumed: its own earlier frames count as its writes (and overwrite
                    # does not start over)
                    command["written"] = self._store(functools.partial(store.written_frames, job["id"]))
                with self.pool.lock:
                    self.send(command)
            if job is None:
                self._drain(timeout=0.0)
                store.wait_for_work(0.5)
                continue
            self._follow(job["id"])

    def _refused(self, job: dict) -> bool:
        """Fail ``job`` (just claimed: a queued job, or one resumed after a restart) when its paths lead out of
        the roots now, with the 403's line: checked at submit only, a folder swapped for a link while the job
        waited had the worker read and write outside every root. (A swap during the run is not caught:
        docs/serve.md.)"""
        if not self.pool.roots:
            return False
        from ..protocol.job import FillJob
        from .paths import PathRefused, check_roots

        try:
            check_roots(FillJob.from_dict(job["job"]), self.pool.roots)
        except PathRefused as exc:
            refused = events.error_event(f"{exc} (checked again as the job started)", EXIT_INPUT)
        else:
            return False

        def fail() -> None:
            self.pool.store.add_event(job["id"], refused)
            self.job_id = None

        self._store(fail)
        log.warning("job %s refused as it started: %s", job["id"], refused["message"])
        return True

    def _how_it_ended(self, proc: subprocess.Popen | None, code: int | None) -> str:
        """:func:`how_it_ended`, or, for the process this pool killed itself, that it did: the SIGKILL's usual
        sender, the out-of-memory killer, is not to be looked for then."""
        if proc is not None and proc is self.killed:
            return f"exit code {code}: killed by this server after its cancel's grace ({self.pool.cancel_grace}s)"
        return how_it_ended(code)

    def _drain(self, timeout: float) -> dict | None | Literal[False]:
        """Handle one message (models reports are absorbed here); False when none came in ``timeout``."""
        try:
            message = self.lines.get(timeout=timeout) if timeout else self.lines.get_nowait()
        except queue.Empty:
            return False
        if message is not None and "models" in message:
            self.models = message["models"]
            return self._drain(0.0) if timeout == 0.0 else False
        return message

    def _follow(self, job_id: str) -> None:
        store = self.pool.store
        while True:
            if self.pool.stopping:
                return  # leave the job 'running': the next start resumes it
            if self.cancel_deadline is not None and time.monotonic() > self.cancel_deadline:
                log.warning(
                    "job %s did not stop within %ss of its cancel; killing worker %s",
                    job_id,
                    self.pool.cancel_grace,
                    self.name,
                )
                assert self.proc is not None
                self.killed = self.proc
                self.proc.kill()
                self.cancel_deadline = None
            message = self._drain(timeout=0.5)
            if message is False:
                continue
            if message is None:  # the worker process ended
                code = self.proc.wait() if self.proc else None
                if self.pool.stopping or (code in _STOP_CODES and self.pool.wait_stopping(_STOP_SIGNAL_WAIT)):
                    return  # killed with the server (a stop of the whole service): interrupted, not failed

                def end(code: int | None = code) -> str:
                    row = store.get(job_id)
                    if row and row["cancel_requested"]:
                        store.add_event(job_id, events.cancelled_event(CANCELLED_WHILE_RUNNING))
                        outcome = "is cancelled"
                    else:
                        died = f"the server's worker process died (exit code {code}); see the server log"
                        store.add_event(job_id, events.error_event(died, EXIT_INTERNAL))
                        outcome = "failed"
                    self.job_id = None
                    return outcome

                outcome = self._store(end)
                # The job's error points the artist here: say which worker, how it ended, and what of.
                self.ended = self.proc
                log.warning(
                    "worker %s (pid %s) died while running job %s (%s); the job %s, a new worker starts",
                    self.name,
                    self.proc.pid if self.proc else "?",
                    job_id,
                    self._how_it_ended(self.proc, code),
                    outcome,
                )
                return
            if message.get("id") != job_id or not isinstance(message.get("event"), dict):
                continue
            event = message["event"]

            def record(event: dict = event) -> bool:
                store.add_event(job_id, event)
                if events.is_final(event):
                    self.job_id = None
                    return True
                return False

            if self._store(record):
                return


def how_it_ended(code: int | None) -> str:
    """A worker process's exit status in the log's words: a signal by name (SIGKILL is what the kernel's
    out-of-memory killer sends, the first thing to look for), else the exit code."""
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = "; the system's out-of-memory killer sends it: see `journalctl -k`" if name == "SIGKILL" else ""
    return f"exit code {code}: killed by {name}{hint}"


#: A worker killed by one of these (its exit code) may have gone with a stop of the whole service.
_STOP_CODES = (-signal.SIGTERM, -signal.SIGINT)
#: Seconds such a worker's job waits for the server's own stop to begin before it counts as failed.
_STOP_SIGNAL_WAIT = 2.0


class Pool:
    def __init__(
        self,
        store: Store,
        devices: list[str | None],
        idle_unload: float = 600.0,
        cancel_grace: float = 30.0,
        roots: list[Path] | None = None,
    ) -> None:
        self.store = store
        #: The server's ``--root`` folders (none: any path): a job's paths are checked again as it starts.
        self.roots = list(roots or [])
        self.idle_unload = idle_unload
        self.cancel_grace = cancel_grace
        self.lock = threading.RLock()
        self.stopping = False
        self._stopped = threading.Event()
        self.workers = [Worker(self, gpu) for gpu in devices]

    def start(self) -> None:
        for worker in self.workers:
            worker.thread.start()

    def begin_stop(self) -> None:
        """The server is going: claim nothing more, restart no worker, leave running jobs ``running``. Safe in
        a signal handler (no lock: the dispatchers read the flag, or wake within their 0.5 s waits)."""
        self.stopping = True
        self._stopped.set()

    def wait_stopping(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    def stop(self) -> None:
        self.begin_stop()
        with self.store.changed:
            self.store.changed.notify_all()
        for worker in self.workers:
            worker.stop_process()
            worker.thread.join(timeout=5)

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job now, or tell the worker running it to stop after the frame in hand."""
        with self.lock:
            state = self.store.request_cancel(job_id)
            if state == "running":
                for worker in self.workers:
                    if worker.job_id == job_id:
                        worker.send({"op": "cancel", "id": job_id})
                        worker.cancel_deadline = time.monotonic() + self.cancel_grace
            return state

    def problems(self) -> list[str]:
        """What keeps jobs from running (GET /v1/health answers 503 with these): a dispatcher waiting for its
        store, or one whose thread is gone."""
        found = []
        for worker in self.workers:
            if worker.thread.ident is not None and not worker.thread.is_alive() and not self.stopping:
                found.append(
                    f"worker {worker.name}: its dispatcher stopped; restart aifx serve (see its log)"
                )
            elif worker.problem:
                found.append(worker.problem)
        return found

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": w.name,
                "pid": w.proc.pid if w.proc else None,
                "job": w.job_id,
                "models": w.models,
            }
            for w in self.workers
        ]
