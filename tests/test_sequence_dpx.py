"""DPX plates (film scans, camera pipelines): read and written through OpenImageIO, a 10-bit scan stays a
10-bit scan with its header (transfer, timecode), outside the hole bit for bit."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from cli_runner import aifx

FRAMES = (1001, 1002, 1003)
HOLE = (slice(10, 30), slice(20, 44))
TIMECODE = (0x01020304, 0)  # 01:02:03:04, SMPTE packed


def _write_dpx(path: Path, pixels: np.ndarray, bits: int, frame: int, endian: str) -> None:
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", bits)
    spec.attribute("oiio:Endian", endian)
    spec.attribute("dpx:Transfer", "Printing density")
    spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (TIMECODE[0] + frame - FRAMES[0], 0))
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels) and out.close(), out.geterror()


def _read(path: Path) -> tuple[np.ndarray, oiio.ImageSpec]:
    source = oiio.ImageInput.open(str(path))
    assert source is not None, oiio.geterror()
    pixels = source.read_image(0, 0, 0, 3, oiio.UINT16)
    spec = source.spec()
    source.close()
    return np.asarray(pixels), spec


def _shot(folder: Path, bits: int = 10, endian: str = "little") -> Path:
    folder.mkdir()
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    for index, frame in enumerate(FRAMES):
        wave = [0.5 + 0.4 * np.sin((xx + 2 * index) / (4 + c) + yy / 7) for c in range(3)]
        codes = np.rint(np.dstack(wave) * ((1 << bits) - 1)).astype(np.uint16)
        wide = (codes << (16 - bits)) | (codes >> (2 * bits - 16))  # as OpenImageIO widens them
        _write_dpx(folder / f"plate.{frame}.dpx", wide, bits, frame, endian)
        matte = np.zeros((48, 64), np.uint8)
        matte[HOLE] = 255
        cv2.imwrite(str(folder / f"mask.{frame}.png"), matte)
    return folder


@pytest.mark.parametrize(("bits", "endian"), [(10, "big"), (10, "little"), (12, "big")])
def test_a_10_or_12_bit_dpx_shot_keeps_its_depth_header_and_byte_order_and_outside_the_hole(
    tmp_path, bits, endian
):
    """Film scanners write big-endian DPX (SDPX); the output keeps the byte order as well as the bits."""
    shot = _shot(tmp_path / "shot", bits=bits, endian=endian)
    assert (shot / "plate.1001.dpx").read_bytes()[:4] == (b"SDPX" if endian == "big" else b"XPDS")
    out = tmp_path / "o" / "clean.####.dpx"
    done = aifx(
        "fill",
        str(shot / "plate.####.dpx"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
        "--dilate",
        "0",
        "--feather",
        "0",
    )
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr and "warning" not in done.stderr, done.stderr
    inside = np.zeros((48, 64), bool)
    inside[HOLE] = True
    for frame in FRAMES:
        source_path, result_path = shot / f"plate.{frame}.dpx", out.parent / f"clean.{frame}.dpx"
        (source, source_spec), (result, spec) = _read(source_path), _read(result_path)
        assert spec.get_int_attribute("oiio:BitsPerSample") == bits
        assert result_path.stat().st_size == source_path.stat().st_size  # packed 10-bit, not widened to 16
        assert np.array_equal(result[~inside], source[~inside])
        assert not np.array_equal(result[inside], source[inside])  # filled
        assert spec.get_string_attribute("dpx:Transfer") == "Printing density"
        assert tuple(spec.getattribute("smpte:TimeCode")) == tuple(source_spec.getattribute("smpte:TimeCode"))
        assert result_path.read_bytes()[:4] == source_path.read_bytes()[:4]


def test_dpx_is_found_in_a_folder_described_and_a_mislabelled_one_named(tmp_path):
    shot = _shot(tmp_path / "shot", bits=12)
    info = aifx("info", str(shot / "plate.####.dpx"))
    assert info.returncode == 0, info.stderr
    assert "DPX" in info.stdout and "64x48" in info.stdout, info.stdout
    assert "channels:    R,G,B (12-bit, read as uint16)" in info.stdout, info.stdout
    assert "transfer is Printing density (log): pass --colorspace" in info.stdout, info.stdout
    folder = tmp_path / "only_plates"
    folder.mkdir()
    for frame in FRAMES:
        (folder / f"plate.{frame}.dpx").write_bytes((shot / f"plate.{frame}.dpx").read_bytes())
    listed = aifx("info", str(folder))
    assert listed.returncode == 0 and "1001-1003" in listed.stdout, listed.stdout + listed.stderr
    (tmp_path / "fake.dpx").write_bytes((shot / "mask.1001.png").read_bytes())
    fake = aifx("info", str(tmp_path / "fake.dpx"))
    assert fake.returncode == 2 and "PNG" in fake.stderr and ".dpx" in fake.stderr, fake.stderr


def test_a_dpx_written_from_a_linear_exr_plate_says_it_is_linear(tmp_path):
    """A DPX keeps no colourspace name (OpenImageIO drops ``oiio:ColorSpace`` there), so a DPX output of a
    linear EXR plate, which holds the plate's values as they are, read back as sRGB-encoded: shown far too
    dark, and scored by ``aifx eval`` as the wrong curve. Its transfer now says ``Linear``; an sRGB PNG
    plate's DPX keeps the transfer it always had."""
    from shot_files import make_shot

    from aifx_core.colour import guess_colorspace
    from aifx_core.sequence import read_image

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1003))
    out = tmp_path / "o" / "clean.####.dpx"
    done = aifx("fill", str(shot / "plate.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    _pixels, spec = _read(tmp_path / "o" / "clean.1001.dpx")
    assert spec.get_string_attribute("dpx:Transfer") == "Linear"
    assert guess_colorspace(read_image(tmp_path / "o" / "clean.1001.dpx")) == "Linear Rec.709 (sRGB)"
    info = aifx("info", str(out))
    assert "colourspace: Linear Rec.709" in info.stdout, info.stdout

    png_plate = tmp_path / "png"
    png_plate.mkdir()
    for frame in (1001, 1002):
        cv2.imwrite(str(png_plate / f"plate.{frame}.png"), np.full((48, 64, 3), 120, np.uint8))
    out = tmp_path / "p" / "clean.####.dpx"
    done = aifx("fill", str(png_plate / "plate.####.png"), "-m", str(shot / "mask.####.png"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    _pixels, spec = _read(tmp_path / "p" / "clean.1001.dpx")
    assert spec.get_string_attribute("dpx:Transfer") != "Linear"
    assert guess_colorspace(read_image(tmp_path / "p" / "clean.1001.dpx")) == "sRGB Encoded Rec.709 (sRGB)"


def test_timecode_keycode_and_frame_rate_go_between_dpx_and_exr(tmp_path):
    """A DPX scan with timecode written as .exr had no timeCode, and an EXR with timeCode, keyCode and
    framesPerSecond written as .dpx kept none, without a word. They are carried across now (each frame its own
    timecode); PNG, TIFF and JPEG cannot hold them, and the fill's note names what such an output drops."""
    import OpenEXR

    from aifx_core.job import FillJob
    from aifx_core.pipeline import fill

    shot = tmp_path / "scan"
    shot.mkdir()
    keycode = (12, 3, 456, 7890, 5, 4, 64)
    for frame in FRAMES:
        spec = oiio.ImageSpec(64, 48, 3, oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 10)
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (TIMECODE[0] + frame - FRAMES[0], 0))
        spec.attribute("smpte:KeyCode", oiio.TypeDesc("keycode"), keycode)
        spec.attribute("dpx:FrameRate", 24000 / 1001)
        out = oiio.ImageOutput.create(str(shot / f"plate.{frame}.dpx"))
        assert out.open(str(shot / f"plate.{frame}.dpx"), spec)
        assert out.write_image(np.full((48, 64, 3), 20000, np.uint16)) and out.close()
        matte = np.zeros((48, 64), np.uint8)
        matte[HOLE] = 255
        cv2.imwrite(str(shot / f"mask.{frame}.png"), matte)

    def run(plate: str, output: str) -> list[str]:
        job = FillJob(input=plate, mask=str(shot / "mask.####.png"), output=output, backend="telea")
        return fill(job).notices

    assert not [
        n for n in run(str(shot / "plate.####.dpx"), str(tmp_path / "e" / "c.####.exr")) if "timecode" in n
    ]
    for frame in FRAMES:
        header = OpenEXR.File(str(tmp_path / "e" / f"c.{frame}.exr"), header_only=True).parts[0].header
        code = header["timeCode"]
        assert (code.hours, code.minutes, code.seconds, code.frame) == (1, 2, 3, 4 + frame - FRAMES[0])
        key = header["keyCode"]
        assert (key.filmMfcCode, key.filmType, key.prefix, key.count, key.perfOffset) == keycode[:5]
        assert header["framesPerSecond"] == Fraction(24000, 1001)

    assert not [
        n
        for n in run(str(tmp_path / "e" / "c.####.exr"), str(tmp_path / "d" / "c.####.dpx"))
        if "timecode" in n
    ]
    for frame in FRAMES:
        _pixels, spec = _read(tmp_path / "d" / f"c.{frame}.dpx")
        assert tuple(spec.getattribute("smpte:TimeCode")) == (TIMECODE[0] + frame - FRAMES[0], 0)
        assert tuple(spec.getattribute("smpte:KeyCode")) == keycode
        assert spec.getattribute("dpx:FrameRate") == pytest.approx(24000 / 1001)

    said = (
        "TIFF output drops the EXR plate's "  # (... timecode, keycode, frame rate; write .exr to keep them)
    )
    notes = run(str(tmp_path / "e" / "c.####.exr"), str(tmp_path / "t" / "c.####.tif"))
    assert any(said in n and "timecode, keycode, frame rate; write .exr" in n for n in notes), notes
    said = "note: PNG output drops the plate's timecode, keycode, frame rate; write .dpx or .exr to keep them"
    assert said in run(str(shot / "plate.####.dpx"), str(tmp_path / "p" / "c.####.png"))


@pytest.mark.parametrize("endian", ["big", "little"])
def test_a_dpx_output_names_its_own_file_and_two_runs_give_the_same_bytes(tmp_path, endian):
    """Every DPX output's header file name field was the hidden temp file's path (a pid and a random token):
    no two runs gave the same bytes (a resumed output failed an md5 check against an uninterrupted one) and
    conform tools showed a file that does not exist. It holds the frame's own file name now."""
    from aifx_core.job import FillJob
    from aifx_core.pipeline import fill

    shot = _shot(tmp_path / "shot", endian=endian)
    for name in ("a", "b"):
        job = FillJob(
            input=str(shot / "plate.####.dpx"),
            mask=str(shot / "mask.####.png"),
            output=str(tmp_path / name / "clean.####.dpx"),
            backend="telea",
        )
        assert fill(job).written == list(FRAMES)
    (tmp_path / "b" / "clean.1002.dpx").unlink()  # (killed before it: the rerun resumes)
    assert fill(job).written == [1002]
    for frame in FRAMES:
        made = (tmp_path / "a" / f"clean.{frame}.dpx").read_bytes()
        assert made[36:136] == f"clean.{frame}.dpx".encode().ljust(100, b"\0")
        assert made == (tmp_path / "b" / f"clean.{frame}.dpx").read_bytes(), frame


@pytest.mark.parametrize(
    ("written", "rate"),
    [
        (23.976, Fraction(24000, 1001)),
        (23.98, Fraction(24000, 1001)),
        (29.97, Fraction(30000, 1001)),
        (47.952, Fraction(48000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (119.88, Fraction(120000, 1001)),
        (24.0, Fraction(24)),
        (25.0, Fraction(25)),
        (50.0, Fraction(50)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_a_scans_decimal_frame_rate_is_the_exact_rate_in_exr(tmp_path, written, rate):
    """A DPX scan's 23.976, as scanners write it (a float32), became EXR framesPerSecond 2997/125, not
    24000/1001 (29.97 2997/100, 59.94 2997/50...), which conform tools do not take for the NTSC rate. An
    NTSC-family rate is n * 1000/1001 now, a whole one whole, any other the nearest fraction as before."""
    import OpenEXR

    from aifx_core.sequence import read_image, write_image

    spec = oiio.ImageSpec(8, 6, 3, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", 10)
    spec.attribute("dpx:FrameRate", written)
    out = oiio.ImageOutput.create(str(tmp_path / "scan.1001.dpx"))
    assert out.open(str(tmp_path / "scan.1001.dpx"), spec)
    assert out.write_image(np.full((6, 8, 3), 20000, np.uint16)) and out.close()
    exr = write_image(tmp_path / "c.1001.exr", read_image(tmp_path / "scan.1001.dpx"))
    assert OpenEXR.File(str(exr), header_only=True).parts[0].header["framesPerSecond"] == rate


def test_a_dpx_of_a_plate_in_other_primaries_says_it_is_read_as_linear_rec709(tmp_path):
    """The note said an ACEScg plate's DPX named its colourspace 'acescg' in its metadata; a DPX keeps only its
    transfer, which reads back as linear Rec.709. The note now says what a reader will take it for."""
    from shot_files import make_shot, plate_frame, write_exr

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1003))
    for frame in (1001, 1002):
        write_exr(shot / f"aces.{frame}.exr", plate_frame(frame - 1001), colorInteropID="lin_ap1_scene")
    for plate, expected in (
        ("aces", "so it is read as lin_rec709_scene"),
        ("plate", "(marked as linear by its DPX transfer)"),
    ):
        out = tmp_path / plate / "clean.####.dpx"
        done = aifx(
            "fill", str(shot / f"{plate}.####.exr"), "-m", str(shot / "mask.####.png"), "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        note = next(line for line in done.stderr.splitlines() if "holds the EXR plate's values" in line)
        assert expected in note and "named in its metadata" not in note, note
