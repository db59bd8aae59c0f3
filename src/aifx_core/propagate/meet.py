"""The fallback meets what surrounds it: a smooth offset that takes away the step where the fallback route's
content (the frame's own spatial fill, keyframe content carried by flow) borders surely propagated pixels.

Propagation gives way to the fallback where it found nothing or is unsure (``alpha`` below 1). The blend is
soft only where the fallback's content agrees with its propagated neighbours, and it need not: the frame's own
spatial fill is made with every unsure pixel masked (the ring check's share hides propagated pixels from it),
so next to a strip that no chain reached it is filled from the plate far away. On a fast, motion-blurred pan
(tennis taken as the mean of every 6 frames, its wall behind the removed player) it was 0.2 brighter in blue
than the propagated wall on either side of a 4-20 px strip that no chain reached: a hard-edged, banner-blue
block, whose edges were the strip's edges (``alpha`` goes 1 to 0 there; a pixel found nothing for does not pull
its neighbours' weight down: :func:`.fallback.blend_weights`).

So, like the seam stage (:mod:`.seam`) for propagation against the plate, the fallback is matched to what it
borders: at each fallback pixel next to a sure pixel (propagated wholly, or the plate around the hole outside
unmasked movers) the difference between the mean of those neighbours and the fallback's own value is taken,
and spread smoothly over the fallback pixels (push-pull). The fallback keeps its own texture and meets its
surroundings; where it met them already (a keyframe's content carried along good chains, a spatial fill next
to the plate it was made from) the offset is about 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow import push_pull_fill


def meeting_offset(
    ys: np.ndarray,
    xs: np.ndarray,
    need: np.ndarray,
    fallback: np.ndarray,
    sure: np.ndarray,
    sure_values: np.ndarray,
    plate: np.ndarray,
    blocked: np.ndarray,
) -> np.ndarray:
    """Offsets (len(need), 3) to add to ``fallback`` (the fallback's values at hole points ``need``) so that it
    meets its sure neighbours; zeros when no point of ``need`` borders a sure hole pixel (next to the plate
    alone the fallback was made to meet it).

    ``ys``, ``xs``: the frame's hole pixels; ``need``: indices into them; ``sure``: a mask over them of the
    pixels propagated wholly (``sure_values`` holds their values, (N, 3)); ``plate``: the frame's RGB and
    ``blocked``: where it may not be read (the hole, non-finite pixels, unmasked movers), both full frame.
    """
    offset = np.zeros((len(need), 3), np.float32)
    if len(need) == 0 or not sure.any():
        return offset
    height, width = blocked.shape
    ny, nx = ys[need], xs[need]
    y0, y1 = max(int(ny.min()) - 1, 0), min(int(ny.max()) + 2, height)
    x0, x1 = max(int(nx.min()) - 1, 0), min(int(nx.max()) + 2, width)
    shape = (y1 - y0, x1 - x0)
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    # What the fallback must meet: sure hole pixels, and the open plate.
    from_hole = np.zeros(shape, np.float32)
    known = (~blocked[y0:y1, x0:x1]).astype(np.float32)
    target = plate[y0:y1, x0:x1].astype(np.float32) * known[..., None]
    mine = inside & sure
    sy, sx = ys[mine] - y0, xs[mine] - x0
    known[sy, sx] = 1.0
    from_hole[sy, sx] = 1.0
    target[sy, sx] = sure_values[mine]
    box = (3, 3)
    count = cv2.boxFilter(known, -1, box, normalize=False, borderType=cv2.BORDER_CONSTANT)
    py, px = ny - y0, nx - x0
    touching = count[py, px] > 0
    beside_sure = (
        cv2.boxFilter(from_hole, -1, box, normalize=False, borderType=cv2.BORDER_CONSTANT)[py, px] > 0
    )
    if not (touching & beside_sure).any():
        return offset
    total = cv2.boxFilter(target, -1, box, normalize=False, borderType=cv2.BORDER_CONSTANT)
    edge = np.flatnonzero(touching)
    difference = np.zeros((*shape, 3), np.float32)
    given = np.zeros(shape, bool)
    ey, ex = py[edge], px[edge]
    difference[ey, ex] = total[ey, ex] / count[ey, ex][:, None] - fallback[edge]
    given[ey, ex] = True
    field = push_pull_fill(difference, given, smooth=True)
    offset[:] = field[py, px]
    return offset
