"""Atomic file writes: a frame on disk is either the old file, or the complete new one, never half of one.

The writer fills a hidden temp file in the same folder (same filesystem, so :func:`os.replace` is atomic),
which is fsynced and then renamed over the target. Any failure, Ctrl-C included, removes the temp file.
Temp names end with the real extension (``.clean.1001.aifx-tmp-123-9f2c.exr``) because OpenImageIO picks the
file format from the extension.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..errors import InputError

T = TypeVar("T")

TEMP_MARKER = ".aifx-tmp-"
_TEMP_NAME = re.compile(r"^\..+\.aifx-tmp-\d+-[0-9a-f]+(\.[^.]+)?$")

#: errno values that mean "the user must fix the disk", mapped to the advice given.
_DISK_ERRORS = {
    errno.ENOSPC: "disk full while writing {path}; free space and rerun (finished frames are kept)",
    errno.EDQUOT: "disk quota exceeded while writing {path}; free space and rerun (finished frames are kept)",
    errno.EFBIG: (
        "file size limit reached writing {path} (ulimit -f or a quota); raise the limit, or write a smaller "
        "file (another format or compression), and rerun (finished frames are kept)"
    ),
    errno.EACCES: "permission denied writing {path}; make the folder writable and rerun",
    errno.EPERM: "permission denied writing {path}; make the folder writable and rerun",
    errno.EROFS: "cannot write {path}: the filesystem is read-only; choose another output folder",
}


def temp_path_for(path: Path) -> Path:
    """The hidden temp file :func:`atomic_write` uses for ``path`` (same folder, same extension)."""
    path = Path(path)
    return path.with_name(_temp_name(path.name, str(os.getpid()), secrets.token_hex(4)))


def longest_temp_name(name: str) -> str:
    """The longest temp file name :func:`atomic_write` can give a file named ``name`` (a 7-digit process id,
    Linux's largest): what must fit the filesystem's name limit besides ``name`` itself."""
    return _temp_name(name, "9" * 7, "f" * 8)


def _temp_name(name: str, pid: str, token: str) -> str:
    path = Path(name)
    return f".{path.stem}{TEMP_MARKER}{pid}-{token}{path.suffix}"


class DiskError(InputError):
    """An :class:`InputError` about where aifx writes (a full disk, a read-only filesystem, no permission), not
    about the input: what a run made from the input before it stays (a bad input's anchors cache is dropped,
    a full disk's is kept for the rerun)."""


def disk_error(path: Path, exc: BaseException) -> DiskError | None:
    """The :class:`DiskError` for a disk-level failure (full, read-only, no permission), else ``None``.

    Image libraries report disk-full as a RuntimeError whose text holds the OS message, so the text is
    checked as well as ``errno``. A file size limit (``ulimit -f``, a farm's per-file cap: EFBIG) is one too:
    OpenEXR says "File too large", OpenImageIO's DPX writer "(File too large)".
    """
    code = getattr(exc, "errno", None)
    if code not in _DISK_ERRORS:
        text = str(exc)
        if "No space left on device" in text:
            code = errno.ENOSPC
        elif "Disk quota exceeded" in text:
            code = errno.EDQUOT
        elif "File too large" in text:
            code = errno.EFBIG
        elif "Read-only file system" in text:
            code = errno.EROFS
        elif "Permission denied" in text:
            code = errno.EACCES
    if code in _DISK_ERRORS:
        return DiskError(_DISK_ERRORS[code].format(path=path))
    return None


def atomic_write(
    path: str | os.PathLike[str],
    write_fn: Callable[[Path], T],
    before_replace: Callable[[Path], None] | None = None,
    *,
    stale_after: float | None = None,
) -> T:
    """Call ``write_fn(temp_path)``, then move the finished temp file onto ``path`` atomically.

    ``write_fn`` must create the file at the path it is given. If it raises (or the process is interrupted),
    the temp file is deleted and the error re-raised; disk-full, read-only and permission errors become an
    :class:`InputError` naming ``path``. Returns what ``write_fn`` returned.

    ``before_replace(temp_path)`` is called with the complete, synced temp file just before the rename: the
    resume manifest records its intent there, so a kill right after the rename is recoverable.

    ``stale_after`` (seconds), for a one-off side output that no folder's clean-up covers (a contact sheet in a
    review folder): first remove the temp files of this same target that a killed write left, once they are that
    old (0 where the caller alone writes this target). Without it a killed write's temp stayed for good.
    """
    target = Path(path)
    if stale_after is not None:
        clean_stale_temps(target.parent, stale_after, {target.name})
    temp = temp_path_for(target)
    try:
        result = write_fn(temp)
        if not temp.is_file():
            raise RuntimeError(f"{target}: the writer did not create {temp.name}")
        _fsync_file(temp)
        if before_replace is not None:
            before_replace(temp)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, Exception) and not isinstance(exc, InputError):
            friendly = disk_error(target, exc)
            if friendly is not None:
                raise friendly from exc
        raise
    _fsync_dir(target.parent)
    return result


#: ``os.open`` flag that refuses a symlink as the last part of the path (ELOOP); 0 where the OS has none.
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def linked_side_file(
    path: Path, what: str, harm: str = "it would write through it into the file it names"
) -> InputError:
    """The one line refusing a file aifx keeps beside an output (``what``: its lock file, its manifest) that
    is a symlink: aifx never makes one, and ``harm`` says what using it in place would do (opening a lock file
    writes into the file it names; reading a manifest takes that file for this output's record)."""
    return InputError(
        f"{path}: this {what} is a symlink, which no aifx run makes ({harm}); delete the link and rerun"
    )


def open_lock_file(path: Path) -> tuple[int, bool]:
    """Open (creating it if missing) the lock file ``path`` for ``flock``: ``(fd, writable)``.

    A lock file left by another user's run (its mode ``0644`` under the usual umask) cannot be opened for
    writing, but ``flock`` works on a read-only descriptor, so a second user resuming or joining a run on a
    shared output locks it read-only. Where even that is refused, an :class:`InputError` names the file.

    A lock file is never opened through a symlink (:data:`NO_FOLLOW`): no aifx run makes one, and one planted
    there (``.clean.####.exr.aifx.lock`` → a token file) had the run truncate the file it names and write its
    owner record into it.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | NO_FOLLOW, 0o666), True
    except PermissionError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise linked_side_file(path, "lock file") from None
    try:
        return os.open(path, os.O_RDONLY | NO_FOLLOW), False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise linked_side_file(path, "lock file") from None
        reason = exc.strerror or str(exc)
        raise InputError(
            f"{path}: cannot open this lock file ({reason}), which another user's run may have left; make it and "
            "its folder writable for you (or delete it while no aifx job writes this output) and rerun"
        ) from None


def clean_stale_temps(
    folder: str | os.PathLike[str], older_than_s: float = 300.0, targets: set[str] | None = None
) -> list[Path]:
    """Delete aifx temp files left in ``folder`` by a killed run; returns what was removed.

    Only files older than ``older_than_s`` are removed, so a second aifx process writing into the same folder
    (another farm blade on the same shot) keeps the temp file it is still writing. ``targets`` (file names)
    limits the clean-up to the temp files of those targets: a run that alone owns its output's lock passes
    its frames' names with ``older_than_s=0``, since no one else can be writing them.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not _TEMP_NAME.match(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        if targets is not None and _target_name(entry.name) not in targets:
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _target_name(temp_name: str) -> str:
    """``.clean.1001.aifx-tmp-123-9f2c.exr`` → ``clean.1001.exr`` (inverse of :func:`temp_path_for`)."""
    stem, _, rest = temp_name[1:].partition(TEMP_MARKER)
    return stem + os.path.splitext(rest)[1]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; some filesystems (and Windows) cannot fsync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
