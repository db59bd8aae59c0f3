"""EXR data window vs display window: the fill works in the display window, files keep their data window.

An EXR stores pixels only inside its *data window*, which need not match the *display window* (the frame):
Nuke writes a Roto's small bbox or an overscan plate, and a render's data window can change from frame to
frame. aifx therefore reads every plate and mask frame *into the display window* for the fill (zeros where
the file has no data, data outside the frame cropped), so plate, mask and every frame of the shot line up.
An EXR output keeps the plate's own data window: the fill is mapped back into it, and every pixel outside the
display window (overscan) or outside the mask stays bit for bit what the plate holds. A format without windows
(PNG, TIFF, DPX, JPEG) gets the display window, as Nuke's Write gives it: a bbox padded with black, overscan
cropped (:func:`beyond_display` tells the pipeline to say so); written at the data window's size, each frame
had its own size and the picture's position was lost. A mask's data outside the display window is not used
(there is no frame there to fill).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .image import Image
from .imageinfo import Window


def windows(image: Image) -> tuple[Window, Window]:
    """(data window, display window) of an image; images without them (PNG...) are their own frame."""
    height, width = image.shape
    data = image.header.get("data_window") or (0, 0, width - 1, height - 1)
    display = image.header.get("display_window") or data
    x0, y0 = data[:2]
    return (x0, y0, x0 + width - 1, y0 + height - 1), tuple(display)  # type: ignore[return-value]


def reframe(plane: np.ndarray, source: Window, target: Window) -> np.ndarray:
    """``plane`` (rows x columns [x channels]) covering ``source``, as an array covering ``target``: the overlap
    is copied, the rest is zero. Returns ``plane`` itself when the windows are equal."""
    if tuple(source) == tuple(target):
        return plane
    width, height = target[2] - target[0] + 1, target[3] - target[1] + 1
    out = np.zeros((height, width, *plane.shape[2:]), dtype=plane.dtype)
    x0, y0 = max(source[0], target[0]), max(source[1], target[1])
    x1, y1 = min(source[2], target[2]), min(source[3], target[3])
    if x0 <= x1 and y0 <= y1:
        out[y0 - target[1] : y1 - target[1] + 1, x0 - target[0] : x1 - target[0] + 1] = plane[
            y0 - source[1] : y1 - source[1] + 1, x0 - source[0] : x1 - source[0] + 1
        ]
    return out


def in_display_window(image: Image) -> Image:
    """``image`` with every channel padded/cropped to its display window (the same object when they match)."""
    data, display = windows(image)
    if data == display:
        return image
    channels = {name: reframe(plane, data, display) for name, plane in image.channels.items()}
    header = {**image.header, "data_window": display}
    return replace(image, channels=channels, header=header)


def beyond_display(image: Image) -> bool:
    """Whether ``image`` holds pixels outside its display window (overscan), which a windowless file drops."""
    data, display = windows(image)
    return data[0] < display[0] or data[1] < display[1] or data[2] > display[2] or data[3] > display[3]
