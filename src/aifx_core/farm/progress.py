"""One progress stream from many chunks: what a farm run shows reads like a local run.

Each chunk is a ``fill(job, frames=...)`` with its own events: its ``write`` count runs 1..n over *its* frames
to do, and its other stages (``flow``, ``fill``, ...) restart per chunk. A progress bar (the CLI's, Blender's,
Nuke's, :func:`aifx_core.protocol.events.fraction`) follows ``write`` only, so the merged stream keeps one
``write`` count over the whole shot: finished frames of every chunk over frames to do in every chunk. A chunk
that has not started yet counts all its frames as to do; when its first event says how many it really has to do
(resume skipped some), the total shrinks, so the bar never goes backwards. A retried chunk keeps the frames its
failed attempt finished (they are on disk) and counts on from there.

Other stages pass through unchanged except for the chunk named in their message, so a log says which chunk
is computing flow. No Ray here: the merger is plain Python, tested on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..progress import ProgressCallback
from ..protocol.events import OVERALL_STAGE, PROGRESS, ProgressEvent
from ..sequence import format_frames


class ChunkProgress:
    """Merges chunk events into one stream for ``callback`` (thread-safe: chunks may report from threads)."""

    def __init__(self, callback: ProgressCallback | None, chunks: Mapping[Any, list[int]]) -> None:
        self.callback = callback
        self._names = {chunk: format_frames(frames) for chunk, frames in chunks.items()}
        #: Frames a chunk still counts as to do (all of them until its first ``write`` event says otherwise).
        self._total = {chunk: len(frames) for chunk, frames in chunks.items()}
        #: Frames finished by earlier attempts of a chunk, and by the attempt now running.
        self._earlier = dict.fromkeys(chunks, 0)
        self._now = dict.fromkeys(chunks, 0)
        self._frames: dict[Any, set[int]] = {chunk: set() for chunk in chunks}
        self._lock = threading.Lock()

    @property
    def chunks(self) -> set[Any]:
        return set(self._total)

    @property
    def written(self) -> int:
        return sum(self._earlier.values()) + sum(self._now.values())

    @property
    def total(self) -> int:
        return sum(self._total.values())

    def frames_written(self, chunk: Any) -> set[int]:
        """Frames ``chunk`` reported written, over all its attempts."""
        with self._lock:
            return set(self._frames[chunk])

    def retry(self, chunk: Any) -> None:
        """A new attempt of ``chunk`` starts: what the last one finished stays finished."""
        with self._lock:
            self._earlier[chunk] += self._now[chunk]
            self._now[chunk] = 0

    def finish(self, chunk: Any) -> None:
        """``chunk`` ended well: whatever it counted as still to do was done (or skipped as done before)."""
        with self._lock:
            self._total[chunk] = self._earlier[chunk] + self._now[chunk]

    def found_written(self, chunk: Any, frames: set[int]) -> None:
        """``frames`` of ``chunk`` were written by an attempt whose worker died before its events for them
        reached the driver (its retry found them on disk and skipped them): they count as written by this
        run, so the bar ends at every frame asked, not at what the retry had left to do."""
        with self._lock:
            new = set(frames) - self._frames[chunk]
            if not new:
                return
            self._frames[chunk] |= new
            self._earlier[chunk] += len(new)
            self._total[chunk] += len(new)
            merged = ProgressEvent(OVERALL_STAGE, self.written, self.total, max(new), "")
        if self.callback is not None:
            self.callback(merged)

    def chunk_event(self, chunk: Any, event: Mapping[str, Any]) -> None:
        """One event (as :meth:`ProgressEvent.to_dict` gives it) from ``chunk``."""
        if event.get("event", PROGRESS) != PROGRESS:
            return
        stage = str(event.get("stage", ""))
        index, total = int(event.get("index") or 0), int(event.get("total") or 0)
        frame, message = event.get("frame"), str(event.get("message") or "")
        with self._lock:
            if stage == OVERALL_STAGE:
                self._now[chunk] = index
                self._total[chunk] = self._earlier[chunk] + total
                if frame is not None:
                    self._frames[chunk].add(int(frame))
                merged = ProgressEvent(OVERALL_STAGE, self.written, self.total, frame, message)
            else:
                where = f"chunk {self._names.get(chunk, chunk)}"
                merged = ProgressEvent(
                    stage, index, total, frame, f"{where}: {message}" if message else where
                )
        if self.callback is not None:
            self.callback(merged)

    def stage_event(self, event: Mapping[str, Any], stage_name: str) -> None:
        """An event of a stage that is no chunk (the anchors): passed on, named, never counted as frames."""
        if event.get("event", PROGRESS) != PROGRESS or self.callback is None:
            return
        message = str(event.get("message") or "")
        stage = str(event.get("stage", stage_name))
        if stage == OVERALL_STAGE:  # a stage's own frame count must not move the shot's bar
            stage = stage_name
        self.callback(
            ProgressEvent(
                stage,
                int(event.get("index") or 0),
                int(event.get("total") or 0),
                event.get("frame"),
                f"{stage_name}: {message}" if message else stage_name,
            )
        )
