"""The "every frame" generative mode: diffuse every frame, each started from the previous *result*.

The default for a sequence is keyframes (the ``propagate`` engine asks the diffusion backend only for what no
frame saw, and carries it through the shot). When the hole's content really changes every frame (a prompted
fill that must follow a moving camera through new background), ``diffusers-every-frame`` generates each frame,
but not from fresh noise: frame t's hole starts from frame t−1's result warped along the background's optical
flow, noised only to ``every_frame_strength`` (img2img). Low strength keeps frames alike (less "boiling"),
high strength lets the model correct warping drift. The first frame of a run, and any frame after an empty
hole, is generated at the backend's own ``strength`` (1.0: from noise). The same seed is used for every frame.

Options: all of the ``diffusers`` backend's, plus ``every_frame_strength`` (default 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .inpaint.base import BackendContext, FramePacket
from .inpaint.diffusion import DiffusersOptions, check_strength
from .progress import Reporter

DEFAULT_EVERY_FRAME_STRENGTH = 0.5


@dataclass(frozen=True)
class EveryFrameOptions(DiffusersOptions):
    """The ``diffusers`` options, plus how far each frame may move from the previous result."""

    owner = "diffusers-every-frame"

    #: Img2img strength in (0, 1] for every frame after the first: low keeps frames alike, high corrects drift.
    every_frame_strength: float = DEFAULT_EVERY_FRAME_STRENGTH

    def check(self) -> None:
        super().check()
        # Frames 2+ denoise int(steps × every_frame_strength) steps: none would be refused only at frame 2,
        # after frame 1 was generated and written, and by the name of the other option.
        check_strength(
            self.every_frame_strength,
            self.steps,
            "option every_frame_strength",
            "--option every_frame_strength",
        )


def warp_previous(
    previous_result: np.ndarray,
    previous_rgb: np.ndarray,
    previous_hole: np.ndarray,
    rgb: np.ndarray,
    hole: np.ndarray,
    colorspace: str | None,
) -> np.ndarray:
    """The previous result moved onto this frame's pixel grid along the background's flow.

    The flow runs from this frame to the previous one and is completed inside both holes (so it follows the
    background, not the object being removed); then ``out[x] = previous_result[x + flow(x)]``.
    """
    from .flow import estimate_flow, warp

    flow = estimate_flow(rgb, previous_rgb, hole_a=hole, hole_b=previous_hole, colorspace=colorspace)
    clean = np.nan_to_num(np.asarray(previous_result, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return warp(clean, flow).astype(np.float32)


class EveryFrameDiffusion:
    """Fill backend: the diffusers spatial backend on every frame, chained through flow-warped results."""

    name = "diffusers-every-frame"
    #: Reads every frame in order: frame t starts from frame t−1's result.
    temporal = True

    def __init__(self, context: BackendContext, spatial=None) -> None:
        self.every_frame_strength = EveryFrameOptions.from_dict(context.options).every_frame_strength
        if spatial is None:
            from .inpaint.diffusion import DiffusersBackend

            spatial = DiffusersBackend(context)
        self.spatial = spatial
        self.colorspace = context.colorspace

    def fill(self, packets: Iterable[FramePacket], reporter: Reporter) -> Iterator[tuple[int, np.ndarray]]:
        previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (rgb, hole, result)
        for packet in packets:
            reporter.cancel.raise_if_cancelled()  # the pipeline reports progress as frames are written
            if not packet.hole.any():
                previous = None
                yield packet.frame, packet.rgb
                continue
            if previous is None:
                result = self.spatial.inpaint(packet.rgb, packet.hole, frame=packet.frame)
            else:
                prev_rgb, prev_hole, prev_result = previous
                warped = warp_previous(
                    prev_result, prev_rgb, prev_hole, packet.rgb, packet.hole, self.colorspace
                )
                start = np.where(packet.hole[..., None], warped, packet.rgb).astype(np.float32)
                result = self.spatial.inpaint(
                    start, packet.hole, frame=packet.frame, strength=self.every_frame_strength
                )
            previous = (packet.rgb, packet.hole, result)
            yield packet.frame, result
