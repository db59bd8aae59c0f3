"""Peak memory of a fill backend over N lazily generated frames, in a process of its own.

Run by ``run_all.py`` once per frame count; prints one JSON line with this process's peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so runs never see each other's peaks. Frames are rendered on
demand by :class:`harness.ParallaxClip` (no files), so what grows with N is only what the backend keeps.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="propagate")
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()

    clip = harness.ParallaxClip(args.width, args.height, args.frames)
    holes = harness.moving_blob(args.width, args.height, args.frames)
    if args.backend == "telea":
        backend, _ = harness.baseline_backend()
    else:
        backend = harness.make_backend(args.backend)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    start = time.perf_counter()
    count = 0
    for _frame, _rgb in backend.fill(harness.packets(clip, holes), Reporter()):
        count += 1
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "backend": args.backend,
                "frames": count,
                "width": args.width,
                "height": args.height,
                "peak_rss_mb": round(peak_mb, 1),
                "rss_before_fill_mb": round(baseline_mb, 1),
                "seconds": round(seconds, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
