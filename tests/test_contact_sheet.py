"""Contact sheets: layout, labels, HDR tone mapping, and the before/after convenience on real files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from aifx_core.contact_sheet import (
    _GAP,
    _LABEL_WIDTH,
    _TITLE_HEIGHT,
    before_after_sheet,
    pick_frames,
    render_contact_sheet,
    to_display_rgb8,
    write_contact_sheet,
)
from aifx_core.errors import InputError
from aifx_core.sequence import open_sequence


def test_grid_size_and_labels(tmp_path):
    frames = [np.full((40, 80, 3), v, np.float32) for v in (0.2, 0.5, 0.8)]
    path = write_contact_sheet(
        tmp_path / "sheet.png",
        [("before", frames), ("after", frames[:2])],
        ["a", "b", "c"],
        None,
        thumb_width=80,
    )
    sheet = cv2.imread(str(path))
    assert sheet.shape[:2] == (_TITLE_HEIGHT + 2 * (40 + _GAP) + _GAP, _LABEL_WIDTH + 3 * (80 + _GAP) + _GAP)
    label_area = sheet[_TITLE_HEIGHT:, :_LABEL_WIDTH]
    assert (label_area > 150).any(), "row labels are drawn"
    title_area = sheet[:_TITLE_HEIGHT, _LABEL_WIDTH:]
    assert (title_area > 150).any(), "column titles are drawn"
    # The thumbnail of the 0.5 grey frame shows 0.5 * 255 (display-referred values are only clipped).
    x = _LABEL_WIDTH + 80 + 2 * _GAP + 40
    assert abs(int(sheet[_TITLE_HEIGHT + 20, x, 1]) - 128) <= 1
    # A missing cell stays background.
    x_empty = _LABEL_WIDTH + 2 * (80 + _GAP) + _GAP + 40
    assert int(sheet[_TITLE_HEIGHT + 40 + _GAP + 20, x_empty, 1]) == 32
    assert not list(tmp_path.glob(".tmp_*")), "no temp file is left behind"


def test_hdr_is_tone_mapped_not_clipped():
    ramp = np.linspace(0.0, 40.0, 64, dtype=np.float32)
    hdr = np.repeat(np.repeat(ramp[None, :, None], 8, axis=0), 3, axis=2)
    shown = to_display_rgb8(hdr, "Linear Rec.709 (sRGB)")
    values = shown[0, :, 0].astype(int)
    assert shown.dtype == np.uint8
    assert (np.diff(values) >= 0).all()
    # Highlights roll off: values above 1.0 still differ from each other instead of all clipping to 255.
    above_one = values[ramp > 1.5]
    assert len(set(above_one.tolist())) > 5
    # A 2-D mask is shown as grey.
    assert to_display_rgb8(np.eye(4, dtype=bool), None)[1, 1].tolist() == [255, 255, 255]


def test_pick_frames_is_even_and_keeps_ends():
    assert pick_frames(range(1001, 1011)) == [1001, 1004, 1007, 1010]
    assert pick_frames([5, 6]) == [5, 6]
    assert pick_frames(range(100), count=2) == [0, 99]


def test_nothing_to_show_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        render_contact_sheet([], [])
    with pytest.raises(InputError):
        write_contact_sheet(tmp_path / "x.png", [("a", [])], ["t"])


def _write_exr(path: Path, rgb: np.ndarray) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {c: rgb[..., i].astype(np.float16) for i, c in enumerate("RGB")}).write(str(path))


def test_before_after_sheet_from_sequences_and_mask_path(tmp_path):
    for i in range(6):
        plate = np.full((24, 32, 3), 0.1 * i, np.float32)
        plate[8:16, 10:20] = 5.0  # a bright object in the plate
        _write_exr(tmp_path / f"plate.{1001 + i:04d}.exr", plate)
        _write_exr(tmp_path / f"clean.{1001 + i:04d}.exr", np.full((24, 32, 3), 0.1 * i, np.float32))
        mask = np.zeros((24, 32), np.uint8)
        mask[8:16, 10:20] = 255
        cv2.imwrite(str(tmp_path / f"mask.{1001 + i:04d}.png"), mask)
    plate_seq = open_sequence(str(tmp_path / "plate.####.exr"))
    # The result may be given as a pattern (what aifx fill passes) and the mask as a path.
    path = before_after_sheet(
        tmp_path / "out" / "sheet.png",
        plate_seq,
        str(tmp_path / "clean.####.exr"),
        plate_seq.frames,
        mask=str(tmp_path / "mask.####.png"),
    )
    sheet = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    thumb_h = round(24 * 360 / 32)
    rows = (sheet.shape[0] - _TITLE_HEIGHT - _GAP) // (thumb_h + _GAP)
    assert rows == 3  # before, after, mask
    assert sheet.shape[1] == _LABEL_WIDTH + 4 * (360 + _GAP) + _GAP  # 4 of the 6 frames
    # The hole is outlined in red on the "before" row.
    before = sheet[_TITLE_HEIGHT : _TITLE_HEIGHT + thumb_h, _LABEL_WIDTH:]
    red = (before[..., 0] > 200) & (before[..., 1] < 90) & (before[..., 2] < 90)
    assert red.any()


def test_the_outline_is_the_hole_as_filled_with_the_jobs_dilate(tmp_path):
    """The fill's contact sheet outlined its matte read at 0.5 whatever the job's --dilate (or --threshold): a
    reviewer saw a smaller region than the one filled."""
    from shot_files import HEIGHT, WIDTH, make_shot, shot_job

    from aifx_core import fill

    shot = make_shot(tmp_path / "shot")
    widths = []
    for dilate in (0, 8):
        sheet_path = tmp_path / f"sheet{dilate}.png"
        fill(
            shot_job(
                shot, tmp_path / f"o{dilate}" / "c.####.exr", dilate=dilate, contact_sheet=str(sheet_path)
            )
        )
        sheet = cv2.cvtColor(cv2.imread(str(sheet_path)), cv2.COLOR_BGR2RGB)
        thumb_h = round(HEIGHT * 360 / WIDTH)
        before = sheet[_TITLE_HEIGHT : _TITLE_HEIGHT + thumb_h, _LABEL_WIDTH : _LABEL_WIDTH + 360]
        red = (before[..., 0] > 200) & (before[..., 1] < 90) & (before[..., 2] < 90)
        columns = np.flatnonzero(red.any(axis=0))
        widths.append(columns[-1] - columns[0])
    assert widths[1] > widths[0] + 8 * 360 / WIDTH, widths  # about 2 x 8 plate pixels wider


@pytest.mark.parametrize("alpha", [False, True], ids=["mask file", "plate alpha"])
def test_an_overscan_or_bbox_plate_is_shown_in_its_display_window_with_its_hole(tmp_path, alpha):
    """A plate whose data window is overscan on one frame and a bbox on another: each "before" thumbnail was
    the frame's data window (framed unlike the others), and the hole's outline was left off those frames."""
    from shot_files import HEIGHT, WIDTH

    from aifx_core import FillJob, fill

    display = (0, 0, WIDTH - 1, HEIGHT - 1)
    datas = [(-8, -6, WIDTH + 7, HEIGHT + 5), display, (4, 3, WIDTH - 5, HEIGHT - 4)]
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    hole[18:30, 24:36] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), hole)
    for i, data in enumerate(datas):
        x0, y0, x1, y1 = data
        yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
        inside = (xx >= 0) & (xx < WIDTH) & (yy >= 0) & (yy < HEIGHT)
        channels = {  # a bright frame edge outside the display window: shown, it would frame the shot unlike
            "R": np.where(inside, 0.2 + 0.1 * i, 8.0).astype(np.float16),
            "G": np.where(inside, 0.3, 8.0).astype(np.float16),
            "B": np.where(inside, 0.4, 8.0).astype(np.float16),
        }
        if alpha:
            channels["A"] = ((yy >= 18) & (yy < 30) & (xx >= 24) & (xx < 36)).astype(np.float16)
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "dataWindow": (np.array(data[:2], np.int32), np.array(data[2:], np.int32)),
            "displayWindow": (np.array(display[:2], np.int32), np.array(display[2:], np.int32)),
        }
        OpenEXR.File(header, channels).write(str(tmp_path / f"plate.{1001 + i}.exr"))
    sheet_path = tmp_path / "sheet.png"
    job = FillJob(
        input=str(tmp_path / "plate.####.exr"),
        mask=None if alpha else str(tmp_path / "mask.png"),
        output=str(tmp_path / "o" / "c.####.exr"),
        backend="telea",
        contact_sheet=str(sheet_path),
    )
    fill(job)
    sheet = cv2.cvtColor(cv2.imread(str(sheet_path)), cv2.COLOR_BGR2RGB)
    thumb_h = round(HEIGHT * 360 / WIDTH)
    assert sheet.shape[0] == _TITLE_HEIGHT + 3 * (thumb_h + _GAP) + _GAP  # before, after, mask: one size
    outlines = []
    for row in range(2):  # before and after: no bright overscan edge on any frame
        top = _TITLE_HEIGHT + row * (thumb_h + _GAP)
        for c in range(3):
            left = _LABEL_WIDTH + c * (360 + _GAP) + _GAP
            thumb = sheet[top : top + thumb_h, left : left + 360].astype(int)
            assert (thumb.min(axis=-1) < 250).all(), (row, c)
            if row == 0:
                red = (thumb[..., 0] > 200) & (thumb[..., 1] < 90) & (thumb[..., 2] < 90)
                ys, xs = np.nonzero(red)
                outlines.append((ys.min(), ys.max(), xs.min(), xs.max()) if red.any() else None)
    assert outlines[0] is not None and outlines == [outlines[1]] * 3, outlines


def test_a_frame_without_confidence_is_hatched_not_black_and_a_plate_of_another_size_is_refused(tmp_path):
    """Frames filled without --confidence beside ones with it showed an all-black tile, "all of it invented";
    an eval --plate of another size than the result was drawn without its hole, silently."""
    from aifx_core.confidence import CHANNEL

    for i in range(2):
        clean = np.full((24, 32, 3), 0.2, np.float32)
        channels = {c: clean[..., k] for k, c in enumerate("RGB")}
        if i == 0:
            channels[CHANNEL] = np.ones((24, 32), np.float32)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, channels).write(str(tmp_path / f"clean.{1001 + i:04d}.exr"))
        _write_exr(tmp_path / f"small.{1001 + i:04d}.exr", np.full((12, 16, 3), 0.2, np.float32))
    result = open_sequence(str(tmp_path / "clean.####.exr"))
    path = before_after_sheet(tmp_path / "sheet.png", None, result, result.frames)
    sheet = cv2.imread(str(path))
    thumb_h = round(24 * 360 / 32)
    top = _TITLE_HEIGHT + thumb_h + _GAP  # the confidence row, under "after"
    tile = sheet[top : top + thumb_h, _LABEL_WIDTH + 360 + 2 * _GAP :][:, :360]
    assert 60 < tile.mean() < 160 and tile.std() > 5  # hatched grey, not black
    assert sheet[top : top + thumb_h, _LABEL_WIDTH + _GAP :][:, :360].min() > 240  # the sure frame: white
    small = open_sequence(str(tmp_path / "small.####.exr"))
    with pytest.raises(InputError, match=r"small\.1001\.exr: plate is 16x12 but the result is 32x24"):
        before_after_sheet(tmp_path / "sheet2.png", small, result, result.frames)
