"""``aifx submit job.json --server URL``: run a job on an ``aifx serve`` machine as if it ran here.

Progress is printed as a local ``aifx run`` prints it (a bar on a terminal, or the same JSON lines with
``--json-progress``), the exit code is the job's (0 done, 2 bad input, 1 failure, 130 cancelled; a server that cannot be reached
is a failure, 1, which a farm may retry), and Ctrl+C
or SIGTERM (how farm schedulers cancel a task) cancels the job on the server (a second one stops waiting for
the server to confirm), from the moment the job is sent (:func:`_cancel_unread`); one that comes while a full
queue's Retry-After is waited out ends with nothing queued. The token comes from
an environment variable (``--token-env``, default ``AIFX_TOKEN``), never from the command line, where other
users of the machine could read it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

from . import __version__
from .arguments import path_argument
from .protocol import events
from .protocol.errors import EXIT_CANCELLED, EXIT_INTERNAL, EXIT_OK, InputError
from .protocol.events import ProgressEvent
from .protocol.job import FillJob, absolute_paths
from .protocol.remote import RECONNECT_PATIENCE, Backoff, RemoteClient, RemoteError, server_away

#: How often a full queue (429), or a server that cannot write its queue just now (503 with Retry-After), is
#: retried before giving up.
QUEUE_FULL_RETRIES = 10


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="run a saved job on an aifx serve machine, with progress here",
        description="Send a job to an aifx server, print its progress like a local run and exit with its code.",
    )
    path_argument(p, "job", help="job JSON file (written by --save-job or FillJob.to_json)")
    p.add_argument(
        "--server", default=os.environ.get("AIFX_SERVER"), help="server URL (default $AIFX_SERVER)"
    )
    p.add_argument(
        "--token-env",
        default="AIFX_TOKEN",
        metavar="VAR",
        help="environment variable holding your token (default %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", default=None, help="replace finished frames")
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    p.add_argument("--version", action="version", version=f"aifx {__version__}")
    p.set_defaults(handler=_cmd_submit)


def _cmd_submit(args: argparse.Namespace) -> int:
    if not args.server:
        raise InputError("no server given; pass --server http://HOST:PORT or set AIFX_SERVER")
    from .serve.paths import absolute_options

    # A relative path (a field, a model or reference option) means here, as for aifx run, not there.
    job = absolute_options(absolute_paths(FillJob.load(args.job)))
    if args.overwrite:
        job.overwrite = True
    job.validate()  # the same one-line errors as a local run, before anything is sent
    client = RemoteClient(args.server, os.environ.get(args.token_env))
    token = client.token  # (stripped there: one read from a CRLF file ends in \r)
    key = uuid.uuid4().hex  # the same key on every retry: the server makes the job once
    # In place before the job is sent: a farm's SIGTERM (or a Ctrl+C) that came once the server had queued the
    # job, but before it was followed, killed this process and left the job running, untracked.
    with _sigterm_as_ctrl_c():
        try:
            job_id = _submit(client, job, key)
        except _NothingQueued:
            print(
                f"aifx: interrupted while waiting for room on {client.url}; nothing was queued",
                file=sys.stderr,
            )
            return EXIT_CANCELLED
        except KeyboardInterrupt:
            return _cancel_unread(client, job, key, args.json_progress)
        except RemoteError as exc:
            if exc.status == 401 and token is None:  # (a server without --token-file takes a job with none)
                raise _no_token(args.server, args.token_env) from None
            raise
        return _follow(client, job_id, args.json_progress, queued=True)


def _cancel_unread(client: RemoteClient, job: FillJob, key: str, json_progress: bool) -> int:
    """Interrupted while the job was being sent: the server may have queued it without its id reaching us.
    Sending it again with the same idempotency key answers that job's id (or makes it, if the first never
    arrived), which is then cancelled and followed to the server's confirmation, as after the job was queued."""
    print("aifx: interrupted while sending the job; cancelling it on the server", file=sys.stderr)
    try:
        job_id = str(client.submit(job.to_dict(), idempotency_key=key)["id"])
    except KeyboardInterrupt:
        print(f"aifx: stopped waiting; a job sent to {client.url} may still run there", file=sys.stderr)
        return EXIT_CANCELLED
    except RemoteError as exc:
        if exc.status == 429:  # the key is looked up first: the server holds no job with it, none was queued
            print(f"aifx: {exc}; nothing was queued", file=sys.stderr)
            return EXIT_CANCELLED
        print(_unknown_job_may_run(client.url, job, exc), file=sys.stderr)
        return EXIT_CANCELLED
    return _follow(client, job_id, json_progress, interrupted=True)


def _unknown_job_may_run(url: str, job: FillJob, exc: RemoteError) -> str:
    """The line for a job sent whose id the server could not give (a 503 from its queue's database, which could
    not look the idempotency key up, a proxy's 502): it says nothing of the first send, which may have queued
    the job (a 503 was read as a full queue's "nothing was queued"). Its output names it in the job list."""
    return (
        f"aifx: the server could not answer which job to cancel ({exc}); the job sent may still run there: find "
        f"the one writing {job.output} in your jobs (GET {url}/v1/jobs) and cancel it (DELETE {url}/v1/jobs/ID)"
    )


def _no_token(server: str, variable: str) -> RemoteError:
    """The server asked for a token and none was set: the server's own answer ('missing or wrong bearer
    token') never said where aifx submit looks for one."""
    return RemoteError(
        f"no token: the server at {server} needs one; set ${variable} to your token (or pass --token-env VAR "
        "naming the variable that holds it); ask the server's admin for one if you have none "
        "('aifx serve token add')",
        status=401,
    )


