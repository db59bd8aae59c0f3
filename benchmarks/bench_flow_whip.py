"""The engine on the cached Cycles whips (issue #10 item 4): hole PSNR against per-frame Telea, frames more than
1 dB below it, in-hole E_warp against the clean clip's, routes, CPU time; per frame with ``--frames``.

``--flow-error`` prints, per frame pair, how far the completed flow inside the holes is from that oracle (median
and 90th percentile, working px; forward flow in A's hole, backward in B's), so a change to the completion can be
judged before the engine runs (the quality measure takes minutes; this takes seconds).

``--oracle`` replaces the completed flow inside the holes with DIS run on the clean (truth) frames, which see
what is behind the holes: an upper bound of what better flow completion could buy on these clips (no real shot
has it). docs/method.md ("Fast whips") has the numbers.

``--extent MOTION`` is an oracle for the *extent* of the objects in the hole only: where the clean frames show
an object (the same test as ``--anatomy``'s) inside the holes, the flow is replaced, per connected object piece,
by MOTION; the ground keeps the engine's completion. MOTION: ``truth`` (the clean frames' flow there),
``best`` (one translation per piece, the median of that flow over its part in the hole: the best a translation
per piece can do), ``near`` (the median of the clean flow of its pixels within ``NEAR_PX`` outside the hole),
``measured`` (the median of the engine's own flow over its pixels in the ``NEAR_PX`` beyond the replaced fringe)
or ``matched`` (the translation that best matches its pixels within ``NEAR_PX`` outside the hole from one
holed frame to the other: no clean frame read but for the extent). It says what the mover's extent is worth
with each way of knowing its motion.

``--anatomy`` runs the engine with and without the oracle and splits the scored hole pixels into *object*
pixels (the clean frames' flow more than ``OBJECT_PX`` from the frame's median motion: the tracked car and
walker, the ball) and *ground*: per class the share found by propagation, the propagated share of the fill
(``kept``) and the ring check's spatial share, hole PSNR of the fill, of the propagated value where found, and
of Telea; and what the fill would score with every object pixel wholly on the fallback route (an occupancy
oracle: knowing where the object stands, without its motion). It says how the oracle wins.

    PYTHONPATH=src python benchmarks/bench_flow_whip.py [--clips whip,whip960] [--holes static,nine,blob] [--oracle]
    PYTHONPATH=src python benchmarks/bench_flow_whip.py --flow-error [--clips whip] [--holes static]
    PYTHONPATH=src python benchmarks/bench_flow_whip.py --anatomy [--clips whip] [--holes nine]
    PYTHONPATH=src python benchmarks/bench_flow_whip.py --extent matched [--clips whip] [--holes blob]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from aifx_core.flow import DISFlow, complete_flows_scored, flow_gray  # noqa: E402
from aifx_core.flow.estimator import working_size  # noqa: E402
from aifx_core.inpaint import FillBackend  # noqa: E402
from aifx_core.progress import Reporter  # noqa: E402
from aifx_core.propagate import engine, pairs  # noqa: E402
from aifx_core.propagate.chain import box_fit  # noqa: E402
from aifx_core.propagate.pair_flow import PairFlow  # noqa: E402

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

    def pair_flow(
        self: pairs.Pairs, pair: int, a: pairs._Frame, b: pairs._Frame, *rest: Any, **named: Any
    ) -> PairFlow:
        done = plain(self, pair, a, b, *rest, **named)  # (rest: the DIS thread's flows, when it made them)
        clean_a, _ = flow_gray(clip.frame(pair), None, self.work)
        clean_b, _ = flow_gray(clip.frame(pair + 1), None, self.work)
        region = a.small_hole | b.small_hole
        forward, backward = done.forward.copy(), done.backward.copy()
        forward[region] = estimator.estimate(clean_a, clean_b)[region]
        backward[region] = estimator.estimate(clean_b, clean_a)[region]
        zero = None if done.fits is None or fits else (box_fit(np.zeros(region.shape, np.float32)),) * 2
        return dataclasses.replace(done, forward=forward, backward=backward, fits=zero or done.fits)

    pairs.Pairs._pair_flow = pair_flow  # type: ignore[method-assign]
    try:
        yield
    finally:
        pairs.Pairs._pair_flow = plain  # type: ignore[method-assign]


#: ``--extent``: how far outside the hole an object piece's pixels tell its motion (px), and where the engine's
#: own flow is read for ``measured`` (beyond the fringe the completion replaces: 18 px on these whips).
NEAR_PX = 15.0
FRINGE_PX = 20.0
EXTENT_MOTIONS = ("truth", "best", "near", "measured", "matched")


@contextlib.contextmanager
def extent_oracle(clip: harness.RenderedClip, holes: harness.Holes, motion: str) -> Iterator[None]:
    """While open, the flow inside the holes is MOTION (see the module docstring) where the clean frames show an
    object, the engine's completion elsewhere; the fit maps are the engine's. Put back on exit."""
    import cv2

    if motion not in EXTENT_MOTIONS:
        raise ValueError(f"--extent takes one of {', '.join(EXTENT_MOTIONS)}, not {motion!r}")
    plain = pairs.Pairs._pair_flow
    estimator = DISFlow()

    def pair_flow(
        self: pairs.Pairs, pair: int, a: pairs._Frame, b: pairs._Frame, *rest: Any, **named: Any
    ) -> PairFlow:
        done = plain(self, pair, a, b, *rest, **named)
        clean = [flow_gray(clip.frame(pair + k), None, self.work)[0] for k in (0, 1)]
        holed = [flow_gray(clip.frame(pair + k), holes.mask(pair + k), self.work) for k in (0, 1)]
        region = a.small_hole | b.small_hole
        outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5)
        flows = []
        for k, own in ((0, done.forward), (1, done.backward)):
            truth = estimator.estimate(clean[k], clean[1 - k])
            median = np.median(truth.reshape(-1, 2), axis=0)
            moving = np.hypot(*(truth - median).transpose(2, 0, 1)) > OBJECT_PX
            flow = own.copy()
            count, pieces = cv2.connectedComponents(moving.astype(np.uint8), connectivity=8)
            for piece in range(1, count):
                mine = pieces == piece
                inside = mine & region
                if inside.sum() < 4:
                    continue
                near = mine & (outside > 0) & (outside <= NEAR_PX)
                beyond = mine & (outside > FRINGE_PX) & (outside <= FRINGE_PX + NEAR_PX)
                if motion == "measured" and beyond.sum() >= 20:
                    flow[inside] = np.median(own[beyond], axis=0)
                elif motion in ("near", "matched") and near.sum() >= 20:
                    flow[inside] = (
                        np.median(truth[near], axis=0)
                        if motion == "near"
                        else matched_translation(holed[k], holed[1 - k], near)
                    )
                elif motion == "truth":
                    flow[inside] = truth[inside]
                else:  # best, or too little of the piece outside to tell: the best translation
                    flow[inside] = np.median(truth[inside], axis=0)
            flows.append(flow)
        return dataclasses.replace(done, forward=flows[0], backward=flows[1])

    pairs.Pairs._pair_flow = pair_flow  # type: ignore[method-assign]
    try:
        yield
    finally:
        pairs.Pairs._pair_flow = plain  # type: ignore[method-assign]


def matched_translation(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], pixels: np.ndarray, reach: int = 60
) -> np.ndarray:
    """The whole-pixel (dx, dy) within ``reach`` across and 12 up or down that best matches ``pixels`` of grey
    image a (mean absolute difference) in grey image b, never reading b's hole: (grey, hole) each."""
    ys, xs = np.nonzero(pixels)
    if len(ys) > 600:
        pick = np.linspace(0, len(ys) - 1, 600).astype(int)
        ys, xs = ys[pick], xs[pick]
    grey_a, grey_b = a[0].astype(np.float32), b[0].astype(np.float32)
    height, width = grey_b.shape
    values = grey_a[ys, xs]
    best, found = np.inf, np.zeros(2, np.float32)
    for dy in range(-12, 13):
        for dx in range(-reach, reach + 1):
            ty, tx = ys + dy, xs + dx
            ok = (ty >= 0) & (ty < height) & (tx >= 0) & (tx < width)
            ok[ok] &= ~b[1][ty[ok], tx[ok]]
            if ok.sum() < len(ys) / 2:
                continue
            cost = float(np.mean(np.abs(values[ok] - grey_b[ty[ok], tx[ok]])))
            if cost < best:
                best, found = cost, np.array((dx, dy), np.float32)
    return found


