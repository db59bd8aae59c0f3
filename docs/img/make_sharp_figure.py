"""Regenerates ``docs/img/sharp_read.png``: a square over the tennis clip's banner text, filled with its colours read
bilinear and read sharp where the chains are sure (``propagate/candidates.py``'s ``SHARP_PX``).

Run from the repository root: ``.venv/bin/python docs/img/make_sharp_figure.py [frames [out.png]]`` (frames:
comma-separated, default ``20,40``). A square a sixth of the frame high over the banner's lettering (which the
camera's pan and zoom carry past it; the player stays below it) is filled twice by the default engine: once with
every colour read bilinear (``candidates.SHARP_PX = 0``) and once as shipped. Each row shows one frame, a crop
around the square enlarged 3x: the truth, the bilinear reads, the sharp reads, and each fill's error
(|fill - truth|, brightened :data:`GAIN` times; outside the square the output is the plate). A bilinear read
between pixels is a local average, so a fill fetched from other frames at sub-pixel positions comes out softer
than the plate around it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from make_direction_figure import filled, load, sheet

from aifx_core.propagate import candidates

OUT = Path(__file__).resolve().parent / "sharp_read.png"
#: The square's top-left corner as shares of the frame: on the banner's lettering.
CORNER = (0.45, 0.08)
#: How much the error tiles are brightened.
GAIN = 4


def main(shown: list[int], out: Path = OUT) -> None:
    frames, square = load(max(shown), CORNER)
    soft = filled(frames, square, candidates, "SHARP_PX", 0.0)
    sharp = filled(frames, square, candidates, "SHARP_PX", candidates.SHARP_PX)
    rows = [
        [
            (f"truth, frame {t}", frames[t]),
            ("bilinear reads", soft[t]),
            ("sharp reads", sharp[t]),
            (f"bilinear error x{GAIN}", GAIN * np.abs(soft[t] - frames[t])),
            (f"sharp error x{GAIN}", GAIN * np.abs(sharp[t] - frames[t])),
        ]
        for t in shown
    ]
    sheet(rows, square, out)
    for t in shown:
        errors = [float(np.mean((run[t] - frames[t])[square] ** 2)) for run in (soft, sharp)]
        print(f"frame {t}: squared error in the square, bilinear {errors[0]:.6f}, sharp {errors[1]:.6f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(
        [int(f) for f in sys.argv[1].split(",")] if len(sys.argv) > 1 else [20, 40],
        Path(sys.argv[2]) if len(sys.argv) > 2 else OUT,
    )
