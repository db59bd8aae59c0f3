"""Composite: the fill goes into the colour channels where the weight is above 0, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from shot_files import read_exr, write_exr

from aifx_core.composite import composite
from aifx_core.job import FillJob
from aifx_core.mask import feather_weight, make_hole
from aifx_core.pipeline import fill
from aifx_core.sequence.image import Image

H, W = 24, 32
SPECIAL = [np.nan, np.inf, -np.inf, -0.0, -2.5, 1.5, 7.25, 1e-8]


def bits(plane: np.ndarray) -> np.ndarray:
    """The raw bit patterns, so NaN payloads, -0.0 and Inf compare exactly."""
    view = {1: np.uint8, 2: np.uint16, 4: np.uint32}[plane.dtype.itemsize]
    return plane.view(view)


def hdr_plane(dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    plane = rng.uniform(-0.5, 20.0, (H, W)).astype(dtype)
    flat = plane.reshape(-1)
    for i, value in enumerate(SPECIAL):  # scattered over the whole frame, in and out of the weight
        flat[i * 97 % flat.size] = value
        flat[(i * 131 + 5) % flat.size] = value
    return plane


def make_image(dtype) -> Image:
    if np.dtype(dtype) == np.uint8:
        rng = np.random.default_rng(3)
        colour = {c: rng.integers(0, 256, (H, W), dtype=np.uint8) for c in "RGB"}
    else:
        colour = {c: hdr_plane(dtype, seed) for seed, c in enumerate("RGB")}
    return Image(
        channels={
            **colour,
            "A": np.linspace(0, 1, H * W).reshape(H, W).astype(colour["R"].dtype),
            "Z": np.arange(H * W, dtype=np.float32).reshape(H, W),
            "diffuse.R": hdr_plane(np.float16, 9),
        },
        header={"attributes": {"owner": "tests"}, "format": "exr"},
        source=Path("plate.1001.exr"),
    )


def make_weight() -> np.ndarray:
    hole = np.zeros((H, W), bool)
    hole[8:14, 10:18] = True
    return feather_weight(hole, 3)


def fill_rgb(seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 4.0, (H, W, 3)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.uint8])
def test_outside_the_weight_every_bit_is_kept(dtype):
    image = make_image(dtype)
    before = {name: plane.copy() for name, plane in image.channels.items()}
    weight = make_weight()
    out = composite(image, fill_rgb(), weight)
    outside = weight == 0
    assert outside.sum() > 0.5 * outside.size and (~outside).sum() > 50
    for name in "RGB":
        assert out.channels[name].dtype == np.dtype(dtype)
        assert np.array_equal(bits(out.channels[name])[outside], bits(before[name])[outside]), name
        assert not np.array_equal(bits(out.channels[name]), bits(before[name])), name  # something was filled
    for name in ("A", "Z", "diffuse.R"):
        assert out.channels[name] is image.channels[name]
    assert out.header is image.header and out.source == image.source
    assert list(out.channels) == list(image.channels)
    for name, plane in image.channels.items():  # the input image is not modified
        assert np.array_equal(bits(plane), bits(before[name]))


def test_special_values_outside_are_really_present():
    # Guards the test above: NaN, Inf and negatives must sit outside the weight for it to mean anything.
    image = make_image(np.float16)
    outside = make_weight() == 0
    red = image.channels["R"][outside]
    assert np.isnan(red).any() and np.isposinf(red).any() and np.isneginf(red).any()
    assert (red < 0).any() and (red > 1).any()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_blend_inside_the_weight(dtype):
    image = make_image(dtype)
    weight = make_weight()
    fill = fill_rgb()
    out = composite(image, fill, weight)
    for c, name in enumerate("RGB"):
        orig = image.channels[name].astype(np.float32)
        with np.errstate(invalid="ignore"):
            expected = (orig * (1 - weight) + fill[..., c] * weight).astype(dtype)
        full = weight >= 1
        ramp = (weight > 0) & (weight < 1) & np.isfinite(orig)
        assert full.any() and ramp.any()
        assert np.array_equal(out.channels[name][full], fill[..., c][full].astype(dtype))
        np.testing.assert_array_equal(out.channels[name][ramp], expected[ramp])


def test_non_finite_plate_values_inside_the_weight_take_the_fill():
    image = make_image(np.float16)
    red = image.channels["R"].copy()
    red[10, 12] = np.nan  # inside the hole
    red[10, 8] = np.inf  # in the feather ring (weight 0.5)
    image = image.with_channels({"R": red})
    weight = make_weight()
    assert weight[10, 12] == 1 and 0 < weight[10, 8] < 1
    fill = fill_rgb()
    out = composite(image, fill, weight).channels["R"]
    assert out[10, 12] == np.float16(fill[10, 12, 0])
    assert out[10, 8] == np.float16(fill[10, 8, 0])


def test_uint8_blend_rounds_to_the_nearest_code():
    image = Image({c: np.full((H, W), 100, np.uint8) for c in "RGB"})
    weight = np.zeros((H, W), np.float32)
    weight[0, 0], weight[0, 1] = 0.5, 1.0
    fill = np.full((H, W, 3), 200 / 255, np.float32)
    out = composite(image, fill, weight)
    assert out.channels["G"][0, 0] == 150 and out.channels["G"][0, 1] == 200
    assert np.count_nonzero(out.channels["G"] != 100) == 2


def test_luminance_image_gets_the_mean_of_the_fill():
    image = Image({"Y": np.zeros((H, W), np.float16), "A": np.ones((H, W), np.float16)})
    weight = np.zeros((H, W), np.float32)
    weight[5, 5] = 1.0
    fill = np.zeros((H, W, 3), np.float32)
    fill[5, 5] = [0.25, 0.5, 1.5]
    out = composite(image, fill, weight)
    assert out.channels["Y"][5, 5] == np.float16(0.75)
    assert np.count_nonzero(out.channels["Y"]) == 1
    assert out.channels["A"] is image.channels["A"]


def test_zero_weight_returns_the_same_arrays():
    image = make_image(np.float16)
    out = composite(image, fill_rgb(), np.zeros((H, W), np.float32))
    assert all(out.channels[n] is image.channels[n] for n in image.channels)


def test_shape_mismatch_is_refused():
    image = make_image(np.float16)
    with pytest.raises(ValueError, match="fill"):
        composite(image, np.zeros((H, W + 1, 3), np.float32), make_weight())
    with pytest.raises(ValueError, match="weight"):
        composite(image, fill_rgb(), np.zeros((H + 1, W), np.float32))


def test_exr_file_round_trip_keeps_bits_outside(tmp_path):
    """Through real files: OpenEXR writes a plate, aifx reads, composites and writes, OpenEXR reads back."""
    from aifx_core.sequence import read_image, write_image

    source = make_image(np.float16)
    channels = {name: np.ascontiguousarray(plane) for name, plane in source.channels.items()}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, "owner": "tests"}
    OpenEXR.File(header, dict(channels)).write(
        str(tmp_path / "plate.exr")
    )  # File() converts the dict it gets

    plate = read_image(tmp_path / "plate.exr")
    matte = np.zeros((H, W), np.float32)
    matte[10:12, 12:15] = 1.0
    weight = feather_weight(make_hole(matte, 0.5, 2), 2)
    write_image(tmp_path / "out.exr", composite(plate, fill_rgb(), weight))

    with OpenEXR.File(str(tmp_path / "out.exr"), separate_channels=True) as exr:
        written = {name: ch.pixels.copy() for name, ch in exr.channels().items()}
        assert exr.header()["owner"] == "tests"
    outside = weight == 0
    for name, plane in channels.items():
        assert written[name].dtype == plane.dtype
        if name in "RGB":
            assert np.array_equal(bits(written[name])[outside], bits(plane)[outside])
            assert not np.array_equal(bits(written[name]), bits(plane))
        else:
            assert np.array_equal(bits(written[name]), bits(plane))


def _element_shot(folder: Path, alpha_left: float, alpha_right: float = 1.0) -> Path:
    """Three frames of a premultiplied element (rgb = colour x alpha; alpha ``alpha_left`` on the left half,
    ``alpha_right`` on the right) and a matte over the middle, crossing the element's edge."""
    folder.mkdir()
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.where(xx < W // 2, alpha_left, alpha_right).astype(np.float32)
    for frame in (1, 2, 3):
        colour = 0.5 + 0.3 * np.sin((xx + frame) / 3 + yy / 5)
        planes = {
            c: (colour * k * alpha).astype(np.float32) for c, k in zip("RGB", (1.0, 0.8, 0.6), strict=True)
        }
        write_exr(folder / f"plate.{frame:04d}.exr", {**planes, "A": alpha})
        matte = np.zeros((H, W), np.uint8)
        matte[6:18, 10:22] = 255
        cv2.imwrite(str(folder / f"mask.{frame:04d}.png"), matte)
    return folder


UNPREMULT = (
    "note: the hole crosses semi-transparent alpha (frame 1): rgb is filled there and the alpha kept, so a "
    "premultiplied element gets colour where its alpha is 0; unpremultiply before the fill and premultiply after"
)


@pytest.mark.parametrize(("left", "noted"), [(0.0, True), (0.5, True), (1.0, False)])
def test_a_hole_over_semi_transparent_alpha_is_noted_and_the_alpha_kept(tmp_path, left, noted):
    """The fill changes rgb only: over a premultiplied element's edge it put colour where the alpha is 0, which
    a Merge (over) downstream adds as a glow, and nothing said so. A note says so now; an opaque plate has none."""
    shot = _element_shot(tmp_path / "shot", left)
    job = FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(tmp_path / "out" / "c.####.exr"),
        backend="telea",
        dilate=0,
    )
    result = fill(job)
    assert result.notices == ([UNPREMULT] if noted else [])
    for frame in (1, 2, 3):
        before = read_exr(shot / f"plate.{frame:04d}.exr")[1]
        after = read_exr(tmp_path / "out" / f"c.{frame:04d}.exr")[1]
        assert bits(after["A"]).tobytes() == bits(before["A"]).tobytes(), "the alpha is carried through"


@pytest.mark.parametrize("alpha", ["the matte", "empty"])
def test_no_semi_transparent_note_where_the_alpha_is_the_matte_or_empty(tmp_path, alpha):
    """The plate's alpha as the matte (no mask given) is no coverage, nor is an alpha of 0 everywhere (a plate
    written with an empty alpha): no note there."""
    shot = _element_shot(tmp_path / "shot", 0.0, 0.0 if alpha == "empty" else 1.0)
    if alpha == "the matte":  # the alpha holds the hole, soft at its edge
        for frame in (1, 2, 3):
            path = shot / f"plate.{frame:04d}.exr"
            planes = read_exr(path)[1]
            matte = np.zeros((H, W), np.float32)
            matte[6:18, 10:22] = 1.0
            matte[6:18, 9] = matte[6:18, 22] = 0.5
            write_exr(path, {**planes, "A": matte})
    job = FillJob(
        input=str(shot / "plate.####.exr"),
        mask=None if alpha == "the matte" else str(shot / "mask.####.png"),
        output=str(tmp_path / "out" / "c.####.exr"),
        backend="telea",
        dilate=0,
    )
    assert fill(job).notices == []