def flow_error(clip: harness.RenderedClip, holes: harness.Holes) -> list[tuple[float, float, float, float]]:
    """Per frame pair: (median, p90) of |completed - oracle| in A's hole for the forward flow, then the same in
    B's hole for the backward flow (working px). The completion is called with the arguments
    ``pair_flow.pair_flow`` gives it (the flow grey with its pre-filled hole, both frames' holes, the images); the
    oracle is DIS on the clean frames, which see behind the holes."""
    estimator = DISFlow()
    work = working_size(clip.height, clip.width, 960)
    out = []
    for pair in range(clip.count - 1):
        a_gray, a_hole = flow_gray(clip.frame(pair), holes.mask(pair), work)
        b_gray, b_hole = flow_gray(clip.frame(pair + 1), holes.mask(pair + 1), work)
        forward, backward, _, _ = complete_flows_scored(
            [estimator.estimate(a_gray, b_gray), estimator.estimate(b_gray, a_gray)],
            a_hole | b_hole,
            images=(a_gray, b_gray),
            holes=(a_hole, b_hole),
        )
        clean_a, _ = flow_gray(clip.frame(pair), None, work)
        clean_b, _ = flow_gray(clip.frame(pair + 1), None, work)
        row = []
        for done, truth, hole in (
            (forward, estimator.estimate(clean_a, clean_b), a_hole),
            (backward, estimator.estimate(clean_b, clean_a), b_hole),
        ):
            error = np.hypot(*(done - truth)[hole].T) if hole.any() else np.zeros(1)
            row += [float(np.median(error)), float(np.percentile(error, 90))]
        out.append((row[0], row[1], row[2], row[3]))
    return out


