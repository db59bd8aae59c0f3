"""Frames and the flows between neighbours: what the engine reads from the plate before any fill.

A :class:`Pairs` streams the packets of one engine call (read and prepared in a reading thread, ``LOOKAHEAD``
ahead of use), keeps them in caches keyed by position in the *shot*, and computes each neighbouring pair's
flow once: DIS both ways, completed inside the holes (:mod:`aifx_core.flow`), the completion's fit, the
unmasked movers the pair shows and the exposure gain between the two frames. All of that depends only on the
pair's two frames and holes, never on fill results, so it runs in background threads (:mod:`aifx_core.workers`):
each pair's DIS in one (``aifx-dis``: native code that releases the GIL), its completion, movers and gain in the
flow worker (``aifx-flow``: NumPy) a pair behind, so the two overlap on two cores; the flow worker also makes what
the movers mark beside each frame's hole (:func:`_mover_marks`), off the engine's thread. Pairs start as their packets
are read, and a pair's results are taken over (in the caller's thread) only when something reads them, so every
read sees exactly what a one-thread run sees. A pair with a frame masked (nearly) whole is the exception: when
first read, its flows and fits are replaced by the neighbouring pairs' motion (:mod:`.bridge`), in the caller's
thread, from pairs at most ``bridge.REACH`` away (so still from the frames alone).
A pair across a cut (two shots in one sequence: a careless pull, an edit run whole) is told from the pair's
own two frames (:func:`.pair_flow.is_cut`): no chain crosses it and no frame is a source for a frame on its
other side (:meth:`Pairs.linked`), so nothing of one shot is ever painted into the other. A lone frame cut off
from both its neighbours while they are of one shot (a clipped flash) is stepped over (:meth:`Pairs.over`).
What a pair's flow is made of is :mod:`.pair_flow`'s (a pure function of the two frames' grey images, holes
and thumbnails); this module streams, schedules and caches. With ``AIFX_FLOW_PROCESS=1`` the flow worker hands
that computation to the helper process (:class:`aifx_core.workers.Helper`), where it runs beside this
process's threads instead of taking turns with them for the GIL (same arrays in, same result out; off by
default: on an idle machine the thread measured faster); ``AIFX_THREADS=1`` does all of it in the caller's
thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..errors import InputError
from ..flow import FlowEstimator, flow_gray, holes, working_size
from ..inpaint.base import FramePacket, Span
from ..mask import DROPOUT_RUN, dropouts_read
from ..progress import CancelToken
from ..workers import HelperUnavailable, Prefetch, helper, helper_wanted, overlap
from .bridge import REACH as BRIDGE_REACH
from .bridge import blind as blind_frame
from .bridge import bridge as bridged_flows
from .chain import BoxedFit, Footprint, footprint
from .fireflies import tame_fireflies
from .hypotheses import fast
from .mover_fringe import (
    BoxedMask,
    FringeDistance,
    beside_hidden,
    blind_band,
    fringe_distance,
    going_in,
    hidden_movers,
    mover_fringe,
    mover_gap,
)
from .options import PropagateOptions
from .pair_flow import (
    FlowInput,
    PairFlow,
    complete_pair,
    estimate_pair,
    estimator_spec,
    in_helper,
    same_in_helper,
)

#: What a released frame's packet holds instead of its RGB (see :meth:`_Frame.release`).
_RELEASED = np.zeros((0, 0, 3), np.float32)
#: ... and instead of its hole and ``invalid`` map, once nothing reads them (see :meth:`_Frame.drop_hole`).
_DROPPED_HOLE = np.zeros((0, 0), bool)
#: Largest magnitude the engine computes with (2^40, about 1.1e12): a plate value beyond it (a broken grade
#: can leave float32's limit, 3.4e38) is read as this. The engine's float32 arithmetic takes differences,
#: pyramid sums of hundreds of pixels and squares of differences relative to a frame's level (down to 1e-3):
#: from such values it would overflow to inf and NaN. No real scene-linear plate comes near it, so ordinary
#: plates are read exactly as they are; pixels outside the hole are never the engine's to write.
LARGEST = np.float32(2.0**40)
#: Packets read (and their flows started in the flow worker) beyond the furthest frame the engine asked for, so
#: the flows of the coming pairs are ready when the chains reach them (memory: this many packets more).
LOOKAHEAD = 2
#: Seconds between cancel checks while a pair's flow is awaited.
CANCEL_POLL_S = 0.05


class ContextError(RuntimeError):
    """The engine needed a frame its chunk did not read: :meth:`PropagateBackend.chunk_context` is too small (a bug)."""


@dataclass
class _Frame:
    r"""A packet plus what the engine derives from it once.

    Its full-resolution RGB (``rgb``, ``source``) is the bulk of what the engine holds (25 MB a frame at
    1080p as float32), and most frames held are held for their flows, hole and movers only: the engine
    :meth:`release`\ s a frame's plate as soon as nothing it may still compute reads it (see
    ``engine._Run.release``); reading it afterwards is a :class:`ContextError`, never a silent difference.
    The full-resolution hole (``hole``) and ``invalid`` map (2 MB each at 1080p, one array when the plate is
    all finite) are read with the plate (the frame's own propagation, fallback and output; ``blocked`` as a
    source) and by its two pairs' flows, and by nothing else: they are dropped too once both are done
    (:meth:`drop_hole`), and reading them afterwards is a :class:`ContextError` as well.
    """

    packet: FramePacket
    #: RGB safe to interpolate from (non-finite values zeroed, magnitudes capped at LARGEST; the same array as
    #: the packet when it has neither): what chains copy into a hole, so a star moving with the plate keeps its
    #: value.
    _source: np.ndarray | None
    #: Where nothing may be copied from: the hole and non-finite pixels (unmasked movers are added later; read
    #: through ``invalid``).
    _invalid: np.ndarray
    gray: np.ndarray
    small_hole: np.ndarray
    #: Small linear RGB copy (long side ≤ 192) and its hole, to measure exposure changes between frames.
    thumb: np.ndarray
    thumb_hole: np.ndarray
    #: The frame's typical level (median |value|): colour differences are judged relative to it.
    level: float
    #: Unmasked moving objects (full resolution), None when not detected.
    movers: np.ndarray | None = None
    #: Where its movers may reach unseen next to the hole (:func:`.mover_fringe.mover_fringe`), as a bilinear
    #: read's footprint: not read as a source of the hole pixels of a frame whose own movers are not near them.
    #: None when nothing is there.
    fringe: Footprint | None = None
    #: How far the fringe lies from the movers (:func:`.mover_fringe.fringe_distance`; None without a fringe).
    fringe_distance: FringeDistance | None = None
    #: Its movers carried on, unseen, up to the hole (:func:`.mover_fringe.hidden_movers`), as a bilinear read's
    #: footprint: not read as a source but by the points near where a frame's own movers go on into its hole.
    #: None: none.
    hidden: Footprint | None = None
    #: The same as pixels, in their box (for a frame's own points: are they near where its movers go on into its
    #: hole?).
    hidden_pixels: BoxedMask | None = None
    #: The hole pixels a mover of its own stands beside (:func:`.mover_fringe.beside_hidden`), as bilinear reads'
    #: footprints by the walking direction in which the mover goes into the hole (:func:`.mover_fringe.going_in`):
    #: a chain walking so that passes there, hidden, refuses the blind bands of the frames beyond. None: none.
    beside: dict[int, Footprint] | None = None
    #: How far its movers stand from its hole (:func:`.mover_fringe.mover_gap`; None: none near).
    gap: float | None = None
    #: The walking directions in which its movers go into its hole (:func:`.mover_fringe.going_in`; empty where
    #: none stand near it).
    ways: tuple[int, ...] = ()
    #: Shot position (for the error when a released plate is read).
    position: int = -1
    #: False once the flows of both its pairs are made and what only they read is dropped.
    flow_input_held: bool = True
    #: False once the hole and ``invalid`` are dropped (:meth:`drop_hole`).
    hole_held: bool = True
    #: ``blocked`` as last made (read-only) and the movers it was made with: it is read on every access to
    #: the frame as a source (each chain step, every target), and ``invalid | movers`` cost a full-resolution
    #: pass each time. Dropped with the plate (:meth:`release`), so it is held only while the plate is.
    _blocked: np.ndarray | None = field(default=None, repr=False, compare=False)
    _blocked_for: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: ``footprint`` as last made (read-only), with the movers it was made with (None: no movers), the same way.
    _footprint: tuple[np.ndarray | None, Footprint] | None = field(default=None, repr=False, compare=False)
    #: ``source`` with its fireflies capped (:mod:`.fireflies`), None where it has none: what the smooth fields
    #: average (ring membrane, spatial fill, the fallback's meeting offset, the steadying's reads).
    _smooth: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: ``band`` once made (False: not yet; None: no hole).
    _band: Footprint | None | bool = field(default=False, repr=False, compare=False)
    #: ``band_by_movers`` once made (False: not yet; None: nothing).
    _band_by_movers: Footprint | None | bool = field(default=False, repr=False, compare=False)

    @property
    def hole(self) -> np.ndarray:
        """The packet's hole (full resolution)."""
        if not self.hole_held:
            raise ContextError(f"position {self.position}: its hole was read after it was dropped")
        return self.packet.hole

    @property
    def invalid(self) -> np.ndarray:
        """Where nothing may be copied from: the hole and non-finite pixels."""
        if not self.hole_held:
            raise ContextError(f"position {self.position}: its invalid map was read after it was dropped")
        return self._invalid

    @property
    def blocked(self) -> np.ndarray:
        """Where nothing may be read from this frame: its hole, non-finite pixels and unmasked movers."""
        if self.movers is None:
            return self.invalid
        if self._blocked is not None and self._blocked_for is self.movers:
            return self._blocked
        blocked = self.invalid | self.movers
        if self.plate_held:
            blocked.flags.writeable = False  # (shared by every reader)
            self._blocked, self._blocked_for = blocked, self.movers
        return blocked

    @property
    def footprint(self) -> Footprint:
        """``blocked`` grown by a bilinear read's footprint (:func:`.chain.footprint`, the box around it): what
        chain steps and hypotheses ask of a source frame, one gather a point instead of four. Kept like
        ``blocked``."""
        movers = self.movers
        if self._footprint is not None and self._footprint[0] is movers:
            return self._footprint[1]
        grown = footprint(self.blocked)
        if self.plate_held:
            grown.grown.flags.writeable = False  # (shared by every reader)
            self._footprint = (movers, grown)
        return grown

    def band(self, scale: tuple[float, float]) -> Footprint | None:
        """Its :func:`.mover_fringe.blind_band` (``scale``: working / full resolution) as a bilinear read's
        footprint (None without a hole), made on first use and kept: read as a source by the chains that passed
        a mover hidden (:attr:`beside`)."""
        if self._band is False:
            made = blind_band(self.hole, scale)
            self._band = None if made is None else footprint(made)
        assert self._band is not True
        return self._band

    def band_by_movers(self, scale: tuple[float, float]) -> Footprint | None:
        """The part of :meth:`band` within ``BAND_PX`` of its movers (:func:`.mover_fringe.blind_band`), the same
        way: what such chains are refused where the frame's movers go out of its hole along their walk
        (:func:`.candidates._after_mover`)."""
        if self._band_by_movers is False:
            made = None if self.movers is None else blind_band(self.hole, scale, self.movers)
            self._band_by_movers = None if made is None or not made.any() else footprint(made)
        assert self._band_by_movers is not True
        return self._band_by_movers

    @property
    def plate_held(self) -> bool:
        return self._source is not None

    @property
    def source(self) -> np.ndarray:
        """The RGB the engine reads from (see ``_source``)."""
        if self._source is None:
            raise ContextError(f"position {self.position}: its plate was read after it was released")
        return self._source

    @property
    def smooth(self) -> np.ndarray:
        """``source`` with its fireflies capped (the same array where it has none): what a field that averages
        many plate pixels in linear light reads, so one 1e8 render firefly does not light up a whole fill."""
        source = self.source
        return source if self._smooth is None else self._smooth

    @property
    def rgb(self) -> np.ndarray:
        """The packet's RGB as it came (the pixels outside the hole of the output); released with ``source``."""
        self.source  # noqa: B018 - (raises once the plate is released)
        return self.packet.rgb

    def drop_flow_input(self) -> None:
        """Drop what only the flows of its two pairs read (the grey image at working resolution, ...): both
        are made."""
        self.gray = self.small_hole = self.thumb = self.thumb_hole = _RELEASED
        self.flow_input_held = False
        self.drop_hole()

    def release(self) -> None:
        """Drop the full-resolution RGB (the packet keeps its frame number and hole)."""
        if self._source is not None:
            self._source = self._smooth = None
            self.packet = replace(self.packet, rgb=_RELEASED)
        self._blocked = self._blocked_for = None
        self._footprint = None
        self.drop_hole()

    def exclude(self, region: np.ndarray) -> None:
        """Never read ``region`` of this frame (a matte dropout's object: :meth:`Pairs._drop_outs`); done before
        the frame is first read from."""
        self._invalid = self._invalid | region
        self._blocked = self._blocked_for = None
        self._footprint = None

    def drop_hole(self) -> None:
        """Drop the hole and ``invalid`` once nothing reads them: the plate is released and both pairs' flows
        are made (the packet keeps its frame number)."""
        if self.hole_held and not self.plate_held and not self.flow_input_held:
            self.packet = replace(self.packet, hole=_DROPPED_HOLE)
            self._invalid = _DROPPED_HOLE
            self.hole_held = False


