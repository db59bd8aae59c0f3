"""The anchors cache: each keyframe block's decision, made once per shot and read by every chunk.

A temporal fill invents what no frame saw once per keyframe block, on the block's keyframe, and carries it
through the shot. For farm chunks to be exact (and a generative fill the same invention in every chunk) that
decision is global: the anchors stage (:meth:`aifx_core.propagate.PropagateBackend.anchors`) makes it for
the whole shot, and this module keeps it in the output folder's job cache::

    out/.clean.####.exr.aifx-cache/anchors-<run key>/index.json
    out/.clean.####.exr.aifx-cache/anchors-<run key>/block-000012.npy   (the keyframe's filled hole pixels)
    out/.clean.####.exr.aifx-cache/anchors-<run key>/seen.npz           (the shot's seen plate, if any)

Every file is written atomically, and ``index.json`` after each block's file: it lists the blocks made so far
with their keyframe, hole fingerprint and the SHA-256 of their values file, and a fingerprint of the shot's
input files (:func:`aifx_core.sequence.identity.source_identity` of every plate and mask frame, kept whole in
``inputs.json``), so a cache made before the plate was re-rendered or the roto updated is made again, not
used. Plates copied without their times (``cp`` without ``-p``, a restore) keep the cache, as they keep the
manifest's finished frames: a plate frame whose time alone moved is compared by content with the digest the
manifest recorded for it (:meth:`aifx_core.manifest.Manifest.plate_digests`), and the fingerprint is then
renewed, so the next run or chunk takes the quick way. A killed build keeps what it
finished (the next run makes only the rest, and removes its temp files); a block whose file is damaged is made
again. The shot's seen plate
(:mod:`aifx_core.propagate.seen`: one pass over the whole shot, which every chunk would otherwise repeat) is kept
the same way, or the note that the shot has none (its camera moves). The folder is named
for the run key (settings plus the shot), so other settings never read it, and a stale cache (other key,
other shot) is never used. Building holds a file lock
(``.anchors.lock``), so farm chunks that start together build it once and the others wait, then read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .inpaint.base import Anchor
from .sequence import FramePattern, atomic_write, beside_output, earlier_beside, format_frames
from .sequence.atomic import clean_stale_temps, open_lock_file
from .sequence.identity import same_plate, source_identity

ANCHORS_FORMAT = 1
#: The seen plate's arrays, beside the blocks (see :meth:`AnchorStore.cached_seen`).
SEEN_FILE = "seen.npz"
#: The shot's input files as the cache was made from them, beside the index (see :meth:`AnchorStore.load`).
INPUTS_FILE = "inputs.json"
CACHE_SUFFIX = ".aifx-cache"

try:  # POSIX; elsewhere builds are not locked (like the output lock)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def _identities(inputs: list[tuple[Path, bool]]) -> list[list[Any]]:
    """``[path, by content, identity]`` of each input file as it is now (:func:`source_identity`)."""
    return [[str(path), by_content, source_identity(path, by_content)] for path, by_content in inputs]


def _fingerprint(identities: list[Any]) -> str:
    """One fingerprint of the input files' identities (as the index has always kept it)."""
    blob = json.dumps([[entry[0], entry[2]] for entry in identities])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_folder(output_pattern: str | FramePattern) -> Path:
    """``out/clean.####.exr`` → ``out/.clean.####.exr.aifx-cache`` (the job cache beside the manifest)."""
    return beside_output(output_pattern, CACHE_SUFFIX)


