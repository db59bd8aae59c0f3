"""Colour: the pinned OCIO config, colourspace names and guesses, and the reversible model-space mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenEXR
import PyOpenColorIO as OCIO
import pytest

from aifx_core import colour
from aifx_core.colour import (
    LINEAR_COLORSPACE,
    MODEL_COLORSPACE,
    SOFT_CLIP_KNEE,
    SOFT_CLIP_MAX,
    from_model,
    guess_colorspace,
    resolve_colorspace,
    to_display_uint8,
    to_model,
)
from aifx_core.errors import InputError
from aifx_core.sequence.image import Image


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1, written out here so the tests do not trust the module's own curve."""
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0), 1 / 2.4) - 0.055)


def grey(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float32)
    return np.stack([values, values, values], axis=-1)


def write_exr(path: Path, **attributes) -> Path:
    plane = np.full((4, 6), 0.5, np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **attributes}
    OpenEXR.File(header, {"R": plane, "G": plane, "B": plane}).write(str(path))
    return path


# -- the config and names ---------------------------------------------------------------------------------


def test_pinned_config_is_a_builtin_studio_config():
    assert colour.OCIO_CONFIG_URI.startswith("ocio://studio-config-")
    assert colour.OCIO_CONFIG_URI.removeprefix("ocio://") in list(OCIO.BuiltinConfigRegistry())
    cfg = colour.config()
    for name in (MODEL_COLORSPACE, LINEAR_COLORSPACE, "ACEScg", "Raw"):
        assert cfg.getColorSpace(name) is not None, name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ACEScg", "ACEScg"),
        ("acescg", "ACEScg"),
        ("linear", "Linear Rec.709 (sRGB)"),
        ("Linear", "Linear Rec.709 (sRGB)"),
        ("srgb", "sRGB Encoded Rec.709 (sRGB)"),
        ("sRGB - Texture", "sRGB Encoded Rec.709 (sRGB)"),
        ("rec709", "Gamma 2.4 Encoded Rec.709"),
        ("Rec.709", "Gamma 2.4 Encoded Rec.709"),
        ("lin_ap1_scene", "ACEScg"),
        ("ACES2065-1", "ACES2065-1"),
        ("raw", "Raw"),
    ],
)
def test_resolve_colorspace_accepts_names_and_aliases(given, expected):
    assert resolve_colorspace(given) == expected


def test_resolve_colorspace_accepts_roles():
    cfg = OCIO.Config.CreateFromFile(colour.OCIO_CONFIG_URI)
    assert resolve_colorspace("scene_linear") == cfg.getRoleColorSpace("scene_linear")
    assert resolve_colorspace("texture_paint") == cfg.getRoleColorSpace("texture_paint")


def test_unknown_colorspace_is_an_input_error_with_choices():
    with pytest.raises(InputError) as info:
        resolve_colorspace("ACEScgg")
    message = str(info.value)
    assert "'ACEScgg'" in message
    assert "did you mean" in message and "ACEScg" in message
    for choice in ("linear", "srgb", "rec709", "scene_linear"):
        assert choice in message
    assert "\n" not in message


def test_unknown_colorspace_without_close_match_still_lists_choices():
    with pytest.raises(InputError, match="choose one of .*linear.*srgb"):
        to_model(grey([0.5]), "no such space at all")


# -- to_model / from_model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["linear", "ACEScg", "ACES2065-1"])
def test_round_trip_is_exact_to_float_precision_on_0_to_1(space):
    values = np.linspace(0.0, 1.0, 4097, dtype=np.float32)
    rgb = np.stack([values, values[::-1], values * 0.5], axis=-1)
    back = from_model(to_model(rgb, space), space)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, rgb, rtol=0, atol=2e-5)


@pytest.mark.parametrize("space", ["linear", "ACEScg", "ACES2065-1"])
def test_round_trip_keeps_hdr_up_to_the_documented_max(space):
    values = np.geomspace(1.0, SOFT_CLIP_MAX, 2001).astype(np.float32)
    for rgb in (grey(values), np.stack([values, values * 0.5, values * 0.25], axis=-1)):
        model = to_model(rgb, space)
        assert model.max() <= 1.0 and model.min() >= 0.0
        back = from_model(model, space)
        error = np.abs(back - rgb).max(axis=-1) / np.abs(rgb).max(axis=-1)
        assert error.max() < 1e-3, (space, float(error.max()))


