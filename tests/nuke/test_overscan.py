"""A plate with overscan (an EXR data window larger than its display window) keeps it through AIFill."""

from __future__ import annotations

import nuke
import numpy as np
from aifx_nuke import nodes
from conftest import write_exr


def test_the_plates_overscan_comes_through_unfilled(comp):
    """Nuke's EXR writer writes the input's bbox: the Source is written whole, the core fills the frame and
    carries the overscan through bit for bit, so the node's output has the plate's bbox and format."""
    rng = np.random.default_rng(3)
    for frame in range(1001, 1004):
        path = comp["plate"].replace("####", str(frame))
        frame_rgb = nuke._read(path)
        planes = {}
        for exr, name in zip("RGB", ("red", "green", "blue"), strict=True):
            wide = rng.uniform(0.1, 0.9, (54 + 16, 96 + 16)).astype(np.float32)  # 8 px of overscan all round
            wide[8:-8, 8:-8] = frame_rgb[f"rgba.{name}"]
            planes[exr] = wide
        write_exr(path, planes, size=(96, 54), box=(-8, -8))
    fill = comp["fill"]
    nodes.render_node(fill)
    plate, out = nuke._render(comp["plate_node"], 1002), nuke._render(fill, 1002)
    assert plate.bbox == (-8, -8, 104, 62)
    assert (out.width, out.height, out.bbox) == (96, 54, plate.bbox)
    red_in, red_out = plate.channels["rgba.red"], out.channels["rgba.red"]
    ring = np.ones(red_in.shape, bool)
    ring[8:-8, 8:-8] = False
    assert np.array_equal(red_out[ring], red_in[ring]), "the overscan is the plate's"
    assert not np.allclose(red_out[8:-8, 8:-8], red_in[8:-8, 8:-8]), "the frame is filled"
