"""Where a case's in-hole flicker comes from (issue #10, docs/method.md section 4, "Flicker").

In-hole E_warp (``harness``: output t against output t+1 warped back by the clean clip's flow, over frame t's
scored hole) split by the route of the pixel at t: *sure* (wholly propagated, confidence >= 0.5), *lowconf*
(wholly propagated, confidence < 0.5), *blended*, *fallback* (the propagated share ~0, ring share < 0.5),
*ring* (the ring check's share >= 0.5: the frame's own spatial fill). Also *outside*: the part whose point
lands outside the hole at t+1 (the fill meets the next frame's plate there: a fill error more than a flicker);
*switch*: the part whose route at the landing point differs; *unsteadied*: E_warp of the fills before the
steadying. Each as a multiple of the clean clip's E_warp or a share of the output's; ``--pairs`` adds the
frame pairs.

    PYTHONPATH=src python benchmarks/flicker_routes.py --clips whip,whip960 [--holes "static square"] [--pairs]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from bench_flow_whip import recorded  # noqa: E402

from aifx_core.metrics import estimate_motion, warp_back  # noqa: E402
from aifx_core.progress import Reporter  # noqa: E402

ROUTES = ("sure", "lowconf", "blended", "fallback", "ring")


def routes(rec: dict[str, np.ndarray]) -> np.ndarray:
    """Each hole pixel's route, an index into :data:`ROUTES`."""
    kept, share = rec["kept"], rec["share"]
    out = np.full(len(kept), 2, np.int8)
    whole = kept >= 0.999
    out[whole & (rec["confidence"] >= 0.5)] = 0
    out[whole & (rec["confidence"] < 0.5)] = 1
    out[(kept <= 0.001) & (share < 0.5)] = 3
    out[share >= 0.5] = 4
    return out


def decompose(clip: harness.Clip, holes: harness.Holes) -> dict[str, object]:
    """The case's in-hole E_warp and its split (see the module docstring); ``pairs`` holds per pair the output's
    and the clean clip's E_warp. Needs truth (``holes.has_truth``)."""
    store: dict[int, dict[str, np.ndarray]] = {}
    sums = dict.fromkeys((*ROUTES, "outside", "switch"), 0.0)
    pairs: list[tuple[int, float, float, float]] = []
    previous = None
    with recorded(store):
        stream = harness.make_backend("propagate").fill(harness.packets(clip, holes), Reporter())
        for t, (_, rgb) in zip(range(clip.count), stream, strict=True):
            truth, hole = clip.frame(t), harness.scored(clip, holes, t)
            out = np.where(hole[..., None], np.clip(np.nan_to_num(rgb), 0.0, 1.0), truth).astype(np.float32)
            unsteady, route = out.copy(), np.full(hole.shape, -1, np.int8)
            rec = store.pop(t, None)
            if rec is not None and len(rec["ys"]):
                ys, xs = rec["ys"], rec["xs"]
                unsteady[ys, xs] = np.clip(np.nan_to_num(rec["unsteady"]), 0.0, 1.0)
                unsteady = np.where(hole[..., None], unsteady, truth)
                route[ys, xs] = routes(rec)
            current = (truth, hole, out, unsteady, route)
            if previous is not None:
                pairs.append(_pair(t - 1, previous, current, sums))
            previous = current
    measured = [p for p in pairs if not math.isnan(p[1])]
    total = float(np.mean([p[1] for p in measured])) if measured else math.nan
    clean = float(np.mean([p[3] for p in measured])) if measured else math.nan
    weight = sum(p[1] for p in measured)
    return {
        "ewarp": total / clean,
        "unsteadied": float(np.mean([p[2] for p in measured])) / clean,
        "shares": {k: v / weight for k, v in sums.items()} if weight else {},
        "pairs": [(t, e / c, u / c) for t, e, u, c in measured if c > 0],
    }


def _pair(
    t: int, before: tuple[np.ndarray, ...], after: tuple[np.ndarray, ...], sums: dict[str, float]
) -> tuple[int, float, float, float]:
    """(t, output E_warp, unsteadied E_warp, clean E_warp) of the pair (t, t + 1); adds the output's per-pixel
    errors, each pair's as a mean, to ``sums`` by route, landing outside and route switch."""
    truth0, hole0, out0, unsteady0, route0 = before
    truth1, hole1, out1, unsteady1, route1 = after
    motion = estimate_motion(truth0, truth1)
    inside = motion.valid & hole0
    n = int(inside.sum())
    if n == 0:
        return t, math.nan, math.nan, math.nan
    per_pixel = np.square(out0 - warp_back(out1, motion)).mean(axis=-1)
    height, width = hole0.shape
    gx, gy = np.meshgrid(np.arange(width), np.arange(height))
    tx = np.clip(np.rint(gx + motion.flow[..., 0]).astype(int), 0, width - 1)
    ty = np.clip(np.rint(gy + motion.flow[..., 1]).astype(int), 0, height - 1)
    lands_in = hole1[ty, tx]
    for index, name in enumerate(ROUTES):
        sums[name] += float(per_pixel[inside & (route0 == index)].sum()) / n
    sums["outside"] += float(per_pixel[inside & ~lands_in].sum()) / n
    sums["switch"] += float(per_pixel[inside & lands_in & (route1[ty, tx] != route0)].sum()) / n
    unsteady = np.square(unsteady0 - warp_back(unsteady1, motion)).mean(axis=-1)
    clean = np.square(truth0 - warp_back(truth1, motion)).mean(axis=-1)
    return t, float(per_pixel[inside].mean()), float(unsteady[inside].mean()), float(clean[inside].mean())


def main() -> None:
    import run_all

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", default="whip", help="comma-separated clip names (run_all's)")
    parser.add_argument(
        "--holes", default=None, help="only the cases with these holes (e.g. 'static square')"
    )
    parser.add_argument("--pairs", action="store_true", help="also each frame pair's E_warp")
    args = parser.parse_args()
    settings = run_all.Settings.full()
    settings.clips = tuple(args.clips.split(","))
    print("| case | E_warp | unsteadied | " + " | ".join((*ROUTES, "outside", "switch")) + " |")
    for clip, holes in run_all.quality_cases(settings):
        if not holes.has_truth or (args.holes and holes.name != args.holes):
            continue
        result = decompose(clip, holes)
        shares = result["shares"]
        assert isinstance(shares, dict)
        cells = " | ".join(f"{shares.get(k, math.nan):.2f}" for k in (*ROUTES, "outside", "switch"))
        print(
            f"| {clip.name} / {holes.name} | {result['ewarp']:.2f}x | {result['unsteadied']:.1f}x | {cells} |"
        )
        if args.pairs:
            print("   pairs (output / unsteadied x clean):", result["pairs"])


if __name__ == "__main__":
    main()
