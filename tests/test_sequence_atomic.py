"""Atomic writes: a frame is the old file or the complete new one; failures leave no temp files."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runner import file_size_limited
from damaged_files import run_unprivileged, shared_temp_folder
from shot_files import on_small_disk

from aifx_core.errors import InputError
from aifx_core.sequence import Image, atomic_write, check_writable, clean_stale_temps, read_image, write_image
from aifx_core.sequence.atomic import temp_path_for


def tiny_image(value: float = 0.25) -> Image:
    return Image(channels={c: np.full((48, 64), value, np.float16) for c in "RGB"})


def test_temp_file_is_hidden_in_the_same_folder_with_the_real_extension(tmp_path: Path) -> None:
    seen: list[Path] = []

    def writer(temp: Path) -> str:
        seen.append(temp)
        temp.write_bytes(b"frame")
        return "done"

    assert atomic_write(tmp_path / "clean.1001.exr", writer) == "done"
    (temp,) = seen
    assert temp.parent == tmp_path
    assert temp.name.startswith(".clean.1001.aifx-tmp-")
    assert temp.suffix == ".exr"
    assert f"-{os.getpid()}-" in temp.name
    assert (tmp_path / "clean.1001.exr").read_bytes() == b"frame"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.1001.exr"]


@pytest.mark.parametrize("error", [RuntimeError("encoder crashed"), KeyboardInterrupt()])
def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "clean.1001.exr"
    target.write_bytes(b"previous good frame")

    def writer(temp: Path) -> None:
        temp.write_bytes(b"half a fra")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, writer)
    assert target.read_bytes() == b"previous good frame"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.1001.exr"]


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError('Failed to write pixel data to image file "x.exr". No space left on device.'),
    ],
)
def test_disk_full_is_an_input_error_naming_the_file(tmp_path: Path, error: Exception) -> None:
    target = tmp_path / "clean.1001.exr"

    def writer(temp: Path) -> None:
        temp.write_bytes(b"part")
        raise error

    with pytest.raises(InputError) as caught:
        atomic_write(target, writer)
    assert str(caught.value) == (
        f"disk full while writing {target}; free space and rerun (finished frames are kept)"
    )
    assert list(tmp_path.iterdir()) == []


def test_read_only_filesystem_message(tmp_path: Path) -> None:
    def writer(temp: Path) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(InputError, match="read-only"):
        atomic_write(tmp_path / "a.exr", writer)


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="did not create"):
        atomic_write(tmp_path / "a.exr", lambda temp: None)
    assert list(tmp_path.iterdir()) == []


def test_real_encoder_failure_leaves_no_temp(tmp_path: Path) -> None:
    """An image the EXR encoder rejects mid-write (mismatched channel sizes) leaves nothing behind."""
    broken = Image(channels={"R": np.zeros((48, 64), np.float16), "G": np.zeros((10, 10), np.float16)})
    with pytest.raises(Exception):  # noqa: B017 - whatever the bindings raise, nothing may be left
        write_image(tmp_path / "clean.1001.exr", broken)
    assert list(tmp_path.iterdir()) == []


def test_write_image_replaces_an_existing_frame(tmp_path: Path) -> None:
    target = tmp_path / "clean.1001.exr"
    write_image(target, tiny_image(0.25))
    write_image(target, tiny_image(0.75))
    assert float(read_image(target).channels["R"][0, 0]) == 0.75
    assert [p.name for p in tmp_path.iterdir()] == ["clean.1001.exr"]


def test_clean_stale_temps_removes_only_old_aifx_temps(tmp_path: Path) -> None:
    old_temp = tmp_path / ".clean.1001.aifx-tmp-4242-0badf00d.exr"
    fresh_temp = tmp_path / ".clean.1002.aifx-tmp-4243-cafe0123.exr"
    keep = [tmp_path / "clean.1001.exr", tmp_path / ".hidden_user_file", tmp_path / "notes.aifx-tmp.txt"]
    for path in (old_temp, fresh_temp, *keep):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(old_temp, (an_hour_ago, an_hour_ago))
    assert clean_stale_temps(tmp_path) == [old_temp]
    assert not old_temp.exists()
    assert fresh_temp.exists() and all(p.exists() for p in keep)
    assert clean_stale_temps(tmp_path, older_than_s=0) == [fresh_temp]


def test_temp_names_are_unique(tmp_path: Path) -> None:
    names = {temp_path_for(tmp_path / "a.exr").name for _ in range(50)}
    assert len(names) == 50


def test_check_writable_creates_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "renders" / "v002"
    assert check_writable(folder) == folder
    assert folder.is_dir()
    assert list(folder.iterdir()) == []  # the probe file is gone


def test_check_writable_rejects_a_file_and_a_missing_folder(tmp_path: Path) -> None:
    file = tmp_path / "out"
    file.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_writable(file)
    with pytest.raises(InputError, match="does not exist"):
        check_writable(tmp_path / "missing", create=False)


def test_check_writable_rejects_a_read_only_folder() -> None:
    folder = shared_temp_folder()
    try:
        locked = folder / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        code = (
            "import sys\n"
            "from aifx_core.errors import InputError\n"
            "from aifx_core.sequence import check_writable\n"
            "try:\n"
            "    check_writable(sys.argv[1])\n"
            "    print('WRITABLE')\n"
            "except InputError as e:\n"
            "    print('INPUT-ERROR', e)\n"
        )
        done = run_unprivileged(code, str(locked))
        if done is None:
            pytest.skip("cannot drop root privileges here")
        assert done.stdout.startswith(f"INPUT-ERROR {locked}: output folder is not writable"), done.stderr
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_real_disk_full_for_every_format(tmp_path: Path) -> None:
    """A real ENOSPC on a 64 KiB tmpfs (mounted in a private user+mount namespace): every writer reports it
    as the disk-full InputError, leaves no temp file, and the process survives (libjpeg would exit())."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare with user namespaces to mount a small tmpfs")
    disk = tmp_path / "small_disk"
    disk.mkdir()
    code = (
        "import os, sys, numpy as np\n"
        "from aifx_core.errors import InputError\n"
        "from aifx_core.sequence import Image, write_image\n"
        "rng = np.random.default_rng(0)\n"
        "image = Image(channels={c: rng.random((480, 640)).astype(np.float32) for c in 'RGB'})\n"
        "for ext in ('exr', 'png', 'tif', 'jpg'):\n"
        "    try:\n"
        "        write_image(os.path.join(sys.argv[1], 'clean.1001.' + ext), image, compression=None)\n"
        "        print(ext, 'WROTE')\n"
        "    except InputError as exc:\n"
        "        print(ext, 'INPUT-ERROR', exc)\n"
        "print('ALIVE', sorted(os.listdir(sys.argv[1])))\n"
    )
    script = f'mount -t tmpfs -o size=64k tmpfs {disk} && {sys.executable} -c "$0" {disk}'
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for ext in ("exr", "png", "tif", "jpg"):
        line = next(line for line in lines if line.startswith(ext + " "))
        assert "INPUT-ERROR disk full while writing" in line and f"clean.1001.{ext}" in line, line
    assert lines[-1] == "ALIVE []"


