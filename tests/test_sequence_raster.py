"""PNG / TIFF / JPEG through OpenImageIO: 8/16-bit and float round trips, metadata, conversions to/from EXR."""

from __future__ import annotations

import site
from pathlib import Path

import numpy as np
import OpenEXR
import OpenImageIO as oiio
import pytest

from aifx_core.errors import InputError
from aifx_core.sequence import Image, from_float, read_image, to_float, write_image

H, W = 48, 64


def random_pixels(dtype: type, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype is np.float32:
        return (rng.random((H, W, channels)) * 4 - 1).astype(np.float32)
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, (H, W, channels), dtype=dtype)


def write_direct(path: Path, pixels: np.ndarray, **attributes: object) -> Path:
    """Write with OpenImageIO directly (unassociated alpha: store the values given)."""
    typedesc = {np.uint8: oiio.UINT8, np.uint16: oiio.UINT16, np.float32: oiio.FLOAT}[pixels.dtype.type]
    spec = oiio.ImageSpec(W, H, pixels.shape[2], typedesc)
    spec.attribute("oiio:UnassociatedAlpha", 1)
    for name, value in attributes.items():
        spec.attribute(name, value)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(pixels)
    out.close()
    return path


def read_direct(path: Path) -> tuple[oiio.ImageSpec, np.ndarray]:
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)
    source = oiio.ImageInput.open(str(path), config)
    spec = source.spec()
    pixels = source.read_image(0, 0, 0, spec.nchannels, spec.format)
    source.close()
    return spec, pixels


CASES = [
    ("png", np.uint8, 3, ("R", "G", "B")),
    ("png", np.uint8, 4, ("R", "G", "B", "A")),
    ("png", np.uint16, 3, ("R", "G", "B")),
    ("png", np.uint16, 4, ("R", "G", "B", "A")),
    ("png", np.uint8, 1, ("Y",)),
    ("tif", np.uint8, 3, ("R", "G", "B")),
    ("tif", np.uint16, 4, ("R", "G", "B", "A")),
    ("tif", np.float32, 3, ("R", "G", "B")),
    ("tif", np.uint16, 1, ("Y",)),
]


@pytest.mark.parametrize(("ext", "dtype", "count", "names"), CASES)
def test_reads_independent_file_and_round_trips_bit_exact(
    tmp_path: Path, ext: str, dtype: type, count: int, names: tuple[str, ...]
) -> None:
    pixels = random_pixels(dtype, count)
    source = write_direct(tmp_path / f"in.{ext}", pixels)
    image = read_image(source)
    assert tuple(image.channels) == names
    for i, name in enumerate(names):
        assert image.channels[name].dtype == dtype
        assert np.array_equal(image.channels[name], pixels[:, :, i])
    assert image.header["bit_depth"] == np.dtype(dtype).itemsize * 8
    spec, back = read_direct(write_image(tmp_path / f"out.{ext}", image))
    assert back.dtype == dtype
    assert tuple(spec.channelnames) == names
    assert np.array_equal(back.reshape(pixels.shape), pixels)


def test_metadata_is_kept(tmp_path: Path) -> None:
    source = write_direct(
        tmp_path / "in.tif",
        random_pixels(np.uint16, 3),
        XResolution=300.0,
        YResolution=300.0,
        ResolutionUnit="in",
        Software="PaintTool 7",
        Artist="roto dept",
    )
    image = read_image(source)
    assert image.header["attributes"]["Software"] == "PaintTool 7"
    for ext in ("tif", "png"):
        spec, _ = read_direct(write_image(tmp_path / f"out.{ext}", image))
        assert spec.getattribute("XResolution") == pytest.approx(300.0)
        assert spec.getattribute("Software") == "PaintTool 7"


