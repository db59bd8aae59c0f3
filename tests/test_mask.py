"""Mask: where mattes come from (files, stills, plate channels) and the hole/weight geometry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from aifx_core.errors import InputError
from aifx_core.mask import default_mask_channel, feather_weight, make_hole, open_mask
from aifx_core.sequence import open_sequence

H, W = 24, 32
FRAMES = (1001, 1002, 1003)


def disc(radius: int, centre=(12, 16), shape=(H, W)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def write_plate(folder: Path, frames=FRAMES, size=(H, W), **extra: np.ndarray) -> str:
    """Half RGBA plates; alpha is a square that moves 2 px a frame; ``extra`` adds named channels."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        rgb = np.full(size, 0.25, np.float16)
        alpha = np.zeros(size, np.float16)
        alpha[4:10, 4 + 2 * i : 10 + 2 * i] = 1.0
        channels = {"R": rgb, "G": rgb.copy(), "B": rgb.copy(), "A": alpha, **extra}
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, channels).write(str(folder / f"plate.{frame:04d}.exr"))
    return str(folder / "plate.####.exr")


def matte_u8(frame_index: int, size=(H, W)) -> np.ndarray:
    matte = np.zeros(size, np.uint8)
    matte[12:18, 3 * frame_index : 3 * frame_index + 5] = 255
    matte[0, 0] = 128
    return matte


def write_masks(folder: Path, frames=FRAMES, size=(H, W)) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"mask.{frame:04d}.png"), matte_u8(i, size))
    return str(folder / "mask.####.png")


# -- hole ------------------------------------------------------------------------------------------------


def test_dilating_one_pixel_gives_a_disc():
    matte = np.zeros((H, W), np.float32)
    matte[12, 16] = 1.0
    for radius in (1, 3, 5):
        hole = make_hole(matte, 0.5, radius)
        assert hole.dtype == bool
        assert np.array_equal(hole, disc(radius)), radius
    assert make_hole(matte, 0.5, 3).sum() == 29  # the lattice points with x² + y² <= 9


def test_no_dilation_is_the_threshold_alone():
    matte = np.array([[0.0, 0.2, 0.49, 0.5, 0.8, 1.0, np.nan]], np.float32)
    assert make_hole(matte, 0.5, 0).tolist() == [[False, False, False, True, True, True, False]]
    assert make_hole(matte, 0.0, 0).tolist() == [[False, True, True, True, True, True, False]]
    assert make_hole(matte, 1.0, 0).tolist() == [[False, False, False, False, False, True, False]]


def test_empty_matte_gives_an_empty_hole():
    assert not make_hole(np.zeros((H, W), np.float32), 0.5, 8).any()
    assert not make_hole(np.full((H, W), 0.4, np.float32), 0.5, 8).any()
    assert make_hole(np.zeros((H, W), np.float32), 0.5, 8).shape == (H, W)


# -- weight ----------------------------------------------------------------------------------------------


def test_feather_ramps_linearly_outside_the_hole():
    hole = np.zeros((H, W), bool)
    hole[:, :10] = True
    weight = feather_weight(hole, 3)
    assert weight.dtype == np.float32
    row = weight[5]
    assert np.all(row[:10] == 1.0)
    np.testing.assert_allclose(row[10:13], [0.75, 0.5, 0.25], atol=1e-6)
    assert np.all(row[13:] == 0.0)  # exactly zero from feather + 1 pixels away


def test_feather_uses_euclidean_distance():
    hole = np.zeros((H, W), bool)
    hole[12, 16] = True
    weight = feather_weight(hole, 4)
    assert weight[12, 16] == 1.0
    assert weight[14, 18] == pytest.approx(1 - np.sqrt(8) / 5, abs=1e-5)
    assert weight[12, 21] == 0.0 and weight[12, 20] == pytest.approx(0.2, abs=1e-6)
    yy, xx = np.mgrid[0:H, 0:W]
    assert np.array_equal(weight > 0, (yy - 12) ** 2 + (xx - 16) ** 2 < 5**2)  # d < feather + 1


