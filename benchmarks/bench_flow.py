"""Flow on hard synthetic clips whose motion is known: endpoint error (EPE) of the estimated flow, of the
completed flow inside the holes, moving-object detection, and time per frame pair.

    PYTHONPATH=src python benchmarks/bench_flow.py [--case fast|nine|ball|ball1080] [--pairs N] [--estimator ...]

Not a test (timings): numbers go to docs/method.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hard_clips  # noqa: E402

from aifx_core.flow import DISFlow, complete_flows_scored, flow_gray, moving_objects, working_size  # noqa: E402
from aifx_core.flow.estimator import upscale_flow  # noqa: E402

CASES = {
    "fast": lambda: hard_clips.fast_pan(count=13),
    "nine": lambda: hard_clips.fast_pan(count=13, nine=True),
    "ball": lambda: hard_clips.large_ball(960, 540, count=9),
    "ball1080": lambda: hard_clips.large_ball(1920, 1080, count=7),
}


def _epe(flow: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float:
    if not where.any():
        return float("nan")
    return float(np.hypot(*(flow[where] - truth[where]).T).mean())


def run(
    case: str,
    pairs: int,
    estimator: DISFlow,
    max_side: int = 960,
    profile: bool = False,
    images: bool = True,
) -> dict[str, float]:
    clip = CASES[case]()
    size = working_size(clip.height, clip.width, max_side)
    scale = size[1] / clip.width
    frames = [clip.frame(t) for t in range(pairs + 1)]
    grays = [flow_gray(frames[t], clip.hole(t), size, "sRGB") for t in range(pairs + 1)]
    rows = []
    estimate_s = complete_s = 0.0
    profiler = cProfile.Profile() if profile else None
    for t in range(pairs):
        (ga, ha), (gb, hb) = grays[t], grays[t + 1]
        union = ha | hb
        start = time.perf_counter()
        forward = estimator.estimate(ga, gb)
        backward = estimator.estimate(gb, ga)
        middle = time.perf_counter()
        if profiler:
            profiler.enable()
        fwd_c, _bwd_c, fit_f, _fit_b = complete_flows_scored(
            [forward, backward], union, images=(ga, gb) if images else None
        )
        movers = moving_objects(forward, backward, union, images=(ga, gb) if images else None)
        if profiler:
            profiler.disable()
        end = time.perf_counter()
        estimate_s += middle - start
        complete_s += end - middle
        truth = clip.flow(t)  # full resolution
        raw_full = upscale_flow(forward, (clip.height, clip.width))
        done_full = upscale_flow(fwd_c, (clip.height, clip.width))
        full_hole = upscale_flow(
            np.repeat(union[..., None], 2, -1).astype(np.float32), (clip.height, clip.width)
        )
        in_hole = full_hole[..., 0] > 0.5
        crosser = clip.crosser_mask(t, grow=3) | clip.crosser_mask(t + 1, grow=3)
        ring = ~in_hole & ~crosser
        margin = 40
        ring[:margin] = ring[-margin:] = False
        ring[:, :margin] = ring[:, -margin:] = False
        background = clip.background_flow(t)
        row = {
            "epe_outside": _epe(raw_full, truth, ring),
            "epe_hole_completed": _epe(done_full, background, in_hole & ~crosser),
            "fit_mean_px": float(fit_f[union].mean()) / scale if union.any() else float("nan"),
        }
        truth_movers = clip.crosser_mask(t) | clip.crosser_mask(t + 1)
        if truth_movers.any():
            small_truth = np.asarray(
                upscale_flow(np.repeat(truth_movers[..., None], 2, -1).astype(np.float32), size)[..., 0] > 0.5
            )
            small_truth &= ~union
            if small_truth.sum() > 50:
                row["mover_recall"] = float((movers & small_truth).sum() / small_truth.sum())
                row["mover_precision"] = float((movers & small_truth).sum() / max(1, movers.sum()))
                # Marked pixels that are not the object: is the flow there wrong anyway (DIS's smear)?
                small_flow_truth = upscale_flow(truth, size) if scale != 1 else truth
                wrong = np.hypot(*np.moveaxis(forward - small_flow_truth, -1, 0)) > 3.0
                others = moving_objects(
                    forward, backward, union, side="a", images=(ga, gb) if images else None
                )
                others &= ~small_truth
                if others.any():
                    row["marked_others_flow_wrong"] = float((others & wrong).sum() / others.sum())
        rows.append(row)
    keys = dict.fromkeys(key for row in rows for key in row)
    out = {key: float(np.nanmean([r.get(key, np.nan) for r in rows])) for key in keys}
    out["estimate_ms_per_pair"] = 1000 * estimate_s / pairs
    out["complete_ms_per_pair"] = 1000 * complete_s / pairs
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", default="fast", choices=sorted(CASES))
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--plain", action="store_true", help="DIS alone, no global pre-alignment")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--flow-only", action="store_true", help="moving objects from the flow alone")
    args = parser.parse_args()
    estimator = DISFlow(args.preset, prealign=not args.plain)
    result = run(args.case, args.pairs, estimator, profile=args.profile, images=not args.flow_only)
    print(args.case, "plain" if args.plain else "prealigned", {k: round(v, 3) for k, v in result.items()})


if __name__ == "__main__":
    main()