def test_round_trip_of_saturated_wide_gamut_colours():
    values = np.geomspace(0.01, SOFT_CLIP_MAX, 500).astype(np.float32)
    zeros = np.zeros_like(values)
    for rgb in (np.stack([values, zeros, zeros], -1), np.stack([zeros, values, zeros], -1)):
        back = from_model(to_model(rgb, "ACEScg"), "ACEScg")
        error = np.abs(back - rgb).max(axis=-1) / values
        assert error.max() < 1e-3


def test_scene_linear_below_the_knee_is_plain_srgb_encoding():
    values = np.linspace(0.0, SOFT_CLIP_KNEE, 301, dtype=np.float32)
    model = to_model(grey(values), "linear")
    np.testing.assert_allclose(model[:, 0], srgb_encode(values), atol=1e-6)
    assert to_model(grey([0.18]), "linear")[0, 0] == pytest.approx(0.46135, abs=1e-4)


def test_soft_clip_is_monotonic_and_keeps_highlights_apart():
    values = np.concatenate([np.linspace(0, 1, 500), np.geomspace(1, SOFT_CLIP_MAX, 500)]).astype(np.float32)
    model = to_model(grey(values), "linear")[:, 0]
    assert np.all(np.diff(model) >= 0)
    assert model[-1] < 1.0
    at = {v: to_model(grey([v]), "linear")[0, 0] for v in (1.0, 4.0, 16.0, 64.0)}
    assert at[1.0] < at[4.0] < at[16.0] < at[64.0] < 1.0
    # A clear step between a lit window (4) and a lamp (16), even at the top of the range.
    assert at[16.0] - at[4.0] > 1e-3


def test_values_beyond_the_limit_come_back_as_the_limit():
    back = from_model(to_model(grey([1000.0, SOFT_CLIP_MAX]), "linear"), "linear")
    np.testing.assert_allclose(back[:, 0], [colour.LINEAR_LIMIT, SOFT_CLIP_MAX], rtol=1e-3)
    assert from_model(grey([1.0]), "linear")[0, 0] == pytest.approx(colour.LINEAR_LIMIT, rel=1e-3)


def test_negative_values_pass_through_invertibly():
    values = -np.linspace(0.0, 2.0, 201, dtype=np.float32)
    model = to_model(grey(values), "linear")
    assert np.all(model <= 0) and np.all(model > -1)
    back = from_model(model, "linear")
    np.testing.assert_allclose(back, grey(values), atol=2e-5, rtol=1e-4)


def test_model_range_is_as_documented_for_scene_and_display_spaces():
    """to_model's docstring said non-negative input lands in [0, 1]: true of scene-referred spaces (the
    shoulder) and of values in 0..1 of Rec.709-gamut display spaces, not of a wider display space's saturated
    colours nor of a float display-referred plate's values beyond 0..1."""
    primaries = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], np.float32)
    for scene in ("ACEScg", "ACES2065-1", "linear", "ACEScct"):
        model = to_model(primaries * 50.0, scene)
        assert np.all(model > -1) and np.all(model < 1), scene
    assert np.all((to_model(primaries, "srgb") >= 0) & (to_model(primaries, "srgb") <= 1))
    # [0, 1] only for values in 0..1: a float sRGB plate's values beyond it pass on as they are.
    beyond = np.array([[1.5, -0.2, 0.5]], np.float32)
    assert np.array_equal(to_model(beyond, "srgb"), beyond)
    p3_green = to_model(primaries[1:2], "Display P3 - Display")[0]
    np.testing.assert_allclose(p3_green, [-2.907, 1.018, -1.016], atol=2e-3)
    assert to_model(primaries[1:2], "sRGB Encoded AP1")[0, 0] < -7.9


def test_nan_and_inf_become_finite_model_values():
    rgb = np.array([[np.nan, np.inf, -np.inf], [0.5, np.nan, 2.0]], np.float32)
    model = to_model(rgb, "ACEScg")
    assert np.all(np.isfinite(model))
    assert model[0, 1] > 0.99


