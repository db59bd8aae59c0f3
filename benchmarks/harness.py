"""Benchmark building blocks: clips whose every pixel is known, synthetic holes, and scoring a backend on them.

Quality is measured where the truth is known: we cut a hole into a clean clip, let a backend fill it without ever
seeing what was there (the hole is blanked in the packets), put the fill back inside the hole only, and compare
with the clean clip (PSNR, SSIM, E_warp on the clean clip's motion). Everything is seeded, so two runs give
the same numbers (timings aside).

Used by ``benchmarks/run_all.py`` and, on tiny clips, by ``tests/test_benchmarks_smoke.py``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext, FillBackend, FramePacket
from aifx_core.inpaint.base import Span
from aifx_core.metrics import FrameScores, SequenceScorer, estimate_motion
from aifx_core.progress import Reporter

SEED = 20260125
#: The colourspace of every in-memory clip here: display-encoded sRGB in 0..1, what the metrics compare.
CLIP_COLORSPACE = "sRGB Encoded Rec.709 (sRGB)"
REPO = Path(__file__).resolve().parents[1]
TENNIS = REPO.parent / "shared" / "data" / "tennis"
SCHOOLGIRLS = REPO.parent / "shared" / "data" / "schoolgirls"
#: Clips rendered with Blender's Cycles by ``benchmarks/render_clips.py`` and cached in the repository.
CLIPS = REPO / "benchmarks" / "clips"


# -- clips ------------------------------------------------------------------------------------------------


class Clip:
    """A clip rendered or read on demand, one frame at a time: ``frame(t)`` is float32 (H, W, 3) on 0..1."""

    name: str
    width: int
    height: int
    count: int

    def frame(self, t: int) -> np.ndarray:
        raise NotImplementedError

    def plate(self, t: int) -> np.ndarray:
        """What the camera saw in frame ``t``, before anything was removed (the clean frame unless overridden)."""
        return self.frame(t)

    def object_mask(self, t: int) -> np.ndarray | None:
        """Where frame ``t`` shows a real object (not ground truth for the background), or None if nowhere.

        The object is removed together with the synthetic hole, so a backend can neither copy it into the
        hole from another frame nor be scored on it: only background pixels count as truth.
        """
        return None


class FolderClip(Clip):
    """The first ``count`` PNG/JPEG frames of a folder (sorted by name), e.g. the tennis clip."""

    #: The object matte is grown by this much: its soft edge and motion blur are not clean background.
    object_margin = 4

    def __init__(
        self, folder: Path, count: int | None = None, name: str | None = None, masks: Path | None = None
    ) -> None:
        self.files = sorted(
            p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
        )
        self.masks = masks
        if count is not None:
            self.files = self.files[:count]
        if not self.files:
            raise FileNotFoundError(f"{folder}: no PNG/JPEG frames")
        self.name = name or Path(folder).parent.name
        self.count = len(self.files)
        self.height, self.width = cv2.imread(str(self.files[0]), cv2.IMREAD_UNCHANGED).shape[:2]

    def frame(self, t: int) -> np.ndarray:
        bgr = cv2.imread(str(self.files[t]), cv2.IMREAD_COLOR)
        return (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0).astype(np.float32)

    def object_mask(self, t: int) -> np.ndarray | None:
        if self.masks is None:
            return None
        matte = cv2.imread(str(self.masks / self.files[t].name), cv2.IMREAD_GRAYSCALE)
        if matte is None:
            raise FileNotFoundError(f"{self.masks / self.files[t].name}: object matte missing")
        size = 2 * self.object_margin + 1
        grown = cv2.dilate(
            (matte > 127).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        )
        return grown.astype(bool)


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: missing or unreadable frame")
    return (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0).astype(np.float32)


class RenderedClip(Clip):
    """A clip rendered by ``benchmarks/render_clips.py`` and cached in ``benchmarks/clips/<name>/``.

    ``truth/`` is the clean render: every pixel is ground truth (the objects that cross the frame are part of
    it; nothing is masked). A removal clip also has ``plate/`` (the same shot with one more object in it) and
    ``remove/`` (that object's matte, shadow and motion-blurred fringe included, 0/255), so the truth inside
    the matte is what was behind the object. ``plate/`` holds only the inside of the matte (black elsewhere):
    outside it the plate is the truth. ``clip.json`` says what the clip is (size, frames, speeds).
    """

    def __init__(self, folder: Path, count: int | None = None) -> None:
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "clip.json").read_text(encoding="utf-8"))
        self.name = str(self.meta["name"])
        self.width, self.height = int(self.meta["width"]), int(self.meta["height"])
        self.count = int(self.meta["frames"]) if count is None else min(count, int(self.meta["frames"]))
        self.removal = bool(self.meta.get("remove"))

    def _path(self, pattern: str, t: int) -> Path:
        return self.folder / pattern.replace("####", f"{int(self.meta.get('first_frame', 0)) + t:04d}")

    def frame(self, t: int) -> np.ndarray:
        return _read_rgb(self._path(self.meta["truth"], t))

    def plate(self, t: int) -> np.ndarray:
        """The shot with the object: ``plate/`` inside its matte, the truth elsewhere (where they agree)."""
        if not self.removal:
            return self.frame(t)
        inside = self.remove_mask(t)
        return np.where(inside[..., None], _read_rgb(self._path(self.meta["plate"], t)), self.frame(t))

    def remove_mask(self, t: int) -> np.ndarray:
        """The matte of the object to remove in frame ``t`` (bool); all False for a clip without one."""
        if not self.removal:
            return np.zeros((self.height, self.width), bool)
        path = self._path(self.meta["remove"], t)
        matte = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if matte is None:
            raise FileNotFoundError(f"{path}: missing or unreadable matte")
        return matte > 127


def rendered_clips(folder: Path = CLIPS, count: int | None = None) -> list[RenderedClip]:
    """Every cached rendered clip, by name (whip, whip960, crosser, nonrigid, ...)."""
    if not folder.is_dir():
        return []
    return [RenderedClip(p.parent, count) for p in sorted(folder.glob("*/clip.json"))]


def _noise_texture(rng: np.random.Generator, height: int, width: int, tint: np.ndarray) -> np.ndarray:
    """Multi-scale smooth noise with fine detail: hard to inpaint from surroundings, easy to track."""
    out = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((48, 0.5), (12, 0.3), (3, 0.2)):
        small = rng.random((max(2, height // cells), max(2, width // cells), 3)).astype(np.float32)
        out += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    return np.clip(0.15 + 0.7 * out * tint, 0.0, 1.0).astype(np.float32)


class ParallaxClip(Clip):
    """Synthetic shot with parallax: a far plane, a hill band and near posts pan at 2, 5 and 11 px/frame.

    Layers are textures twice the frame width, read with wrap-around, so any number of frames can be rendered
    lazily (what the 1000-frame memory run needs). Shifts are whole pixels, so every frame is exact.
    """

    speeds = (2, 5, 11)

    def __init__(self, width: int = 1920, height: int = 1080, count: int = 24, seed: int = SEED) -> None:
        self.name = f"parallax{width}x{height}"
        self.width, self.height, self.count = width, height, count
        rng = np.random.default_rng(seed)
        tex_w = 2 * width
        self.far = _noise_texture(rng, height, tex_w, np.array([0.7, 0.85, 1.0], np.float32))
        self.mid = _noise_texture(rng, height, tex_w, np.array([0.6, 1.0, 0.5], np.float32))
        self.near = _noise_texture(rng, height, tex_w, np.array([1.0, 0.7, 0.45], np.float32))
        xs = np.arange(tex_w) / tex_w * 2 * np.pi
        horizon = height * (0.55 + 0.08 * np.sin(2 * xs) + 0.04 * np.sin(7 * xs + 1.0))
        self.mid_alpha = (np.arange(height)[:, None] > horizon[None, :]).astype(np.float32)
        near_alpha = np.zeros((height, tex_w), np.float32)
        post_w = max(4, width // 24)
        for x in range(width // 5, tex_w, max(post_w * 3, tex_w // 7)):
            top = int(height * rng.uniform(0.15, 0.45))
            near_alpha[top:, x : x + post_w] = 1.0
            cv2.circle(near_alpha, (x + post_w // 2, top), post_w, (1.0,), -1)
        self.near_alpha = near_alpha

    def _layer(self, texture: np.ndarray, speed: int, t: int) -> np.ndarray:
        start = (speed * t) % texture.shape[1]
        end = start + self.width
        if end <= texture.shape[1]:
            return texture[:, start:end]
        return np.concatenate([texture[:, start:], texture[:, : end - texture.shape[1]]], axis=1)

    def frame(self, t: int) -> np.ndarray:
        far, mid, near = (
            self._layer(tex, s, t)
            for tex, s in zip((self.far, self.mid, self.near), self.speeds, strict=True)
        )
        a_mid = self._layer(self.mid_alpha, self.speeds[1], t)[..., None]
        a_near = self._layer(self.near_alpha, self.speeds[2], t)[..., None]
        out = far * (1 - a_mid) + mid * a_mid
        return (out * (1 - a_near) + near * a_near).astype(np.float32)


# -- holes ------------------------------------------------------------------------------------------------

HoleFn = Callable[[int], np.ndarray]


@dataclass
class Holes:
    """A named hole generator: ``mask(t)`` is bool (H, W), True where the backend must invent pixels."""

    name: str
    mask: HoleFn
    #: False where nothing says what is behind the hole (a real object removed): scored by flicker only.
    has_truth: bool = True
    #: True when the backend must see the plate (with the object to remove), not the clean frame.
    on_plate: bool = False
    #: True when the clip's own object (its matte) stays in what the backend sees and crosses the holes, an
    #: unmasked mover; it is still no truth for the background, so :func:`scored` leaves it out.
    object_kept: bool = False


def static_square(width: int, height: int) -> Holes:
    side = max(4, height // 6)
    x0, y0 = int(width * 0.3), int(height * 0.45)
    hole = np.zeros((height, width), bool)
    hole[y0 : y0 + side, x0 : x0 + side] = True
    return Holes("static square", lambda t: hole)


def moving_blob(width: int, height: int, count: int) -> Holes:
    """An ellipse crossing the frame from 20% to 80% of its width over the clip."""
    axes = (max(3, height // 10), max(3, height // 7))

    def mask(t: int) -> np.ndarray:
        u = t / max(1, count - 1)
        centre = (int(width * (0.2 + 0.6 * u)), int(height * (0.5 + 0.1 * math.sin(2 * math.pi * u))))
        hole = np.zeros((height, width), np.uint8)
        cv2.ellipse(hole, centre, axes, 0, 0, 360, (1,), -1)
        return hole.astype(bool)

    return Holes("moving blob", mask)


def square_grid(width: int, height: int) -> Holes:
    """Nine static squares (35 px at 432x240, 11 % of the frame) on a 3x3 grid: many holes that whatever crosses
    the frame runs through."""
    side = max(4, round(35 * height / 240))
    hole = np.zeros((height, width), bool)
    for fx in (0.2, 0.5, 0.8):
        for fy in (0.25, 0.5, 0.75):
            x0, y0 = int(width * fx) - side // 2, int(height * fy) - side // 2
            hole[y0 : y0 + side, x0 : x0 + side] = True
    return Holes("nine squares", lambda t: hole)


def object_removal(clip: RenderedClip) -> Holes:
    """Remove the rendered clip's object: the hole is its matte, the backend sees the plate, the truth is the
    render without it."""
    return Holes("remove object", clip.remove_mask, on_plate=True)


def remove_objects(clip: Clip) -> Holes:
    """Remove the clip's own objects (e.g. the schoolgirls): no truth behind them, so only flicker is scored."""

    def mask(t: int) -> np.ndarray:
        found = clip.object_mask(t)
        return np.zeros((clip.height, clip.width), bool) if found is None else found

    return Holes("remove objects (no truth)", mask, has_truth=False)


def corner_patches(width: int, height: int) -> Holes:
    """A broadcaster's bug and a burnt-in caption: static patches in two corners, touching the frame's edges
    (top left a fifth of the width by an eighth of the height, bottom right a fifth by a seventh). Under a
    slow pan what enters the frame behind a patch at the edge is seen only once it has crossed the patch,
    often more frames away than a chain reaches. (On tennis the camera nearly stops in frames 31-44 and then
    reverses, so most of what lies under the top-left patch then is never seen outside it: frames 26-50 are
    at Telea's level because no frame saw it; see docs/method.md, "Twelfth pass (lr20)".)"""
    hole = np.zeros((height, width), bool)
    hole[: height // 8, : width // 7] = True
    hole[height - height // 7 :, width - width // 5 :] = True
    return Holes("corner patches", lambda t: hole)


def crossed_squares(clip: Clip, where: tuple[tuple[float, float], ...]) -> Holes:
    """Static squares (a sixth of the height) on the path of the clip's own object, which is left in the
    plate: an unmasked person walking through a clean-up (issue #10 item 3 on real footage). The backend must
    not paint the person into the background around it, nor import them into frames where they are elsewhere.
    Only the hole pixels off the person's grown matte are scored (the truth there is the background), so
    the frames before and after the crossing count wholly. ``where``: the squares' top-left corners as
    fractions of width and height."""
    side = max(4, clip.height // 6)
    hole = np.zeros((clip.height, clip.width), bool)
    for fx, fy in where:
        x0, y0 = int(clip.width * fx), int(clip.height * fy)
        hole[y0 : y0 + side, x0 : x0 + side] = True
    name = "crossed square" if len(where) == 1 else "crossed squares"
    return Holes(name, lambda t: hole, object_kept=True)


def squares_off_objects(
    clip: Clip,
    count: int = 3,
    margin: int = 12,
    near: tuple[tuple[float, float], ...] = (),
) -> Holes:
    """``count`` static squares (a sixth of the height) where the clip's objects never go, ``margin`` px clear
    of them: the truth there is known although the objects are removed too (e.g. schoolgirls' wall and road).

    With ``near`` (points as fractions of width and height) each square is the free one nearest its point;
    otherwise the first is the free one nearest the centre and each next one the farthest from those chosen.
    """
    side = max(4, clip.height // 6)
    busy = np.zeros((clip.height, clip.width), np.uint8)
    for t in range(clip.count):
        found = clip.object_mask(t)
        if found is not None:
            busy |= found.astype(np.uint8)
    grow = 2 * margin + 1
    busy = cv2.dilate(busy, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    free = cv2.integral(busy)
    step, edge = 4, 4
    candidates = []
    for y in range(edge, clip.height - side - edge + 1, step):
        for x in range(edge, clip.width - side - edge + 1, step):
            if free[y + side, x + side] - free[y, x + side] - free[y + side, x] + free[y, x] == 0:
                candidates.append((x + side / 2, y + side / 2))
    chosen: list[tuple[float, float]] = []
    centre = (clip.width / 2, clip.height / 2)
    for fx, fy in near[:count]:
        free_ones = [c for c in candidates if all(math.dist(c, o) >= side * math.sqrt(2) for o in chosen)]
        if free_ones:
            chosen.append(min(free_ones, key=lambda c: math.dist(c, (fx * clip.width, fy * clip.height))))
    while candidates and len(chosen) < count:
        if not chosen:
            best = min(candidates, key=lambda c: math.dist(c, centre))
        else:
            best = max(candidates, key=lambda c: min(math.dist(c, o) for o in chosen))
            if min(math.dist(best, o) for o in chosen) < side:
                break  # no room left for a square that does not touch the others
        chosen.append(best)
    if not chosen:
        raise ValueError(f"{clip.name}: no room for a {side}-px square away from the objects")
    hole = np.zeros((clip.height, clip.width), bool)
    for cx, cy in chosen:
        x0, y0 = int(cx - side / 2), int(cy - side / 2)
        hole[y0 : y0 + side, x0 : x0 + side] = True
    return Holes("squares off the objects", lambda t: hole)


def object_shaped(
    masks: Path, width: int, height: int, time_shift: int, dx_fraction: float, limit: int | None = None
) -> Holes:
    """Another clip's object matte (e.g. the tennis player) moved to another place and time of this clip.

    ``time_shift`` frames later and ``dx_fraction`` of the width sideways, so the hole covers background whose
    truth is known, with the shape and motion of a real roto.
    """
    files = sorted(p for p in Path(masks).iterdir() if p.suffix.lower() == ".png")
    if limit is not None:
        files = files[: max(limit, 1)]
    if not files:
        raise FileNotFoundError(f"{masks}: no PNG masks")
    dx = int(round(dx_fraction * width))

    def mask(t: int) -> np.ndarray:
        raw = cv2.imread(str(files[(t + time_shift) % len(files)]), cv2.IMREAD_GRAYSCALE)
        matte = cv2.resize(raw, (width, height), interpolation=cv2.INTER_NEAREST) > 127
        shifted = np.zeros_like(matte)
        if dx >= 0:
            shifted[:, dx:] = matte[:, : width - dx]
        else:
            shifted[:, :dx] = matte[:, -dx:]
        return shifted

    return Holes("object-shaped", mask)


# -- scoring ----------------------------------------------------------------------------------------------


def make_backend(name: str, **options: object) -> FillBackend:
    return create_backend(name, BackendContext(colorspace=CLIP_COLORSPACE, seed=0, options=dict(options)))


def removed(clip: Clip, holes: Holes, t: int) -> np.ndarray:
    """What the backend must fill in frame ``t``: the synthetic hole plus the clip's real object, if any (not
    when the holes keep it: then it crosses them unmasked)."""
    hole = holes.mask(t).copy()  # a copy: a backend may not change the hole the scores use
    found = None if holes.object_kept else clip.object_mask(t)
    return hole if found is None else hole | found


def scored(clip: Clip, holes: Holes, t: int) -> np.ndarray:
    """Where frame ``t``'s fill is compared with the truth: the synthetic hole, less the real object (all that
    was removed when there is no truth: then only its flicker is measured)."""
    if not holes.has_truth:
        return removed(clip, holes, t)
    found = clip.object_mask(t)
    hole = holes.mask(t)
    return hole if found is None else hole & ~found


def packets(clip: Clip, holes: Holes) -> Iterator[FramePacket]:
    """The clip with its holes blanked to black: a backend cannot peek at the truth."""
    for t in range(clip.count):
        hole = removed(clip, holes, t)
        rgb = clip.plate(t) if holes.on_plate or not holes.has_truth else clip.frame(t)
        rgb[hole] = 0.0
        yield FramePacket(frame=t, rgb=rgb, hole=hole)


def filled(backend: FillBackend, clip: Clip, holes: Holes) -> Iterator[tuple]:
    """The backend's fill of the case as the pipeline streams it: a backend that makes a shot's clean plate
    (``seen_plate``, :mod:`aifx_core.propagate.seen`) is given it, made from one pass over the packets first."""
    make = getattr(backend, "seen_plate", None)
    if not callable(make):
        return iter(backend.fill(packets(clip, holes), Reporter()))
    span = Span(tuple(range(clip.count)), seen=make(packets(clip, holes)))
    return iter(backend.fill(packets(clip, holes), Reporter(), span))  # type: ignore[call-arg]


@dataclass
class BackendRun:
    """One backend on one case: sequence means, per-frame series and fill time."""

    summary: dict[str, float]
    per_frame: dict[str, list[float]]
    seconds: float
    #: The backend's own counters after the run, e.g. propagate's hole pixels per route.
    stats: dict[str, int] = field(default_factory=dict)
    #: Scored hole pixels per confidence band (see :data:`CONFIDENCE_BANDS`), when the backend exposes a
    #: per-pixel confidence; empty otherwise.
    confidence: dict[str, int] = field(default_factory=dict)


@dataclass
class CaseResult:
    clip: str
    holes: str
    width: int
    height: int
    frames: int
    hole_fraction: float
    #: E_warp of the clean clip itself (full frame and inside the same holes): the stability to aim for.
    clean: BackendRun
    runs: dict[str, BackendRun] = field(default_factory=dict)
    #: Median camera motion of a rendered clip in px/frame (NaN when unknown): what makes a clip "fast".
    camera_px: float = math.nan
    #: Median screen speed (px/frame) of the object a removal case removes (NaN when unknown or none): a fast
    #: object is one whose background other frames reveal soon, so the fill must come from them.
    object_px: float = math.nan
    #: False when nothing says what was behind the hole: only flicker (E_warp on the result's motion) is scored.
    has_truth: bool = True
    #: Which run measured it (``started`` UTC, ``commit``): a page merged from several runs says so per clip.
    measured: dict[str, str] = field(default_factory=dict)


#: Confidence bands of the table (lower bound inclusive, upper exclusive; the last one includes 1).
CONFIDENCE_BANDS = (
    (0.0, 0.25, "<0.25"),
    (0.25, 0.5, "0.25-0.5"),
    (0.5, 0.75, "0.5-0.75"),
    (0.75, 1.01, "≥0.75"),
)


def confidence_map(backend: object, frame: int, item: tuple, shape: tuple[int, int]) -> np.ndarray | None:
    """The per-pixel confidence (0..1) a backend gives frame ``frame``, if it gives one; None otherwise.

    The engine is changing under the benchmark, so every way it may expose it is read: a third element of what
    ``fill`` yields, a ``confidence(frame)`` method or mapping, or a ``last_confidence`` array for the frame just
    yielded. Anything of the wrong shape is ignored rather than guessed at.
    """
    value: object = item[2] if len(item) > 2 else None
    if value is None:
        source = getattr(backend, "confidence", None)
        if callable(source):
            value = source(frame)
        elif isinstance(source, dict):
            value = source.get(frame)
        else:
            value = getattr(backend, "last_confidence", None)
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array if array.shape == tuple(shape) else None


def confidence_bands(confidence: np.ndarray, hole: np.ndarray) -> dict[str, int]:
    """Hole pixels per confidence band."""
    values = np.nan_to_num(confidence[hole], nan=0.0)
    return {label: int(((values >= lo) & (values < hi)).sum()) for lo, hi, label in CONFIDENCE_BANDS}


def _run_from(
    scorer: SequenceScorer,
    seconds: float,
    backend: object = None,
    confidence: dict[str, int] | None = None,
    extra: dict[str, list[float]] | None = None,
) -> BackendRun:
    names = ("psnr", "psnr_hole", "ssim", "ssim_hole", "ewarp", "ewarp_hole")
    per_frame = {name: [getattr(f, name) for f in scorer.frames] for name in names}
    for name, values in (extra or {}).items():  # per-frame routes and confidence, where the backend has them
        if len(values) == len(scorer.frames) and not all(math.isnan(v) for v in values):
            per_frame[name] = values
    stats = getattr(backend, "stats", None)
    counters: dict[str, int] = {}
    if isinstance(stats, dict):
        for key, value in stats.items():
            if isinstance(value, int | float | np.integer | np.floating):
                counters[str(key)] = int(value)
    return BackendRun(
        summary=scorer.summary(),
        per_frame=per_frame,
        seconds=seconds,
        stats=counters,
        confidence=dict(confidence or {}),
    )


def score_case(clip: Clip, holes: Holes, backends: dict[str, FillBackend]) -> CaseResult:
    """Fill ``clip`` through each backend and score every result against the clean clip, frame by frame.

    The backends run in lockstep on their own lazily generated packets, so memory stays at one frame per
    backend plus each backend's window; the clean clip's motion is estimated once per frame pair and shared.
    Where the holes have no truth (``has_truth=False``: real objects removed) each result is scored by its
    in-hole E_warp on its own motion, i.e. by flicker, and the clean columns stay NaN.
    """
    streams = {name: filled(backend, clip, holes) for name, backend in backends.items()}
    seconds = dict.fromkeys(backends, 0.0)
    scorers = {name: SequenceScorer() for name in backends}
    bands: dict[str, dict[str, int]] = {name: {} for name in backends}
    clean_scorer = SequenceScorer()
    previous: np.ndarray | None = None
    hole_pixels = 0
    # Per frame: each backend's hole pixels by route (the change of its ``stats`` counters over that frame,
    # as shares) and its mean confidence over the scored hole; plotted next to the hole PSNR.
    routes: dict[str, dict[str, list[float]]] = {name: {} for name in backends}
    counted: dict[str, dict[str, int]] = {name: {} for name in backends}
    for t in range(clip.count):
        truth = clip.frame(t) if holes.has_truth else clip.plate(t)
        hole = scored(clip, holes, t)
        hole_pixels += int(hole.sum())
        motion = None
        if holes.has_truth:
            motion = estimate_motion(previous, truth) if previous is not None else None
            clean_scorer.add(t, truth, None, hole, motion)
        else:
            clean_scorer.frames.append(FrameScores(t))
        for name, stream in streams.items():
            start = time.perf_counter()
            item = next(stream)
            seconds[name] += time.perf_counter() - start
            frame, rgb = item[0], item[1]
            if frame != t:
                raise RuntimeError(f"{name} returned frame {frame} when {t} was due")
            confidence = confidence_map(backends[name], frame, item, hole.shape)
            if confidence is not None:
                for label, count in confidence_bands(confidence, hole).items():
                    bands[name][label] = bands[name].get(label, 0) + count
            _add_frame_routes(routes[name], counted[name], backends[name], t)
            # A frame whose hole is empty (an object off screen) has no mean: NaN, not numpy's empty-slice warning.
            has_hole = confidence is not None and bool(hole.any())
            mean = float(np.nan_to_num(confidence[hole], nan=0.0).mean()) if has_hole else math.nan
            routes[name].setdefault(CONFIDENCE_SERIES, []).append(mean)
            result = np.where(hole[..., None], np.clip(np.nan_to_num(rgb), 0.0, 1.0), truth).astype(
                np.float32
            )
            if holes.has_truth:
                scorers[name].add(t, result, truth, hole, motion)
            else:
                scorers[name].add(t, result, None, hole)
        previous = truth
    return CaseResult(
        clip=clip.name,
        holes=holes.name,
        width=clip.width,
        height=clip.height,
        frames=clip.count,
        hole_fraction=hole_pixels / float(clip.count * clip.width * clip.height),
        clean=_run_from(clean_scorer, 0.0),
        camera_px=camera_speed(clip),
        object_px=object_speed(clip) if holes.on_plate else math.nan,
        has_truth=holes.has_truth,
        runs={
            name: _run_from(scorer, seconds[name], backends[name], bands[name], routes[name])
            for name, scorer in scorers.items()
        },
    )


#: Route counters of the engine's ``stats`` (hole pixels wholly propagated, blended with the fallback,
#: wholly from keyframes, wholly from a per-frame spatial fill); other counters are not shares of the hole.
ROUTE_KEYS = ("propagated", "blended", "keyframe", "spatial")
#: Per-frame series names: ``route <key>`` (share of that frame's hole, 0..1) and the mean confidence.
ROUTE_SERIES = tuple(f"route {key}" for key in ROUTE_KEYS)
CONFIDENCE_SERIES = "confidence mean"


def _add_frame_routes(
    series: dict[str, list[float]], counted: dict[str, int], backend: object, t: int
) -> None:
    """Append frame ``t``'s share of hole pixels per route: what the backend's ``stats`` counters gained since
    the previous frame (a backend without route counters adds nothing)."""
    stats = getattr(backend, "stats", None)
    if not isinstance(stats, dict) or not any(key in stats for key in ROUTE_KEYS):
        return
    now = {key: int(stats.get(key, 0)) for key in ROUTE_KEYS}
    gained = {key: now[key] - counted.get(key, 0) for key in ROUTE_KEYS}
    counted.update(now)
    total = sum(gained.values())
    for key, name in zip(ROUTE_KEYS, ROUTE_SERIES, strict=True):
        values = series.setdefault(name, [math.nan] * t)
        values.append(gained[key] / total if total > 0 else math.nan)


def camera_speed(clip: Clip) -> float:
    """The median camera speed (px/frame) a rendered clip's ``clip.json`` records; NaN for other clips."""
    speeds = getattr(clip, "meta", {}).get("camera_px_per_frame") or []
    return float(np.median(speeds)) if speeds else math.nan


def object_speed(clip: Clip) -> float:
    """The median screen speed (px/frame) of the object a rendered removal clip removes, as its ``clip.json``
    records it; NaN for other clips."""
    speeds = getattr(clip, "meta", {}).get("remove_px_per_frame") or []
    return float(np.median(speeds)) if speeds else math.nan


def below_baseline_share(
    case: CaseResult, name: str, baseline: str = "telea", margin_db: float = 1.0
) -> float:
    """Share of frames whose hole PSNR under ``name`` is more than ``margin_db`` below ``baseline``'s (frames
    where either was not measured are left out; NaN when none is left)."""
    fill, base = case.runs[name].per_frame["psnr_hole"], case.runs[baseline].per_frame["psnr_hole"]
    pairs = [(f, b) for f, b in zip(fill, base, strict=True) if not (math.isnan(f) or math.isnan(b))]
    if not pairs:
        return math.nan
    return sum(1 for f, b in pairs if f < b - margin_db) / len(pairs)


def backend_only_fps(clip: Clip, holes: Holes, backend: FillBackend) -> float:
    """Frames per second of a backend on in-memory packets (no file I/O, no scoring)."""
    start = time.perf_counter()
    count = sum(1 for _ in filled(backend, clip, holes))
    return count / max(1e-9, time.perf_counter() - start)


# -- files for the end-to-end runs ------------------------------------------------------------------------


def write_plate(
    clip: Clip, holes: Holes, folder: Path, first_frame: int = 1001, plate_format: str = "exr"
) -> tuple[str, str]:
    """The clip as half-float ZIP EXRs (or, with ``plate_format="png"``, 8-bit PNGs) and its holes as 8-bit
    PNGs; returns (plate pattern, mask pattern)."""
    import OpenEXR

    folder.mkdir(parents=True, exist_ok=True)
    for t in range(clip.count):
        if plate_format == "png":
            rgb8 = np.clip(np.rint(clip.frame(t) * 255.0), 0, 255).astype(np.uint8)
            cv2.imwrite(
                str(folder / f"plate.{first_frame + t:04d}.png"), cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR)
            )
        else:
            rgb = clip.frame(t).astype(np.float16)
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            channels = {"R": rgb[..., 0].copy(), "G": rgb[..., 1].copy(), "B": rgb[..., 2].copy()}
            with OpenEXR.File(header, channels) as exr:
                exr.write(str(folder / f"plate.{first_frame + t:04d}.exr"))
        cv2.imwrite(str(folder / f"mask.{first_frame + t:04d}.png"), holes.mask(t).astype(np.uint8) * 255)
    return str(folder / f"plate.####.{plate_format}"), str(folder / "mask.####.png")


# -- the per-frame baseline -------------------------------------------------------------------------------


class ScaledTelea:
    """OpenCV Telea per channel in float32 on values scaled to 0..255.

    OpenCV's float Telea normalises its gradient term in absolute units, so on 0..1 data it overshoots wildly
    (values far outside the input range); on 0..255-scaled floats it matches the 8-bit algorithm. Used as the
    baseline only when the registered ``telea`` backend fails :func:`telea_is_sane`.
    """

    name = "telea"

    def __init__(self, radius: float = 5.0) -> None:
        self.radius = radius

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        mask = hole.astype(np.uint8)
        clean = np.where(hole[..., None], 0.0, np.nan_to_num(rgb)).astype(np.float32) * 255.0
        planes = [
            cv2.inpaint(np.ascontiguousarray(clean[..., c]), mask, self.radius, cv2.INPAINT_TELEA)
            for c in range(3)
        ]
        return np.stack(planes, axis=-1) / 255.0


def telea_is_sane() -> bool:
    """Does the registered ``telea`` stay within the range of the pixels around a hole (as Telea must)?"""
    clip = ParallaxClip(160, 90, 1)
    holes = static_square(160, 90)
    packet = next(packets(clip, holes))
    backend = make_backend("telea")
    _, rgb = next(iter(backend.fill([packet], Reporter())))
    known = packet.rgb[~packet.hole]
    inside = rgb[packet.hole]
    return bool(inside.min() >= known.min() - 0.05 and inside.max() <= known.max() + 0.05)


def baseline_backend() -> tuple[FillBackend, str]:
    """The per-frame Telea baseline and a note saying which implementation it is."""
    from aifx_core.inpaint import PerFrame

    if telea_is_sane():
        return make_backend("telea"), "registered `telea` backend"
    return PerFrame(ScaledTelea()), (
        "registered `telea` overshoots on 0..1 floats (OpenCV float Telea is scale-dependent), so the baseline "
        "is benchmarks/harness.py ScaledTelea (same algorithm on 0..255-scaled floats)"
    )
