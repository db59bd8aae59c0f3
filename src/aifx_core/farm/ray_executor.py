"""Run one shot on a Ray cluster: the anchors stage first, then exact chunks on warm worker actors.

``aifx run job.json --executor ray [--address auto|ray://host:10001] [--chunk N]`` and :func:`run_on_ray`.

* **Exact.** Every chunk is ``pipeline.fill(job, frames="A-B")`` (the shot stays the whole shot, only the
  frames written change), so the frames are bit-identical to a one-process run wherever a chunk runs.
* **Warm workers.** A worker is a Ray *actor*: one long-lived process that runs chunk after chunk, so a model
  loaded for the first chunk (``inpaint.models`` caches pipelines per process) serves every later one. A
  worker asks Ray for a GPU (``num_gpus=1``) when the job's device or backend needs one.
* **Retries.** Ray retries a task only when its process dies, not when it raises. Here every failure is
  retried explicitly (``retries`` times per chunk; a dead worker is replaced first): frames are written
  atomically and recorded in the output's manifest, so a retried chunk resumes after the frames its failed
  attempt finished and rewrites nothing twice. Bad input (exit code 2) and cancel are never retried.
* **One progress stream.** Workers buffer their events; the driver drains them while it waits and merges
  them (:class:`~aifx_core.farm.progress.ChunkProgress`) into the event schema of a local run, so
  ``--json-progress``, the adapters and ``aifx serve`` read a Ray run like any other.
* **Cancel.** Ctrl+C, SIGTERM or the caller's :class:`~aifx_core.progress.CancelToken` tells every busy
  worker to stop at its next progress check (a worker is threaded, so the request reaches it mid-chunk), waits
  a moment for them to clean up, then kills them. Finished frames stay; a rerun resumes after them.
* **Paths, never pixels.** Workers get the job (absolute paths), a frame range and return frame numbers.

Without an address a small local Ray is started (``num_cpus=2``, no dashboard) and stopped at the end; with
one, the driver connects and disconnects, leaving the cluster running. A process already connected to Ray
(a notebook, a test) is used as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends import check_options, get, route, spatial_name
from ..pipeline import FillResult, as_job, empty_mask_warning, open_plate, sheet_only
from ..progress import CancelToken, ProgressCallback
from ..protocol.errors import AifxError, Cancelled, InputError
from ..protocol.events import ProgressEvent
from ..protocol.job import FillJob, absolute_paths
from ..sequence import format_frames, parse_pattern
from .progress import ChunkProgress

#: Frames per chunk when none is given (Ray and farm export): the context a chunk reads around its frames is
#: paid once per chunk (docs/farm.md measures it), so much shorter chunks mostly re-read context.
DEFAULT_CHUNK = 50
#: Attempts after the first for each chunk (and for the anchors stage).
DEFAULT_RETRIES = 2
#: CPUs of the local Ray started when no address is given.
LOCAL_CPUS = 2
#: Seconds between event drains while chunks run (also how soon a cancel is noticed).
POLL_SECONDS = 0.2
#: Seconds busy workers get to stop cleanly on cancel before they are killed.
CANCEL_GRACE = 10.0
#: Seconds to wait for the workers to start (a cluster without the resources asked for never starts them).
START_TIMEOUT = 300.0
#: Seconds a ``host:port`` address gets to answer before ``ray.init`` is tried: ``ray.init`` keeps retrying
#: a head that is not there for minutes (a typo in --address looked like a hang).
CONNECT_TIMEOUT = 10.0
#: The local Ray's object store: only paths and frame numbers travel, so the minimum Ray accepts is plenty.
LOCAL_OBJECT_STORE = 80 * 1024 * 1024
#: Test hook read by the workers: ``raise:FRAME:MARKER`` raises once after FRAME is written, ``kill:...`` kills
#: the worker (SIGKILL) there, ``hold:...`` holds it there until its cancel arrives; MARKER is the file that says
#: it happened (so it happens once per test).
FAULT_VARIABLE = "AIFX_TEST_FARM_FAULT"
#: Environment passed on to workers: test hooks only (a cluster's machines have their own environment).
FORWARDED_PREFIX = "AIFX_TEST_"

ANCHORS = "anchors"
#: The last task when the job asks for a contact sheet: a whole-shot run that finds every frame done.
SHEET = "contact-sheet"


@dataclass
class RayFillResult(FillResult):
    """A :class:`FillResult` plus what each worker process used (for the benchmark and for logs)."""

    #: One dict per worker: ``pid``, ``peak_rss_mib``, ``cpu_s``, ``chunks`` (chunks it finished), ``models``
    #: (models it holds loaded at the end).
    workers: list[dict[str, Any]] = field(default_factory=list)
    #: Chunks as run: ``"1001-1050"`` texts in shot order.
    chunks: list[str] = field(default_factory=list)


def run_on_ray(
    job: FillJob | dict | str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    address: str | None = None,
    chunk: int | None = None,
    workers: int | None = None,
    retries: int = DEFAULT_RETRIES,
    job_file: str | os.PathLike | None = None,
) -> RayFillResult:
    """Run ``job`` on Ray in chunks of ``chunk`` frames (see the module docstring); returns what was written.

    ``address`` is a running cluster (``"auto"``, ``"ray://head:10001"``); None starts a local one. ``workers``
    defaults to what the cluster has room for (one per GPU for GPU work, else one per CPU), at most one per
    chunk. Raises :class:`InputError` for bad input, :class:`Cancelled` on cancel, :class:`AifxError` when a
    chunk still fails after ``retries`` more attempts.
    """
    try:
        with _kept_process_state():  # (importing Ray sets its excepthook and warnings filters already)
            import ray
    except ImportError:
        raise InputError(
            "--executor ray needs Ray: pip install 'aifx-core[ray]' (or run without --executor ray)"
        ) from None
    if job_file is None and isinstance(job, (str, os.PathLike)):
        job_file = job
    from ..serve.paths import absolute_options

    job = absolute_options(absolute_paths(as_job(job)))  # a worker's working folder is not the driver's
    job.validate()
    check_options(job.backend, job.options)  # a typo fails here, not in every worker
    if chunk is not None and chunk < 1:
        raise InputError(f"--chunk {chunk}: a chunk needs at least 1 frame")
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: at least 1")
    if retries < 0:
        raise InputError(f"retries {retries}: must be 0 or more")
    local = address is None and not ray.is_initialized()  # the Ray this run starts, LOCAL_CPUS CPUs
    if local and workers is not None and workers > LOCAL_CPUS:
        raise InputError(_too_many_workers(workers, LOCAL_CPUS, "CPUs"))
    # Planned here when this machine sees the plates (bad input fails before any cluster starts), else on the
    # cluster: a submission host need not mount the farm's storage.
    chunks = chunk_frames(job, chunk or DEFAULT_CHUNK) if sees_plates(job) else None
    cancel = cancel or CancelToken()
    with _SignalsCancel(cancel) as signals:
        signals.install()  # before ray.init: a Ctrl+C while Ray starts only sets the flag
        with _connected(ray, address):
            signals.install()  # again: ray.init installs its own
            cancel.raise_if_cancelled()
            if chunks is None:
                chunks = _chunk_frames_on_cluster(ray, job, chunk or DEFAULT_CHUNK)
            resources = ray.cluster_resources()
            gpus = gpus_per_worker(job, resources)
            if local and gpus and workers is not None and workers > resources.get("GPU", 0):
                raise InputError(_too_many_workers(workers, int(resources.get("GPU", 0)), "GPUs"))
            run = _RayRun(ray, job, chunks, progress, cancel, gpus, retries, job_file)
            count = min(workers, len(chunks)) if workers else _default_workers(resources, gpus, len(chunks))
            return run.run(count)


def _too_many_workers(workers: int, room: int, what: str) -> str:
    """A local Ray never grows: workers it has no room for would be waited on for START_TIMEOUT, then fail."""
    return (
        f"--workers {workers}: the local Ray has {room} {what} (one worker each); use --workers {room} or "
        "less, or --address for a cluster with more"
    )


def chunk_frames(job: FillJob, size: int) -> list[list[int]]:
    """The shot's frames in the chunks :func:`aifx_core.chunks.plan_chunks` plans (a chunk is a first/last
    pair; on a shot with gaps only the frames the shot has between them belong to it)."""
    from ..chunks import plan_chunks

    shot = open_plate(job).frames
    return [[f for f in shot if first <= f <= last] for first, last in plan_chunks(job, size)]


def sees_plates(job: FillJob) -> bool:
    """Whether this machine sees the job's plate folder (a submission host may not mount the farm's storage;
    the cluster then plans the chunks: :func:`_chunk_frames_on_cluster`). A spec without a frame token is a
    folder of frames or a still image: it must itself be there (a folder this machine does not see reads as a
    still inside its parent folder, which this machine may well see, and planning here then failed)."""
    pattern = parse_pattern(job.input)
    if pattern.is_still:
        return pattern.path(0).exists()
    return pattern.folder.is_dir()


def _chunk_frames_on_cluster(ray: Any, job: FillJob, size: int) -> list[list[int]]:
    """:func:`chunk_frames` in a Ray task, where the workers' storage is: the driver does not see the plates.
    A bad input there is the same :class:`InputError` (exit code 2), saying where it was found."""
    task = ray.remote(num_cpus=1, max_retries=0)(_planned).remote(job.to_dict(), size)
    try:
        return list(ray.get(task))
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, InputError):
            raise InputError(
                f"{cause} (as a Ray worker sees it; this machine does not see the plate folder)"
            ) from None
        raise


def _planned(job: dict[str, Any], size: int) -> list[list[int]]:
    return chunk_frames(FillJob.from_dict(job), size)


# -- what a job needs -------------------------------------------------------------------------------------------


def uses_model(job: FillJob) -> bool:
    """Does the job run a learned model (and so wants a GPU when there is one)?

    Model-free: Telea, and the temporal engine over a model-free spatial backend. Every other whole-shot
    backend (video diffusion, diffusers on every frame, a plugin's) is taken to run a model.
    """
    name, options = route(job.backend, job.options, 2)  # how it runs on a sequence
    backend = get(name)
    if backend.kind != "fill":
        return backend.generative
    if not backend.hosts_spatial:
        return True
    return get(spatial_name(backend, options) or "telea").generative


def gpus_per_worker(job: FillJob, resources: dict[str, float]) -> int:
    """1 when the job runs on a GPU (``--device cuda``, or ``auto`` with a model and GPUs in the cluster)."""
    device = (job.device or "auto").strip().lower()
    if device.startswith("cuda:"):
        raise InputError(
            f"device {job.device!r}: on Ray every worker gets its own GPU (Ray sets CUDA_VISIBLE_DEVICES); "
            "use --device cuda or auto"
        )
    if device == "cuda":
        if resources.get("GPU", 0) < 1:
            raise InputError("--device cuda: the Ray cluster has no GPU; use --device auto or cpu")
        return 1
    if device == "auto":
        return 1 if resources.get("GPU", 0) >= 1 and uses_model(job) else 0
    return 0


def _default_workers(resources: dict[str, float], gpus: int, chunks: int) -> int:
    room = resources.get("GPU", 0) if gpus else resources.get("CPU", 1)
    return max(1, min(chunks, int(room)))


@contextlib.contextmanager
def _connected(ray: Any, address: str | None) -> Iterator[None]:
    """Connected to Ray for the run: an existing connection is used as it is; else start or join, then leave,
    giving the caller's process back as it was (:func:`_kept_process_state`)."""
    if ray.is_initialized():
        yield
        return
    with _kept_process_state():
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        if address is not None:
            _check_answers(address)
        try:  # ray.init inside: one stopped halfway (a signal, an error) has started processes to end too
            if address is None:
                try:
                    ray.init(num_cpus=LOCAL_CPUS, object_store_memory=LOCAL_OBJECT_STORE, **quiet)
                except Exception as exc:  # (Ray raises a bare Exception when its node does not come up)
                    raise InputError(_local_start_failed(exc)) from None
            else:
                try:
                    ray.init(address=address, **quiet)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise InputError(
                        f"--address {address}: cannot connect to a Ray cluster ({exc}); start one with 'ray "
                        "start --head' or leave out --address to run on a local Ray"
                    ) from None
            yield
        finally:
            ray.shutdown()


def _local_start_failed(exc: BaseException) -> str:
    """The line for a local Ray that did not start: Ray's own error was a traceback ending in "internal error:
    The current node timed out during startup ...", exit 1, which named neither where Ray writes nor why it
    usually fails there (a full disk or a file size limit, ``ulimit -f``, on its session folder)."""
    lines = str(exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    logs = os.path.join(_ray_temp_folder(), "session_latest", "logs")
    return (
        f"the local Ray did not start ({reason}); its logs are in {logs}: usually the disk holding it is full, "
        "or a file size limit (ulimit -f) or quota stops Ray writing there; free space or lift the limit (RAY_TMPDIR "
        "moves the folder), or pass --address for a running cluster"
    )


def _ray_temp_folder() -> str:
    """The folder a local Ray keeps its sessions in, as Ray picks it (``RAY_TMPDIR``, else ``TMPDIR`` on Linux,
    else ``/tmp`` on Linux and macOS, the system's temp folder elsewhere; then ``ray``)."""
    base = os.environ.get("RAY_TMPDIR")
    if base is None and sys.platform.startswith("linux"):
        base = os.environ.get("TMPDIR")
    if base is None:
        unix = sys.platform.startswith(("linux", "darwin"))
        base = os.path.join(os.sep, "tmp") if unix else tempfile.gettempdir()
    return os.path.join(base, "ray")


#: Environment variables ``ray.init`` sets in the driver's process and ``ray.shutdown`` leaves behind.
_RAY_ENV = ("RAY_", "PYTHONBREAKPOINT")


@contextlib.contextmanager
def _kept_process_state() -> Iterator[None]:
    """Put back what ``ray.init`` changes in the caller's process and ``ray.shutdown`` leaves: ``sys.excepthook``
    (Ray's), the warnings filters and the ``RAY_*`` / ``PYTHONBREAKPOINT`` variables (a ``breakpoint()`` in a
    Blender or pipeline script after ``run_on_ray`` went to Ray's debugger)."""
    hook = sys.excepthook
    env = {k: v for k, v in os.environ.items() if k.startswith(_RAY_ENV)}
    try:
        with warnings.catch_warnings():  # (puts the filters back as they were, caches reset)
            yield
    finally:
        sys.excepthook = hook
        for name in [k for k in os.environ if k.startswith(_RAY_ENV) and k not in env]:
            os.environ.pop(name, None)
        os.environ.update(env)


def _check_answers(address: str) -> None:
    """Refuse, within :data:`CONNECT_TIMEOUT`, a ``host:port`` address where nothing answers (``auto`` and
    ``ray://`` addresses fail fast in ``ray.init`` itself)."""
    text = address.strip()
    if text == "auto" or "://" in text or ":" not in text:
        return
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise InputError(
            f"--address {address}: {port!r} is not a port; give host:port (the head's GCS port, 6379 by default), "
            "auto or ray://host:10001"
        ) from None
    try:
        with socket.create_connection((host.strip("[]"), number), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            reason = f"unknown host {host}"
        elif isinstance(exc, (TimeoutError, socket.timeout)):
            reason = f"no answer in {CONNECT_TIMEOUT:.0f} s"
        else:
            reason = exc.strerror or str(exc)
        raise InputError(
            f"--address {address}: no Ray cluster answers there ({reason}); check the address (the head's GCS "
            "port, 6379 by default), start one with 'ray start --head', or leave out --address to run on a "
            "local Ray"
        ) from None


class _SignalsCancel:
    """For a run, SIGTERM (the adapters' Cancel) and SIGINT (Ctrl+C) only set the cancel token; the driver loop
    notices within :data:`POLL_SECONDS`, stops every worker and raises :class:`Cancelled`.

    Why not raise from the handler, as a local run does: a signal handler that raises inside Ray's compiled
    calls (``ray.wait``) leaves them half done (``SystemError``), and ``ray.init`` installs Ray's own handlers,
    which log and exit the process. The caller's handlers are saved before Ray starts and put back at the end.
    Only in the main thread (elsewhere signals are the host's business; the caller's token still works).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, cancel: CancelToken) -> None:
        self.cancel = cancel
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> _SignalsCancel:
        if threading.current_thread() is threading.main_thread():
            self.saved = {sig: signal.getsignal(sig) for sig in self.SIGNALS}
        return self

    def install(self) -> None:
        """Take over the signals: before ``ray.init`` (a Ctrl+C while Ray starts must not raise inside it, nor
        in a child it forks) and again after it, as it installs its own."""
        for sig in self.saved:
            signal.signal(sig, lambda _sig, _frame: self.cancel.cancel())

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


# -- the worker ---------------------------------------------------------------------------------------------------


class ChunkWorker:
    """One warm worker process (a Ray actor, threaded so :meth:`cancel` and :meth:`drain` reach it mid-chunk).

    Its events wait in a buffer until the driver drains them: a worker never calls back into the driver, so
    a slow or gone driver cannot stall a chunk.
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._cancel = CancelToken()
        self._chunks = 0

    def ready(self) -> int:
        return os.getpid()

    def anchors(self, job: dict[str, Any]) -> str | None:
        """The anchors stage (keyframes and what no frame saw on them, cached in the output's job cache);
        ``--overwrite`` rebuilds them, as ``aifx run --anchors --overwrite`` does."""
        from ..pipeline import prepare_anchors

        data = FillJob.from_dict(job)
        return prepare_anchors(
            data, progress=self._reporter(ANCHORS), cancel=self._cancel, rebuild=bool(data.overwrite)
        )

    def chunk(
        self, tag: str, job: dict[str, Any], frames: str | None, job_file: str | None
    ) -> dict[str, Any]:
        """Write exactly ``frames`` of the job's shot (None: the whole shot, resuming after what is done);
        returns the :class:`FillResult` as a dict."""
        from ..pipeline import fill

        progress, cancel = self._reporter(tag), self._cancel
        if frames is None:
            result = fill(FillJob.from_dict(job), progress=progress, cancel=cancel, job_file=job_file)
        else:
            result = fill(
                FillJob.from_dict(job), progress=progress, cancel=cancel, frames=frames, job_file=job_file
            )
            self._chunks += 1
        return asdict(result)

    def on_disk(self, output: str, frames: list[int]) -> list[int]:
        """Which of ``frames`` have an output file, as this worker sees ``output``: the storage the workers
        write to, which the driver may not see (see :meth:`_RayRun._on_disk`)."""
        pattern = parse_pattern(output)
        return [frame for frame in frames if pattern.path(frame).exists()]

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def cancel(self) -> None:
        self._cancel.cancel()

    def stats(self) -> dict[str, Any]:
        """Peak memory and CPU time of this worker process (for the benchmark and logs)."""
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "pid": os.getpid(),
            "peak_rss_mib": round(_peak_rss_mib(usage.ru_maxrss), 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "chunks": self._chunks,
            "models": _models_held(),
        }

    def _reporter(self, tag: str) -> ProgressCallback:
        def on_progress(event: ProgressEvent) -> None:
            with self._lock:
                self._events.append((tag, event.to_dict()))
            _test_fault(event, self._cancel)

        return on_progress


def _models_held() -> int:
    """Models this worker holds loaded (its per-process cache), without importing torch to say none."""
    models = sys.modules.get("aifx_core.inpaint.models")
    return len(models.loaded_models()) if models is not None else 0


def _peak_rss_mib(ru_maxrss: int) -> float:
    """This process image's peak RSS: ``VmHWM`` on Linux (``ru_maxrss`` carries a forking parent's size over
    into the child there, and Ray's workers are forked), ``ru_maxrss`` elsewhere."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return ru_maxrss / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def _test_fault(event: ProgressEvent, cancel: CancelToken) -> None:
    """The :data:`FAULT_VARIABLE` test hook (unset in real use), right after a frame is written:
    ``raise:FRAME:MARKER`` raises once, ``kill:FRAME:MARKER`` kills the worker once (MARKER is the file that says
    it happened), ``slow:SECONDS`` sleeps after every frame, ``hold:FRAME:MARKER`` waits (at most a minute) until
    this worker's cancel arrives, then writes MARKER. A test's cancel thus lands mid-chunk however late it
    comes, and the worker goes on only once it has the cancel, which nothing outside it shows: let go earlier,
    it could finish its chunk before the cancel reached it."""
    spec = os.environ.get(FAULT_VARIABLE)
    if not spec or event.stage != "write" or event.frame is None:
        return
    how, _, rest = spec.partition(":")
    if how == "slow":
        time.sleep(float(rest))
        return
    frame, _, marker = rest.partition(":")
    if event.frame != int(frame) or os.path.exists(marker):
        return
    if how == "hold":
        deadline = time.monotonic() + 60
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.05)
        if cancel.cancelled:
            Path(marker).touch()
        return
    Path(marker).touch()
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"injected fault after frame {frame} ({FAULT_VARIABLE})")


# -- the driver ---------------------------------------------------------------------------------------------------


@dataclass
class _Task:
    tag: str
    frames: str  # "" for the anchors stage
    attempt: int = 0


class _RayRun:
    """The driver's side of one run: workers, the task queue, retries, events, cancel."""

    def __init__(
        self,
        ray: Any,
        job: FillJob,
        chunks: list[list[int]],
        progress: ProgressCallback | None,
        cancel: CancelToken,
        gpus: int,
        retries: int,
        job_file: str | os.PathLike | None,
    ) -> None:
        self.ray = ray
        self.job = job
        self.job_data = replace(job, contact_sheet=None).to_dict()  # a chunk never writes the shot's sheet
        self.job_file = os.path.abspath(job_file) if job_file is not None else None
        self.tasks = [_Task(format_frames(frames), format_frames(frames)) for frames in chunks]
        self.frames = [frame for frames in chunks for frame in frames]  # every frame the chunks write
        self.progress = ChunkProgress(progress, dict(zip((t.tag for t in self.tasks), chunks, strict=True)))
        self.callback = progress
        self.cancel = cancel
        self.gpus = gpus
        self.retries = retries
        self.result = RayFillResult(output="", chunks=[t.tag for t in self.tasks])
        self.actor_class: Any = None
        self.workers: list[Any] = []
        self.running: dict[Any, tuple[int, _Task]] = {}
        #: Output frames on disk before any chunk ran (as a worker sees the output), and chunks that lost a
        #: worker: a killed worker's last events die with it, so its retry finds frames done that no event
        #: reported; those not on disk at the start were written by this run, not "already done".
        self.present: set[int] = set()
        self.lost: set[str] = set()
        #: Frames with a hole, over the chunks' results (:attr:`FillResult.holed`).
        self.holed = 0

    # -- the run, top to bottom ---------------------------------------------------------------------------
    def run(self, count: int) -> RayFillResult:
        try:
            self._start_workers(count)
            self.present = self._on_disk()
            self._schedule([_Task(ANCHORS, "")])
            self._schedule(self.tasks)
            if (
                self.job.contact_sheet is not None
            ):  # every frame is done now: a whole-shot run only writes the sheet
                self._schedule([_Task(SHEET, "")])
            self.result.workers = self.ray.get([w.stats.remote() for w in self.workers])
        except BaseException:
            self._stop()
            raise
        finally:
            for worker in self.workers:
                with contextlib.suppress(Exception):
                    self.ray.kill(worker)
        self.result.written.sort()
        self.result.skipped.sort()
        self._check_visible()
        self._check_empty_mask()
        return self.result

    def _check_empty_mask(self) -> None:
        """Warn, as a whole-shot run in one process does, when the mask was empty on every frame: no chunk can
        tell (its frames may be ones where the object is off screen). Only when this run filled every frame
        and no worker died (a dead attempt's frames were not counted by its retry)."""
        every = sorted(self.frames)
        if self.holed == 0 and not self.lost and every and self.result.written == every:
            self.result.notices.append(empty_mask_warning(every))

    def _check_visible(self) -> None:
        """Say so when this machine does not see frames the workers report written: the counts are the
        workers' (see :meth:`_on_disk`), but a user looking for the frames here would find none and wonder."""
        if not self.result.written:
            return
        pattern = parse_pattern(self.job.output)
        unseen = [frame for frame in self.result.written if not pattern.path(frame).exists()]
        if unseen:
            self.result.notices.append(
                f"note: this machine does not see {len(unseen)} of the {len(self.result.written)} frames the "
                f"workers wrote (first: {pattern.path(unseen[0])}): the workers' storage is not mounted here, "
                "or under another path; the frames are where the workers wrote them"
            )

    def _start_workers(self, count: int) -> None:
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIX)}
        options: dict[str, Any] = {"num_cpus": 1, "num_gpus": self.gpus, "max_concurrency": 3}
        if env:
            options["runtime_env"] = {"env_vars": env}
        self.actor_class = self.ray.remote(ChunkWorker).options(**options)
        self.workers = [self.actor_class.remote() for _ in range(count)]
        pending = [w.ready.remote() for w in self.workers]
        deadline = time.monotonic() + START_TIMEOUT
        while pending:
            self.cancel.raise_if_cancelled()
            _, pending = self.ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
            if pending and time.monotonic() > deadline:
                need = f"{self.gpus} GPU and 1 CPU" if self.gpus else "1 CPU"
                raise AifxError(
                    f"{len(pending)} of {count} Ray worker(s) did not start in {START_TIMEOUT:.0f} s: each needs "
                    f"{need}, the cluster has {self.ray.cluster_resources()}; pass --workers or free resources"
                )

    def _submit(self, index: int, task: _Task) -> Any:
        worker = self.workers[index]
        if task.tag == ANCHORS:
            return worker.anchors.remote(self.job_data)
        if task.tag == SHEET:
            sheet = sheet_only(self.job).to_dict()
            return worker.chunk.remote(task.tag, sheet, None, self.job_file)
        return worker.chunk.remote(task.tag, self.job_data, task.frames, self.job_file)

    def _schedule(self, tasks: list[_Task]) -> None:
        """Run ``tasks`` on the workers, each idle worker taking the next; returns when all have succeeded."""
        queue = deque(tasks)
        idle = list(range(len(self.workers)))
        while queue or self.running:
            self.cancel.raise_if_cancelled()
            while queue and idle:
                index, task = idle.pop(0), queue.popleft()
                self.running[self._submit(index, task)] = (index, task)
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=POLL_SECONDS)
            self._drain()
            for ref in ready:
                index, task = self.running.pop(ref)
                idle.append(index)
                try:
                    value = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    if isinstance(cause, InputError):
                        raise InputError(str(cause)) from None
                    if isinstance(cause, Cancelled):
                        raise Cancelled(str(cause)) from None
                    self._retry(task, cause, queue)
                except (
                    self.ray.exceptions.RayError
                ) as exc:  # the worker died (killed, out of memory, node lost)
                    self.workers[index] = self.actor_class.remote()
                    self.lost.add(task.tag)
                    self._retry(task, RuntimeError(self._death(task, exc)), queue)
                else:
                    self._finished(task, value)

    def _retry(self, task: _Task, cause: BaseException, queue: deque[_Task]) -> None:
        task.attempt += 1
        what = "the anchors stage" if task.tag == ANCHORS else f"chunk {task.tag}"
        reason = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        if task.attempt > self.retries:
            raise AifxError(
                f"{what} failed {task.attempt} times, last: {reason}; the frames finished are kept: "
                "run the job again to resume"
            )
        if task.tag in self.progress.chunks:
            self.progress.retry(task.tag)
        note = f"{what} failed ({reason}); retry {task.attempt} of {self.retries}"
        self.result.notices.append(f"note: {note}")
        if self.callback is not None:
            self.callback(ProgressEvent("retry", task.attempt, self.retries, None, note))
        queue.append(task)

    def _on_disk(self) -> set[int]:
        """Frames of the chunks whose output file exists now, as a worker sees them.

        Asked of a worker, never looked up by the driver: a driver on a submission host may not see the
        storage the workers write to (no mount there, or another folder at the same path), and from its own
        view a killed attempt's retry would pass frames of an earlier run off as written by this one. What the
        driver counts as written is what workers report: ``write`` events (sent after the frame is fsynced and
        renamed into place) and, for a lost attempt, the frames its retry found done that were not there
        before the run.
        """
        ref = self.workers[0].on_disk.remote(self.job.output, self.frames)
        return set(self.ray.get(ref))

    def _death(self, task: _Task, exc: BaseException) -> str:
        """One line for a worker that died under ``task``: Ray's own account runs to a paragraph."""
        kind = re.search(r"Worker exit type: (\w+)", str(exc))
        how = f"Ray exit type {kind.group(1)}" if kind else type(exc).__name__
        reported = self.progress.frames_written(task.tag) if task.tag in self.progress.chunks else set()
        last = f"last frame reported written: {max(reported)}" if reported else "no frame reported written"
        return (
            f"its Ray worker process died ({how}: killed, out of memory or crashed; the node's Ray logs say "
            f"which); {last}"
        )

    def _finished(self, task: _Task, value: Any) -> None:
        if not isinstance(value, dict):  # the anchors stage: its cache folder, or None
            return
        self.result.output = self.result.output or str(value.get("output") or "")
        if task.tag == SHEET:
            self.result.contact_sheet = value.get("contact_sheet")
        else:
            self.progress.finish(task.tag)
            # Frames a failed attempt wrote were written by this run, though the retry found them done.
            earlier = self.progress.frames_written(task.tag)
            if task.tag in self.lost:  # what a dead attempt wrote after its last event reached the driver
                lost = {f for f in value.get("skipped") or [] if f not in self.present}
                self.progress.found_written(task.tag, lost)
                earlier |= lost
            self.result.written.extend(sorted(earlier | set(value.get("written") or [])))
            self.holed += int(value.get("holed") or 0)
            self.result.skipped.extend(f for f in value.get("skipped") or [] if f not in earlier)
        for notice in value.get("notices") or []:
            if notice not in self.result.notices:
                self.result.notices.append(notice)

    def _drain(self) -> None:
        busy = sorted({index for index, _ in self.running.values()})
        for ref in [self.workers[i].drain.remote() for i in busy]:
            try:
                batch = self.ray.get(ref)
            except self.ray.exceptions.RayError:  # the worker died: its task's result says so, and is retried
                continue
            for tag, event in batch:
                if tag in self.progress.chunks:
                    self.progress.chunk_event(tag, event)
                else:
                    self.progress.stage_event(event, tag)

    def _stop(self) -> None:
        """On cancel or failure: busy workers stop at their next progress check; the stragglers are killed."""
        refs = list(self.running)
        for index in sorted({index for index, _ in self.running.values()}):
            with contextlib.suppress(Exception):
                self.workers[index].cancel.remote()
        with contextlib.suppress(BaseException):
            self.ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE)
        self.running.clear()
