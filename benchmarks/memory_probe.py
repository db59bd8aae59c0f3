"""Peak memory of a fill backend over N lazily generated frames, in a process of its own.

Run by ``run_all.py`` once per frame count; prints a JSON line with this process's peak RSS every ``--every``
frames (with ``"of"``: the frames asked for) and one at the end. On Linux that
is ``VmHWM`` from ``/proc/self/status``, the high-water mark of this process image: ``ru_maxrss`` is not used
there because Linux carries it over ``fork``/``exec``, so a child started by a big parent would report the
parent's size. Frames are rendered on demand by :class:`harness.ParallaxClip` (no files), so what grows with N
is only what the backend keeps. The holes are the benchmark's moving blob, or with ``--holes nine-squares`` nine
static squares spread over the frame (whatever the engine keeps as a box around a frame's hole is then most of
the frame).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from aifx_core.progress import Reporter  # noqa: E402
from aifx_core.workers import helper  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident memory of this process image in MiB (VmHWM on Linux, ``ru_maxrss`` elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="propagate")
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--every", type=int, default=25, help="print the peak so far every N frames")
    parser.add_argument(
        "--holes",
        choices=("moving-blob", "nine-squares"),
        default="moving-blob",
        help="one moving hole (the benchmark's) or nine static squares spread over the frame",
    )
    args = parser.parse_args()

    clip = harness.ParallaxClip(args.width, args.height, args.frames)
    holes = (
        harness.square_grid(args.width, args.height)
        if args.holes == "nine-squares"
        else harness.moving_blob(args.width, args.height, args.frames)
    )
    if args.backend == "telea":
        backend, _ = harness.baseline_backend()
    else:
        backend = harness.make_backend(args.backend)
    baseline_mb = peak_rss_mb()
    start = time.perf_counter()

    def report(count: int, done: bool) -> None:
        # One JSON line per report, flushed: a run stopped early (time limit) still says how far it got.
        line = {
            "backend": args.backend,
            "frames": count,
            "width": args.width,
            "height": args.height,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            # The flow worker's helper process (aifx_core.workers.Helper) holds memory of its own.
            "helper_peak_rss_mb": round(helper().usage()[1], 1),
            "rss_before_fill_mb": round(baseline_mb, 1),
            "seconds": round(time.perf_counter() - start, 2),
        }
        if not done:
            line["of"] = args.frames
        print(json.dumps(line), flush=True)

    count = 0
    for _item in backend.fill(harness.packets(clip, holes), Reporter()):
        count += 1
        if count % args.every == 0 and count < args.frames:
            report(count, done=False)
    report(count, done=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