def test_a_file_size_limit_is_one_line_for_every_format(tmp_path: Path) -> None:
    """A real file size limit (64 KiB, ``ulimit -f``: a farm's per-file cap) on every image writer and on a text
    file written whole (the manifest, the anchors cache): EXR's RuntimeError "File too large", libpng's and
    libtiff's short-write text, DPX's text and the OSError errno 27 were each an internal error with a traceback.
    Each is now the one line naming the file; no temp file is left, and the process lives (libjpeg exit()s)."""
    code = (
        "import os, sys, numpy as np\n"
        "from aifx_core.errors import InputError\n"
        "from aifx_core.sequence import Image, atomic_write, write_image\n"
        "rng = np.random.default_rng(0)\n"
        "image = Image(channels={c: rng.random((480, 640)).astype(np.float32) for c in 'RGB'})\n"
        "writers = {ext: (lambda p: write_image(p, image, compression=None)) for ext in ('exr', 'png', 'tif', 'jpg', 'dpx')}\n"
        "writers['json'] = lambda p: atomic_write(p, lambda tmp: tmp.write_bytes(b'x' * 100_000))\n"
        "for ext, write in writers.items():\n"
        "    try:\n"
        "        write(os.path.join(sys.argv[1], 'clean.1001.' + ext))\n"
        "        print(ext, 'WROTE')\n"
        "    except InputError as exc:\n"
        "        print(ext, 'INPUT-ERROR', exc)\n"
        "print('ALIVE', sorted(os.listdir(sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=file_size_limited(64 * 1024),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for ext in ("exr", "png", "tif", "jpg", "dpx", "json"):
        line = next((line for line in lines if line.startswith(ext + " ")), done.stdout)
        assert line == (
            f"{ext} INPUT-ERROR file size limit reached writing {tmp_path}/clean.1001.{ext} (ulimit -f or a quota); "
            "raise the limit, or write a smaller file (another format or compression), and rerun (finished frames "
            "are kept)"
        ), done.stdout + done.stderr
    assert lines[-1] == "ALIVE []"


def test_a_png_small_enough_for_the_write_buffer_on_a_full_disk_is_refused(tmp_path: Path) -> None:
    """A PNG of a few hundred bytes (a flat frame, a confidence sidecar) reaches the disk only when OpenImageIO
    closes it, whose error it drops: with 4 KB left the next ones came out as 0-byte files with no error."""
    disk = tmp_path / "small_disk"
    writer = tmp_path / "writer.py"
    writer.write_text(
        "import os, sys, numpy as np\n"
        "from aifx_core.errors import InputError\n"
        "from aifx_core.sequence import Image, write_image\n"
        "flat = Image(channels={'Y': np.ones((48, 64), np.uint16)})\n"
        "for frame in range(1001, 1005):\n"
        "    try:\n"
        "        write_image(os.path.join(sys.argv[1], f'clean.{frame}.png'), flat)\n"
        "    except InputError as exc:\n"
        "        print('INPUT-ERROR', exc)\n"
        "for name in sorted(os.listdir(sys.argv[1])):\n"
        "    print('FILE', name, os.path.getsize(os.path.join(sys.argv[1], name)))\n"
    )
    script = f"dd if=/dev/zero of={disk}/full bs=4096 count=11 2>/dev/null; {sys.executable} {writer} {disk}"
    done = on_small_disk(disk, "48k", script)
    assert done.returncode == 0, done.stderr
    refused = [line for line in done.stdout.splitlines() if line.startswith("INPUT-ERROR")]
    assert refused[
        0
    ] == f"INPUT-ERROR disk full while writing {disk}/clean.1002.png; free space and rerun " + (
        "(finished frames are kept)"
    ), done.stdout
    files = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("FILE")]
    assert [name for name, _ in files] == ["clean.1001.png", "full"] and int(files[0][1]) > 0, done.stdout


