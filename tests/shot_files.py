"""Builders of small real shots on disk (EXR plates with HDR values, extra channels and attributes, PNG
mattes), written with OpenEXR and OpenCV directly so the tests check aifx's reader against independent writers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

WIDTH, HEIGHT = 64, 48


def interruptible() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT, as Ctrl+C in a terminal would.

    A runner started in the background (``cmd &`` in a script, nohup, some CI agents) ignores SIGINT, children
    inherit that, and Python then never installs KeyboardInterrupt: the signal would be lost and the test would
    measure how it was launched, not aifx.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: The futex system call's number, where a thread that waits on a lock or for the GIL sleeps (Linux).
_FUTEX = {"x86_64": "202", "aarch64": "98"}


def waits_untimed(pid: int) -> bool:
    """True while the main thread of the Python process ``pid`` sleeps in a wait with no time limit: a lock, a
    condition, a join (Linux: its ``/proc`` system call). A wait for the GIL always has a time limit, and a
    process that has ended counts as waiting."""
    try:
        call = Path(f"/proc/{pid}/task/{pid}/syscall").read_text().split()
    except OSError:
        return True
    futex = _FUTEX.get(os.uname().machine)
    assert futex is not None, f"waits_untimed does not know the futex call of {os.uname().machine}"
    return len(call) > 4 and call[0] == futex and int(call[4], 16) == 0


def signal_taken(pid: int, sig: int, timeout: float = 60.0) -> None:
    """Wait until the Python process ``pid`` has run its handler for ``sig``, just sent while its main thread
    waited on a lock (:func:`waits_untimed`), however late a busy machine runs it: the signal is no longer
    pending (the main thread took it, which wakes it) and the main thread waits with no time limit again, which
    CPython does only once the handler has run (before it, it can only wait for the GIL). A fixed pause
    instead failed when the child was slow to run (the handler came after what the test did next)."""
    bit = 1 << (sig - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/task/{pid}/status").read_text()
        except OSError:
            return  # it has ended
        pending = [
            int(line.split()[1], 16) for line in status.splitlines() if line.startswith(("SigPnd", "ShdPnd"))
        ]
        if not any(mask & bit for mask in pending) and waits_untimed(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not take signal {sig} within {timeout} s")


def write_exr(path: Path, channels: dict[str, np.ndarray], **attributes) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **attributes}
    OpenEXR.File(header, channels).write(str(path))


def read_exr(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    # Copy while the file is open: closing it empties the header dict it handed out.
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return dict(f.header()), {name: ch.pixels.copy() for name, ch in f.channels().items()}


def frame_bytes(pattern: Path, frame: int) -> dict[str, bytes]:
    """Every channel of frame ``frame`` of an EXR ``####`` pattern as bytes: what "bit-identical" compares."""
    _header, channels = read_exr(Path(str(pattern).replace("####", f"{frame:04d}")))
    return {name: data.tobytes() for name, data in channels.items()}


def plate_frame(frame: int, width: int = WIDTH, height: int = HEIGHT) -> dict[str, np.ndarray]:
    """A textured, panning background with scene-linear highlights (>1), negatives, NaN and Inf."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    x = xx + frame * 1.5
    r = 0.5 + 0.4 * np.sin(x / 5.0) * np.cos(yy / 7.0)
    g = 0.5 + 0.4 * np.cos(x / 9.0 + yy / 11.0)
    b = 0.3 + 0.2 * np.sin((x + yy) / 6.0)
    r[2:6, 2:6] = 12.5  # a light: far above 1
    g[2:6, 2:6] = 30.0
    b[height - 4 :, :3] = -0.25  # negative values from a grade
    r[0, width - 1] = np.nan
    g[1, width - 1] = np.inf
    rgba = {
        "R": r.astype(np.float16),
        "G": g.astype(np.float16),
        "B": b.astype(np.float16),
        "A": np.clip(0.5 + 0.5 * np.sin(xx / 3), 0, 1).astype(np.float16),
        "Z": (10.0 + xx + yy).astype(np.float32),
    }
    return rgba


def object_matte(frame: int, width: int = WIDTH, height: int = HEIGHT, size: int = 10) -> np.ndarray:
    """An 8-bit matte: a square that moves right by 3 px a frame."""
    matte = np.zeros((height, width), np.uint8)
    x0 = 14 + 3 * frame
    matte[18 : 18 + size, x0 : x0 + size] = 255
    return matte


def make_shot(
    folder: Path, frames: range = range(1001, 1007), empty_mask_frames: tuple[int, ...] = ()
) -> Path:
    """``folder/plate.####.exr`` and ``folder/mask.####.png``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        write_exr(
            folder / f"plate.{frame:04d}.exr", plate_frame(i), owner="aifx tests", comments=f"frame {frame}"
        )
        matte = object_matte(i) if frame not in empty_mask_frames else np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.imwrite(str(folder / f"mask.{frame:04d}.png"), matte)
    return folder


def shot_job(shot: Path, output: Path, **settings):
    """The job that fills a :func:`make_shot` folder into ``output`` (default backend: fast per-frame Telea)."""
    from aifx_core import FillJob

    settings.setdefault("backend", "telea")
    return FillJob(
        input=str(shot / "plate.####.exr"), mask=str(shot / "mask.####.png"), output=str(output), **settings
    )


def fill_args(shot: Path, out: Path, *extra: str) -> list[str]:
    """``aifx fill``'s arguments that fill a :func:`make_shot` folder into ``out`` with per-frame Telea, then
    ``extra``."""
    return [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
        "-b",
        "telea",
        *extra,
    ]


def on_small_disk(
    disk: Path, size: str, script: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the shell ``script`` with a ``size`` tmpfs (``48k``, ``4m``) mounted at ``disk``: a real ENOSPC
    without root, in a private user and mount namespace (``unshare -rm``) that ends with the script. The
    script may grow the disk with :func:`grow_small_disk`'s commands. Skips the test where user namespaces
    are not allowed; exit 90 means the mount failed."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare with user namespaces to mount a small tmpfs")
    disk.mkdir(parents=True, exist_ok=True)
    script = f"mount -t tmpfs -o size={size} tmpfs {disk} || exit 90\n{script}"
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=timeout
    )


def grow_small_disk(disk: Path, size: str, hold: Path) -> str:
    """Shell commands (for an :func:`on_small_disk` script) that give ``disk`` ``size`` room and keep what is
    on it: a remount where the kernel lets a user namespace resize its tmpfs, else its files copied to
    ``hold`` (times and modes kept: a resume compares them), a new tmpfs mounted, and the files copied back."""
    return (
        f"mount -o remount,size={size} {disk} 2>/dev/null || {{ cp -a {disk}/. {hold}/ && umount {disk} "
        f"&& mount -t tmpfs -o size={size} tmpfs {disk} && cp -a {hold}/. {disk}/; }}"
    )
