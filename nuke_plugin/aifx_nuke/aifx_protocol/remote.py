"""Talk to an ``aifx serve`` server: submit a job, follow its events, cancel it.

Standard library only (``urllib``), Python 3.9 syntax: this runs inside Blender's and Nuke's Python, which
have no third-party HTTP or websocket package. The events are the same objects ``aifx run --json-progress``
prints, read from the server's event stream (server-sent events); a dropped connection is picked up again
with ``Last-Event-ID``, so no event is lost or repeated.

    client = RemoteClient("https://aifx.studio:8765", token)
    job_id = client.submit(job_dict)["id"]
    for event in client.events(job_id):
        ...  # progress..., then one done / error / cancelled
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from .client import EventFollower
from .errors import EXIT_CANCELLED, EXIT_INPUT, EXIT_INTERNAL, AifxError
from .events import CANCELLED, DONE, ERROR, Event, decode, is_final

#: HTTP answers that mean the user has something to fix (the job, a path, the token): exit code 2.
_USER_ERRORS = (400, 401, 403, 404, 413, 422)
#: HTTP answers of a proxy (or load balancer) whose server is down for a moment: the event stream retries.
_RESTARTING = (502, 503, 504)
#: Seconds :meth:`RemoteClient.events` keeps reconnecting without an event before it gives up.
RECONNECT_PATIENCE = 300.0


def server_away(status: int) -> bool:
    """Whether a :class:`RemoteError`'s ``status`` means the server is away for a moment, so a retry may reach
    it: no answer at all (0: refused, timed out) or a proxy's 502-504 while the server restarts."""
    return status == 0 or status in _RESTARTING


class Backoff:
    """The retry rhythm of :meth:`RemoteClient.events` and ``aifx submit``'s cancel: a growing pause (at most
    5 s) between tries, given up once the server has stayed away ``patience`` seconds. A restart (a deploy,
    workers probing their GPUs) takes longer than a few tries; giving up early leaves a job running."""

    def __init__(self, patience: float = RECONNECT_PATIENCE) -> None:
        self.patience = patience
        self.failures = 0
        self.failing_since: float | None = None

    def reset(self) -> None:
        """The server answered: the next failure starts a new wait."""
        self.failures, self.failing_since = 0, None

    @property
    def failing_for(self) -> float:
        """Seconds since the first failure in a row (0 when none)."""
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    def failed(self) -> bool:
        """Count a failed try: pause before the next and return True, or return False when patience ran out."""
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        if self.failing_for > self.patience:
            return False
        time.sleep(min(5.0, 0.5 * self.failures))
        return True


class RemoteError(AifxError):
    """The server said no (``status``: the HTTP status; ``retry_after`` for 429) or could not be reached."""

    def __init__(self, message: str, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        """The exit code the CLI gives: 2 for a job or request the user can fix, else 1."""
        return EXIT_INPUT if self.status in _USER_ERRORS else EXIT_INTERNAL


def check_server_url(url: str) -> str:
    """``url`` without its trailing ``/``, or :class:`RemoteError` (status 400) saying what a server URL looks like.

    Checked before anything is written or sent: ``gpu-box:8765`` (no ``http://``) parses as a scheme,
    ``http://[bad`` makes ``urlparse`` raise ``ValueError``, and a space or a bad port only failed inside
    ``urlopen`` with an ``http.client`` error the adapters did not expect.
    """
    problem = ""
    shown = _redacted(url)
    try:
        parsed = urllib.parse.urlparse(url)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        problem = f" ({_redacted(str(exc))})"
    else:
        if any(c.isspace() or ord(c) < 32 for c in url):
            problem = " (it holds a space or a control character)"
        elif "@" in parsed.netloc:
            # Every later error line named the URL, password and all; the server takes a token, not a login.
            problem = " (it holds a user name or password; the server takes a token instead: remove the '…@' before the host)"
        elif parsed.scheme in ("http", "https") and parsed.hostname:
            return url.rstrip("/")
    raise RemoteError(f"server URL {shown!r}{problem}: expected http(s)://HOST:PORT", status=400)


def _redacted(text: str) -> str:
    """``text`` with the login of any ``scheme://user:password@`` in it shown as ``***``: a refused URL is named in
    the error line, which Blender's status bar, Nuke's log and a farm's log keep (a lone user part may be a
    token, so it goes too)."""
    return re.sub(r"//[^/@\s]*@", "//***@", text)


def check_token(token: str | None) -> str | None:
    """``token`` without the whitespace around it (None for none), or :class:`RemoteError` (status 400).

    A token read from a CRLF file (``export AIFX_TOKEN="$(cat token.txt)"``) or kept with its newline by a
    wrapper ends in ``\\r`` or ``\\n``: http.client refused the header with an error quoting it, and the whole
    token went into the error line and the farm's logs. Stripped here, for every caller (``aifx submit``, the
    adapters); one still holding a control character inside is refused without being shown.
    """
    if token is None:
        return None
    token = token.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in token):
        raise RemoteError(
            "the token holds a control character (a line break inside it?); set it to the token alone",
            status=400,
        )
    return token or None


class RemoteClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = check_server_url(url)
        self.token = check_token(token)
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, body: Any | None = None, headers: dict[str, str] | None = None
    ) -> urllib.request.Request:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        return request

    def _call(
        self, method: str, path: str, body: Any | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(
                self._request(method, path, body, headers), timeout=self.timeout
            ) as r:
                reply = r.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, self.url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"cannot reach the aifx server at {self.url} ({reason}); check the address and that aifx serve "
                "runs there, then try again"
            ) from None
        except http.client.InvalidURL as exc:  # a URL urlopen cannot send
            raise RemoteError(f"cannot ask the aifx server at {self.url} ({exc})", status=400) from None
        except ValueError:  # a header value http.client refuses: its text quotes the header, a token's too
            raise RemoteError(
                f"cannot ask the aifx server at {self.url}: a request header holds a character HTTP cannot send "
                "(check the token)",
                status=400,
            ) from None
        try:
            return json.loads(reply.decode("utf-8") or "{}")
        except ValueError:
            raise RemoteError(
                f"{self.url} answered {method} {path} with something that is not JSON; is it an aifx server?"
            ) from None

    # -- the API --------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def submit(self, job: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Queue a job (its FillJob dict); retried submits with the same key give the same job."""
        key = idempotency_key or uuid.uuid4().hex
        return self._call("POST", "/v1/jobs", job, {"Idempotency-Key": key})

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", "/v1/jobs/" + urllib.parse.quote(job_id))

    def jobs(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs?limit={int(limit)}&offset={int(offset)}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", "/v1/jobs/" + urllib.parse.quote(job_id))

    def models(self) -> dict[str, Any]:
        return self._call("GET", "/v1/models")

    def events(
        self, job_id: str, last_event_id: int = 0, patience: float = RECONNECT_PATIENCE
    ) -> Iterator[Event]:
        """The job's events until its final one, reconnecting (with ``Last-Event-ID``) when a stream drops.

        Reconnects go on for ``patience`` seconds without an event: a server restarting (a deploy, systemd's
        ``Restart=always``, workers probing their GPUs) takes longer than a few tries, and the job resumes
        there. Giving up early would fail a farm task whose job then finishes anyway, and its retry would
        submit a duplicate.
        """
        backoff = Backoff(patience)
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = str(last_event_id)
            request = self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}/events", None, headers)
            try:
                # The heartbeat arrives every 15 s, so a read that waits much longer means a dead connection.
                with urllib.request.urlopen(request, timeout=max(self.timeout, 45.0)) as response:
                    for event_id, data in _read_sse(response):
                        backoff.reset()
                        if event_id is not None:
                            last_event_id = event_id
                        event = decode(data)
                        if event is None:
                            continue
                        yield event
                        if is_final(event):
                            return
                # The stream ended without a final event (the server restarted): ask again where we were.
                lost = "the stream ended without a final event"
            except urllib.error.HTTPError as exc:
                if exc.code not in _RESTARTING:
                    raise _http_error(exc, self.url) from None
                lost = f"{exc.code} {exc.reason}"  # a proxy in front of a server that is restarting
            except (urllib.error.URLError, OSError, ValueError) as exc:
                lost = str(exc)
            if not backoff.failed():
                raise RemoteError(
                    f"lost the event stream of job {job_id} for {backoff.failing_for:.0f} s ({lost}); "
                    f"the job may still be running there: ask for it with its id"
                ) from None


