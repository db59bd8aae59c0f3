"""Scale out: one shot split into exact chunks, run on a Ray cluster or exported to a render farm.

Every executor here runs the same primitive, ``pipeline.fill(job, frames=...)`` (and the ``anchors`` stage
before it, ``pipeline.prepare_anchors(job)``): a chunk writes exactly its frames, reading the context it needs,
bit-identical to the same frames of a one-process run, so chunks may run anywhere, in any order, and a failed
one may simply run again (frames are written atomically and recorded in the output's manifest).

* :mod:`.ray_executor`: ``aifx run job.json --executor ray`` and :func:`run_on_ray`, warm worker actors,
  retries, one merged progress stream, cancel (extra ``aifx-core[ray]``);
* :mod:`.openjd`: ``aifx export openjd job.json -o template.yaml``, an Open Job Description template whose
  tasks run ``aifx run job.json --frames A-B`` (AWS Deadline Cloud, or anywhere ``openjd-cli`` runs);
* :mod:`.progress`: how the events of chunks running at once become one stream that reads like a local run.

Only paths, frame ranges and events cross between processes here, never pixels. See docs/farm.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register_cli", "run_on_ray"]


def run_on_ray(*args: Any, **kwargs: Any) -> Any:
    """:func:`aifx_core.farm.ray_executor.run_on_ray` (imported on use: Ray is an optional extra)."""
    from .ray_executor import run_on_ray as run

    return run(*args, **kwargs)


def register_cli(subparsers: Any) -> None:
    """``aifx export openjd``."""
    from .openjd import register_cli as register

    register(subparsers)
