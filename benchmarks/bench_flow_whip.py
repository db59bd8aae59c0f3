"""The engine on the cached Cycles whips (issue #10 item 4): hole PSNR against per-frame Telea, frames more than
1 dB below it, in-hole E_warp against the clean clip's, routes, CPU time; per frame with ``--frames``.

``--oracle`` replaces the completed flow inside the holes with DIS run on the clean (truth) frames, which see
what is behind the holes: an upper bound of what better flow completion could buy on these clips (no real shot
has it). docs/method.md ("Fast whips") has the numbers.

    PYTHONPATH=src python benchmarks/bench_flow_whip.py [--clips whip,whip960] [--holes static,nine,blob] [--oracle]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from aifx_core.flow import DISFlow, flow_gray  # noqa: E402
from aifx_core.inpaint import FillBackend  # noqa: E402
from aifx_core.propagate import pairs  # noqa: E402

HOLES = {"static": harness.static_square, "nine": harness.square_grid}


def holes_for(name: str, clip: harness.RenderedClip) -> harness.Holes:
    if name == "blob":
        return harness.moving_blob(clip.width, clip.height, clip.count)
    return HOLES[name](clip.width, clip.height)


@contextlib.contextmanager
def oracle(clip: harness.RenderedClip, fits: bool = False) -> Iterator[None]:
    """While open, the engine takes DIS on the clean frames as the flow inside the holes (trusted fully unless
    ``fits``: then the engine's own fit maps are kept). The engine's own pair flow is put back on exit, error
    or not: left in place, the next clip's oracle would wrap this clip's (the wrong frames, the wrong size),
    and anything run later in the process would score an oracle it did not ask for."""
    plain = pairs.Pairs._pair_flow
    estimator = DISFlow()

    def pair_flow(self: pairs.Pairs, pair: int, a: pairs._Frame, b: pairs._Frame) -> pairs._PairFlow:
        done = plain(self, pair, a, b)
        clean_a, _ = flow_gray(clip.frame(pair), None, self.work)
        clean_b, _ = flow_gray(clip.frame(pair + 1), None, self.work)
        region = a.small_hole | b.small_hole
        forward, backward = done.forward.copy(), done.backward.copy()
        forward[region] = estimator.estimate(clean_a, clean_b)[region]
        backward[region] = estimator.estimate(clean_b, clean_a)[region]
        zero = None if done.fits is None or fits else (np.zeros(region.shape, np.float32),) * 2
        return dataclasses.replace(done, forward=forward, backward=backward, fits=zero or done.fits)

    pairs.Pairs._pair_flow = pair_flow  # type: ignore[method-assign]
    try:
        yield
    finally:
        pairs.Pairs._pair_flow = plain  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default="whip,whip960")
    parser.add_argument("--holes", default="static,nine,blob")
    parser.add_argument("--oracle", action="store_true")
    parser.add_argument("--oracle-fits", action="store_true", help="the oracle keeps the engine's fit maps")
    parser.add_argument("--frames", action="store_true", help="print the per-frame difference to Telea")
    args = parser.parse_args()
    baseline, _ = harness.baseline_backend()
    for name in args.clips.split(","):
        clip = harness.RenderedClip(harness.CLIPS / name)
        flows = (
            oracle(clip, args.oracle_fits) if args.oracle or args.oracle_fits else contextlib.nullcontext()
        )
        with flows:
            run_clip(name, clip, args.holes.split(","), baseline, args.frames)


def run_clip(
    name: str, clip: harness.RenderedClip, holes: list[str], baseline: FillBackend, frames: bool
) -> None:
    """Score the engine against Telea on each of ``holes`` of ``clip`` and print one line per case."""
    for hole_name in holes:
        start = time.process_time()
        result = harness.score_case(
            clip,
            holes_for(hole_name, clip),
            {"telea": baseline, "propagate": harness.make_backend("propagate")},
        )
        telea, prop = result.runs["telea"], result.runs["propagate"]
        ours, theirs = np.array(prop.per_frame["psnr_hole"]), np.array(telea.per_frame["psnr_hole"])
        print(
            f"{name}/{hole_name}: telea {telea.summary['psnr_hole']:.2f} dB, propagate "
            f"{prop.summary['psnr_hole']:.2f} dB, frames < telea-1dB {int((ours < theirs - 1).sum())}/"
            f"{len(ours)}, E_warp hole {prop.summary['ewarp_hole']:.2e} (clean "
            f"{result.clean.summary['ewarp_hole']:.2e}), routes {prop.stats}, "
            f"CPU {time.process_time() - start:.1f} s (both backends)"
        )
        if frames:
            print("  propagate - telea per frame:", " ".join(f"{d:+.1f}" for d in ours - theirs))


if __name__ == "__main__":
    main()
