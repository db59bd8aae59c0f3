"""The propagate engine on the hard synthetic clips (and tennis when present): hole PSNR against per-frame
Telea, and fill time. A quick A/B tool for the flow side of issue #10 (run it with PYTHONPATH pointing at
two source trees to compare them); docs/benchmarks.md's full table comes from run_all.py.

    PYTHONPATH=src python benchmarks/bench_flow_engine.py [--frames N] [--cases fast,nine,ball,tennis]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hard_clips  # noqa: E402
import harness  # noqa: E402


class SyntheticClip(harness.Clip):
    """A :class:`hard_clips.CameraClip` as a benchmark clip; its squares/ball are the holes (see holes())."""

    def __init__(self, name: str, clip: hard_clips.CameraClip) -> None:
        self.name, self.clip = name, clip
        self.width, self.height, self.count = clip.width, clip.height, clip.count
        self._cache: dict[int, np.ndarray] = {}

    def frame(self, t: int) -> np.ndarray:
        if t not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k >= t - 2}
            self._cache[t] = self.clip.frame(t)
        return self._cache[t].copy()  # (harness.packets blanks the hole in place)

    def holes(self) -> harness.Holes:
        return harness.Holes("squares" if self.clip.ball is None else "ball", self.clip.hole)

    def object_mask(self, t: int) -> np.ndarray | None:
        # The masked ball is the object removed with the hole; the crossing disc is unmasked: it is truth.
        return self.clip.hole(t) if self.clip.ball is not None else None


def cases(names: list[str], frames: int) -> list[tuple[harness.Clip, harness.Holes]]:
    out: list[tuple[harness.Clip, harness.Holes]] = []
    for name in names:
        if name == "tennis":
            if not (harness.TENNIS / "frames").is_dir():
                continue
            clip = harness.FolderClip(harness.TENNIS / "frames", frames, name="tennis")
            out.append((clip, harness.static_square(clip.width, clip.height)))
            out.append((clip, harness.moving_blob(clip.width, clip.height, clip.count)))
            continue
        make = {
            "fast": lambda: hard_clips.fast_pan(count=frames),
            "fast50": lambda: hard_clips.fast_pan(count=frames, speed=(35.0, 50.0)),
            "nine": lambda: hard_clips.fast_pan(count=frames, nine=True),
            "ball": lambda: hard_clips.large_ball(960, 540, count=frames),
        }[name]
        synthetic = SyntheticClip(name, make())
        out.append((synthetic, synthetic.holes()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--cases", default="fast,nine,tennis")
    args = parser.parse_args()
    baseline, _ = harness.baseline_backend()
    for clip, holes in cases(args.cases.split(","), args.frames):
        result = harness.score_case(
            clip, holes, {"telea": baseline, "propagate": harness.make_backend("propagate")}
        )
        telea, prop = result.runs["telea"], result.runs["propagate"]
        worse = np.array(prop.per_frame["psnr_hole"]) < np.array(telea.per_frame["psnr_hole"]) - 1.0
        print(
            f"{clip.name}/{holes.name}: telea {telea.summary['psnr_hole']:.2f} dB, propagate "
            f"{prop.summary['psnr_hole']:.2f} dB, frames < telea-1dB {int(worse.sum())}/{len(worse)}, "
            f"E_warp hole {prop.summary['ewarp_hole']:.2e} (clean {result.clean.summary['ewarp_hole']:.2e}), "
            f"propagate {result.frames / max(prop.seconds, 1e-9):.1f} frames/s, routes {prop.stats}",
            flush=True,
        )


if __name__ == "__main__":
    main()
