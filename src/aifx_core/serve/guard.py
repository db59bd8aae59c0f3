"""Requests a web page could make, refused before they reach the API.

A page open in the artist's browser may send a "simple" request to ``http://127.0.0.1:8765`` (a POST with
``Content-Type: text/plain`` and ``mode: 'no-cors'`` needs no CORS preflight), and on a server without a token
file every caller is the user ``local``: such a page could queue a job that overwrites any sequence. And a page
whose host name the attacker re-points at 127.0.0.1 (DNS rebinding) can read the answers, as the browser then
takes the server for the page's own origin. So:

* a request carrying ``Origin`` (browsers send it on every POST and on cross-origin fetches) or
  ``Sec-Fetch-Site: cross-site``/``same-site`` is refused (403): no aifx client is a browser;
* without a token file, a request whose ``Host`` is not a loopback name (``127.0.0.1``, ``localhost``,
  ``[::1]``, any port) is refused (403): a rebound name arrives with the attacker's host name.

With a token file the host is not checked: every request needs a bearer token a page does not have, and a
reverse proxy in front (docs/serve.md's nginx example) passes the studio's own host name. ``POST /v1/jobs``
also takes only ``Content-Type: application/json`` (:func:`aifx_core.serve.app.create_app`), which a page
cannot send without a preflight this server never answers.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.responses import JSONResponse

#: What a browser sends with ``Sec-Fetch-Site`` for a request a page on another site made.
_PAGE_SITES = (b"cross-site", b"same-site")
_LOOPBACK_NAMES = ("localhost", "localhost.")


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8765`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header, or the ``--host`` aifx serve binds (``localhost.``, ``::1``), names this
    machine only: one rule for both, so a name the guard answers as local is one the server binds without
    --token-file, and the other way round."""
    name = host_name(host)
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(headers: dict[bytes, bytes], check_host: bool) -> str | None:
    """Why a request with these (lower-case) headers is refused, or None."""
    origin = headers.get(b"origin")
    site = headers.get(b"sec-fetch-site", b"").strip().lower()
    if origin is not None or site in _PAGE_SITES:
        source = origin.decode("latin-1") if origin is not None else f"a {site.decode('latin-1')} page"
        return (
            f"requests from web pages are refused (from {source}); "
            "send jobs with aifx submit, Blender or Nuke"
        )
    host = headers.get(b"host")
    if check_host and host is not None and not is_loopback_host(host.decode("latin-1")):
        return (
            f"host {host.decode('latin-1')!r} is refused: a server without --token-file answers only "
            "127.0.0.1, localhost or [::1]; give --token-file to serve another name (a reverse proxy)"
        )
    return None


class BrowserGuard:
    """ASGI middleware: :func:`refusal` as a JSON 403, before routing, authentication or any body is read."""

    def __init__(self, app: Any, check_host: bool) -> None:
        self.app = app
        self.check_host = check_host

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {name.lower(): value for name, value in scope["headers"]}
            problem = refusal(headers, self.check_host)
            if problem is not None:
                await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
