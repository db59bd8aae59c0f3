"""The temporal fill engine (backend ``propagate``): flow-guided propagation over a sliding window.

For every frame t, each hole pixel is followed through the neighbouring frames with chained, completed,
consistency-checked flow (:mod:`.chain`) up to ``radius`` frames each way; the nearest frame where it lands on
real (non-hole, finite) plate is its source, and the two directions are blended by 1/distance. What no
neighbour saw is filled once per keyframe block by the spatial backend on the block's keyframe (the frame
with the most such pixels) and carried to the other frames by the same chained flow, cross-fading between
the keyframes before and after; per-frame spatial fill is only the last resort. A smooth offset field
matches the fill to the frame's own pixels at the seam.

Streaming and window independence: a frame's propagation depends only on frames within ``radius``; keyframes
depend only on their block (fixed by position in the shot) and its ``radius`` neighbourhood; a frame uses the
keyframes of its own and the adjacent blocks. Nothing depends on how packets are chunked, so ``window``
changes memory, never pixels, and at most ``window + overlap`` packets are held (:attr:`PropagateBackend.overlap`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..flow import DISFlow, FlowEstimator, complete_flows, flow_gray, sample_points, warp, working_size
from ..inpaint.base import BackendContext, FramePacket, SpatialBackend, SpatialFactory
from ..progress import Reporter
from .chain import Chain, touches
from .options import PropagateOptions
from .seam import seam_offsets

_UNIT = np.ones(3, np.float32)


@dataclass
class _Frame:
    """A packet plus what the engine derives from it once."""

    packet: FramePacket
    #: RGB safe to interpolate from (non-finite values zeroed; the same array as the packet when clean).
    source: np.ndarray
    #: Where nothing may be copied from: the hole and non-finite pixels.
    invalid: np.ndarray
    gray: np.ndarray
    small_hole: np.ndarray
    #: Small linear RGB copy (long side ≤ 192) and its hole, to measure exposure changes between frames.
    thumb: np.ndarray
    thumb_hole: np.ndarray


@dataclass
class _Propagated:
    """Frame t after propagation: hole pixel coordinates, fetched values, and which were found."""

    ys: np.ndarray
    xs: np.ndarray
    values: np.ndarray
    found: np.ndarray
    #: Smooth seam offset at each hole pixel (zeros when seam matching is off or impossible).
    offset: np.ndarray
    #: Frames between each hole pixel and its nearest real source (0 where none was found): a confidence.
    distance: np.ndarray

    @property
    def remaining(self) -> int:
        return int((~self.found).sum())


class PropagateBackend:
    """``create_backend("propagate", context)``; see the module docstring for the method."""

    name = "propagate"

    def __init__(self, context: BackendContext, spatial_factory: SpatialFactory | None = None) -> None:
        self.context = context
        self.options = PropagateOptions.from_dict(dict(context.options))
        #: Builds the spatial backend by name; ``aifx_core.backends`` hands in its registry's (Telea alone without).
        self.spatial_factory = spatial_factory or _telea_only
        self._spatial: SpatialBackend | None = None
        #: Largest number of packets held at once during the last :meth:`fill` (for tests and benchmarks).
        self.max_held = 0
        #: Hole pixels filled by each route during the last :meth:`fill`: propagated, keyframe, spatial.
        self.stats = {"propagated": 0, "keyframe": 0, "spatial": 0}

    @property
    def spatial(self) -> SpatialBackend:
        if self._spatial is None:  # created on first use: shots that propagation fills never load a model
            self._spatial = self.spatial_factory(self.options.spatial_backend, self.context)
        return self._spatial

    @property
    def overlap(self) -> int:
        """Packets held besides the read window: ``radius`` behind, two keyframe blocks + ``radius`` ahead."""
        return 2 * self.options.radius + 2 * self.options.keyframe_interval

    def fill(self, packets: Iterable[FramePacket], reporter: Reporter) -> Iterator[tuple[int, np.ndarray]]:
        total = len(packets) if hasattr(packets, "__len__") else 0  # type: ignore[arg-type]
        self.stats = dict.fromkeys(self.stats, 0)
        self.max_held = 0
        run = _Run(self, iter(packets))
        index = 0
        while run.available(index):
            frame_number = run.frame(index).packet.frame
            reporter("propagate", index, total, frame_number)
            result = run.result(index)
            run.evict(index + 1)
            self.max_held = max(self.max_held, run.max_held)
            yield frame_number, result
            index += 1
        self.max_held = max(self.max_held, run.max_held)


def _telea_only(name: str, context: BackendContext) -> SpatialBackend:
    from ..inpaint.telea import TeleaBackend

    if name != "telea":
        raise InputError(
            f"spatial backend {name!r} needs the registry: build the engine with "
            "aifx_core.backends.create_backend('propagate', context)"
        )
    return TeleaBackend(context)


class _Run:
    """State of one :meth:`PropagateBackend.fill` call: bounded caches keyed by position in the shot."""

    def __init__(self, backend: PropagateBackend, packets: Iterator[FramePacket]) -> None:
        self.backend = backend
        self.opt = backend.options
        self.colorspace = backend.context.colorspace
        # Python callers may plug in any FlowEstimator (e.g. a learned one); job files pick a DIS preset.
        custom = backend.context.options.get("flow_estimator")
        self.estimator: FlowEstimator = (
            custom if isinstance(custom, FlowEstimator) else DISFlow(self.opt.flow_preset)
        )
        self._packets = packets
        self.frames: dict[int, _Frame] = {}
        self.loaded = 0
        self.exhausted = False
        self.max_held = 0
        self.flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # pair i: (i→i+1, i+1→i), working res
        #: pair i: per-channel gain that brings frame i+1's values to frame i's exposure (1 when unmatched).
        self.gains: dict[int, np.ndarray] = {}
        self.props: dict[int, _Propagated] = {}
        self.next_prop = 0
        self.keyframe_of_block: dict[int, int | None] = {}
        self.keyframe_images: dict[int, np.ndarray] = {}
        self.size: tuple[int, int] | None = None
        self.work: tuple[int, int] = (0, 0)
        self.scale = (1.0, 1.0)
        self.user_keyframes = set(self.opt.keyframes)

    # ----------------------------------------------------------------------------------------------- input
    def available(self, index: int) -> bool:
        """Read packets (``window`` at a time) until ``index`` is loaded; False if the shot is shorter."""
        while self.loaded <= index and not self.exhausted:
            target = index + self.opt.window
            while self.loaded < target:
                packet = next(self._packets, None)
                if packet is None:
                    self.exhausted = True
                    break
                self.frames[self.loaded] = self._prepare(packet)
                self.loaded += 1
                if self.loaded > 1:
                    # Flows are computed as packets arrive (each pair once): chains toward keyframes may
                    # later cross pairs whose frames are already gone.
                    self.flow(self.loaded - 2, 1)
            self.max_held = max(self.max_held, len(self.frames))
        return index < self.loaded

    def frame(self, index: int) -> _Frame:
        return self.frames[index]

    def _prepare(self, packet: FramePacket) -> _Frame:
        rgb, hole = packet.rgb, packet.hole
        if rgb.ndim != 3 or rgb.shape[2] != 3 or hole.shape != rgb.shape[:2]:
            raise InputError(
                f"frame {packet.frame}: expected RGB (H, W, 3) and a hole (H, W), "
                f"got {rgb.shape} and {hole.shape}; check the plate and matte sizes"
            )
        if self.size is None:
            height, width = int(rgb.shape[0]), int(rgb.shape[1])
            self.size = (height, width)
            self.work = working_size(height, width, self.opt.flow_max_side)
            self.scale = (self.work[1] / width, self.work[0] / height)
        elif rgb.shape[:2] != self.size:
            raise InputError(
                f"frame {packet.frame}: size {rgb.shape[1]}x{rgb.shape[0]} differs from the shot's "
                f"{self.size[1]}x{self.size[0]}; all frames of a shot must have one size"
            )
        finite = np.isfinite(rgb).all(axis=-1)
        clean = bool(finite.all())
        source = rgb if clean else np.where(finite[..., None], rgb, 0.0).astype(np.float32)
        invalid = hole if clean else (hole | ~finite)
        gray, small_hole = flow_gray(source, hole, self.work, self.colorspace)
        thumb_size = working_size(*self.size, 192)[::-1]
        thumb = cv2.resize(np.asarray(source, np.float32), thumb_size, interpolation=cv2.INTER_AREA)
        thumb_hole = cv2.resize(invalid.astype(np.uint8), thumb_size, interpolation=cv2.INTER_NEAREST) > 0
        thumb_hole |= cv2.resize(invalid.astype(np.float32), thumb_size, interpolation=cv2.INTER_AREA) > 0
        return _Frame(packet, np.asarray(source, np.float32), invalid, gray, small_hole, thumb, thumb_hole)

    # ------------------------------------------------------------------------------------------------ flow
    def flow(self, index: int, direction: int) -> np.ndarray:
        """Working-resolution flow from frame ``index`` to ``index + direction``, completed inside holes."""
        pair = index if direction > 0 else index - 1
        if pair not in self.flows:
            a, b = self.frames[pair], self.frames[pair + 1]
            union = a.small_hole | b.small_hole
            forward = self.estimator.estimate(a.gray, b.gray)
            backward = self.estimator.estimate(b.gray, a.gray)
            if union.any():
                forward, backward = complete_flows([forward, backward], union)
            self.flows[pair] = (forward, backward)
            self.gains[pair] = self._exposure_gain(a, b, forward) if self.opt.exposure_match else _UNIT
        forward, backward = self.flows[pair]
        return forward if direction > 0 else backward

    def _exposure_gain(self, a: _Frame, b: _Frame, forward: np.ndarray) -> np.ndarray:
        """Per-channel gain g with ``b·g ≈ a`` over the background both frames see (robust median of log
        ratios on thumbnails). Exposure flicker and auto gain are multiplicative, so this is HDR-safe."""
        height, width = a.thumb.shape[:2]
        flow: np.ndarray = cv2.resize(forward, (width, height), interpolation=cv2.INTER_AREA)
        flow[..., 0] *= width / forward.shape[1]
        flow[..., 1] *= height / forward.shape[0]
        warped = warp(b.thumb, flow, border=cv2.BORDER_CONSTANT)
        warped_hole = warp(b.thumb_hole.astype(np.float32), flow, border=cv2.BORDER_CONSTANT) > 0
        level = max(float(np.median(np.abs(a.thumb))), 1e-6)
        valid = ~a.thumb_hole & ~warped_hole
        gain = np.ones(3, np.float32)
        for c in range(3):
            ok = valid & (a.thumb[..., c] > 0.02 * level) & (warped[..., c] > 0.02 * level)
            if ok.sum() >= 64:
                log_ratio = float(np.median(np.log(a.thumb[..., c][ok] / warped[..., c][ok])))
                gain[c] = np.exp(np.clip(log_ratio, -0.7, 0.7)) if abs(log_ratio) > 0.004 else 1.0
        return gain

    def gain_between(self, source: int, target: int) -> np.ndarray:
        """Per-channel gain bringing frame ``source``'s values to frame ``target``'s exposure."""
        gain = np.ones(3, np.float32)
        if source > target:
            for pair in range(target, source):
                gain *= self.gains[pair]
        else:
            for pair in range(source, target):
                gain /= self.gains[pair]
        return gain

    def _chain(
        self, start: int, direction: int, xs: np.ndarray, ys: np.ndarray, *, checked: bool = True
    ) -> Chain:
        assert self.size is not None
        tol = self.opt.consistency_tol if checked else float("inf")
        return Chain(start, direction, xs, ys, self.flow, self.size, self.scale, tol)

    # ----------------------------------------------------------------------------------------- propagation
    def propagated(self, index: int) -> _Propagated:
        """Propagation result of frame ``index`` (computed in order, deciding keyframe blocks as they close)."""
        while self.next_prop <= index:
            i = self.next_prop
            self.props[i] = self._propagate(i)
            self.next_prop += 1
            block = i // self.opt.keyframe_interval
            if (i + 1) % self.opt.keyframe_interval == 0 or not self.available(i + 1):
                self._decide_block(block)
        return self.props[index]

    def _propagate(self, t: int) -> _Propagated:
        frame = self.frames[t]
        hole = frame.packet.hole
        ys, xs = np.nonzero(hole)
        n_hole = len(ys)
        empty = np.zeros((n_hole, 3), dtype=np.float32)
        if n_hole == 0:
            return _Propagated(ys, xs, empty, np.zeros(0, bool), empty, np.zeros(0, np.int16))
        ring_ys, ring_xs = self._ring(frame)
        all_ys = np.concatenate([ys, ring_ys])
        all_xs = np.concatenate([xs, ring_xs])
        n = len(all_ys)
        accum = np.zeros((n, 3), dtype=np.float32)
        weight = np.zeros(n, dtype=np.float32)
        distance = np.zeros(n, dtype=np.int16)
        for direction in (1, -1):
            chain = self._chain(t, direction, all_xs.astype(np.float32), all_ys.astype(np.float32))
            for _ in range(self.opt.radius):
                nxt = chain.current + direction
                if len(chain) == 0 or nxt < 0 or not self.available(nxt):
                    break
                chain.step()
                source = self.frames[chain.current]
                ok = ~touches(source.invalid, chain.x, chain.y)
                if ok.any():
                    w = 1.0 / float(chain.steps)
                    hit = chain.index[ok]
                    gain = self.gain_between(chain.current, t)
                    accum[hit] += w * gain * sample_points(source.source, chain.x[ok], chain.y[ok])
                    weight[hit] += w
                    nearer = (distance[hit] == 0) | (distance[hit] > chain.steps)
                    distance[hit[nearer]] = chain.steps
                    chain.keep(~ok)
        found = weight > 0
        values = accum / np.maximum(weight, 1e-12)[:, None]
        offset = np.zeros((n_hole, 3), dtype=np.float32)
        ring_found = found[n_hole:]
        if self.opt.seam != "none" and ring_found.any():
            real = frame.source[ring_ys[ring_found], ring_xs[ring_found]]
            fetched = values[n_hole:][ring_found]
            if self.opt.seam == "gain":
                # Exposure-like changes are multiplicative: match log gain, spread it, express it as offset.
                eps = np.maximum(0.05 * np.median(np.abs(real), axis=0), 1e-4)
                ratio = (np.maximum(real, 0) + eps) / (np.maximum(fetched, 0) + eps)
                log_gain = np.clip(np.log(ratio), -0.7, 0.7)
                gain = np.exp(seam_offsets(ys, xs, ring_ys[ring_found], ring_xs[ring_found], log_gain))
                offset = (values[:n_hole] * (gain - 1.0)).astype(np.float32)
            else:
                offset = seam_offsets(ys, xs, ring_ys[ring_found], ring_xs[ring_found], real - fetched)
        return _Propagated(ys, xs, values[:n_hole], found[:n_hole], offset, distance[:n_hole])

    def _ring(self, frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
        """Valid pixels within ``seam_ring`` of the hole (the frame's own pixels the fill must match)."""
        if self.opt.seam == "none":
            return np.zeros(0, np.intp), np.zeros(0, np.intp)
        width = self.opt.seam_ring
        hole = frame.packet.hole
        ys, xs = np.nonzero(hole)
        pad = width + 1
        y0, y1 = max(0, ys.min() - pad), min(hole.shape[0], ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(hole.shape[1], xs.max() + pad + 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
        crop = hole[y0:y1, x0:x1].astype(np.uint8)
        ring = (cv2.dilate(crop, kernel) > 0) & ~frame.invalid[y0:y1, x0:x1]
        ry, rx = np.nonzero(ring)
        return ry + y0, rx + x0

    # ------------------------------------------------------------------------------------------- keyframes
    def _decide_block(self, block: int) -> None:
        """Pick the block's keyframe (a user keyframe, else the frame with most unseen pixels) and fill it."""
        start = block * self.opt.keyframe_interval
        members = [i for i in range(start, start + self.opt.keyframe_interval) if i in self.props]
        chosen: int | None = None
        for i in members:
            if self.frames[i].packet.frame in self.user_keyframes:
                chosen = i
                break
        if chosen is None:
            counts = [self.props[i].remaining for i in members]
            if counts and max(counts) > 0:
                chosen = members[int(np.argmax(counts))]  # argmax takes the first maximum: deterministic
        self.keyframe_of_block[block] = chosen
        if chosen is not None:
            self.keyframe_images[chosen] = self._fill_keyframe(chosen)

    def _composed(self, t: int, values: np.ndarray, offset: np.ndarray) -> np.ndarray:
        frame = self.frames[t]
        prop = self.props[t]
        image = frame.source.copy()
        image[prop.ys, prop.xs] = values + offset
        return image

    def _fill_keyframe(self, t: int) -> np.ndarray:
        prop = self.props[t]
        image = self._composed(t, prop.values, prop.offset)
        remaining = ~prop.found
        if remaining.any():
            mask = np.zeros(self.frames[t].packet.hole.shape, dtype=bool)
            mask[prop.ys[remaining], prop.xs[remaining]] = True
            spatial = self.backend.spatial.inpaint(image, mask, frame=self.frames[t].packet.frame)
            image[mask] = spatial[mask]
        return np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def _keyframes_around(self, t: int) -> list[int]:
        """The nearest keyframe at or before t and at or after t, among t's block and the adjacent ones."""
        interval = self.opt.keyframe_interval
        block = t // interval
        last_needed = (block + 2) * interval - 1
        if self.available(last_needed):
            self.propagated(last_needed)
        else:
            self.propagated(self.loaded - 1)
        candidates = [self.keyframe_of_block.get(b) for b in (block - 1, block, block + 1)]
        frames = [k for k in candidates if k is not None]
        before = [k for k in frames if k <= t]
        after = [k for k in frames if k >= t]
        chosen = ([max(before)] if before else []) + ([min(after)] if after else [])
        return sorted(set(chosen))

    # ---------------------------------------------------------------------------------------------- result
    def result(self, t: int) -> np.ndarray:
        prop = self.propagated(t)
        frame = self.frames[t]
        if len(prop.ys) == 0:
            return frame.packet.rgb
        values = prop.values.copy()
        found = prop.found.copy()
        stats = self.backend.stats
        stats["propagated"] += int(found.sum())
        if not found.all():
            self._from_keyframes(t, prop, values, found)
            stats["keyframe"] += int(found.sum()) - int(prop.found.sum())
        values += np.where(found[:, None], prop.offset, 0.0).astype(np.float32)
        if not found.all():
            stats["spatial"] += int((~found).sum())
            image = self._composed(t, values, np.zeros_like(values))
            mask = np.zeros(frame.packet.hole.shape, dtype=bool)
            mask[prop.ys[~found], prop.xs[~found]] = True
            spatial = self.backend.spatial.inpaint(image, mask, frame=frame.packet.frame)
            values[~found] = spatial[prop.ys[~found], prop.xs[~found]]
        out = frame.packet.rgb.copy()
        out[prop.ys, prop.xs] = values
        return out

    def _from_keyframes(self, t: int, prop: _Propagated, values: np.ndarray, found: np.ndarray) -> None:
        """Fill what propagation missed from the keyframes around t, cross-faded by temporal distance."""
        keyframes = self._keyframes_around(t)
        if t in keyframes:
            image = self.keyframe_images[t]
            unfilled = ~found
            values[unfilled] = image[prop.ys[unfilled], prop.xs[unfilled]] - prop.offset[unfilled]
            found[unfilled] = True
            return
        # First with consistency-checked chains; what those lose (the chain crossed an occlusion or a flow
        # error) is carried by the completed flow alone, which still moves with the plate, unlike a per-frame
        # spatial fill.
        for checked in (True, False):
            missing = np.nonzero(~found)[0]
            if len(missing) == 0:
                break
            accum = np.zeros((len(missing), 3), dtype=np.float32)
            weight = np.zeros(len(missing), dtype=np.float32)
            xs, ys = prop.xs[missing].astype(np.float32), prop.ys[missing].astype(np.float32)
            for key in keyframes:
                chain = self._chain(t, 1 if key > t else -1, xs, ys, checked=checked)
                while chain.current != key and len(chain):
                    chain.step()
                if chain.current != key or len(chain) == 0:
                    continue
                w = 1.0 / abs(key - t)
                gain = self.gain_between(key, t)
                accum[chain.index] += w * gain * sample_points(self.keyframe_images[key], chain.x, chain.y)
                weight[chain.index] += w
            got = weight > 0
            # Keyframe content already carries the keyframe's seam match; remove t's so it is not applied twice.
            values[missing[got]] = accum[got] / weight[got][:, None] - prop.offset[missing[got]]
            found[missing[got]] = True

    # -------------------------------------------------------------------------------------------- eviction
    def evict(self, next_output: int) -> None:
        """Forget what no later output can need.

        Frames: the next outputs, the ``radius`` behind the next frame to propagate, and undecided keyframe
        blocks (their keyframe image is built from the frame). Flows: those plus the chains back to the
        previous block's keyframe. Keyframe images: from the previous block on.
        """
        interval, radius = self.opt.keyframe_interval, self.opt.radius
        block_start = (next_output // interval - 1) * interval
        undecided = [
            b
            for b in range(next_output // interval - 1, self.next_prop // interval + 1)
            if b not in self.keyframe_of_block
        ]
        first_undecided = undecided[0] * interval if undecided else self.next_prop
        keep_frames = min(next_output, self.next_prop - radius, first_undecided)
        keep_flows = min(self.next_prop - radius, block_start)
        for store, low in (
            (self.frames, keep_frames),
            (self.flows, keep_flows),
            (self.gains, keep_flows),
            (self.keyframe_images, block_start),
            (self.props, min(next_output, first_undecided)),
        ):
            for key in [k for k in store if k < low]:
                del store[key]