def _read_sse(response: Any) -> Iterator[tuple[int | None, str]]:
    """(id, data) for each server-sent event; comments (the heartbeat) and other fields are skipped."""
    data: list = []
    event_id: int | None = None
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event_id, "\n".join(data)
            data, event_id = [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id":
            try:
                event_id = int(value)
            except ValueError:
                event_id = None


def _http_error(exc: urllib.error.HTTPError, url: str) -> RemoteError:
    """The :class:`RemoteError` for an HTTP error answer to a request to ``url`` (the server URL)."""
    try:
        detail = json.loads(exc.read().decode("utf-8")).get("detail")
    except (ValueError, AttributeError, OSError):
        detail = None
    if exc.code == 404 and detail in (
        None,
        "Not Found",
    ):  # no such address there (a job not found says which)
        detail = _no_such_address(url, exc)
    if not isinstance(detail, str):
        detail = f"{exc.code} {exc.reason}"
    retry = exc.headers.get("Retry-After") if exc.headers else None
    try:
        retry_after = float(retry) if retry else None
    except ValueError:
        retry_after = None
    return RemoteError(detail, status=exc.code, retry_after=retry_after)


def _no_such_address(url: str, exc: urllib.error.HTTPError) -> str:
    """The line for a 404 that is no aifx answer: a server URL with a path (``http://host:8765/aifx/``) on a
    server without one, or another service at that address. It was a bare "Not Found", naming neither."""
    path = urllib.parse.urlparse(url).path
    fix = f"leave out {path!r}: " if path else ""
    return (
        f"{exc.url or url}: 404 Not Found; is {url} an aifx server? {fix}give the server URL as http(s)://HOST:PORT"
        ", with a path only where a proxy serves aifx under one"
    )


class RemoteWorker(EventFollower):
    """A job run on an ``aifx serve`` server, polled like a local :class:`~.client.WorkerProcess`.

    The adapters drive a local worker through ``start / poll / running / returncode / fraction / eta_seconds /
    cancel / wait / error_message``; this offers the same calls for a server, so switching a DCC to the
    shared GPU box is the choice of which class to build. A reader thread follows the event stream.
    """

    def __init__(self, url: str, token: str | None, job_path: str) -> None:
        super().__init__()
        self.client = RemoteClient(url, token)
        self.job_path = job_path
        self.job_id: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> RemoteWorker:
        """Submit the saved job (raises :class:`RemoteError` when the server refuses it) and follow it."""
        with open(self.job_path, encoding="utf-8") as handle:
            job = json.load(handle)
        self.job_id = str(self.client.submit(job)["id"])
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def _follow(self) -> None:
        assert self.job_id is not None
        try:
            for event in self.client.events(self.job_id):
                self._record(event)
        except AifxError as exc:
            self._record({"event": ERROR, "message": str(exc), "exit_code": exc.exit_code})

    @property
    def returncode(self) -> int | None:
        """Like a process's: None while the job runs, then 0 (done), its error's exit code, or 130 (cancelled)."""
        if self.final is None or (self._thread is not None and self._thread.is_alive()):
            return None
        kind = self.final.get("event")
        if kind == DONE:
            return 0
        if kind == CANCELLED:
            return EXIT_CANCELLED
        return int(self.final.get("exit_code", EXIT_INTERNAL) or EXIT_INTERNAL)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def cancel(self, grace: float = 10.0) -> None:
        """Cancel the job on the server (finished frames are kept) and wait up to ``grace`` for its last event."""
        if self.job_id is None or not self.running():
            return
        with contextlib.suppress(RemoteError):  # it ended meanwhile: the stream still brings its final event
            self.client.cancel(self.job_id)
        if self._thread is not None:
            self._thread.join(timeout=grace)

    def wait(self, timeout: float | None = None) -> int:
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        code = self.returncode
        return EXIT_INTERNAL if code is None else code

    def error_message(self) -> str:
        final = self.final or {}
        return str(final.get("message") or "the aifx server gave no result")