def test_icc_profile_is_kept(tmp_path: Path) -> None:
    # a real ICC profile: Blender's bpy module ships some in the environment
    profiles = [
        icc
        for site_dir in site.getsitepackages()
        for icc in sorted(Path(site_dir).glob("bpy/*/datafiles/colormanagement/icc/*.icc"))
    ]
    if not profiles:
        pytest.skip("no ICC profile available")
    icc = np.fromfile(profiles[0], dtype=np.uint8)
    spec = oiio.ImageSpec(W, H, 3, oiio.UINT8)
    spec.attribute("ICCProfile", oiio.TypeDesc(f"uint8[{icc.size}]"), icc)
    path = tmp_path / "icc.png"
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(random_pixels(np.uint8, 3))
    out.close()
    written, _ = read_direct(write_image(tmp_path / "out.png", read_image(path)))
    assert bytes(np.asarray(written.getattribute("ICCProfile"), dtype=np.uint8)) == icc.tobytes()


def test_jpeg_reads_as_8_bit_and_writes_close(tmp_path: Path) -> None:
    smooth = np.tile(np.linspace(0, 255, W, dtype=np.float32), (H, 1))
    pixels = np.stack([smooth, smooth[::-1], np.full_like(smooth, 128)], axis=-1).astype(np.uint8)
    source = write_direct(tmp_path / "in.jpg", pixels)
    image = read_image(source)
    assert tuple(image.channels) == ("R", "G", "B")
    assert image.channels["R"].dtype == np.uint8
    assert image.header["colorspace"] == "sRGB Encoded Rec.709 (sRGB)"
    _, back = read_direct(write_image(tmp_path / "out.jpeg", image))
    assert np.abs(back.astype(int) - pixels.astype(int)).mean() < 3


def test_the_shared_clip_png_round_trips(tennis: Path, tmp_path: Path) -> None:
    image = read_image(tennis / "frames" / "00000.png")
    assert image.shape == (240, 432)
    assert image.channels["R"].dtype == np.uint8
    again = read_image(write_image(tmp_path / "copy.png", image))
    for name in image.channels:
        assert np.array_equal(again.channels[name], image.channels[name])


def exr_image(tmp_path: Path) -> Image:
    """A half RGBA EXR with HDR and negative values and an extra Z channel, written by OpenEXR."""
    rng = np.random.default_rng(4)
    planes = {c: (rng.random((H, W)) * 1.4 - 0.2).astype(np.float16) for c in "RGBA"}
    planes["Z"] = rng.random((H, W)).astype(np.float32)
    path = tmp_path / "plate.exr"
    OpenEXR.File({}, dict(planes)).write(str(path))
    return read_image(path)


def test_exr_to_png_is_16_bit_colour_and_alpha(tmp_path: Path) -> None:
    image = exr_image(tmp_path)
    spec, pixels = read_direct(write_image(tmp_path / "out.png", image))
    assert tuple(spec.channelnames) == ("R", "G", "B", "A")  # Z cannot live in a PNG
    assert pixels.dtype == np.uint16
    for i, name in enumerate("RGBA"):
        expected = from_float(to_float(image.channels[name]), np.uint16)
        assert np.array_equal(pixels[:, :, i], expected)


def test_exr_to_png_8_bit_on_request(tmp_path: Path) -> None:
    image = exr_image(tmp_path)
    _, pixels = read_direct(write_image(tmp_path / "out.png", image, bit_depth=8))
    assert pixels.dtype == np.uint8
    assert np.array_equal(pixels[:, :, 0], from_float(to_float(image.channels["R"]), np.uint8))


def test_exr_to_tiff_keeps_float_colour_and_alpha(tmp_path: Path) -> None:
    image = exr_image(tmp_path)
    assert list(image.channels)[0] == "A"  # EXR stores channels sorted: the writer must reorder them
    spec, pixels = read_direct(write_image(tmp_path / "out.tif", image))
    assert pixels.dtype == np.float32
    assert tuple(spec.channelnames) == ("R", "G", "B", "A")
    for i, name in enumerate("RGBA"):
        assert np.array_equal(pixels[:, :, i], image.channels[name].astype(np.float32))


