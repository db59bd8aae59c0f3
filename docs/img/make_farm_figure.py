"""Regenerates ``docs/img/farm_chunks.png``: how a shot splits into exact chunks and what each one reads.

Run from the repository root: ``python docs/img/make_farm_figure.py``. A 100-frame shot (1001-1100) in chunks of
25: each chunk writes its own frames (solid) and reads the context around them (light: the temporal engine's
reach with its default options, read from ``PropagateBackend.reach``, clipped at the shot's ends); every chunk reads the same anchors (keyframe fills
made once for the whole shot, one per keyframe block) instead of choosing its own.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

OUT = Path(__file__).resolve().parent / "farm_chunks.png"
FIRST, LAST, CHUNK, BLOCK = 1001, 1100, 25, 4


def _default_reach() -> tuple[int, int]:
    """The temporal engine's reach with its default options, from the engine itself (never a copied number)."""
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext

    return create_backend("propagate", BackendContext()).reach


BEHIND, AHEAD = _default_reach()
#: Keyframes the anchors stage chose (one per block at most, where no neighbour saw the background).
KEYFRAMES = [1003, 1010, 1022, 1031, 1046, 1058, 1063, 1079, 1086, 1097]


def main() -> None:
    chunks = [(a, min(a + CHUNK - 1, LAST)) for a in range(FIRST, LAST + 1, CHUNK)]
    fig, ax = plt.subplots(figsize=(11, 3.6), dpi=130)
    colours = ["#3b7dd8", "#e0822d", "#3aa35b", "#b04fc4"]
    rows = len(chunks)
    # The anchors row: made once, read by every chunk.
    y_anchor = rows + 0.6
    ax.add_patch(Rectangle((FIRST - 0.5, y_anchor - 0.3), LAST - FIRST + 1, 0.6, color="#dddddd"))
    for block in range(FIRST, LAST + 1, BLOCK):
        ax.plot([block - 0.5, block - 0.5], [y_anchor - 0.3, y_anchor + 0.3], color="white", lw=0.8)
    ax.scatter(KEYFRAMES, [y_anchor] * len(KEYFRAMES), marker="D", s=28, color="black", zorder=3)
    ax.text(FIRST - 2, y_anchor, "anchors (once)", ha="right", va="center", fontsize=9)
    for row, ((a, b), colour) in enumerate(zip(chunks, colours, strict=True)):
        y = rows - 1 - row
        lo, hi = max(FIRST, a - BEHIND), min(LAST, b + AHEAD)
        ax.add_patch(Rectangle((lo - 0.5, y - 0.3), hi - lo + 1, 0.6, color=colour, alpha=0.25, lw=0))
        ax.add_patch(Rectangle((a - 0.5, y - 0.3), b - a + 1, 0.6, color=colour, lw=0))
        ax.text(FIRST - 2, y, f"--frames {a}-{b}", ha="right", va="center", fontsize=9, family="monospace")
        ax.text((a + b) / 2, y, "writes", ha="center", va="center", fontsize=8, color="white")
        for edge, side in ((lo, "left"), (hi, "right")):
            if (side == "left" and lo < a) or (side == "right" and hi > b):
                ax.text(
                    edge + (0.5 if side == "left" else -0.5),
                    y + 0.42,
                    f"+{a - lo if side == 'left' else hi - b}",
                    ha=side,
                    va="bottom",
                    fontsize=7,
                    color=colour,
                )
        for keyframe in KEYFRAMES:
            if lo <= keyframe <= hi:
                ax.plot([keyframe, keyframe], [y + 0.3, y_anchor - 0.3], color=colour, lw=0.5, alpha=0.35)
    ax.set_xlim(FIRST - 30, LAST + 2)
    ax.set_ylim(-0.7, y_anchor + 0.7)
    ax.set_yticks([])
    ax.set_xlabel("frame")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"Exact chunks: each writes its frames (solid), reads {BEHIND} frames of context before and {AHEAD} "
        "after (light) and the shot's anchors (diamonds)",
        fontsize=10,
    )
    fig.tight_layout()
    # the reach it was drawn with, for tests/test_doc_figures.py to compare with the engine's
    fig.savefig(OUT, metadata={"Description": f"reach {BEHIND} before, {AHEAD} after"})
    print(OUT)


if __name__ == "__main__":
    main()
