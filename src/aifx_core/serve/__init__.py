"""``aifx serve``: one shared GPU machine, many artists' Blender and Nuke sessions.

The server keeps models warm in long-lived worker processes (:mod:`.runner`, one per visible GPU), takes
jobs over HTTP with bearer-token auth (:mod:`.auth`), queues them fairly and durably in SQLite
(:mod:`.store`), checks every path against ``--root`` after ``--path-map`` (:mod:`.paths`) and streams each
job's ``--json-progress`` events back as server-sent events (:mod:`.app`). Needs the optional extra
``aifx-core[serve]`` (FastAPI, uvicorn, sse-starlette); the clients (``aifx submit``, the adapters) do not.
See docs/serve.md.
"""

from __future__ import annotations

from .cli import register_cli

__all__ = ["register_cli"]
