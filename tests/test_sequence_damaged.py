"""Damaged and unreadable files: each gives one InputError naming the file, quickly, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from damaged_files import (
    damaged_set,
    run_unprivileged,
    shared_temp_folder,
    write_good_exr,
    write_good_raster,
)

from aifx_core.errors import InputError
from aifx_core.sequence import open_sequence, read_image, read_info

KINDS = [
    "truncated_exr",
    "truncated_exr_end",
    "truncated_tiled_exr",
    "truncated_exr_header",
    "garbage_header_exr",
    "wrong_magic_exr",
    "zero_length_exr",
    "png_named_exr",
    "exr_named_png",
    "truncated_png",
    "zero_length_png",
    "wrong_magic_png",
    "truncated_tiff_u16",
    "truncated_tiff_float_zip",
    "truncated_dpx_10bit",
    "truncated_jpeg",
]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return damaged_set(tmp_path_factory.mktemp("damaged"))


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_file_is_input_error_naming_the_file(damaged: dict[str, Path], kind: str) -> None:
    path = damaged[kind]
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_image(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 30  # (a guard against a reader that hangs on it only)


@pytest.mark.parametrize(
    "kind", ["zero_length_exr", "wrong_magic_exr", "png_named_exr", "garbage_header_exr"]
)
def test_header_reader_rejects_damage_too(damaged: dict[str, Path], kind: str) -> None:
    with pytest.raises(InputError, match=str(damaged[kind].name)):
        read_info(damaged[kind])


def test_messages_say_what_is_wrong(damaged: dict[str, Path]) -> None:
    def message(kind: str) -> str:
        with pytest.raises(InputError) as caught:
            read_image(damaged[kind])
        return str(caught.value)

    assert "rename it to .png" in message("png_named_exr")
    assert "rename it to .exr" in message("exr_named_png")
    assert "0 bytes" in message("zero_length_exr")
    assert "magic number" in message("wrong_magic_exr")
    assert "truncated" in message("truncated_exr")
    assert "truncated" in message("truncated_tiff_float_zip")


@pytest.mark.parametrize("name", ["u16.tif", "float.tif", "10bit.dpx", ".jpg"])
def test_a_raster_cut_short_anywhere_is_refused(tmp_path: Path, name: str) -> None:
    """libtiff and libjpeg hand back pixels for a file cut short (zeros, stale memory: a float TIFF held
    +-3e38) and only set an error; OpenImageIO reads a cut 10-bit DPX without a word. Every cut past the
    header is refused, as a truncated EXR or PNG is."""
    kinds = {"u16.tif": ("uint16", "none", None), "float.tif": ("float", "zip", None)}
    kinds.update({"10bit.dpx": ("uint16", None, 10), ".jpg": ("uint8", None, None)})
    typedesc, compression, bits = kinds[name]
    good = write_good_raster(tmp_path / f"good{name}", typedesc, compression, bits)
    read_image(good)
    data = good.read_bytes()
    cut = tmp_path / f"cut{name}"
    for keep in range(len(data) // 4, len(data), max(1, len(data) // 40)):
        cut.write_bytes(data[:keep])
        with pytest.raises(InputError, match="truncated or damaged"):
            read_image(cut)


def test_truncated_exr_does_not_hang_and_keeps_stdout_clean(damaged: dict[str, Path]) -> None:
    """Run in a fresh process with a deadline: the read must end, with an InputError and nothing on stdout
    (stdout carries ``--json-progress`` lines, which a library warning would corrupt)."""
    code = (
        "import sys\n"
        "from aifx_core.errors import InputError\n"
        "from aifx_core.sequence import read_image\n"
        "try:\n"
        "    read_image(sys.argv[1])\n"
        "except InputError as e:\n"
        "    sys.stderr.write('INPUT-ERROR ' + str(e))\n"
        "    sys.exit(2)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(damaged["truncated_exr"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "INPUT-ERROR" in result.stderr
    assert result.stdout == ""


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.exr")
    folder = tmp_path / "frames.exr"
    folder.mkdir()
    with pytest.raises(InputError, match="folder"):
        read_image(folder)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "plate.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(InputError, match=r"unsupported image type '\.gif'"):
        read_image(path)


def test_unreadable_permissions() -> None:
    folder = shared_temp_folder()
    try:
        path = write_good_exr(folder / "locked.exr")
        path.chmod(0)
        code = (
            "import sys\n"
            "from aifx_core.errors import InputError\n"
            "from aifx_core.sequence import read_image\n"
            "try:\n"
            "    read_image(sys.argv[1])\n"
            "except InputError as e:\n"
            "    print('INPUT-ERROR', e)\n"
        )
        done = run_unprivileged(code, str(path))
        if done is None:
            pytest.skip("cannot drop root privileges here")
        assert done.stdout.strip() == (
            f"INPUT-ERROR {path}: cannot read (permission denied); check the file's permissions"
        ), done.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_damaged_frame_inside_a_sequence_names_that_frame(tmp_path: Path) -> None:
    for frame in (1, 2, 3):
        write_good_exr(tmp_path / f"plate.{frame:04d}.exr")
    (tmp_path / "plate.0002.exr").write_bytes(b"")
    seq = open_sequence(str(tmp_path / "plate.####.exr"))
    seq.read(1)
    with pytest.raises(InputError, match=r"plate\.0002\.exr"):
        seq.read(2)


def test_silencing_the_bindings_keeps_other_threads_output(capsys: pytest.CaptureFixture[str]) -> None:
    """While one thread reads, only that thread's stray prints are dropped; a progress printer on another
    thread still gets its lines out."""
    import threading

    from aifx_core.sequence.quiet import decoder_messages_silenced

    with decoder_messages_silenced():
        print("bindings warning")
        other = threading.Thread(target=lambda: print('{"event": "progress"}'))
        other.start()
        other.join()
    print("after")
    out = capsys.readouterr().out
    assert out.splitlines() == ['{"event": "progress"}', "after"]


def test_silencing_reuses_one_capture_file_and_passes_each_line_on_once(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame takes ~8 decoder calls: the stderr capture file is made once per process, not per call, and
    emptied each time (a later, shorter capture neither repeats nor leaves a tail of an earlier one)."""
    import os
    import tempfile

    from aifx_core.sequence import quiet

    made = []
    real = tempfile.TemporaryFile

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(quiet.tempfile, "TemporaryFile", counting)
    for text in (b"a longer line from another thread\n", b"short\n", b"libpng error: bad\n", b"last\n"):
        with quiet.decoder_messages_silenced():
            os.write(2, b"(EXR_ERR_CORRUPT_CHUNK) dropped\n")
            os.write(2, text)
    assert len(made) <= 1
    assert capfd.readouterr().err.splitlines() == ["a longer line from another thread", "short", "last"]


def test_a_decode_with_stdout_closed_leaves_it_closed(monkeypatch):
    """``aifx fill --json-progress >&-`` (no stdout): a decode running in the reading thread put its stand-in
    for stdout around None, so the progress writer's ``sys.stdout is None`` check missed it and its flush was a
    traceback, exit 1, instead of the one-line refusal (a CI run caught it, as a race with the reading thread)."""
    from aifx_core.sequence.quiet import decoder_messages_silenced

    monkeypatch.setattr(sys, "stdout", None)
    with decoder_messages_silenced():
        assert sys.stdout is None
    assert sys.stdout is None
