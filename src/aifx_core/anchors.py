"""The anchors cache: each keyframe block's decision, made once per shot and read by every chunk.

A temporal fill invents what no frame saw once per keyframe block, on the block's keyframe, and carries it
through the shot. For farm chunks to be exact (and a generative fill the same invention in every chunk) that
decision is global: the anchors stage (:meth:`aifx_core.propagate.PropagateBackend.anchors`) makes it for
the whole shot, and this module keeps it in the output folder's job cache::

    out/.clean.####.exr.aifx-cache/anchors-<run key>/index.json
    out/.clean.####.exr.aifx-cache/anchors-<run key>/block-000012.npy   (the keyframe's filled hole pixels)

Every file is written atomically; ``index.json`` is written last, listing every block with its keyframe, its
hole fingerprint and the SHA-256 of its values file, so a cache is either complete and checked or not used.
The folder is named for the run key (settings plus the shot), so other settings never read it; a stale,
partial or damaged cache is detected on open and rebuilt. Building holds a file lock
(``.anchors.lock``), so farm chunks that start together build it once and the others wait, then read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .inpaint.base import Anchor
from .sequence import atomic_write, format_frames

ANCHORS_FORMAT = 1
CACHE_SUFFIX = ".aifx-cache"

try:  # POSIX; elsewhere builds are not locked (like the output lock)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def cache_folder(output_pattern: str) -> Path:
    """``out/clean.####.exr`` → ``out/.clean.####.exr.aifx-cache`` (the job cache beside the manifest)."""
    pattern = Path(output_pattern)
    return pattern.parent / f".{pattern.name}{CACHE_SUFFIX}"


class AnchorStore:
    """The cached anchors of one run key (see the module docstring)."""

    def __init__(self, output_pattern: str, key: str, shot: list[int] | tuple[int, ...], blocks: int) -> None:
        self.root = cache_folder(output_pattern)
        self.folder = self.root / f"anchors-{key}"
        self.index_path = self.folder / "index.json"
        self.key = key
        self.shot = format_frames(shot)
        self.blocks = blocks
        self._records: dict[int, dict[str, Any] | None] = {}

    # -- reading --------------------------------------------------------------------------------------------
    def _index(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("aifx_anchors") != ANCHORS_FORMAT:
            return None
        if data.get("key") != self.key or data.get("shot") != self.shot or data.get("blocks") != self.blocks:
            return None
        records = data.get("anchors")
        if not isinstance(records, dict) or sorted(records) != sorted(str(b) for b in range(self.blocks)):
            return None
        return data

    def valid(self) -> bool:
        """True when the cache is complete, made for this key and shot, and every values file is intact."""
        data = self._index()
        if data is None:
            return False
        for record in data["anchors"].values():
            if record is None:
                continue
            try:
                self._values(record)
            except (OSError, ValueError, KeyError, TypeError):
                return False
        return True

    def _values(self, record: dict[str, Any]) -> np.ndarray:
        blob = (self.folder / str(record["file"])).read_bytes()
        if hashlib.sha256(blob).hexdigest() != record["sha256"]:
            raise ValueError(f"{record['file']}: checksum mismatch")
        values = np.load(io.BytesIO(blob), allow_pickle=False)
        if values.dtype != np.float32 or values.ndim != 2 or values.shape[1] != 3:
            raise ValueError(f"{record['file']}: not (N, 3) float32")
        return values

    def reader(self) -> Mapping[int, Anchor]:
        """The anchors, each block's values read (and checked) when a chunk first asks for it."""
        data = self._index()
        if data is None:
            raise ValueError("anchors cache is not valid")
        return _Reader(self, {int(b): r for b, r in data["anchors"].items()})

    # -- writing --------------------------------------------------------------------------------------------
    def begin(self) -> None:
        """Start a new cache: drop this key's old files and other keys' caches (their settings are gone)."""
        self._records = {}
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.is_dir() and entry.name.startswith("anchors-") and entry != self.folder:
                    shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.index_path.unlink()  # rewritten last, once every block is
        self.folder.mkdir(parents=True, exist_ok=True)

    def discard(self) -> None:
        """Remove an unfinished cache (a failed or cancelled build): nothing half-made stays behind."""
        if not self.index_path.exists():
            shutil.rmtree(self.folder, ignore_errors=True)

    def write(self, block: int, anchor: Anchor) -> None:
        """Write one block's anchor (atomically); the index lists it once :meth:`finish` runs."""
        if anchor.keyframe is None or anchor.values is None:
            self._records[block] = None
            return
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(anchor.values, dtype=np.float32), allow_pickle=False)
        blob = buffer.getvalue()
        name = f"block-{block:06d}.npy"
        atomic_write(self.folder / name, lambda tmp: tmp.write_bytes(blob))
        self._records[block] = {
            "keyframe": int(anchor.keyframe),
            "hole": anchor.hole,
            "file": name,
            "sha256": hashlib.sha256(blob).hexdigest(),
        }

    def finish(self) -> None:
        """Write the index (atomically, last): from now on the cache is complete and chunks read it."""
        missing = [b for b in range(self.blocks) if b not in self._records]
        if missing:
            raise RuntimeError(f"anchors of blocks {missing[:5]} were never written")
        data = {
            "aifx_anchors": ANCHORS_FORMAT,
            "key": self.key,
            "shot": self.shot,
            "blocks": self.blocks,
            "anchors": {str(b): self._records[b] for b in range(self.blocks)},
        }
        text = json.dumps(data, indent=1)
        atomic_write(self.index_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Held while checking and building, so runs that start together build the anchors once."""
        self.root.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover
            yield
            return
        lock = self.root / ".anchors.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            # A filesystem without file locks builds unlocked: the results are identical, only the work repeats.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if not any(p.name != lock.name for p in self.root.iterdir()):
                with contextlib.suppress(OSError):  # nothing cached (a failed first run): leave no folder
                    lock.unlink()
                    self.root.rmdir()
            os.close(fd)


class _Reader(Mapping[int, Anchor]):
    """Block → :class:`Anchor`, reading each values file (checked against the index) on first use."""

    def __init__(self, store: AnchorStore, records: dict[int, dict[str, Any] | None]) -> None:
        self.store = store
        self.records = records
        self._cache: dict[int, Anchor] = {}

    def __getitem__(self, block: int) -> Anchor:
        if block not in self._cache:
            record = self.records[block]
            if record is None:
                self._cache[block] = Anchor(None)
            else:
                try:
                    values = self.store._values(record)
                except (OSError, ValueError) as exc:
                    from .errors import InputError

                    raise InputError(
                        f"{self.store.folder}: anchors cache damaged ({exc}); delete the folder and rerun"
                    ) from None
                self._cache[block] = Anchor(int(record["keyframe"]), values, str(record["hole"]))
            # Keyframes are used by the blocks around them only: keep a few, not the shot.
            for old in [b for b in self._cache if b < block - 3]:
                del self._cache[old]
        return self._cache[block]

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.records))

    def __len__(self) -> int:
        return len(self.records)