def test_a_lock_file_that_is_a_symlink_is_refused_and_what_it_names_is_untouched(tmp_path: Path) -> None:
    """A symlink planted as an output's lock file (``.clean.####.exr.aifx.lock`` → a token file) had the run
    truncate what it names and write the lock's owner record into it. No aifx run makes a linked lock file:
    ``aifx run`` now refuses it in one line (exit 2), and the file it names keeps its bytes."""
    from cli_runner import aifx
    from shot_files import make_shot, shot_job

    shot = make_shot(tmp_path / "shot", range(1, 3))
    victim = tmp_path / "tokens"
    victim.write_text("precious line 1\nprecious line 2\n")
    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".clean.####.exr.aifx.lock"
    lock.symlink_to(victim)
    shot_job(shot, out / "clean.####.exr").save(tmp_path / "job.json")
    done = aifx("run", str(tmp_path / "job.json"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"aifx: error: {lock}: this lock file is a symlink, which no aifx run makes (it "
        "would write through it into the file it names); delete the link and rerun"
    )
    assert victim.read_text() == "precious line 1\nprecious line 2\n"
    assert lock.is_symlink() and not list(out.glob("clean.*"))


def test_a_manifest_that_is_a_symlink_is_refused_and_what_it_names_is_untouched(tmp_path: Path) -> None:
    """A symlink planted as an output's resume manifest (``.clean.####.exr.aifx.json`` → another version's, as
    ``cp -s`` of a finished output makes) was read by a plain ``aifx run`` as this output's record of finished
    frames (exit 0), where ``aifx serve`` refuses the link. No aifx run makes a linked manifest: ``aifx run``
    refuses it in one line (exit 2), one that names nothing too, and the file it names keeps its bytes."""
    from cli_runner import aifx
    from shot_files import make_shot, shot_job

    shot = make_shot(tmp_path / "shot", range(1, 3))
    first = tmp_path / "v001"
    shot_job(shot, first / "clean.####.exr").save(tmp_path / "v001.json")
    assert aifx("run", str(tmp_path / "v001.json")).returncode == 0
    recorded = (first / ".clean.####.exr.aifx.json").read_bytes()
    out = tmp_path / "v002"
    out.mkdir()
    shot_job(shot, out / "clean.####.exr").save(tmp_path / "job.json")
    manifest = out / ".clean.####.exr.aifx.json"
    for target in (first / ".clean.####.exr.aifx.json", tmp_path / "not-there"):
        manifest.unlink(missing_ok=True)
        manifest.symlink_to(target)
        done = aifx("run", str(tmp_path / "job.json"))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            f"aifx: error: {manifest}: this manifest is a symlink, which no aifx run makes (the run would read "
            "the file it names as this output's record of finished frames); delete the link and rerun"
        )
        assert manifest.is_symlink() and not list(out.glob("clean.*"))
    assert (first / ".clean.####.exr.aifx.json").read_bytes() == recorded
    assert not (tmp_path / "not-there").exists()


def test_open_lock_file_never_follows_a_symlink(tmp_path: Path) -> None:
    """The anchors cache's build lock (``.anchors.lock``) is opened by the same function: a link is refused
    whether it names a file (written through) or nothing (created where it points)."""
    from aifx_core.sequence.atomic import open_lock_file

    victim = tmp_path / "victim"
    victim.write_text("keep")
    for target in (victim, tmp_path / "not-there"):
        link = tmp_path / ".anchors.lock"
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        with pytest.raises(InputError, match=r"\.anchors\.lock: this lock file is a symlink"):
            open_lock_file(link)
    assert victim.read_text() == "keep" and not (tmp_path / "not-there").exists()


def test_check_writable_never_writes_through_a_link_named_like_its_probe(tmp_path: Path) -> None:
    """The probe file is named for the process id, which a server's worker keeps for days: a link planted
    under that name had the probe truncate the file it names. The probe is created anew (never opened through
    a link), and the link is gone with it."""
    victim = tmp_path / "victim"
    victim.write_text("keep")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / f".aifx-write-test-{os.getpid()}").symlink_to(victim)
    assert check_writable(folder) == folder
    assert victim.read_text() == "keep" and list(folder.iterdir()) == []