def test_feather_zero_is_the_hole_and_empty_stays_empty():
    hole = disc(3)
    assert np.array_equal(feather_weight(hole, 0), hole.astype(np.float32))
    assert not feather_weight(np.zeros((H, W), bool), 5).any()


# -- where the matte comes from ---------------------------------------------------------------------------


def test_matte_from_a_mask_sequence(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    source = open_mask(write_masks(tmp_path), None, plate)
    for i, frame in enumerate(FRAMES):
        matte = source.matte(frame)
        assert matte.dtype == np.float32 and matte.shape == (H, W)
        expected = matte_u8(i).astype(np.float32) / 255.0
        np.testing.assert_allclose(matte, expected, atol=1e-7)
    assert not np.array_equal(source.matte(1001), source.matte(1003))


def test_matte_from_a_still_is_used_for_every_frame(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    cv2.imwrite(str(tmp_path / "roto.png"), matte_u8(2))
    source = open_mask(str(tmp_path / "roto.png"), None, plate)
    assert source.is_static
    for frame in FRAMES:
        np.testing.assert_allclose(source.matte(frame), matte_u8(2) / 255.0, atol=1e-7)


def test_matte_from_the_plate_alpha(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    source = open_mask(None, None, plate)
    first, last = source.matte(1001), source.matte(1003)
    assert first[5, 5] == 1.0 and first[5, 11] == 0.0
    assert last[5, 5] == 0.0 and last[5, 11] == 1.0
    image = plate.read(1002)
    assert np.array_equal(source.matte(1002, image), image.channels["A"].astype(np.float32))


def test_matte_from_a_named_plate_channel(tmp_path):
    layer = np.zeros((H, W), np.float32)
    layer[2:5, 20:30] = 0.75
    plate = open_sequence(write_plate(tmp_path, **{"mask.Y": layer}))
    matte = open_mask(None, "mask.Y", plate).matte(1002)
    assert np.array_equal(matte, layer)


def test_invert(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    normal = open_mask(write_masks(tmp_path), None, plate).matte(1002)
    inverted = open_mask(write_masks(tmp_path), None, plate, invert=True).matte(1002)
    np.testing.assert_allclose(inverted, 1.0 - normal)


def test_sixteen_bit_mattes_scale_to_0_1(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    matte = np.zeros((H, W), np.uint16)
    matte[3, 3], matte[4, 4] = 65535, 32768
    cv2.imwrite(str(tmp_path / "deep.png"), matte)
    got = open_mask(str(tmp_path / "deep.png"), None, plate).matte(1001)
    assert got[3, 3] == 1.0 and got[4, 4] == pytest.approx(0.5, abs=1e-4) and got.sum() < 1.6


def test_channel_choice_in_mask_files(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    colour = np.zeros((H, W, 3), np.uint8)
    colour[2, 2, 2] = 255  # R in OpenCV's BGR order
    colour[3, 3, 1] = 255  # G
    alpha = np.zeros((H, W), np.uint8)
    alpha[6, 6] = 255
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([colour, alpha]))
    cv2.imwrite(str(tmp_path / "opaque.png"), np.dstack([colour, np.full((H, W), 255, np.uint8)]))

    by_alpha = open_mask(str(tmp_path / "rgba.png"), None, plate).matte(1001)
    assert by_alpha[6, 6] == 1.0 and by_alpha.sum() == 1.0
    # An opaque alpha is not a matte: the colour's R is used instead.
    by_red = open_mask(str(tmp_path / "opaque.png"), None, plate).matte(1001)
    assert by_red[2, 2] == 1.0 and by_red.sum() == 1.0
    by_green = open_mask(str(tmp_path / "rgba.png"), "g", plate).matte(1001)
    assert by_green[3, 3] == 1.0 and by_green.sum() == 1.0


def test_a_frame_that_cannot_tell_its_matte_channel_takes_the_masks_choice(tmp_path):
    """Opaque alpha beside flat colour says nothing on its own: a Roto written as RGBA (colour black, matte in
    alpha) covering the whole frame, or a matte painted in colour on a frame with nothing to remove. Each
    reads as the rest of its mask does, also when a chunk starts on that frame."""
    plate = open_sequence(write_plate(tmp_path / "plate"))
    black = np.zeros((H, W, 3), np.uint8)
    roto, painted = tmp_path / "roto", tmp_path / "painted"
    roto.mkdir(), painted.mkdir()
    for i, frame in enumerate(FRAMES):
        whole = i == 1
        alpha = np.full((H, W), 255, np.uint8) if whole else matte_u8(i)
        cv2.imwrite(str(roto / f"m.{frame}.png"), np.dstack([black, alpha]))
        colour = (
            np.zeros((H, W, 3), np.uint8)
            if whole
            else np.dstack([np.zeros((H, W, 2), np.uint8), matte_u8(i)])
        )
        cv2.imwrite(str(painted / f"m.{frame}.png"), np.dstack([colour, np.full((H, W), 255, np.uint8)]))
    for start in (1001, 1002):  # a whole run, and a chunk that starts on the frame that cannot tell
        by_alpha = open_mask(str(roto / "m.####.png"), None, plate)
        mattes = [by_alpha.matte(frame) for frame in FRAMES if frame >= start]
        assert mattes[-2].min() == 1.0  # 1002: the roto covers the whole frame
        assert mattes[-1].sum() == pytest.approx((matte_u8(2) / 255.0).sum())
        by_colour = open_mask(str(painted / "m.####.png"), None, plate)
        mattes = [by_colour.matte(frame) for frame in FRAMES if frame >= start]
        assert mattes[-2].max() == 0.0  # 1002: nothing painted, nothing to remove
        assert mattes[-1].sum() == pytest.approx((matte_u8(2) / 255.0).sum())


def test_default_mask_channel_order():
    plane = np.zeros((2, 2), np.uint8)
    assert default_mask_channel({"R": plane, "G": plane, "B": plane, "A": plane}) == "A"
    assert default_mask_channel({"Y": plane}) == "Y"
    assert default_mask_channel({"R": plane, "G": plane, "B": plane}) == "R"
    assert default_mask_channel({"matte": plane}) == "matte"


# -- errors ----------------------------------------------------------------------------------------------


def test_size_mismatch_names_both_files_sizes_and_frame(tmp_path):
    plate = open_sequence(write_plate(tmp_path / "plate"))
    masks = write_masks(tmp_path / "roto", size=(12, 16))
    source = open_mask(masks, None, plate)
    with pytest.raises(InputError) as info:
        source.matte(1002)
    message = str(info.value)
    assert "mask.1002.png" in message and "plate.1002.exr" in message
    assert "16x12" in message and f"{W}x{H}" in message and "1002" in message


def test_size_mismatch_of_a_still_mask(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    cv2.imwrite(str(tmp_path / "roto.png"), np.zeros((H + 1, W), np.uint8))
    with pytest.raises(InputError, match=r"roto\.png.*32x25.*plate\.1001\.exr.*32x24"):
        open_mask(str(tmp_path / "roto.png"), None, plate).matte(1001)


def test_mask_sequence_must_cover_the_plate(tmp_path):
    plate = open_sequence(write_plate(tmp_path, frames=range(1001, 1006)))
    masks = write_masks(tmp_path, frames=(1001, 1002, 1004))
    with pytest.raises(InputError) as info:
        open_mask(masks, None, plate)
    message = str(info.value)
    assert "1003,1005" in message and "mask.####.png" in message


def test_plate_without_the_channel(tmp_path):
    plate = open_sequence(write_plate(tmp_path))
    with pytest.raises(InputError, match=r"plate\.1001\.exr.*no channel 'mask\.Y'") as info:
        open_mask(None, "mask.Y", plate).matte(1001)
    assert all(name in str(info.value) for name in ("R", "G", "B", "A"))


def test_opaque_plate_alpha_is_not_taken_as_a_mask(tmp_path):
    folder = tmp_path / "opaque"
    folder.mkdir()
    ones = np.ones((H, W), np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"R": ones, "G": ones, "B": ones, "A": ones.copy()}).write(
        str(folder / "p.1001.exr")
    )
    plate = open_sequence(str(folder / "p.####.exr"))
    with pytest.raises(InputError, match="opaque everywhere.*--mask"):
        open_mask(None, None, plate).matte(1001)
    # Asked for explicitly, the channel is used as it is.
    assert open_mask(None, "A", plate).matte(1001).min() == 1.0


def test_a_frame_whose_alpha_matte_covers_it_whole_is_filled_not_refused(tmp_path):
    """The plate's alpha is the matte (no --mask) and covers one frame whole: that frame stopped the run mid-shot
    as 'opaque everywhere: pass --mask'; it is a frame masked whole. An alpha opaque from the first frame on is
    still refused (coverage, not a matte), also where the run starts later (a farm chunk)."""
    folder = write_plate(tmp_path / "plate")
    path = Path(folder.replace("####", "1002"))
    with OpenEXR.File(str(path)) as f:
        channels = {name: c.pixels for name, c in f.parts[0].channels.items()}
    channels["A"] = np.ones((H, W), np.float16)
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(
        str(path)
    )
    plate = open_sequence(folder)
    assert open_mask(None, None, plate).matte(1002).min() == 1.0
    for frame in FRAMES:  # now the first frame opaque as well: coverage
        path = Path(folder.replace("####", str(frame)))
        OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(
            str(path)
        )
    with pytest.raises(InputError, match="opaque everywhere"):
        open_mask(None, None, open_sequence(folder)).matte(1003)


def test_plate_without_alpha(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    plane = np.zeros((H, W), np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"R": plane, "G": plane, "B": plane}).write(str(folder / "p.1001.exr"))
    plate = open_sequence(str(folder / "p.####.exr"))
    with pytest.raises(InputError, match="no alpha channel.*--mask"):
        open_mask(None, None, plate).matte(1001)


def test_a_0_1_label_mask_is_refused_naming_the_file_and_the_fix(tmp_path):
    """An 8-bit mask written as 0/1 (numpy, a segmentation tool) reads as a matte of 1/255: below the default
    threshold nothing would be filled, the plate written back unchanged without a word."""
    plate = open_sequence(write_plate(tmp_path / "plate"))
    for i, frame in enumerate(FRAMES):
        cv2.imwrite(str(tmp_path / f"label.{frame:04d}.png"), (matte_u8(i) == 255).astype(np.uint8))
    with pytest.raises(InputError) as info:
        open_mask(str(tmp_path / "label.####.png"), None, plate).matte(1002)
    message = str(info.value)
    assert "label.1002.png" in message and "only 0 and 1" in message and "--threshold 0" in message
    # Asked for (any non-zero value is hole), it is a matte like any other; a threshold of 1/255 reads it too.
    for threshold in (0.0, 1 / 255):
        matte = open_mask(str(tmp_path / "label.####.png"), None, plate, threshold=threshold).matte(1002)
        assert make_hole(matte, threshold).sum() == 30
    # A soft matte whose faintest edge alone holds a few 1s is not a label image.
    faint = np.zeros((H, W), np.uint8)
    faint[0, :3] = 1
    cv2.imwrite(str(tmp_path / "faint.png"), faint)
    assert not make_hole(open_mask(str(tmp_path / "faint.png"), None, plate).matte(1001), 0.5).any()
