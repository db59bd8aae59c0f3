"""Cutting a shot into farm chunks: ``plan_chunks(job, size)``.

Each chunk is a ``(first, last)`` pair of frame numbers (inclusive) that a farm task hands to
``aifx run job.json --frames first-last`` (or ``fill(job, frames=...)``); together they cover the job's shot
exactly once, in order. Every chunk is bit-identical to the same frames of a whole-shot run, whatever its
size (see :mod:`aifx_core.pipeline`), so ``size`` only trades per-task overhead (the context a chunk reads
besides its own frames, and the anchors it loads) against parallelism. Run the anchors stage once first
(``aifx run job.json --anchors``), or let the first chunk do it: the others wait for it and then read it.
"""

from __future__ import annotations

import os

from .errors import InputError
from .protocol.job import FillJob


def plan_chunks(job: FillJob | dict | str | os.PathLike, size: int) -> list[tuple[int, int]]:
    """Chunks of about ``size`` frames covering the job's shot exactly (``(first, last)`` frame numbers).

    Chunk edges are snapped to the backend's natural step where it has one (see :func:`chunk_step`).
    """
    from .pipeline import as_job, open_plate

    job = as_job(job)
    job.validate()
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"chunk size {size!r}: give a whole number of frames, 1 or more")
    frames = open_plate(job).frames
    step = chunk_step(job, len(frames))
    size = max(step, size // step * step)
    return [(frames[i], frames[min(i + size, len(frames)) - 1]) for i in range(0, len(frames), size)]


def chunk_step(job: FillJob, count: int) -> int:
    """The step chunk sizes are a multiple of, for a ``count``-frame shot.

    A backend's options class says it with ``chunk_step(count)`` (video-diffusion: its ``segment``, or the whole
    shot without segments); the temporal engine and per-frame backends chunk anywhere (1); another whole-shot
    backend reads the whole shot for any chunk, so the shot is one chunk.
    """
    from .backends import FILL, get, route

    name, options = route(job.backend, job.options, count)
    backend = get(name)
    cls = backend.options_class()
    settings = cls.from_dict(options) if cls is not None and hasattr(cls, "from_dict") else None
    step = getattr(settings, "chunk_step", None)
    if callable(step):
        return max(1, int(step(count)))
    return count if backend.kind == FILL else 1