class AnchorStore:
    """The cached anchors of one run key (see the module docstring)."""

    def __init__(
        self,
        output_pattern: str | FramePattern,
        key: str,
        shot: list[int] | tuple[int, ...],
        blocks: int,
        inputs: list[tuple[Path, bool]] | None = None,
        digests: Mapping[tuple[str, int, int], str] | None = None,
        digest: Callable[[Path], str] | None = None,
        accepted: frozenset[str] = frozenset(),
        model: str | None = None,
    ) -> None:
        self.root = cache_folder(output_pattern)
        #: Where an older aifx kept this output's cache (:func:`~aifx_core.sequence.earlier_beside`).
        self.earlier_roots = earlier_beside(output_pattern, CACHE_SUFFIX)
        self.folder = self.root / f"anchors-{key}"
        self.index_path = self.folder / "index.json"
        self.key = key
        #: Keys the same settings and shot had before (:attr:`aifx_core.manifest.Manifest.accepted`): a cache
        #: under one is this run's (:meth:`_adopt`), since the frames written already came from its decisions.
        self.accepted = accepted
        self.shot = format_frames(shot)
        self.blocks = blocks
        #: The shot's input files (plate and mask frames; True: known by content) and what they are now.
        self.inputs = _identities(inputs) if inputs is not None else None
        #: A fingerprint of :attr:`inputs`: a cache made from other versions of them (a re-rendered plate, an
        #: updated roto) is not used. None: not checked.
        self.sources = _fingerprint(self.inputs) if self.inputs is not None else None
        #: Content digests recorded for plate frames, by (path, size, time) then; and how one is taken now.
        self.digests = digests or {}
        self.digest = digest
        #: The fingerprint of the model the keyframes are filled with
        #: (:func:`~aifx_core.inpaint.models.model_fingerprint`): a cache made with another model (other weights
        #: at the same path, a hub id's new revision) is made again. None: not checked; a cache recording none
        #: (made before models were recorded) is taken, and this one recorded.
        self.model = model
        self._records: dict[int, dict[str, Any] | None] = {}
        #: The index's seen-plate record as :meth:`load` found it (None: not cached).
        self._seen: dict[str, Any] | None = None
        self._inputs_written = False

    # -- reading --------------------------------------------------------------------------------------------
    def load(self) -> dict[int, dict[str, Any] | None]:
        """The blocks cached for this key and shot whose values files are intact (block → record; None: the
        block has no keyframe). A block whose file is missing or damaged is left out: it is made again."""
        self._adopt()
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("aifx_anchors") != ANCHORS_FORMAT:
            return {}
        if (
            data.get("key") not in {self.key, *self.accepted}
            or data.get("shot") != self.shot
            or data.get("blocks") != self.blocks
        ):
            return {}
        recorded = data.get("sources", self.sources)  # (a cache without them predates this)
        if self.sources is not None and recorded != self.sources:
            if not self._same_content(recorded):
                return {}  # made from other versions of the inputs: made again
            data["sources"] = self.sources
            self._write_inputs()
            text = json.dumps(data, indent=1)
            atomic_write(self.index_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        if self.model is not None and data.get("model", self.model) != self.model:
            return {}  # its keyframes were filled with another model: made again
        if self.model is not None and "model" not in data:
            data["model"] = self.model
            text = json.dumps(data, indent=1)
            atomic_write(self.index_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        records = data.get("anchors")
        if not isinstance(records, dict):
            return {}
        seen = data.get("seen")
        self._seen = seen if isinstance(seen, dict) else None
        found: dict[int, dict[str, Any] | None] = {}
        for name, record in records.items():
            try:
                block = int(name)
                if not 0 <= block < self.blocks:
                    continue
                if record is not None:
                    self._values(record)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found[block] = record
        return found

    def _adopt(self) -> None:
        """Take over the cache of an :attr:`accepted` key (made before the key named the files the paths mean)
        by renaming its folder to this key's, where this key has none: :meth:`begin` removed it as another
        key's, and the blocks were decided again, while the frames already written came from its decisions (a
        generative fill then invented differently in the next chunk). Its index is checked by :meth:`load` as
        any (the key it names is accepted; the next index written names this one). One in the cache folder an
        older aifx named for the padding as typed (``.clean.#.exr.aifx-cache`` for ``clean.$F.exr`` over 1001+)
        is taken over the same way."""
        if self.index_path.exists():
            return
        for root in (self.root, *self.earlier_roots):
            for key in sorted({self.key, *self.accepted} if root != self.root else self.accepted):
                old = root / f"anchors-{key}"
                if not (old / "index.json").is_file():
                    continue
                with contextlib.suppress(OSError):
                    if self.folder.is_dir():  # (no index: nothing usable in it)
                        shutil.rmtree(self.folder)
                    self.root.mkdir(parents=True, exist_ok=True)
                    os.rename(old, self.folder)
                    return

    def _same_content(self, recorded: object) -> bool:
        """Whether the inputs the cache was made from (``inputs.json``, whose fingerprint is ``recorded``) are
        the files there now, each plate frame whose time alone moved compared by its content digest."""
        try:
            before = json.loads((self.folder / INPUTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if self.inputs is None or not isinstance(before, list) or _fingerprint(before) != recorded:
            return False
        if len(before) != len(self.inputs):
            return False
        for (path, by_content, was), (path_now, _, now) in zip(before, self.inputs, strict=True):
            if path != path_now:
                return False
            if was == now:
                continue
            if by_content or not isinstance(was, list) or len(was) < 2:
                return False
            known = self.digests.get((path, int(was[0]), int(was[1])))
            if known is None or not same_plate(Path(path), [*was[:2], known], now, self.digest):
                return False
        return True

    def _write_inputs(self) -> None:
        """Keep :attr:`inputs` whole beside the index (once a run): what :meth:`_same_content` compares."""
        if self.inputs is None or self._inputs_written:
            return
        text = json.dumps(self.inputs)
        atomic_write(self.folder / INPUTS_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        self._inputs_written = True

    def valid(self) -> bool:
        """True when every block is cached, for this key and shot, with intact values files."""
        return len(self.load()) == self.blocks

    def _checked(self, record: dict[str, Any]) -> bytes:
        """The bytes of a listed file (``record``: its ``file`` and ``sha256``); ValueError if they changed."""
        blob = (self.folder / str(record["file"])).read_bytes()
        if hashlib.sha256(blob).hexdigest() != record["sha256"]:
            raise ValueError(f"{record['file']}: checksum mismatch")
        return blob

    def _kept(self, name: str, blob: bytes) -> dict[str, str]:
        """Write ``blob`` as ``name`` (atomically); what the index lists of it (see :meth:`_checked`)."""
        atomic_write(self.folder / name, lambda tmp: tmp.write_bytes(blob))
        return {"file": name, "sha256": hashlib.sha256(blob).hexdigest()}

    def _values(self, record: dict[str, Any]) -> np.ndarray:
        values = np.load(io.BytesIO(self._checked(record)), allow_pickle=False)
        if values.dtype != np.float32 or values.ndim != 2 or values.shape[1] != 3:
            raise ValueError(f"{record['file']}: not (N, 3) float32")
        return values

    def cached_seen(self) -> tuple[bool, dict[str, np.ndarray] | None]:
        """``(cached, arrays)``: the seen plate's arrays as :meth:`load` found them listed and intact, or
        ``(True, None)`` where the shot has none; ``(False, None)``: not cached (or damaged), to be made."""
        record = self._seen
        if record is None:
            return False, None
        if record.get("none") is True:
            return True, None
        try:
            with np.load(io.BytesIO(self._checked(record)), allow_pickle=False) as data:
                return True, {name: data[name] for name in data.files}
        except (OSError, ValueError, KeyError, TypeError):
            return False, None

    def write_seen(self, arrays: Mapping[str, np.ndarray] | None) -> None:
        """Keep the shot's seen plate (its arrays; None: the shot has none), then the index listing it."""
        if arrays is None:
            self._seen = {"none": True}
        else:
            buffer = io.BytesIO()
            np.savez(buffer, **{name: np.ascontiguousarray(a) for name, a in arrays.items()})
            self._seen = self._kept(SEEN_FILE, buffer.getvalue())
        self._write_index()

    def reader(self, records: dict[int, dict[str, Any] | None] | None = None) -> Mapping[int, Anchor]:
        """The cached blocks (``records``, default :meth:`load`), each block's values read (and checked) when a
        chunk first asks for it; a block not cached is not in the mapping."""
        return _Reader(self, self.load() if records is None else dict(records))

    # -- writing --------------------------------------------------------------------------------------------
    def begin(self, keep: dict[int, dict[str, Any] | None] | None = None) -> None:
        """Start writing, keeping the blocks ``keep`` (what :meth:`load` found); other keys' caches are
        dropped (their settings are gone)."""
        self._records = dict(keep or {})
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.is_dir() and entry.name.startswith("anchors-") and entry != self.folder:
                    shutil.rmtree(entry, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)

    def discard(self) -> None:
        """Remove this key's cache (a run on bad input): nothing made from it stays behind."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def write(self, block: int, anchor: Anchor) -> None:
        """Write one block's anchor, then the index listing it (both atomically): a killed build keeps the
        blocks it finished, and the next run makes only the others."""
        if anchor.keyframe is None or anchor.values is None:
            self._records[block] = None
        else:
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(anchor.values, dtype=np.float32), allow_pickle=False)
            self._records[block] = {
                "keyframe": int(anchor.keyframe),
                "hole": anchor.hole,
                **self._kept(f"block-{block:06d}.npy", buffer.getvalue()),
            }
        self._write_index()

    def _write_index(self) -> None:
        """The index of what is cached now (atomically; the inputs beside it first)."""
        self._write_inputs()
        data = {
            "aifx_anchors": ANCHORS_FORMAT,
            "key": self.key,
            "shot": self.shot,
            "blocks": self.blocks,
            "sources": self.sources,
            **({"model": self.model} if self.model is not None else {}),
            "complete": len(self._records) == self.blocks,
            "anchors": {str(b): r for b, r in sorted(self._records.items())},
            **({"seen": self._seen} if self._seen is not None else {}),
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
        fd, _ = open_lock_file(lock)  # (read-only where another user's run left it: flock works on it)
        try:
            # A filesystem without file locks builds unlocked: the results are identical, only the work repeats.
            locked = False
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
                locked = True
            # A killed build's temp files (a block, the index, the seen plate): every write here is made under
            # this lock, so once it is held they are all stale (unlocked, only those old enough to be).
            clean_stale_temps(self.folder, 0.0 if locked else 300.0)
            yield
        finally:
            # Nothing cached (a failed first run): leave no folder. (A folder deleted during the run is gone
            # already: the run's own error is the one raised.)
            with contextlib.suppress(OSError):
                if not any(p.name != lock.name for p in self.root.iterdir()):
                    lock.unlink()
                    self.root.rmdir()
            os.close(fd)


class _Reader(Mapping[int, Anchor]):
    """Block → :class:`Anchor`, reading each values file (checked against the index) on first use."""

    def __init__(self, store: AnchorStore, records: dict[int, dict[str, Any] | None]) -> None:
        self.store = store
        self.records = records
        self._cache: dict[int, Anchor] = {}

    def __contains__(self, block: object) -> bool:
        return block in self.records

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