def test_png_to_exr_is_half_scaled_to_one(tmp_path: Path) -> None:
    pixels = random_pixels(np.uint8, 4)
    image = read_image(write_direct(tmp_path / "in.png", pixels))
    exr = OpenEXR.File(str(write_image(tmp_path / "out.exr", image)), separate_channels=True)
    channels = {name: c.pixels for name, c in exr.channels().items()}
    assert set(channels) == {"R", "G", "B", "A"}
    for i, name in enumerate("RGBA"):
        assert channels[name].dtype == np.float16
        assert np.array_equal(channels[name], (pixels[:, :, i] / 255.0).astype(np.float32).astype(np.float16))


@pytest.mark.parametrize(("ext", "bits"), [("png", 16), ("tif", 16), ("dpx", 10), ("dpx", 12)])
def test_a_16_bit_plate_written_as_exr_keeps_every_code(tmp_path: Path, ext: str, bits: int) -> None:
    """A 16-bit PNG/TIFF (or 10/12-bit DPX) written as EXR was rounded to half: most samples of the frame,
    outside the mask too, no longer came back to their code (up to 16 codes off), without a note. They are
    float now (exact); an 8-bit plate stays half, which holds its 256 codes."""
    pixels = random_pixels(np.uint16, 3, seed=bits)
    spec = oiio.ImageSpec(W, H, 3, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", bits)
    out = oiio.ImageOutput.create(str(tmp_path / f"in.{ext}"))
    assert out.open(str(tmp_path / f"in.{ext}"), spec)
    assert out.write_image(pixels)
    out.close()
    image = read_image(tmp_path / f"in.{ext}")
    codes = np.stack([image.channels[n] for n in "RGB"], axis=-1)  # (a 10-bit scan's codes widened to 16)
    exr = OpenEXR.File(str(write_image(tmp_path / "out.exr", image)), separate_channels=True)
    for i, name in enumerate("RGB"):
        plane = exr.channels()[name].pixels
        assert plane.dtype == np.float32
        assert np.array_equal(np.rint(plane.astype(np.float64) * 65535), codes[..., i]), name


def test_bit_depth_the_format_cannot_hold(tmp_path: Path) -> None:
    image = Image(channels={c: np.zeros((H, W), np.float32) for c in "RGB"})
    with pytest.raises(InputError, match="cannot store 32-bit"):
        write_image(tmp_path / "x.png", image, bit_depth=32)
    with pytest.raises(InputError, match="EXR"):
        write_image(tmp_path / "x.exr", image, bit_depth=16)
    assert list(tmp_path.iterdir()) == []


def test_png_needs_colour_channels(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        write_image(tmp_path / "depth.png", Image(channels={"Z": np.zeros((H, W), np.float32)}))
    assert str(caught.value).startswith(f"{tmp_path / 'depth.png'}: PNG needs colour channels")
    assert "found Z; write an EXR" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_png_zip_level_is_fast_lossless_and_chosen_by_zip_n(tmp_path: Path) -> None:
    """PNG is written at zlib level 1 (fast) unless ``zip:N`` asks for another; every level is lossless."""
    smooth = np.linspace(0, 255, W, dtype=np.float32)[None, :, None] * np.ones((H, 1, 3), np.float32)
    pixels = np.rint(smooth + 8 * np.sin(np.arange(H))[:, None, None]).clip(0, 255).astype(np.uint8)
    image = Image(channels={c: pixels[:, :, i].copy() for i, c in enumerate("RGB")})
    sizes = {}
    for compression in (None, "zip:1", "zip:9", "none"):
        path = write_image(tmp_path / f"{compression}.png".replace(":", "_"), image, compression=compression)
        _, back = read_direct(path)
        assert np.array_equal(back, pixels)
        sizes[compression] = path.stat().st_size
    assert sizes["zip:9"] < sizes["zip:1"] < sizes["none"]  # the level reaches libpng
    with pytest.raises(InputError, match="zip:0 to zip:9"):
        write_image(tmp_path / "bad.png", image, compression="zip:12")
    assert not (tmp_path / "bad.png").exists()


def test_a_multi_page_tiff_says_that_only_its_first_page_is_filled(tmp_path: Path) -> None:
    """A TIFF with two pages (images) was read as its first page and written back with the second dropped,
    without a word: the fill and ``aifx info`` now say so; a one-page TIFF says nothing."""
    import cv2
    from cli_runner import aifx

    rng = np.random.default_rng(3)
    for frame in (1001, 1002):
        path = str(tmp_path / f"plate.{frame}.tif")
        out = oiio.ImageOutput.create(path)
        spec = oiio.ImageSpec(32, 24, 3, oiio.UINT8)
        assert out.open(path, [spec, spec])
        assert out.write_image((rng.random((24, 32, 3)) * 255).astype(np.uint8))
        assert out.open(path, spec, "AppendSubimage") and out.write_image(np.zeros((24, 32, 3), np.uint8))
        assert out.close()
        write_image(tmp_path / f"single.{frame}.tif", read_image(Path(path)))
        matte = np.zeros((24, 32), np.uint8)
        matte[8:16, 8:16] = 255
        cv2.imwrite(str(tmp_path / f"mask.{frame}.png"), matte)
    for name, pages in (("plate", 2), ("single", 1)):
        done = aifx(
            "fill",
            str(tmp_path / f"{name}.####.tif"),
            "-m",
            str(tmp_path / "mask.####.png"),
            "-o",
            str(tmp_path / f"o_{name}" / "c.####.tif"),
        )
        assert done.returncode == 0, done.stderr
        said = "note: the plate's TIFF files hold 2 images (pages); only the first is filled and written"
        assert (said in done.stderr) == (pages == 2), done.stderr
        info = aifx("info", str(tmp_path / f"{name}.####.tif")).stdout
        assert ("pages:       2; the first is filled and written, the others are dropped" in info) == (
            pages == 2
        )


@pytest.mark.parametrize("associated", [True, False])
def test_a_tiffs_alpha_association_is_kept(tmp_path: Path, associated: bool) -> None:
    """A premultiplied RGBA TIFF (as renderers and oiiotool write it) came back marked unassociated, so every
    other reader multiplied its colour by alpha again, outside the mask too; an unassociated one stays so."""
    pixels = random_pixels(np.uint16, 4, seed=3)
    spec = oiio.ImageSpec(W, H, 4, oiio.UINT16)
    spec.channelnames = ("R", "G", "B", "A")
    spec.alpha_channel = 3
    if not associated:
        spec.attribute("oiio:UnassociatedAlpha", 1)
    source = tmp_path / "in.tif"
    out = oiio.ImageOutput.create(str(source))
    assert out.open(str(source), spec) and out.write_image(pixels) and out.close()
    written = write_image(tmp_path / "out.tif", read_image(source))

    def as_other_readers_see_it(path: Path) -> tuple[np.ndarray, int]:
        image = oiio.ImageBuf(str(path))  # OpenImageIO's defaults: what oiiotool, RV, a compositor show
        return image.get_pixels(oiio.UINT16), image.spec().get_int_attribute("tiff:UnassociatedAlpha", 0)

    before, after = as_other_readers_see_it(source), as_other_readers_see_it(written)
    assert after[1] == before[1] == (0 if associated else 1)
    assert np.array_equal(after[0], before[0])
    assert np.array_equal(read_direct(written)[1].reshape(pixels.shape), pixels)  # stored values unchanged


def test_a_tiffs_extra_samples_are_kept(tmp_path: Path) -> None:
    """A second matte or spot channel after RGBA was dropped from a TIFF written from a TIFF plate."""
    pixels = random_pixels(np.uint16, 5, seed=4)
    source = write_direct(tmp_path / "in.tif", pixels)
    image = read_image(source)
    assert len(image.channels) == 5
    spec, back = read_direct(write_image(tmp_path / "out.tif", image))
    assert tuple(spec.channelnames) == tuple(image.channels)
    assert np.array_equal(back.reshape(pixels.shape), pixels)


def test_a_png_output_says_which_tiff_channels_it_drops(tmp_path: Path) -> None:
    """TIFF plate → PNG output: the extra sample cannot go into a PNG; the fill says so (it said nothing)."""
    import cv2
    from cli_runner import aifx

    for frame in (1001, 1002):
        write_direct(tmp_path / f"plate.{frame}.tif", random_pixels(np.uint16, 5, seed=frame))
        matte = np.zeros((H, W), np.uint8)
        matte[2:6, 2:6] = 255
        cv2.imwrite(str(tmp_path / f"mask.{frame}.png"), matte)
    for ext, said in (("png", True), ("tif", False)):
        out = tmp_path / f"o_{ext}" / f"c.####.{ext}"
        done = aifx(
            "fill", str(tmp_path / "plate.####.tif"), "-m", str(tmp_path / "mask.####.png"), "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        note = "note: PNG output drops the plate's channels channel4; write .exr or .tif to keep them"
        assert (note in done.stderr) == said, done.stderr


def test_an_output_in_another_format_names_the_plates_colourspace(tmp_path: Path) -> None:
    """The values are written as they are (no colour conversion): a linear EXR plate's PNG holds linear values
    and an sRGB PNG plate's EXR sRGB-encoded ones. Unnamed, every reader (aifx info too) took the PNG for sRGB
    and the EXR for linear; the file now says what its values are, and the fill says it in a note."""
    import cv2
    from cli_runner import aifx

    matte = np.zeros((H, W), np.uint8)
    matte[2:6, 2:6] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), matte)
    grey = {c: np.full((H, W), 0.18, np.float16) for c in "RGB"}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, grey).write(str(tmp_path / "lin.1001.exr"))
    write_direct(tmp_path / "srgb.1001.png", np.full((H, W, 3), 118, np.uint8))
    for plate, ext, colorspace, stated in (
        ("lin.####.exr", "png", "Linear Rec.709 (sRGB)", "lin_rec709_scene"),
        ("srgb.####.png", "exr", "sRGB Encoded Rec.709 (sRGB)", "srgb_rec709_scene"),
        ("srgb.####.png", "tif", None, None),  # what a TIFF usually holds: no note (and no guess changed)
    ):
        out = tmp_path / f"o_{ext}" / f"c.####.{ext}"
        done = aifx("fill", str(tmp_path / plate), "-m", str(tmp_path / "mask.png"), "-o", str(out))
        assert done.returncode == 0, done.stderr
        written = read_image(Path(str(out).replace("####", "1001")))
        if colorspace is None:
            assert "colorconvert" not in done.stderr
            continue
        assert f"in {colorspace} (named in its metadata as {stated})" in done.stderr, done.stderr
        assert written.header["colorspace"] == colorspace
        assert "metadata" in written.header["colorspace_reason"]
    # A job that names the colourspace (the Blender adapter does) knows what it asked for: no note.
    named = aifx("fill", str(tmp_path / "lin.####.exr"), "-m", str(tmp_path / "mask.png"), "-o",
                 str(tmp_path / "named" / "c.####.png"), "--colorspace", "linear")  # fmt: skip
    assert named.returncode == 0 and "colorconvert" not in named.stderr, named.stderr