#: Clean-frame motion (px/frame) this far from the frame's median marks an *object* pixel for ``--anatomy``.
OBJECT_PX = 6.0


@contextlib.contextmanager
def recorded(store: dict[int, dict[str, np.ndarray]]) -> Iterator[None]:
    """While open, every frame the engine outputs leaves in ``store[position]`` its hole pixels (``ys``,
    ``xs``), whether propagation found them, the propagated value (seam offset added), the propagated share of
    the fill (``kept``), the ring check's share, the propagated value's confidence, the fill before steadying
    and the output. Put back on exit."""
    plain = engine._Run.result

    def result(self: engine._Run, t: int) -> tuple[np.ndarray, np.ndarray]:
        out = plain(self, t)
        part, prop = self.route.parts[t], self.props[t]
        store[t] = {
            "ys": prop.ys,
            "xs": prop.xs,
            "found": prop.found.copy(),
            "base": prop.values + prop.offset,
            "kept": part.kept,
            "share": part.share,
            "confidence": prop.confidence,
            "unsteady": part.values,
            "final": out[0][prop.ys, prop.xs],
        }
        return out

    engine._Run.result = result  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine._Run.result = plain  # type: ignore[method-assign]


def object_pixels(clip: harness.RenderedClip, t: int) -> np.ndarray:
    """Frame t's pixels whose clean-frame motion (DIS, to the next frame; from the previous one on the last)
    is more than ``OBJECT_PX`` from the frame's median: what moves unlike the camera (tracked objects, the ball,
    a near layer)."""
    import cv2

    estimator = DISFlow()
    work = working_size(clip.height, clip.width, 960)
    other = t + 1 if t + 1 < clip.count else t - 1
    a, _ = flow_gray(clip.frame(t), None, work)
    b, _ = flow_gray(clip.frame(other), None, work)
    flow = estimator.estimate(a, b)
    if flow.shape[:2] != (clip.height, clip.width):
        flow = cv2.resize(flow, (clip.width, clip.height)) * (clip.width / flow.shape[1])
    median = np.median(flow.reshape(-1, 2), axis=0)
    return np.hypot(*(flow - median).transpose(2, 0, 1)) > OBJECT_PX