def test_srgb_plate_goes_to_the_model_unchanged():
    codes = np.arange(256, dtype=np.float32) / 255.0
    rgb = np.stack([codes, codes[::-1], np.roll(codes, 7)], axis=-1)
    model = to_model(rgb, "srgb")
    assert np.array_equal(model, rgb)
    assert np.array_equal(from_model(model, "sRGB - Texture"), rgb)


def test_display_referred_plate_round_trips():
    codes = np.linspace(0, 1, 1001, dtype=np.float32)
    rgb = np.stack([codes, codes[::-1], codes], axis=-1)
    model = to_model(rgb, "rec709")
    assert not np.allclose(model, rgb, atol=1e-3)  # gamma 2.4 is not the sRGB curve
    np.testing.assert_allclose(from_model(model, "rec709"), rgb, atol=1e-5)


def test_raw_data_is_passed_through():
    rgb = np.array([[0.25, 3.0, -1.0]], np.float32)
    assert np.array_equal(to_model(rgb, "raw"), rgb)
    assert np.array_equal(from_model(rgb, "raw"), rgb)


def test_shapes_are_kept_and_bad_shapes_refused():
    image = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32) * 8
    assert to_model(image, "linear").shape == (5, 7, 3)
    with pytest.raises(ValueError):
        to_model(np.zeros((5, 7), np.float32), "linear")


def test_processors_are_cached():
    rgb = grey([0.5, 2.0])
    to_model(rgb, "ACEScct")
    before = colour._processor.cache_info().hits
    to_model(rgb, "ACEScct")
    from_model(rgb, "ACEScct")
    to_model(rgb, "ACEScct")
    assert colour._processor.cache_info().hits >= before + 2


def test_to_display_uint8():
    preview = to_display_uint8(grey([0.0, 0.18, 1.0, 16.0, np.nan]).reshape(1, 5, 3), "linear")
    assert preview.dtype == np.uint8 and preview.shape == (1, 5, 3)
    codes = preview[0, :, 0]
    assert codes[0] == 0 and codes[1] == 118 and codes[4] == 0
    assert codes[1] < codes[2] < codes[3] and codes[3] >= 250
    srgb = to_display_uint8(grey([0.5]), "srgb")
    assert srgb[0, 0] == 128


# -- guessing --------------------------------------------------------------------------------------------


def test_guess_exr_without_metadata_is_linear_rec709(tmp_path):
    path = write_exr(tmp_path / "plain.exr")
    assert guess_colorspace(path) == LINEAR_COLORSPACE
    assert guess_colorspace(None, ".exr") == LINEAR_COLORSPACE
    assert guess_colorspace(None, "shot/plate.1001.exr") == LINEAR_COLORSPACE


def test_guess_exr_from_chromaticities(tmp_path):
    ap1 = OpenEXR.colorInteropIDToChromaticities("lin_ap1_scene")
    assert guess_colorspace(write_exr(tmp_path / "ap1.exr", chromaticities=ap1)) == "ACEScg"
    rec709 = OpenEXR.colorInteropIDToChromaticities("lin_rec709_scene")
    assert guess_colorspace(write_exr(tmp_path / "709.exr", chromaticities=rec709)) == LINEAR_COLORSPACE


def test_guess_exr_from_color_interop_id(tmp_path):
    path = write_exr(tmp_path / "ap0.exr", colorInteropID="lin_ap0_scene")
    assert guess_colorspace(path) == "ACES2065-1"


def test_guess_honours_colorspace_attributes():
    assert guess_colorspace({"colorSpace": "ACEScg"}, ".exr") == "ACEScg"
    assert guess_colorspace({"attributes": {"colorSpace": "ACEScct"}}, ".exr") == "ACEScct"
    assert guess_colorspace({"oiio:ColorSpace": "sRGB"}, ".exr") == MODEL_COLORSPACE
    assert guess_colorspace({"oiio:ColorSpace": "lin_rec709_scene"}, ".png") == LINEAR_COLORSPACE


def test_guess_ignores_unknown_names_and_prefers_chromaticities_over_vague_linear():
    assert guess_colorspace({"colorSpace": "my studio space"}, ".exr") == LINEAR_COLORSPACE
    assert guess_colorspace({"colorSpace": "unknown"}, ".png") == MODEL_COLORSPACE
    ap1 = OpenEXR.colorInteropIDToChromaticities("lin_ap1_scene")
    header = {"attributes": {"oiio:ColorSpace": "Linear", "chromaticities": ap1}}
    assert guess_colorspace(header, ".exr") == "ACEScg"