#: Holes of the last frames read that :meth:`Pairs._drop_outs` reads: a run is judged when the frame after it is
#: read (at the shot's start the second after it, at its end its last frame), and a run reads the hole before
#: it (at the shot's end the two before it).
_HOLES_KEPT = DROPOUT_RUN + 2

#: Whether a frame's movers are carried on to its hole as a source (:func:`.mover_fringe.hidden_movers`).
HIDDEN_MOVERS = True


class Pairs:
    """The frames one engine call reads and the flows between neighbours, in bounded caches keyed by position
    in the shot (:meth:`evict` forgets what no later output needs)."""

    def __init__(
        self,
        options: PropagateOptions,
        colorspace: str,
        estimator: FlowEstimator,
        packets: Iterator[FramePacket],
        span: Span | None = None,
    ) -> None:
        self.opt = options
        self.colorspace = colorspace
        self.estimator = estimator
        #: The run's cancel token (set by the engine), checked while waiting for flows and asking for frames.
        self.cancel: CancelToken | None = None
        self.frames: dict[int, _Frame] = {}
        self.exhausted = False
        self.max_held = 0
        #: Most frames held at once with their full-resolution RGB (the rest were released: see _Frame).
        self.max_plates = 0
        self.flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # pair i: (i→i+1, i+1→i), working res
        #: pair i: the completion's expected error of each flow (working px, boxed), None when not estimated.
        self.fits: dict[int, tuple[BoxedFit, BoxedFit] | None] = {}
        #: pair i: per-channel gain that brings frame i+1's values to frame i's exposure (1 when unmatched).
        self.gains: dict[int, np.ndarray] = {}
        #: Pairs whose flows the flow worker is computing (or has computed) and this thread has not taken yet.
        self.pending: dict[int, Future[_Made]] = {}
        #: Most pairs' flows held at once.
        self.max_flows = 0
        #: Pairs taken over (from the first held on).
        self.made: set[int] = set()
        #: Pairs across a blind frame whose flows and fits were replaced by their bridge (:mod:`.bridge`).
        self.bridged: set[int] = set()
        #: Pairs taken over that lie across a cut (:func:`.pair_flow.is_cut`), kept as long as their frames are.
        self.cuts: set[int] = set()
        #: Frames stepped over (:meth:`over`): cut off from both neighbours, which are of one shot; kept as long as
        #: their frames are, with the gain of the pair of neighbours (:meth:`gain_between`) ...
        self.stepped: dict[int, np.ndarray] = {}
        #: ... and the pair of neighbours' flows and fits (forgotten with the flows: :meth:`forget_flows`).
        self.over_flows: dict[int, PairFlow] = {}
        #: Pairs before this are forgotten (:meth:`forget_flows`): asking for one is a ContextError.
        self.flows_from = 0
        self._worker: ThreadPoolExecutor | None = None
        #: Where each pair's DIS runs, one pair ahead of its completion (see :meth:`_start_flow`).
        self._estimating: ThreadPoolExecutor | None = None
        #: One estimator call at a time: DIS keeps its pyramids and buffers in its OpenCV object (and a
        #: caller's own estimator may too), and two threads may ask it: the DIS thread for the pairs started
        #: after a helper process was lost, the flow worker for the pairs queued for that helper before.
        self._estimator_lock = threading.Lock()
        self._threaded = overlap()
        #: Where the flow worker sends its pairs (a process of its own, free of this one's GIL), or None.
        self._helper = helper() if self._threaded and helper_wanted() else None
        if self._helper is not None and estimator_spec(estimator) is not None:
            self._helper.start()  # (its imports overlap with reading the first frames)
        #: The furthest position the engine asked for (:meth:`available`); reading runs ahead of it.
        self.demanded = -1
        #: Hole pixel count of every frame read (the keyframe cue; a few bytes a frame, kept for the run).
        self.hole_area: dict[int, int] = {}
        #: The holes of the last frames read: a run's matte dropout is decided from the holes around it
        #: (:meth:`_drop_outs`), whose frames may have dropped theirs by then.
        self._recent_holes: dict[int, np.ndarray] = {}
        self.size: tuple[int, int] | None = None
        self.work: tuple[int, int] = (0, 0)
        self.scale = (1.0, 1.0)
        # Positions count from the shot's first frame; without a span the stream is the whole shot.
        self.shot = span.shot if span is not None else None
        self._positions = {f: i for i, f in enumerate(self.shot)} if self.shot is not None else None
        #: Shot length: known from the shot, or (streaming) when the packets end.
        self.length: int | None = len(self.shot) if self.shot is not None else None
        # Packets are read and prepared (flow grey, thumbnails) in a reading thread, LOOKAHEAD ahead of use.
        self._stream = Prefetch(packets, self._made, LOOKAHEAD, self._threaded, name="aifx-read")
        try:
            self._first: tuple[FramePacket, _Frame | Exception] | None = next(self._stream, None)
            self._first_number = None if self._first is None else self._first[0].frame
            self.base = 0 if self._first is None else self.position(self._first[0].frame)
        except BaseException:
            self.close()
            raise
        #: Next position to read.
        self.loaded = self.base

    def position(self, frame: int) -> int:
        """Position of frame number ``frame`` in the shot."""
        if self._positions is None:
            return frame - self._first_number if self._first_number is not None else 0
        try:
            return self._positions[frame]
        except KeyError:
            raise InputError(f"frame {frame} is not in the shot; check the frame range") from None

    def _next_packet(self) -> tuple[FramePacket, _Frame | Exception] | None:
        if self._first is not None:
            item, self._first = self._first, None
            return item
        return next(self._stream, None)

    def _made(self, packet: FramePacket) -> tuple[FramePacket, _Frame | Exception]:
        """The packet and its prepared frame, or the error preparing it raised (raised when it is read)."""
        try:
            return packet, self._prepare(packet)
        except Exception as exc:
            return packet, exc

    # ----------------------------------------------------------------------------------------------- input
    def available(self, index: int) -> bool:
        """Read packets (``window`` at a time) until ``index`` is loaded; False if the shot has no ``index``.

        A position inside the shot that this call did not read (before its first packet, after its last, or
        already evicted) is a :class:`ContextError`: the context formula must cover every frame used.
        """
        if index < 0 or (self.length is not None and index >= self.length):
            return False
        self.check_cancel()  # (every stage asks for its frames here, a keyframe block's members one by one)
        if index < self.base:
            raise ContextError(f"position {index} is before the first frame read ({self.base})")
        while self.loaded <= index and not self.exhausted:
            self._read(index + self.opt.window)
        if self.hole_area.get(index) == 0:
            # (the frames after it decide whether its matte dropped out: read before it is read from)
            self._read(index + DROPOUT_RUN + 2)
        if index < self.loaded:
            if index not in self.frames:
                raise ContextError(f"position {index} was needed after it was evicted")
            self.demanded = max(self.demanded, index)
            self._take_flows(max(index - 1, 0))  # frame index's movers and every gain up to it are final
            return True
        if self.length is not None and index < self.length:
            raise ContextError(f"position {index} is after the last frame read ({self.loaded - 1})")
        return False

    def read_ahead(self) -> None:
        """Read up to ``LOOKAHEAD`` packets beyond the furthest position asked for (never past the stream's
        end), so the flow worker computes the coming pairs while this thread fills (see the module doc)."""
        if self._threaded:
            self._read(self.demanded + 1 + LOOKAHEAD)

    def _read(self, target: int) -> None:
        """Read packets until position ``target`` is loaded or the stream ends; start each new pair's flow."""
        while self.loaded < target and (self.length is None or self.loaded < self.length):
            item = self._next_packet()
            if item is None:
                self.exhausted = True
                break
            packet, made = item
            if self._positions is None:
                position = self.loaded
            else:
                position = self.position(packet.frame)
                if position != self.loaded:
                    raise InputError(
                        f"frame {packet.frame}: packets must be consecutive frames of the shot "
                        f"(expected {self.shot[self.loaded] if self.shot else '?'})"
                    )
            if isinstance(made, Exception):
                raise made
            made.position = position
            self.frames[position] = made
            self.hole_area[position] = int(np.count_nonzero(packet.hole))
            self._recent_holes[position] = packet.hole
            self._recent_holes.pop(position - _HOLES_KEPT, None)
            self.loaded += 1
            self._drop_outs(position)
            if self.loaded - 1 > self.base:
                # Flows are computed as packets arrive (each pair once): chains toward keyframes may
                # later cross pairs whose frames are already gone.
                self._start_flow(self.loaded - 2)
        if self.length is not None and self.loaded >= self.length:
            self.exhausted = True
        self.max_held = max(self.max_held, len(self.frames))
        self.max_plates = max(self.max_plates, self.plates())
        if self.exhausted and self.length is None:
            self.length = self.loaded
            self._drop_outs(self.loaded - 1)  # (a stream's end is known now: its last frames may be judged)

    def _drop_outs(self, position: int) -> None:
        """Once position ``position`` is read: where a run of empty holes it decides is a matte dropout (a
        forgotten roto key: :func:`..mask.dropouts_read`), mark where each of its frames' unmasked object may be
        as never to be read. A run is decided as soon as the holes it reads are read (the frame after it, the
        second after at the shot's start, the shot's last frame at its end), before its frames are read from
        (:meth:`available` reads that far first): from the holes alone, so the same for any window or chunk
        (the chunk context reads :data:`..mask.DROPOUT_RUN` frames around any frame read from)."""
        for first, regions in dropouts_read(self._hole_at, position, self.length):
            for index, region in enumerate(regions, first):
                frame = self.frames.get(index)
                if frame is not None and frame.hole_held:  # (one let go is read from no more)
                    frame.exclude(region)

    def _hole_at(self, index: int) -> np.ndarray | None:
        """The hole at position ``index`` if this call read it and still holds it (for :meth:`_drop_outs`)."""
        return self._recent_holes.get(index) if index >= self.base else None

    def frame(self, index: int) -> _Frame:
        return self.frames[index]

    def plates(self) -> int:
        """Frames held now with their full-resolution RGB."""
        return sum(1 for frame in self.frames.values() if frame.plate_held)

    def release(self, keep: Callable[[int], bool]) -> None:
        """Release the plate of every frame held for which ``keep(position)`` is False."""
        for position, frame in self.frames.items():
            if frame.plate_held and not keep(position):
                frame.release()

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
        # (contiguous reductions first: the per-pixel one over a length-3 last axis is ~10x slower; a NaN
        # makes both comparisons false)
        highest, lowest = rgb.max(), rgb.min()
        ordinary = bool(highest <= LARGEST) and bool(lowest >= -LARGEST)
        if ordinary:
            source, invalid = rgb, hole
            peak = max(float(highest), -float(lowest))
        else:
            finite = np.isfinite(rgb).all(axis=-1)
            bounded = np.clip(rgb, -LARGEST, LARGEST)
            source = np.where(finite[..., None], bounded, 0.0).astype(np.float32)
            invalid = hole | ~finite
            peak = float(np.abs(source).max())
        thumb_size = working_size(*self.size, 192)[::-1]
        thumb_hole = cv2.resize(invalid.astype(np.uint8), thumb_size, interpolation=cv2.INTER_NEAREST) > 0
        thumb_hole |= cv2.resize(invalid.astype(np.float32), thumb_size, interpolation=cv2.INTER_AREA) > 0
        thumb, level = _thumb(source, thumb_size, thumb_hole)
        tamed = tame_fireflies(source, level, peak)
        if tamed is not None:
            thumb, level = _thumb(tamed, thumb_size, thumb_hole)
        gray, small_hole = flow_gray(source if tamed is None else tamed, hole, self.work, self.colorspace)
        return _Frame(
            packet,
            np.asarray(source, np.float32),
            invalid,
            gray,
            small_hole,
            thumb,
            thumb_hole,
            max(level, 1e-3),
            _smooth=tamed,
        )

    # ------------------------------------------------------------------------------------------------ flow
    def flow(self, index: int, direction: int) -> np.ndarray:
        """Working-resolution flow from frame ``index`` to ``index + direction``, completed inside holes
        (``direction`` ±2: across the frame between, which :meth:`over` steps over)."""
        if abs(direction) == 2:
            across = self._across(index + direction // 2)
            return across.forward if direction > 0 else across.backward
        pair = index if direction > 0 else index - 1
        self._check_pair(pair)
        self._made_flow(pair)
        self._bridge(pair)
        forward, backward = self.flows[pair]
        return forward if direction > 0 else backward

    def _made_flow(self, pair: int) -> None:
        """Pair ``pair``'s flows made and taken over (started here if the reading has not started them)."""
        if pair not in self.flows:
            if pair not in self.pending:
                # (a chain carried across a bridged pair may reach a pair whose second frame is not read yet)
                self.available(pair + 1)
            if pair not in self.flows and pair not in self.pending:
                self._start_flow(pair)
            self._take_flow(pair)

    def _blind_pair(self, pair: int) -> bool:
        """Whether one of pair ``pair``'s frames is too covered to track (:func:`.bridge.blind`)."""
        assert self.size is not None
        area = self.size[0] * self.size[1]
        return blind_frame(self.hole_area[pair], area) or blind_frame(self.hole_area[pair + 1], area)

    def _bridge(self, pair: int) -> None:
        """Once, when one of its frames is blind: replace pair ``pair``'s flows and fits by the neighbouring
        pairs' motion (:func:`.bridge.bridge`). It reads pairs up to ``bridge.REACH`` away, which the engine's
        reach covers: the same pixels for any window or chunk."""
        if pair in self.bridged or not self._blind_pair(pair):
            return
        self.flows[pair], self.fits[pair] = bridged_flows(
            pair, self._good_flows, self.cuts.__contains__, self.flows[pair][0].shape
        )
        self.bridged.add(pair)

    def _good_flows(self, pair: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Pair ``pair``'s flows when it is in the shot, both its frames see and it is no cut (a bridge's
        source), else None."""
        if pair < 0 or not self.available(pair + 1) or self._blind_pair(pair):
            return None
        self._check_pair(pair)
        self._made_flow(pair)
        return None if pair in self.cuts else self.flows[pair]

    def _start_flow(self, pair: int) -> None:
        """Start pair ``pair``'s flow: in the flow worker, or (no overlap) here and now."""
        a, b = self.frames[pair], self.frames[pair + 1]
        if not self._threaded:
            self._keep(pair, self._marked_flow(pair, a, b))
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="aifx-flow")
        estimated: Future[tuple[np.ndarray, np.ndarray]] | None = None
        if self._helper is None:
            # The flows themselves (DIS: native code, the GIL released) in a thread of their own, so the next
            # pair's are estimated while the flow worker completes this one in NumPy (the flow worker alone was
            # the moving blob's critical path: ~50 of its ~65 ms a frame on two idle cores).
            if self._estimating is None:
                self._estimating = ThreadPoolExecutor(1, thread_name_prefix="aifx-dis")
            estimated = self._estimating.submit(self._estimate, _flow_input(a), _flow_input(b))
        self.pending[pair] = self._worker.submit(self._marked_flow, pair, a, b, estimated)

    def _take_flow(self, pair: int) -> None:
        """Wait for pair ``pair``'s flow and take its results over (raises what the worker raised). The wait
        checks :attr:`cancel`: a block's first keyframe decision gathers many pairs (seconds on a large shot),
        with no progress event between them (the future stays pending, so :meth:`close` still drops it)."""
        future = self.pending.get(pair)
        if future is None:
            return
        while not wait([future], timeout=CANCEL_POLL_S).done:
            self.check_cancel()
        del self.pending[pair]
        self._keep(pair, future.result())

    def check_cancel(self) -> None:
        """Raise :class:`~aifx_core.errors.Cancelled` when the run's :attr:`cancel` token is set."""
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def _take_flows(self, last: int) -> None:
        """Take over every started pair up to ``last``, in order."""
        for pair in sorted(p for p in self.pending if p <= last):
            self._take_flow(pair)

    def _keep(self, pair: int, made: _Made) -> None:
        done = made.flow
        self.flows[pair] = (done.forward, done.backward)
        self.fits[pair] = done.fits
        for index, movers in sorted(done.movers.items()):
            target = self.frames[index]
            target.movers = movers
            marks = made.marks[index]
            target.hidden_pixels, target.hidden = marks.hidden_pixels, marks.hidden
            target.fringe, target.fringe_distance = marks.fringe, marks.fringe_distance
            target.gap = marks.gap
            previous = self.frames.get(index - 1)
            earlier = self.frames.get(index - 2)
            ways = going_in(
                target.gap,
                None if previous is None else previous.gap,
                None if earlier is None else earlier.gap,
            )
            target.ways = () if target.gap is None else ways
            target.beside = None if marks.beside is None or not ways else dict.fromkeys(ways, marks.beside)
        self.gains[pair] = done.gain
        self.made.add(pair)
        if done.cut and not self._blind_pair(pair):
            # (a frame masked (nearly) whole shows too little to tell a cut; its pair is bridged instead)
            self.cuts.add(pair)
            if pair - 1 in self.cuts:
                self._step_over(pair)
        self.max_flows = max(self.max_flows, len(self.flows))
        # Pairs are taken in order, so frame ``pair`` has both its pairs made now (or only this one, first);
        # the first frame of a cut keeps what its flows read until the next pair says whether the frame after it
        # is stepped over (:meth:`_step_over` reads it then).
        frame = self.frames.get(pair)
        if frame is not None and (pair - 1 in self.made or pair == self.base) and pair not in self.cuts:
            frame.drop_flow_input()
        before = self.frames.get(pair - 1)
        if (
            before is not None
            and before.flow_input_held
            and pair - 1 in self.cuts
            and (pair - 2 in self.made or pair - 1 == self.base)
        ):
            before.drop_flow_input()

    def close(self) -> None:
        """Stop the reading thread and the flow worker: what they are making is finished, nothing more is
        started. The holes :mod:`..flow.holes` kept for this shot's pairs are dropped too: a long-lived
        process (``aifx serve``, a Ray worker) would otherwise hold the last shot's (~25-35 MB at 1080p)."""
        self._stream.close()
        for future in self.pending.values():
            future.cancel()
        self.pending.clear()
        for worker in (self._estimating, self._worker):
            if worker is not None:
                worker.shutdown(wait=True, cancel_futures=True)
        self._estimating = self._worker = None
        holes.forget()

    def _pair_flow(
        self,
        pair: int,
        a: _Frame,
        b: _Frame,
        estimated: Future[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> PairFlow:
        """Pair ``pair``'s flows both ways, their fits, the movers they show and the exposure gain: from the
        two frames alone (it runs in the flow worker, so it changes no state of the run). ``estimated``: the
        pair's DIS flows being made in the DIS thread (:func:`estimate_pair`), else they are made here. In the
        helper process where it can (see the module doc): the same function on the same arrays, the same
        result."""
        assert self.size is not None
        args = (self.size, self.opt.exposure_match, pair, _flow_input(a), _flow_input(b))
        if estimated is not None:
            return complete_pair(*args, estimated.result())
        spec = estimator_spec(self.estimator)
        if self._helper is not None and spec is not None and same_in_helper():
            try:
                return in_helper(self._helper, spec, *args)
            except HelperUnavailable:
                self._helper = None  # (for the rest of this run: compute here)
        return complete_pair(*args, self._estimate(args[3], args[4]))

    def _marked_flow(
        self,
        pair: int,
        a: _Frame,
        b: _Frame,
        estimated: Future[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> _Made:
        """:meth:`_pair_flow` and what its movers mark beside each frame's hole (:func:`_mover_marks`), both
        in the flow worker (the holes are read as the pair's flow read them)."""
        holes_of = {pair: a.hole, pair + 1: b.hole}
        done = self._pair_flow(pair, a, b, estimated)
        return _Made(done, _mover_marks(done, pair, holes_of, self.scale))

    def _estimate(self, a: FlowInput, b: FlowInput) -> tuple[np.ndarray, np.ndarray]:
        """:func:`estimate_pair` with this run's estimator, one call at a time (see ``_estimator_lock``)."""
        with self._estimator_lock:
            return estimate_pair(self.estimator, a, b)

    def linked(self, a: int, b: int) -> bool:
        """Whether frames ``a`` and ``b`` are of one shot: no pair between them lies across a cut, but for the
        two around a frame strictly between them that :meth:`over` steps over (the pairs between are made
        first, as a walk from one to the other would make them). A stepped-over frame is linked to none."""
        low, high = min(a, b), max(a, b)
        for pair in range(low, high):
            if pair not in self.made:
                self.flow(pair, 1)
            if pair in self.cuts and not any(low < i < high and self.over(i) for i in (pair, pair + 1)):
                return False
        return True

    def over(self, index: int) -> bool:
        """Whether frame ``index`` is stepped over: both its pairs are cuts (a flash, a frame of another
        exposure that is not one gain over it, a black or damaged frame in a shot) while its two neighbours are
        no cut (:meth:`_step_over`). Walks go from one neighbour to the other by their own flow (:meth:`flow`
        ±2) and the frame is no source for them, nor they for it: a lone bad frame no longer splits its shot.
        Decided from frames ``index`` ± 1 alone (within the engine's ``AROUND``): windows and chunks agree."""
        # (asked at every step of every walk: the pair before the frame first, which a walk onto the frame makes
        # anyway, or a walk back from beyond it has made already; the frame after it is read only past a cut)
        if index - 1 < self.base:
            return False
        if index - 1 not in self.made:
            if not self.available(index):
                return False
            self.flow(index - 1, 1)
        if index - 1 not in self.cuts or not self.available(index + 1):
            return False
        if index not in self.made:
            self.flow(index, 1)
        return index in self.stepped

    def _across(self, index: int) -> PairFlow:
        """The flows and fits between the neighbours of frame ``index``, which is stepped over."""
        self._check_pair(index - 1)
        if index not in self.over_flows:
            raise ContextError(f"position {index}: a step over it was asked for, but it is not stepped over")
        return self.over_flows[index]

    def _step_over(self, index: int) -> None:
        """Once pair ``index`` (the second around frame ``index``) is taken: where both pairs around the frame
        are cuts and neither is blind, the pair of its neighbours (frames ``index`` ± 1: their flows, fits and
        gain, :func:`.pair_flow.complete_pair`, a pure function of the two), and the frame stepped over where
        that pair is no cut. Made here, in the caller's thread: a rare pair, outside the flow worker's stream."""
        before, after = self.frames.get(index - 1), self.frames.get(index + 1)
        if before is None or after is None or not (before.flow_input_held and after.flow_input_held):
            return
        assert self.size is not None
        a, b = _flow_input(before), _flow_input(after)
        made = complete_pair(self.size, self.opt.exposure_match, index - 1, a, b, self._estimate(a, b))
        if not made.cut:
            self.stepped[index] = made.gain
            self.over_flows[index] = made

    def fit(self, index: int, direction: int) -> BoxedFit | None:
        """The completion's expected error of :meth:`flow` (working px; its box, read as the whole map: see
        :class:`.chain.BoxedFit`), None when not estimated."""
        if abs(direction) == 2:
            fits = self._across(index + direction // 2).fits
            return None if fits is None else fits[0] if direction > 0 else fits[1]
        pair = index if direction > 0 else index - 1
        self._check_pair(pair)
        self._take_flow(pair)
        if pair in self.flows:
            self._bridge(pair)
        fits = self.fits.get(pair)
        if fits is None:
            return None
        return fits[0] if direction > 0 else fits[1]

    def gain_between(self, source: int, target: int) -> np.ndarray:
        """Per-channel gain bringing frame ``source``'s values to frame ``target``'s exposure."""
        self._take_flows(max(source, target) - 1)
        gain = np.ones(3, np.float32)
        low, high = min(source, target), max(source, target)
        # (the two pairs around a stepped-over frame between are cuts, gain 1: the neighbours' own pair's instead)
        across = [self.stepped[i] for i in range(low + 1, high) if i in self.stepped]
        if source > target:
            for pair in range(target, source):
                gain *= self.gains[pair]
            for step in across:
                gain *= step
        else:
            for pair in range(source, target):
                gain /= self.gains[pair]
            for step in across:
                gain /= step
        return gain

    def _check_pair(self, pair: int) -> None:
        if pair < self.flows_from:
            raise ContextError(f"pair {pair}'s flow was read after it was forgotten (from {self.flows_from})")

    def forget_flows(self, low: int) -> None:
        """Forget the flows and fits (not the gains) of the pairs before ``low``: nothing left reads them."""
        low -= BRIDGE_REACH  # (a pair still to read may be bridged from pairs that far before it)
        self.flows_from = max(self.flows_from, low)
        for store in (self.flows, self.fits):
            for key in [k for k in store if k < low]:
                del store[key]
        for key in [k for k in self.over_flows if k - 1 < low]:
            del self.over_flows[key]

    def evict(self, low: int) -> None:
        """Forget frames and pair flows before position ``low`` (no later output needs them)."""
        self._take_flows(low - 1)  # a failure of the flow worker is raised, never dropped with its pair
        for store in (self.frames, self.flows, self.fits, self.gains):
            for key in [k for k in store if k < low]:
                del store[key]
        self.made -= {k for k in self.made if k < low - 1}
        self.bridged -= {k for k in self.bridged if k < low}
        self.cuts -= {k for k in self.cuts if k < low - 1}
        for key in [k for k in self.stepped if k < low]:
            del self.stepped[key]
        for key in [k for k in self.over_flows if k < low]:
            del self.over_flows[key]


@dataclass(frozen=True)
class _MoverMarks:
    """What a frame's movers mark beside its hole, as :class:`_Frame` holds it (see its fields)."""

    hidden_pixels: BoxedMask | None
    hidden: Footprint | None
    fringe: Footprint | None
    fringe_distance: FringeDistance | None
    beside: Footprint | None
    gap: float | None


@dataclass(frozen=True)
class _Made:
    """A pair's :class:`~.pair_flow.PairFlow` and the marks of each frame it found movers in (by position)."""

    flow: PairFlow
    marks: dict[int, _MoverMarks]


def _mover_marks(
    done: PairFlow, pair: int, holes_of: dict[int, np.ndarray], scale: tuple[float, float]
) -> dict[int, _MoverMarks]:
    """The hidden movers and the fringe of each frame ``done`` found movers in (``holes_of``: the pair's two
    holes by position). A pure function of the pair's results and holes, so the flow worker makes it beside
    the pair, off the engine's thread (on tennis nine squares 3.0 CPU ms a frame of the ~113 that bound the run)."""
    marks = {}
    for index, movers in done.movers.items():
        hole = holes_of[index]
        # (on a fast pair DIS drags the plate's flow around the pre-filled hole: what is marked next to it
        # is that drag as often as a mover, and is not carried on; the flow its movers were found on)
        slow = not fast(done.backward if index == pair + 1 else done.forward)
        hidden = hidden_movers(movers, hole, scale) if HIDDEN_MOVERS and slow else None
        fringe = mover_fringe(movers, hole, scale)
        beside = beside_hidden(movers, hole, scale) if slow else None
        marks[index] = _MoverMarks(
            None if hidden is None else BoxedMask.of(hidden),
            None if hidden is None else footprint(hidden),
            None if fringe is None else footprint(fringe),
            None if fringe is None else fringe_distance(movers, fringe, scale),
            None if beside is None else footprint(beside),
            mover_gap(movers, hole, scale),
        )
    return marks


def _flow_input(frame: _Frame) -> FlowInput:
    if not frame.flow_input_held:
        raise ContextError(f"position {frame.position}: a pair's flow was asked for after both were made")
    return FlowInput(frame.gray, frame.small_hole, frame.hole, frame.thumb, frame.thumb_hole)


def _thumb(source: np.ndarray, size: tuple[int, int], hole: np.ndarray) -> tuple[np.ndarray, float]:
    """A frame's small linear copy (``size``: width, height) and its level: the median magnitude outside
    ``hole`` (the thumb's), 1 where the hole covers it all."""
    thumb = cv2.resize(np.asarray(source, np.float32), size, interpolation=cv2.INTER_AREA)
    level = float(np.median(np.abs(thumb[~hole]))) if (~hole).any() else 1.0
    return thumb, level