def _submit(client: RemoteClient, job: FillJob, key: str) -> str:
    """The job's id on the server, sent with the idempotency ``key`` (every retry too: the server makes it
    once); a full queue or a server that cannot write its queue just now is tried again after Retry-After."""
    for attempt in range(QUEUE_FULL_RETRIES + 1):
        try:
            return str(client.submit(job.to_dict(), idempotency_key=key)["id"])
        except RemoteError as exc:
            if not _no_room(exc) or attempt == QUEUE_FULL_RETRIES:
                raise
            wait = min(60.0, exc.retry_after or 5.0)
            print(f"aifx: {exc}; retrying in {wait:.0f} s", file=sys.stderr)
            _wait_for_room(wait)
    raise AssertionError("unreachable")


class _NothingQueued(Exception):
    """Ctrl+C or SIGTERM while no send of the job was in flight and every one had been refused: there is
    nothing on the server to cancel (sending the job again to learn its id would make one, if the queue had
    room by then)."""


def _no_room(exc: RemoteError) -> bool:
    """The server refused the job for now without queueing it: a full queue (429), or a queue it cannot write
    just now (503 with Retry-After). A 429 comes after the idempotency key is looked up, so the server holds no
    job with this key; a 503 is the queue's database refusing, which changes nothing (serve.app _store_error)
    but says nothing of an earlier send of the same key either (:func:`_cancel_unread`)."""
    return exc.status == 429 or (exc.status == 503 and exc.retry_after is not None)


def _wait_for_room(seconds: float) -> None:
    """Sleep out a refusal's Retry-After; an interrupt meanwhile is :class:`_NothingQueued`, not a send cut
    short."""
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        raise _NothingQueued from None


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM takes Ctrl+C's path while a job is followed: a farm task (OpenJD, Deadline, OpenCue) wrapping
    ``aifx submit`` is cancelled with SIGTERM, and the server's job must stop with it, not run on beside the
    task's retry. Signal handlers belong to the main thread; elsewhere (a host calling ``main``) nothing
    changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _follow(
    client: RemoteClient, job_id: str, json_progress: bool, queued: bool = False, interrupted: bool = False
) -> int:
    """Print the job's events until its final one; Ctrl+C (or SIGTERM, under :func:`_sigterm_as_ctrl_c`)
    cancels it on the server and keeps following. ``queued``: say the job was queued first; ``interrupted``:
    the user already asked to stop (before the job's id was read), so the cancel is sent at once."""
    from .printing import ProgressPrinter

    seen = 0  # event ids count 1, 2, 3... per job: after a Ctrl+C, follow on from the last one printed
    cancelling = False
    with ProgressPrinter(json_progress) as on_progress:
        while True:
            try:
                if queued:
                    queued = False
                    print(f"aifx: job {job_id} queued on {client.url}", file=sys.stderr)
                if not interrupted:
                    for event in client.events(job_id, last_event_id=seen):
                        seen += 1
                        code = _show(event, json_progress, on_progress)
                        if code is not None:
                            return code
                    return EXIT_INTERNAL  # not reached: events() ends with a final event or raises
            except KeyboardInterrupt:
                pass
            interrupted = False
            if cancelling:
                print(f"aifx: stopped waiting; job {job_id} is being cancelled", file=sys.stderr)
                return EXIT_CANCELLED
            cancelling = True
            code = _ask_cancel(client, job_id)
            if code is not None:
                return code


def _ask_cancel(client: RemoteClient, job_id: str) -> int | None:
    """The first Ctrl+C (or SIGTERM): ask the server to cancel the job. None once it has the cancel (follow on
    to its confirmation), else the exit code (the user stopped waiting, or the server stayed away)."""
    print(f"aifx: cancelling job {job_id} (Ctrl+C again to stop waiting)", file=sys.stderr)
    try:
        delivered = _cancel(client, job_id)
    except KeyboardInterrupt:  # the user chose to stop waiting while the cancel was retried
        print(
            f"aifx: stopped waiting; the cancel has not reached {client.url}, so job {job_id} may "
            "still run on the server",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    if not delivered:
        print(
            f"aifx: could not reach {client.url} to cancel; job {job_id} may still run on the server",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    return None


def _cancel(client: RemoteClient, job_id: str, patience: float = RECONNECT_PATIENCE) -> bool:
    """Ask the server to cancel, as patient as the event stream: a server restarting (or its proxy answering
    502-504) gets the cancel once it is back, or the job would run on after the farm cancelled its task.
    False when the server stayed away ``patience`` seconds; other refusals are raised."""
    backoff = Backoff(patience)
    while True:
        try:
            client.cancel(job_id)
            return True
        except RemoteError as exc:
            if not server_away(exc.status):
                raise
        if not backoff.failed():
            return False


def _show(event: dict, json_progress: bool, on_progress: Callable[[ProgressEvent], None]) -> int | None:
    """Print one event like a local run; the exit code once the job has ended, else None."""
    from .cli import done_summary, print_notices

    kind = event.get("event")
    if json_progress:
        sys.stdout.write(events.encode(event) + "\n")
        sys.stdout.flush()
    elif kind == events.PROGRESS:
        on_progress(
            ProgressEvent(
                str(event.get("stage", "")),
                int(event.get("index", 0)),
                int(event.get("total", 0)),
                event.get("frame"),
                str(event.get("message", "")),
            )
        )
    if kind == events.DONE:
        print_notices(event)
        if not json_progress:
            print(done_summary(event), file=sys.stderr)
        return EXIT_OK
    if kind == events.ERROR:
        print(f"aifx: error: {event.get('message', '')}", file=sys.stderr)
        return int(event.get("exit_code", EXIT_INTERNAL))
    if kind == events.CANCELLED:
        print(f"aifx: {event.get('message', 'cancelled')}", file=sys.stderr)
        return EXIT_CANCELLED
    return None