def test_a_plate_stored_turned_says_the_mask_must_match_the_stored_frames(tmp_path: Path) -> None:
    """EXIF Orientation 3 (turned 180°, as a camera writes it): aifx fills the frame as stored, while every
    viewer shows it turned, so a mask painted on the shown frame landed on the wrong place without a word."""
    import cv2
    from cli_runner import aifx

    for frame in (1001, 1002):
        write_direct(tmp_path / f"plate.{frame}.png", random_pixels(np.uint8, 3, seed=frame), Orientation=3)
    matte = np.zeros((H, W), np.uint8)
    matte[2:6, 2:6] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), matte)
    for ext in ("png", "exr"):
        out = tmp_path / f"o_{ext}" / f"c.####.{ext}"
        done = aifx(
            "fill", str(tmp_path / "plate.####.png"), "-m", str(tmp_path / "mask.png"), "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        assert "stored turned or mirrored (EXIF Orientation 3)" in done.stderr, done.stderr
        assert ("does not keep the orientation" in done.stderr) == (ext == "exr")


def test_a_jpeg_or_tiff_of_a_linear_plate_says_what_it_holds_and_only_that(tmp_path: Path) -> None:
    """Linear EXR plate → .jpg had no colourspace note though it holds linear values a reader takes for sRGB;
    → .tif claimed the colourspace was "named in its metadata" (OpenImageIO's TIFF writer keeps none) and that
    values above 1 and below 0 were clipped, though a float TIFF keeps them."""
    import cv2

    from aifx_core.job import FillJob
    from aifx_core.pipeline import fill

    matte = np.zeros((H, W), np.uint8)
    matte[2:6, 2:6] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), matte)
    wide = {c: (random_pixels(np.float32, 1, seed=i)[..., 0]) for i, c in enumerate("RGB")}  # -1..3
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {**wide, "Z": np.ones((H, W), np.float32)}).write(str(tmp_path / "lin.1001.exr"))

    def notes(ext: str) -> list[str]:
        job = FillJob(
            input=str(tmp_path / "lin.####.exr"),
            mask=str(tmp_path / "mask.png"),
            output=str(tmp_path / ext / f"c.####.{ext}"),
            backend="telea",
        )
        return fill(job).notices

    jpeg = notes("jpg")
    assert (
        "note: JPEG output drops the EXR plate's channels Z, values above 1 and below 0 (clipped)"
        in "".join(jpeg)
    )
    said = (
        "note: the JPEG output holds the EXR plate's values as they are, in Linear Rec.709 (sRGB), not converted "
        "to the srgb_rec709_scene a viewer expects of a .jpg, and a .jpg cannot name its colourspace, so it is "
        "read as srgb_rec709_scene; convert it for viewing"
    )
    assert any(n.startswith(said) for n in jpeg), jpeg
    assert read_image(tmp_path / "jpg" / "c.1001.jpg").header["colorspace"] == "sRGB Encoded Rec.709 (sRGB)"

    tiff = notes("tif")
    assert "note: TIFF output drops the EXR plate's channels Z; write .exr to keep them" in tiff, tiff
    assert not [n for n in tiff if "metadata" in n or "clipped" in n], tiff  # (a float TIFF: read as linear)
    written = read_image(tmp_path / "tif" / "c.1001.tif")
    assert written.header["colorspace"] == "Linear Rec.709 (sRGB)"
    assert written.channels["R"].min() < 0 and written.channels["R"].max() > 1


def test_a_tiff_of_an_exr_plate_that_drops_nothing_has_no_drop_note(tmp_path: Path) -> None:
    """An RGBA EXR plate written as .tif (float: nothing clipped) printed an empty, garbled note: "TIFF output
    drops the EXR plate's ; write .exr to keep them"."""
    import cv2

    from aifx_core.job import FillJob
    from aifx_core.pipeline import fill

    matte = np.zeros((H, W), np.uint8)
    matte[2:6, 2:6] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), matte)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    channels = {c: random_pixels(np.float32, 1, seed=i)[..., 0] for i, c in enumerate("RGBA")}
    OpenEXR.File(header, channels).write(str(tmp_path / "plate.1001.exr"))
    job = FillJob(
        input=str(tmp_path / "plate.####.exr"),
        mask=str(tmp_path / "mask.png"),
        output=str(tmp_path / "o" / "c.####.tif"),
        backend="telea",
    )
    notices = fill(job).notices
    assert not [n for n in notices if "drops" in n], notices