def test_guess_takes_a_headers_scene_linear_as_vague_like_linear(tmp_path):
    # "scene_linear" in a file is a role of whichever config wrote it: it says no more about the primaries
    # than "linear" does, so the EXR default (Rec.709) holds, not the pinned config's role (ACEScg).
    assert guess_colorspace(write_exr(tmp_path / "sl.exr", colorSpace="scene_linear")) == LINEAR_COLORSPACE
    assert guess_colorspace({"oiio:ColorSpace": "scene_linear"}, ".exr") == LINEAR_COLORSPACE
    ap1 = OpenEXR.colorInteropIDToChromaticities("lin_ap1_scene")
    path = write_exr(tmp_path / "sl_ap1.exr", colorSpace="scene_linear", chromaticities=ap1)
    assert guess_colorspace(path) == "ACEScg"


def test_guess_ignores_a_readers_own_derived_guess():
    header = {"format": "exr", "attributes": {}, "colorspace": "scene_linear", "colorspace_reason": "default"}
    assert guess_colorspace(header, ".exr") == LINEAR_COLORSPACE


def test_guess_from_images_by_pixel_type():
    u8 = Image({"R": np.zeros((2, 2), np.uint8)}, source=Path("roto.0001.png"))
    u16 = Image({"R": np.zeros((2, 2), np.uint16)}, source=Path("scan.0001.tif"))
    f32 = Image({"R": np.zeros((2, 2), np.float32)}, source=Path("render.0001.tif"))
    assert guess_colorspace(u8) == MODEL_COLORSPACE
    assert guess_colorspace(u16) == MODEL_COLORSPACE
    assert guess_colorspace(f32) == LINEAR_COLORSPACE
    assert guess_colorspace(None, "jpg") == MODEL_COLORSPACE
    assert guess_colorspace(None, Path("a/b.png")) == MODEL_COLORSPACE


#: ARRI Wide Gamut 3: a camera's native primaries, which OpenEXR's table of standard spaces does not hold.
AWG3 = (0.684, 0.313, 0.221, 0.848, 0.0861, -0.102, 0.3127, 0.329)


def test_chromaticities_of_no_standard_space_are_said_not_called_missing_metadata(tmp_path):
    from aifx_core.sequence.exr import read_exr_info

    info = read_exr_info(write_exr(tmp_path / "awg.exr", chromaticities=AWG3))
    assert info.colorspace == LINEAR_COLORSPACE
    assert "chromaticities" in info.colorspace_reason and "--colorspace" in info.colorspace_reason
    # A space named outright wins (no word about the chromaticities); a vague "Linear" does not.
    named = read_exr_info(write_exr(tmp_path / "named.exr", chromaticities=AWG3, colorSpace="ACEScg"))
    assert (named.colorspace, named.colorspace_reason) == ("ACEScg", "from the file's colourspace metadata")
    vague = read_exr_info(write_exr(tmp_path / "vague.exr", chromaticities=AWG3, colorSpace="Linear"))
    assert "chromaticities" in vague.colorspace_reason


def test_the_unknown_primaries_note_follows_the_rule_that_decided():
    """The note was decided by a second walk over the header that let any later named space silence it, while
    the guess takes the first name it knows: a vague "Linear" before an outright "ACEScg" took AWG3 values as
    Rec.709 without a word. Both now come from the one walk."""
    header = {"colorSpace": "Linear", "oiio:ColorSpace": "ACEScg", "chromaticities": AWG3}
    assert guess_colorspace({"attributes": header}, ".exr") == LINEAR_COLORSPACE
    doubt = colour.colorspace_doubt(header, is_float=True)
    assert doubt is not None and doubt.kind == "unknown_primaries"
    assert colour.explain_colorspace(header, is_float=True) == (LINEAR_COLORSPACE, colour.UNKNOWN_PRIMARIES)
    named = {"colorSpace": "ACEScg", "oiio:ColorSpace": "Linear", "chromaticities": AWG3}
    assert colour.colorspace_doubt(named, is_float=True) is None
