"""Resume: remember which output frames a job has finished.

Frames are written atomically, so a file on disk is always complete; what the file alone cannot say is
whether it was made with the *same settings*. The manifest, a small JSON file beside the output frames, records
the job's :meth:`~aifx_core.job.FillJob.resume_key` and the frames done. A rerun with the same key skips them;
different settings never silently mix with old frames.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .job import FillJob
from .sequence import atomic_write

MANIFEST_SUFFIX = ".aifx.json"


def manifest_path(output_pattern: str) -> Path:
    """``out/clean.####.exr`` → ``out/.clean.####.exr.aifx.json`` (one manifest per output pattern)."""
    pattern = Path(output_pattern)
    return pattern.parent / f".{pattern.name}{MANIFEST_SUFFIX}"


class Manifest:
    def __init__(self, path: Path, job: FillJob, key: str | None = None) -> None:
        self.path = path
        #: The job's resume key; the pipeline passes the one that leaves out options the backend says never
        #: change pixels (``aifx_core.backends.pixel_options``).
        self.key = key or job.resume_key()
        self.job = job
        self.done: set[int] = set()
        #: Key of an older manifest made with other settings, if one was found.
        self.stale_key: str | None = None

    @classmethod
    def load(cls, output_pattern: str, job: FillJob, key: str | None = None) -> Manifest:
        manifest = cls(manifest_path(output_pattern), job, key)
        if manifest.path.is_file():
            try:
                data = json.loads(manifest.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if data.get("resume_key") == manifest.key:
                manifest.done = {int(f) for f in data.get("done", [])}
            else:
                manifest.stale_key = data.get("resume_key")
        return manifest

    def plan(self, frames: list[int], existing: set[int], overwrite: bool, output_name: str) -> list[int]:
        """Frames still to render. Refuses to clobber outputs made with other (or unknown) settings."""
        if overwrite:
            self.done = set()
            return list(frames)
        foreign = sorted(f for f in existing if f not in self.done)
        if foreign:
            why = "with different settings" if self.stale_key else "by something else"
            raise InputError(
                f"{output_name}: {len(foreign)} output frame(s) already exist, made {why} "
                f"(first: {foreign[0]}); pass --overwrite to replace them or choose another output"
            )
        self.done &= existing
        return [f for f in frames if f not in self.done]

    def mark_done(self, frame: int) -> None:
        self.done.add(frame)
        self.save()

    def save(self) -> None:
        text = json.dumps(
            {"resume_key": self.key, "done": sorted(self.done), "job": self.job.to_dict()},
            indent=1,
            default=repr,
        )
        atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