def anatomy(clip: harness.RenderedClip, holes: harness.Holes, baseline: FillBackend) -> list[str]:
    """``--anatomy``'s lines for one case (see the module docstring)."""
    runs: dict[str, dict[int, dict[str, np.ndarray]]] = {"default": {}, "oracle": {}}
    for name, store in runs.items():
        flows = oracle(clip) if name == "oracle" else contextlib.nullcontext()
        with flows, recorded(store):
            for _ in harness.make_backend("propagate").fill(harness.packets(clip, holes), Reporter()):
                pass
    telea = {t: rgb for t, rgb, *_ in baseline.fill(harness.packets(clip, holes), Reporter())}
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for t in range(clip.count):
        truth = np.clip(clip.frame(t), 0.0, 1.0)
        scored, moving = harness.scored(clip, holes, t), object_pixels(clip, t)
        for name, store in runs.items():
            rec = store[t]
            ys, xs = rec["ys"], rec["xs"]
            inside, real = scored[ys, xs], truth[ys, xs]

            def error(values: np.ndarray, real: np.ndarray = real) -> np.ndarray:
                return ((np.clip(values, 0.0, 1.0) - real) ** 2).mean(axis=1)

            kept = rec["kept"][:, None]
            # The fill with the propagated share taken out: what the fallback route alone gave (before steadying).
            fallback = np.where(
                kept < 0.99,
                (rec["unsteady"] - kept * rec["base"]) / np.maximum(1.0 - kept, 1e-3),
                rec["unsteady"],
            )
            for cls, member in (("object", inside & moving[ys, xs]), ("ground", inside & ~moving[ys, xs])):
                found = member & rec["found"]
                row = sums.setdefault(
                    (cls, name),
                    dict.fromkeys(
                        ("n", "found", "kept", "share", "fill", "base", "telea", "unsteady", "fallback"), 0.0
                    ),
                )
                row["n"] += member.sum()
                row["found"] += found.sum()
                row["kept"] += rec["kept"][member].sum()
                row["share"] += rec["share"][member].sum()
                row["fill"] += error(rec["final"])[member].sum()
                row["base"] += error(rec["base"])[found].sum()
                row["telea"] += error(telea[t][ys, xs])[member].sum()
                row["unsteady"] += error(rec["unsteady"])[member].sum()
                row["fallback"] += error(fallback)[member].sum()

    def db(total: float, count: float) -> float:
        return 10.0 * np.log10(count / max(total, 1e-12)) if count else float("nan")

    everything = sum(row["n"] for row in sums.values()) / 2
    lines = []
    for (cls, name), row in sums.items():
        n = row["n"]
        lines.append(
            f"  {cls:6s} {name:7s} {n / everything:4.0%} of the hole: found {row['found'] / max(n, 1):.2f}, kept "
            f"{row['kept'] / max(n, 1):.2f}, spatial share {row['share'] / max(n, 1):.2f} | fill {db(row['fill'], n):.2f} dB, "
            f"propagated where found {db(row['base'], row['found']):.2f}, Telea {db(row['telea'], n):.2f} | before "
            f"steadying {db(row['unsteady'], n):.2f}, fallback route alone {db(row['fallback'], n):.2f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default="whip,whip960")
    parser.add_argument("--holes", default="static,nine,blob")
    parser.add_argument("--oracle", action="store_true")
    parser.add_argument("--oracle-fits", action="store_true", help="the oracle keeps the engine's fit maps")
    parser.add_argument("--frames", action="store_true", help="print the per-frame difference to Telea")
    parser.add_argument(
        "--flow-error",
        action="store_true",
        help="per-pair in-hole flow error against the oracle (no engine run)",
    )
    parser.add_argument(
        "--anatomy",
        action="store_true",
        help="object vs ground pixels in the hole, default vs oracle: routes and PSNR per class",
    )
    parser.add_argument(
        "--extent",
        choices=EXTENT_MOTIONS,
        help="oracle for the objects' extent in the hole only, with this motion there",
    )
    args = parser.parse_args()
    if args.extent:
        baseline, _ = harness.baseline_backend()
        for name in args.clips.split(","):
            clip = harness.RenderedClip(harness.CLIPS / name)
            for hole_name in args.holes.split(","):
                with extent_oracle(clip, holes_for(hole_name, clip), args.extent):
                    run_clip(name, clip, [hole_name], baseline, args.frames)
        return
    if args.anatomy:
        baseline, _ = harness.baseline_backend()
        for name in args.clips.split(","):
            clip = harness.RenderedClip(harness.CLIPS / name)
            for hole_name in args.holes.split(","):
                print(f"{name}/{hole_name}:")
                print("\n".join(anatomy(clip, holes_for(hole_name, clip), baseline)))
        return
    if args.flow_error:
        for name in args.clips.split(","):
            clip = harness.RenderedClip(harness.CLIPS / name)
            for hole_name in args.holes.split(","):
                rows = np.array(flow_error(clip, holes_for(hole_name, clip)))
                print(f"{name}/{hole_name}: in-hole flow error vs the oracle, working px (mean over pairs)")
                for k, label in enumerate(
                    ("forward median", "forward p90", "backward median", "backward p90")
                ):
                    values = " ".join(f"{v:.1f}" for v in rows[:, k])
                    print(f"  {label:16s} {rows[:, k].mean():5.2f} | {values}")
        return
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
