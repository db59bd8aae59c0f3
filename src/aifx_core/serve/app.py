"""The HTTP API of ``aifx serve`` (FastAPI): jobs in, progress out, nothing else.

Every endpoint but ``GET /v1/health`` needs ``Authorization: Bearer TOKEN``. A user sees only their own jobs
(another user's job is a 404, as if it did not exist); ``admin`` sees and cancels all. Answers:

* ``POST /v1/jobs`` (a FillJob JSON as ``application/json``; optional ``Idempotency-Key``) → 202 ``{"id", "position", "events"}``;
  422 with the CLI's one-line message for a bad job (checked by ``aifx run``'s own pre-work checks,
  :func:`~aifx_core.pipeline.preflight`), 403 naming a path (or a file option) outside the roots, 429 with
  ``Retry-After`` when the queue is full;
* ``GET /v1/jobs/ID`` → ``{"id", "state", "progress", "result" | "error", ...}``;
* ``GET /v1/jobs?limit=&offset=`` → your jobs, newest first, a page at a time;
* ``DELETE /v1/jobs/ID`` → cancels a queued job now, a running one after the frame in hand;
* ``GET /v1/jobs/ID/events`` → server-sent events whose ``data`` is exactly what ``aifx run --json-progress``
  prints, with ``id`` = the event's number (``Last-Event-ID`` resumes after it), a comment every 15 s, closed
  after the final event;
* ``GET /v1/models`` → the workers and the models each holds loaded.

A request from a web page (``Origin``), and without a token file one naming another host, is a 403
(:mod:`.guard`); a job that is not ``application/json`` a 415.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, which name locals.
import asyncio
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from .. import __version__
from ..pipeline import preflight
from ..protocol import events as protocol_events
from ..protocol.errors import EXIT_INPUT, InputError
from ..protocol.job import MAX_JOB_BYTES, FillJob
from .auth import TokenFile, User
from .guard import BrowserGuard
from .paths import PathRefused, PathRule, check_absolute, check_names, check_roots, map_job
from .pool import Pool
from .store import FINISHED, QueueFull, Store

LOCAL_USER = "local"
#: Seconds a client is told to wait (Retry-After) when the queue's database refuses a write.
STORE_RETRY_AFTER = 5
log = logging.getLogger("aifx.serve")
#: The largest OFFSET SQLite takes (a signed 64-bit integer).
_LAST_OFFSET = 2**63 - 1


@dataclass
class ServerConfig:
    store: Store
    pool: Pool
    tokens: TokenFile | None = None
    roots: list[Path] = field(default_factory=list)
    path_rules: list[PathRule] = field(default_factory=list)
    heartbeat: float = 15.0
    poll: float = 0.05
    #: Seconds a job's body may take to arrive (a client that stalls mid-body gets 408).
    body_timeout: float = 30.0


class AnyTextJSON(JSONResponse):
    """JSON whose strings may hold a lone surrogate: ``"\\ud800"`` in a job is valid JSON, and a refusal echoes
    what it refuses (an unknown option's name), but Starlette's response encodes its text to UTF-8 as it is,
    which raises: the 422 became a 500 with a traceback. Such a character goes out as the same escape."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it passes ``limit`` bytes: a chunked upload has no Content-Length
    to refuse it by, and reading it whole before the 413 would hold all of it in memory."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None
    except ClientDisconnect:  # nobody to answer, nothing to log but a line
        # Gone mid-body, or after sending it whole: the server drops a request's unread body once its connection
        # closes, so all it knows is that it never read the job (a client's "sent" proves nothing here).
        log.info(
            "%s: the client closed the connection before its job was read; nothing was queued",
            request.url.path,
        )
        raise ApiError(400, "the client closed the connection before its job was read") from None
    return bytes(body)


def create_app(config: ServerConfig) -> FastAPI:
    app = FastAPI(
        title="aifx serve",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        default_response_class=AnyTextJSON,
    )
    store, pool = config.store, config.pool
    # Pages in the artist's browser are refused (docs/serve.md, "Browsers"); the host only without tokens.
    app.add_middleware(BrowserGuard, check_host=config.tokens is None)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return AnyTextJSON({"detail": exc.detail, **exc.extra}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(sqlite3.OperationalError)
    async def _store_error(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
        """The queue's database refused (a full disk under --state): try again later, nothing was changed."""
        log.warning("%s %s: the queue's database refused it (%s)", request.method, request.url.path, exc)
        return AnyTextJSON(
            {"detail": f"the server cannot use its job queue just now ({exc}); try again in a moment"},
            status_code=503,
            headers={"Retry-After": str(STORE_RETRY_AFTER)},
        )

    def user(request: Request) -> User:
        if config.tokens is None:  # loopback without a token file: one local user
            return User(LOCAL_USER)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = config.tokens.user_for(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise ApiError(
                401,
                "missing or wrong bearer token; ask for one ('aifx serve token add')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    Who = Annotated[User, Depends(user)]

    def own_job(job_id: str, who: User) -> dict:
        record = store.get(job_id)
        if record is None or (record["user"] != who.name and not who.is_admin):
            raise ApiError(404, f"no job {job_id}")
        return record

    def public(record: dict) -> dict:
        out = dict(record)
        out["events"] = f"/v1/jobs/{record['id']}/events"
        if record["state"] == "queued":
            out["position"] = store.position(record["id"])
        return out

    @app.get("/v1/health")
    def health() -> JSONResponse:
        problems = pool.problems()
        body = {
            "status": "failing" if problems else "ok",
            "version": __version__,
            "workers": len(pool.workers),
            "jobs": store.counts(),
        }
        if problems:  # a load balancer or monitor sees the 503 (jobs would queue and never start)
            return AnyTextJSON({**body, "problems": problems}, status_code=503)
        return AnyTextJSON(body)

    @app.post("/v1/jobs", status_code=202)
    async def submit(request: Request, who: Who) -> JSONResponse:
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media != "application/json":  # a web page's no-cors POST is text/plain (see guard.py)
            raise ApiError(
                415,
                f"a job is sent as Content-Type application/json, not {media or 'none'!r}; "
                "send jobs with aifx submit, Blender or Nuke",
            )
        declared = request.headers.get("content-length", "")
        too_big = declared.isdigit() and int(declared) > MAX_JOB_BYTES  # refused before it is read
        try:
            body = (
                None
                if too_big
                else await asyncio.wait_for(read_capped(request, MAX_JOB_BYTES), config.body_timeout)
            )
        except asyncio.TimeoutError:
            raise ApiError(
                408,
                f"the job did not arrive within {config.body_timeout:g} s; send it again",
                headers={"Connection": "close"},
            ) from None
        if body is None:
            raise ApiError(
                413,
                f"job JSON is over {MAX_JOB_BYTES:,} bytes (1 MB); jobs carry paths on shared storage, never pixels",
            )
        try:
            job = FillJob.from_json(body.decode("utf-8-sig", errors="replace"))
            job.validate()
        except InputError as exc:
            raise ApiError(422, str(exc), exit_code=exc.exit_code) from None
        except (TypeError, ValueError) as exc:
            raise ApiError(422, f"job fields have the wrong type ({exc})", exit_code=EXIT_INPUT) from None
        job = map_job(job, config.path_rules)
        return AnyTextJSON(await run_in_threadpool(queue_job, who, job, request), status_code=202)

    def queue_job(who: User, job: FillJob, request: Request) -> dict:
        """The checks ``fill()`` makes before any work (:func:`~aifx_core.pipeline.preflight`, the one list),
        then the queue, off the event loop (blocking work: importing a backend's options, SQLite, symlinks on
        shared storage): a bad job is a 4xx with the CLI's message now, not a failed job in the queue later."""
        try:
            check_names(job)  # (first: the lines below print the paths, and the roots check resolves them)
            check_absolute(job)
        except InputError as exc:
            raise ApiError(422, str(exc), exit_code=exc.exit_code) from None
        if config.roots:  # before any file is opened: nothing outside the roots is even probed
            try:
                check_roots(job, config.roots)
            except PathRefused as exc:
                raise ApiError(403, str(exc)) from None
        try:
            preflight(job)
        except InputError as exc:
            raise ApiError(422, str(exc), exit_code=exc.exit_code) from None
        try:
            record, _new = store.submit(who.name, job.to_dict(), request.headers.get("idempotency-key"))
        except QueueFull as exc:
            raise ApiError(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        return {
            "id": record["id"],
            "state": record["state"],
            "position": store.position(record["id"]) or 0,
            "events": f"/v1/jobs/{record['id']}/events",
        }

    @app.get("/v1/jobs")
    def list_jobs(who: Who, limit: int = 50, offset: int = 0) -> dict:
        limit = max(1, min(500, limit))
        # Past every job is an empty page; past SQLite's integers it was an OverflowError (a plain-text 500).
        offset = max(0, min(offset, _LAST_OFFSET))
        records, total = store.list(None if who.is_admin else who.name, limit, offset)
        nxt = offset + len(records)
        return {
            "jobs": [public(r) for r in records],
            "total": total,
            "next_offset": nxt if nxt < total else None,
        }

    @app.get("/v1/jobs/{job_id}")
    def get_job(job_id: str, who: Who) -> dict:
        return public(own_job(job_id, who))

    @app.delete("/v1/jobs/{job_id}", status_code=202)
    def cancel_job(job_id: str, who: Who) -> JSONResponse:
        own_job(job_id, who)
        pool.cancel(job_id)
        return AnyTextJSON(public(own_job(job_id, who)), status_code=202)

    @app.get("/v1/jobs/{job_id}/events")
    async def events(job_id: str, request: Request, who: Who) -> EventSourceResponse:
        own_job(job_id, who)
        try:
            after = int(request.headers.get("last-event-id") or 0)
        except ValueError:
            after = 0

        async def stream():
            nonlocal after
            quiet = 0
            while True:
                batch = store.events_after(job_id, after) if store.last_seq(job_id) > after else []
                for seq, data in batch:
                    after = seq
                    yield ServerSentEvent(data=data, id=str(seq))
                    if protocol_events.is_final(json.loads(data)):
                        return
                    # A write never waits, so without this a backlog went out in one go: a client gone after
                    # its first event was noticed only after the last, asyncio logging each write past its
                    # fifth to the dead socket ("socket.send() raised exception.", per event, per drop).
                    await asyncio.sleep(0)
                if batch:
                    quiet = 0
                    continue
                quiet += 1
                if quiet % 20 == 0:
                    record = store.get(job_id)
                    if record is None or record["state"] in FINISHED:
                        return  # finished and everything sent, or dropped from the history
                await asyncio.sleep(config.poll)

        return EventSourceResponse(
            stream(),
            ping=config.heartbeat,
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/models")
    def models(_who: Who) -> dict:
        return {"workers": pool.describe()}

    return app
