"""How much of a hole any frame ever saw: an upper bound for propagation on the synthetic parallax clip.

The parallax clip's layers move by whole pixels at known speeds, so for every hole pixel we can say exactly
whether some other frame within ``radius`` showed what lies behind it (the same layer, uncovered, outside that
frame's hole). The *reveal oracle* fills those pixels with the truth and the rest with per-frame Telea: what a
perfect propagation would give if it left what no frame saw to the spatial fill. If the oracle is not 3 dB over
Telea, no propagation is: the rest needs a better invention of what nobody saw.

    python benchmarks/reveal_bound.py --radius 12 --frames 24
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import harness
import numpy as np


def front_layer(clip: harness.ParallaxClip, t: int) -> np.ndarray:
    """Which layer (0 far, 1 hills, 2 posts) is in front at each pixel of frame ``t``."""
    layer = np.zeros((clip.height, clip.width), np.int8)
    layer[clip._layer(clip.mid_alpha, clip.speeds[1], t) > 0.5] = 1
    layer[clip._layer(clip.near_alpha, clip.speeds[2], t) > 0.5] = 2
    return layer


def seen_elsewhere(
    clip: harness.ParallaxClip, holes: harness.Holes, t: int, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hole pixels of frame ``t`` (rows, columns) and whether a frame within ``radius`` showed them."""
    hole = holes.mask(t)
    ys, xs = np.nonzero(hole)
    here = front_layer(clip, t)[ys, xs]
    seen = np.zeros(len(ys), bool)
    for other in range(max(0, t - radius), min(clip.count, t + radius + 1)):
        if other == t:
            continue
        layers, their_hole = front_layer(clip, other), holes.mask(other)
        for layer, speed in enumerate(clip.speeds):
            x = xs + speed * (t - other)  # where that frame shows the same texture column
            inside = (here == layer) & (x >= 0) & (x < clip.width)
            x = np.clip(x, 0, clip.width - 1)
            seen |= inside & ~their_hole[ys, x] & (layers[ys, x] == layer)
    return ys, xs, seen


class RevealOracle:
    """Per-frame Telea, with the truth pasted wherever another frame within ``radius`` saw it."""

    def __init__(self, clip: harness.ParallaxClip, holes: harness.Holes, radius: int) -> None:
        self.clip, self.holes, self.radius = clip, holes, radius
        self.spatial = harness.make_backend("telea")
        self.seen_share: list[float] = []

    def fill(self, packets, reporter) -> Iterator[tuple[int, np.ndarray]]:
        for item in self.spatial.fill(packets, reporter):
            t, rgb = item[0], np.array(item[1], np.float32)
            ys, xs, seen = seen_elsewhere(self.clip, self.holes, t, self.radius)
            rgb[ys[seen], xs[seen]] = self.clip.frame(t)[ys[seen], xs[seen]]
            self.seen_share.append(float(seen.mean()) if len(seen) else float("nan"))
            yield t, rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--radius", type=int, default=12, help="frames either side a pixel may come from")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    clip = harness.ParallaxClip(width, height, args.frames)
    holes = harness.static_square(width, height)
    oracle = RevealOracle(clip, holes, args.radius)
    result = harness.score_case(
        clip, holes, {"telea": harness.make_backend("telea"), "reveal oracle": oracle}
    )
    telea = result.runs["telea"].summary["psnr_hole"]
    bound = result.runs["reveal oracle"].summary["psnr_hole"]
    print(
        f"{clip.name} static square, radius {args.radius}: seen by another frame {np.mean(oracle.seen_share):.0%} of the hole"
    )
    print(f"telea {telea:.2f} dB, reveal oracle {bound:.2f} dB ({bound - telea:+.2f} dB)")


if __name__ == "__main__":
    main()
