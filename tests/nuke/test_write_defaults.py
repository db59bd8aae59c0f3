"""The AIFill's cache Writes against a studio's Write defaults (``nuke.knobDefault`` in a menu.py).

A knob default reaches every Write Nuke makes, the AIFill's own too, and every knob a script saved at its default:
the cache must stay a lossless, whole copy of the Source whatever the studio's precomp settings are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import nuke
import numpy as np
import OpenEXR
import pytest
from conftest import write_exr

#: An attribute of the plate's EXR header that Nuke's "default metadata" does not write.
SHOT_ATTRIBUTE = ("aifx_test_shot", "sq010_sh020")
#: Plate rows left black at the top (an autocropping Write would cut them off the data window).
BLACK_ROWS = 4


def _plate_with_matte_layer(shot: dict, folder: Path) -> str:
    """The shot's plates as EXRs carrying the hole in a layer of their own (``matte.A``, read by Nuke as
    ``matte.alpha``), a header attribute of the show's, and black top rows."""
    folder.mkdir()
    for frame in range(1001, 1004):
        with OpenEXR.File(str(shot["dir"] / f"plate.{frame}.exr"), separate_channels=True) as exr:
            planes = {k: np.array(v.pixels, np.float32) for k, v in exr.channels().items()}
        matte = cv2.imread(str(shot["dir"] / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        planes["matte.A"] = matte.astype(np.float32)
        for plane in planes.values():
            plane[:BLACK_ROWS] = 0.0
        write_exr(folder / f"plate.{frame}.exr", planes)
        with OpenEXR.File(str(folder / f"plate.{frame}.exr"), separate_channels=True) as exr:
            header = dict(exr.header())
            channels = {k: np.array(v.pixels) for k, v in exr.channels().items()}
        header[SHOT_ATTRIBUTE[0]] = SHOT_ATTRIBUTE[1]
        OpenEXR.File(header, channels).write(str(folder / f"plate.{frame}.exr"))
    return (folder / "plate.####.exr").as_posix()


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("compression", "DWAA"),  # lossy: every pixel of the plate moves a little
        ("interleave", "channels"),  # each layer in a part of its own: the core reads the first part
        ("autocrop", "true"),  # the data window shrunk to what is not black
        ("metadata", None),  # Nuke's own default: "default metadata" drops the plate's header
    ],
)
def test_the_cache_stays_a_whole_lossless_copy_of_the_source_whatever_the_studios_write_defaults(
    shot, tmp_path, knob, value
):
    from aifx_nuke import nodes

    if value is not None:
        nuke.knobDefault(f"Write.exr.{knob}", value)
    nuke.root()["first_frame"].setValue(1001)
    nuke.root()["last_frame"].setValue(1003)
    plate = nuke.nodes.Read(
        name="Plate",
        file=_plate_with_matte_layer(shot, tmp_path / "plates_matte"),
        first=1001,
        last=1003,
        origfirst=1001,
        origlast=1003,
    )
    nuke._pull(plate, 1001)  # the Viewer shows it: the Read opened the plate, whose layers now exist
    nuke._select(plate)
    fill = nodes.create_aifill()
    fill["mask_channel"].setValue("matte.alpha")  # no Mask input: the hole is the Source's matte layer
    fill["backend"].setValue("telea")
    fill["aifx_env"].setValue(sys.executable)
    fill["cache_dir"].setValue(str(tmp_path / "cache"))

    outcome = nodes.render_node(fill)

    assert outcome.written == 3
    hole = nuke._pull(plate, 1002)["matte.alpha"] > 0
    far = ~cv2.dilate(hole.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(
        bool
    )  # past dilate + feather
    plate_pixels, filled = nuke._pull(plate, 1002), nuke._pull(fill, 1002)
    for channel in ("rgba.red", "rgba.green", "rgba.blue"):
        assert np.array_equal(plate_pixels[channel][far], filled[channel][far]), f"{channel} outside the hole"
    assert not np.array_equal(plate_pixels["rgba.red"], filled["rgba.red"]), "the hole is filled"
    assert nuke._render(fill, 1002).bbox == nuke._render(plate, 1002).bbox, "the plate's data window"
    assert fill.metadata(f"exr/{SHOT_ATTRIBUTE[0]}", 1002) == SHOT_ATTRIBUTE[1], "the plate's header"
