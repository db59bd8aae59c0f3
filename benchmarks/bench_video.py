"""Video-diffusion plumbing overhead at 1080p: what aifx adds around the model call.

    python benchmarks/bench_video.py          # prints the table (about a minute on 2 CPU cores)

A 1920x1080 scene-linear plate (25 frames, a 480x360 hole moving 20 px per frame) goes through the
``video-diffusion`` backend with a tiny random Wan VACE pipeline (``tests/tiny_models.py``, no download) in
windows of 9 frames overlapping by 2. The pipeline call is timed inside a thin wrapper, so *plumbing* is
everything else: window bookkeeping, the crop, OCIO to model space and back, resizes, pasting into full-frame
copies and the cross-fades. With a tiny model the call is short, so the milliseconds per frame are the figure
that carries over to a real model (a real Wan 1.3B window costs minutes on a GPU).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import tiny_models  # noqa: E402

from aifx_core.inpaint.base import BackendContext, FramePacket  # noqa: E402
from aifx_core.inpaint.video import VideoDiffusionBackend  # noqa: E402
from aifx_core.progress import Reporter  # noqa: E402


class Timed:
    """The real pipeline, with the time spent inside its calls added up."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.seconds = 0.0

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        start = time.perf_counter()
        try:
            return self.pipe(**kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    from diffusers import WanVACEPipeline

    Timed.__call__.__wrapped__ = WanVACEPipeline.__call__  # type: ignore[attr-defined]
    folder = tiny_models.build_tiny_wan_vace_pipeline(Path(tempfile.mkdtemp()) / "tiny-wan-vace")
    options = {
        "model": str(folder),
        "steps": 2,
        "size": 64,
        "window": 9,
        "overlap": 2,
        "max_sequence_length": 8,
    }
    context = BackendContext(colorspace="ACEScg", seed=0, device="cpu", options=options)
    rng = np.random.default_rng(0)
    base = (rng.random((1080, 1920, 3), dtype=np.float32) * 2.0).astype(np.float32)  # HDR values up to 2

    def packets():
        for t in range(25):
            hole = np.zeros((1080, 1920), bool)
            hole[300:660, 200 + 20 * t : 680 + 20 * t] = True
            yield FramePacket(frame=1001 + t, rgb=base, hole=hole)

    timed = Timed(VideoDiffusionBackend(context).pipe)
    backend = VideoDiffusionBackend(context, pipe=timed)
    start = time.perf_counter()
    frames = sum(1 for _ in backend.fill(packets(), Reporter()))
    total = time.perf_counter() - start
    plumbing = total - timed.seconds
    print("| frames | windows | total s | in the model s | plumbing s | plumbing ms/frame | plumbing share |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {frames} | {backend.calls} | {total:.2f} | {timed.seconds:.2f} | {plumbing:.2f} | "
        f"{1000 * plumbing / frames:.0f} | {100 * plumbing / total:.1f} % |"
    )


if __name__ == "__main__":
    main()
