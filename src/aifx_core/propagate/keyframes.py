"""Keyframes and anchors: what no neighbour saw, invented once per keyframe block.

The shot is cut into blocks of ``keyframe_interval`` frames, fixed by position in the shot. Each block's
keyframe (the user's, else the member with the largest hole: :func:`.fallback.choose_keyframe`) is filled once
(propagation where it is sure, the spatial backend elsewhere) and that fill is the block's :class:`Anchor`;
the fallback route (:func:`.fallback.carry`) carries the keyframes around a frame to it by flow. The anchors
come from the anchors stage (:meth:`.engine.PropagateBackend.anchors`) or, on a whole-shot stream, are decided
as the blocks are reached (the same code, so the same pixels).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from ..errors import InputError
from ..inpaint.base import Anchor, Span
from .fallback import Patched, choose_keyframe
from .options import PropagateOptions
from .pairs import ContextError, Pairs


def hole_fingerprint(hole: np.ndarray) -> str:
    """Pixel count and hash of a hole: an anchor made for one mask is never applied to another."""
    digest = hashlib.sha256(np.packbits(np.asarray(hole, bool)).tobytes()).hexdigest()[:16]
    return f"{int(np.count_nonzero(hole))}:{digest}"


class Keyframes:
    """The keyframe of each block and its filled image for one engine call.

    ``fill(position)`` fills a frame as its keyframe (the engine's propagation and spatial fill); it is asked
    once per block this call decides (never for blocks read from the anchors).
    """

    def __init__(
        self,
        pairs: Pairs,
        options: PropagateOptions,
        fill: Callable[[int], Patched],
        span: Span | None = None,
    ) -> None:
        self.pairs = pairs
        self.opt = options
        self.fill = fill
        #: block → its keyframe position (None: nothing to invent), decided here or read from the anchors.
        self.keyframe_of_block: dict[int, int | None] = {}
        self.keyframe_images: dict[int, Patched] = {}
        self.user_keyframes = set(self.opt.keyframes)
        self.anchors: Mapping[int, Anchor] | None = span.anchors if span is not None else None
        self.on_anchor = span.on_anchor if span is not None else None
        #: The keyframe being filled now (its propagation reads plates), if any.
        self.deciding: int | None = None
        #: Blocks before this are all decided (a cursor for :meth:`first_undecided`).
        self._decided_below = 0
        #: Keyframe images before this position are evicted and never asked for again.
        self.low = 0
        #: Keyframes whose anchor is not handed to ``on_anchor`` yet: (block, frame number, hole).
        self._unsent: dict[int, tuple[int, int, np.ndarray]] = {}

    def anchor(self, block: int) -> Anchor:
        """Decide the block's keyframe and fill it (the anchors stage, or a whole-shot stream as it goes).

        The keyframe is the user's (first one), else the member with the largest hole: a cue known from the
        masks alone, so deciding costs one propagation and one spatial fill per block, not the whole block's
        propagation. The keyframe's fill is propagation where it is sure, blended into the spatial backend's
        fill of the rest.
        """
        chosen = self._decide(block)
        if chosen is None:
            return Anchor(None)
        frame = self.pairs.frames[chosen]
        return self._anchor_of(chosen, frame.packet.frame, frame.hole)

    def _decide(self, block: int) -> int | None:
        """Choose the block's keyframe and start its image (:meth:`anchor` without the anchor)."""
        interval = self.opt.keyframe_interval
        start = block * interval
        members = []
        for i in range(start, start + interval):  # (an interval of 10**8 on a short shot stops at its end)
            if not self.pairs.available(i):
                break  # past the shot's last frame: so is every later one
            members.append(i)
        chosen = choose_keyframe(
            members,
            [self.pairs.hole_area[i] for i in members],
            [self.pairs.frames[i].packet.frame in self.user_keyframes for i in members],
        )
        self.keyframe_of_block[block] = chosen
        if chosen is None:
            return None
        self.deciding = chosen
        try:
            image = self.fill(chosen)
        finally:
            self.deciding = None
        self.keyframe_images[chosen] = image
        return chosen

    def _send(self, k: int) -> None:
        """Hand keyframe ``k``'s anchor to ``on_anchor`` (its image is read for it: its fill is finished)."""
        block, number, hole = self._unsent.pop(k)
        assert self.on_anchor is not None
        self.on_anchor(block, self._anchor_of(k, number, hole))

    def _anchor_of(self, k: int, number: int, hole: np.ndarray) -> Anchor:
        """Keyframe ``k``'s anchor: frame ``number``'s fill inside ``hole`` (kept with the anchor's record: the
        frame's own hole may be dropped by the time it is sent)."""
        return Anchor(number, self.keyframe_images[k].hole_values(hole), hole_fingerprint(hole))

    def flush(self) -> None:
        """Send every anchor not sent yet (the run's end: every block it decided is the shot's)."""
        for k in sorted(self._unsent):
            self._send(k)

    def keyframe_of(self, block: int) -> int | None:
        """The block's keyframe position: from the shot's anchors, else decided now (whole-shot stream)."""
        if block < 0 or (
            self.pairs.length is not None and block * self.opt.keyframe_interval >= self.pairs.length
        ):
            return None
        if block not in self.keyframe_of_block:
            if self.anchors is not None and block in self.anchors:
                self._use_anchor(block)
            elif self.anchors is None or self.on_anchor is not None:
                chosen = self._decide(block)
                if self.on_anchor is not None:
                    if chosen is None:
                        self.on_anchor(block, Anchor(None))
                    else:
                        # (its image may still be being filled: the anchor is sent when the image is first
                        # read, or at the run's end)
                        hole = self.pairs.frames[chosen].hole
                        self._unsent[chosen] = (block, self.pairs.frames[chosen].packet.frame, hole)
            else:
                raise InputError(f"the anchors hold no keyframe block {block}; run the anchors stage again")
        return self.keyframe_of_block[block]

    def _use_anchor(self, block: int) -> None:
        """Take the block's keyframe from the anchors (its image is rebuilt when first carried)."""
        assert self.anchors is not None
        try:
            anchor = self.anchors[block]
        except KeyError:
            raise InputError(
                f"the anchors hold no keyframe block {block}; run the anchors stage again"
            ) from None
        self.keyframe_of_block[block] = (
            None if anchor.keyframe is None else self.pairs.position(anchor.keyframe)
        )

    def keyframe_image(self, k: int) -> Patched:
        """Keyframe ``k``'s image: the frame with its hole filled as the anchor says."""
        if k in self._unsent:
            self._send(k)
        if k not in self.keyframe_images:
            assert self.anchors is not None
            anchor = self.anchors[k // self.opt.keyframe_interval]
            if not self.pairs.available(k):
                raise ContextError(f"keyframe position {k} is not in the shot")
            frame = self.pairs.frames[k]
            hole = frame.hole
            if anchor.values is None or anchor.hole != hole_fingerprint(hole):
                raise InputError(
                    f"frame {frame.packet.frame}: the cached keyframe was made for another mask; "
                    "run the anchors stage again (aifx run JOB --anchors --overwrite)"
                )
            ys, xs = np.nonzero(hole)
            self.keyframe_images[k] = Patched(frame.smooth, ys, xs, np.asarray(anchor.values, np.float32))
        return self.keyframe_images[k]

    def around(self, t: int) -> list[int]:
        """The nearest keyframe at or before t and at or after t, among t's block and the adjacent ones."""
        block = t // self.opt.keyframe_interval
        candidates = [self.keyframe_of(b) for b in (block - 1, block, block + 1)]
        frames = [k for k in candidates if k is not None]
        before = [k for k in frames if k <= t]
        after = [k for k in frames if k >= t]
        chosen = ([max(before)] if before else []) + ([min(after)] if after else [])
        return sorted(set(chosen))

    def reads_from(self, made: Callable[[int], bool]) -> int | None:
        """The first position whose plate a keyframe this call fills may still read, or None when this call
        decides no block (they all come from the anchors). A keyframe's fill propagates it and its neighbours,
        each reading ``radius`` either side, unless ``made(k)`` (k's propagation is made already and reads
        nothing more): the keyframe being filled now, and those of the blocks not decided yet (from the first
        one's start - 1 on)."""
        if self.anchors is not None and self.on_anchor is None:
            return None
        while self._decided_below in self.keyframe_of_block:
            self._decided_below += 1
        first = self._decided_below * self.opt.keyframe_interval - 1
        if self.deciding is not None:
            first = min(first, self.deciding - 1)
        while made(first):
            first += 1
        return first - self.opt.radius

    def unbuilt(self, last: int) -> set[int]:
        """Positions up to ``last`` whose keyframe image may still be rebuilt from the anchors (it copies the
        plate): the keyframes of the blocks not evicted whose image is not made yet, and every member of a
        block the anchors hold that nobody asked for yet (its keyframe is not read before it is used)."""
        interval = self.opt.keyframe_interval
        found: set[int] = set()
        if self.anchors is None:
            return found  # (every image is made as its block is decided, before its plate can be released)
        for block in range(self.low // interval, last // interval + 1):
            if block in self.keyframe_of_block:
                k = self.keyframe_of_block[block]
                if k is not None and k not in self.keyframe_images:
                    found.add(k)
            elif block in self.anchors:
                found.update(range(block * interval, (block + 1) * interval))
        return found

    def evict(self, block_start: int) -> None:
        """Forget keyframe images before position ``block_start`` (the previous block's start)."""
        self.low = max(self.low, block_start)
        for key in [k for k in self._unsent if k < block_start]:
            self._send(key)
        for key in [k for k in self.keyframe_images if k < block_start]:
            del self.keyframe_images[key]
