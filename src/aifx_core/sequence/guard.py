"""What a job may read and where it may write: the checks that keep inputs safe and reads bounded.

* :func:`check_regular_file`: a path to *read* must be a plain file. A FIFO blocks ``open()`` forever and a
  device file (``/dev/zero``) never ends, so both are refused before they are opened, as are symlink loops.
* :class:`ProtectedFiles` and :func:`check_side_output`: every file a job *writes* besides its frames (the
  contact sheet, a saved job, the eval folder's files, the confidence sequence) is checked up front, before any
  pixel work, against the files the job reads (by path after symlinks, and by inode, so hard links count
  too): a side output that resolves to an input is refused like an output frame that would.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError
from ..protocol.job import absolute, current_folder
from .pattern import check_utf8


class _Frames(Protocol):
    frames: list[int]

    def path(self, frame: int) -> Path: ...


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def stat_or_explain(path: Path, what: str) -> os.stat_result:
    """``os.stat(path)`` with every failure turned into one line naming ``path`` (exit code 2)."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        broken = broken_symlink(path, what)
        if broken is not None:
            raise broken from None
        raise InputError(f"{path}: {what} not found; check the path") from None
    except PermissionError:
        raise InputError(
            f"{path}: cannot read the {what} (permission denied); check its permissions"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: {what} is a symlink loop; fix the link") from None
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def broken_symlink(path: str | os.PathLike[str], what: str = "") -> InputError | None:
    """The one line for ``path`` that was not found because it is a symlink to nothing (listed in its folder,
    so taken for a frame, but what it points to is gone), or None when it is not a link. ``what`` names it
    (``"plate frame"``); empty, the line names the path alone."""
    if not os.path.islink(path):
        return None
    subject = f"{what} " if what else ""
    return InputError(f"{path}: {subject}is a broken symlink; fix the link or the path")


def resolved_path(path: str | os.PathLike[str], loop: str) -> Path:
    """``path`` made absolute and resolved after symlinks. A symlink loop on the way (RuntimeError before Python
    3.13; later ones stop there) is ``InputError(loop)``: the caller's line, naming which path has the loop. A
    relative path with no folder aifx runs in is :func:`current_folder`'s line (it was called a loop too)."""
    try:
        return Path(
            path
        ).resolve()  # (not abspath first: it would collapse `link/..` as text, not as the kernel)
    except RuntimeError:
        raise InputError(loop) from None
    except OSError as exc:  # (non-strict, only the current folder's look-up raises)
        if not os.path.isabs(path):
            current_folder(path)
        raise InputError(f"{path}: cannot resolve the path ({exc.strerror or exc}); check it") from None


def check_regular_file(path: str | os.PathLike[str], what: str, max_bytes: int | None = None) -> int:
    """Refuse anything but a plain file (FIFO, device, socket, folder, symlink loop); returns its size.

    ``max_bytes`` caps the size for files read whole (job files), so a hostile path cannot exhaust memory.
    """
    path = Path(path)
    info = stat_or_explain(path, what)
    if not stat.S_ISREG(info.st_mode):
        kind = _file_kind(info.st_mode)
        raise InputError(f"{path}: {what} is {kind}, not a regular file; give the path of a file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise InputError(
            f"{path}: {what} is {info.st_size:,} bytes, more than the {max_bytes:,} allowed; "
            "check that this is the right file"
        )
    return info.st_size


def _resolved(path: str | os.PathLike[str]) -> Path:
    return resolved_path(path, f"{path}: is a symlink loop; fix the link or choose another path")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class ProtectedFiles:
    """Files a job reads (or its own frames): nothing else the job writes may land on one of them."""

    def __init__(self) -> None:
        self._by_path: dict[Path, str] = {}
        #: (device, inode) → role and path of the protected file, so a hard link to it is named by what it is.
        self._by_id: dict[tuple[int, int], tuple[str, Path]] = {}
        #: Folders nothing may be written into (resolved) → role: an output's cache folder.
        self._folders: dict[Path, str] = {}

    def add(self, path: str | os.PathLike[str], role: str) -> None:
        resolved = _resolved(path)
        self._by_path.setdefault(resolved, role)
        identity = _identity(resolved)
        if identity is not None:
            self._by_id.setdefault(identity, (role, resolved))

    def add_folder(self, path: str | os.PathLike[str], role: str) -> None:
        """The folder ``path`` as ``role``: no side output may be written into it (or be it)."""
        resolved = _resolved(path)
        self._folders.setdefault(resolved, role)
        self._by_path.setdefault(resolved, role)

    def add_frames(self, sequence: Any, role: str, frames: Iterable[int] | None = None) -> None:
        """Every file of ``sequence`` (``path(frame)``; at ``frames``, default its ``frames``) as ``role``."""
        if sequence is None:
            return
        for frame in sequence.frames if frames is None else frames:
            self.add(sequence.path(frame), role)

    def role_of(self, path: str | os.PathLike[str]) -> str | None:
        """What ``path`` is to the job (``"plate frame"``, ``"mask frame"``...), or ``None`` if unprotected."""
        found = self._find(path)
        return found[0] if found is not None else None

    def _find(self, path: str | os.PathLike[str]) -> tuple[str, Path] | None:
        """The role and path of the protected file ``path`` is (after symlinks) or is a hard link to."""
        resolved = _resolved(path)
        if resolved in self._by_path:
            return self._by_path[resolved], resolved
        identity = _identity(resolved)
        return self._by_id.get(identity) if identity is not None else None

    def refuse(self, path: str | os.PathLike[str], what: str, flag: str | None = None) -> None:
        """Raise if writing ``what`` to ``path`` would replace a protected file."""
        hint = f"pass another {flag}" if flag else "choose another path"
        found = self._find(path)
        if found is not None:
            role, protected = found
            how = "" if protected == _resolved(path) else " (it is a hard link to it)"
            raise InputError(f"{path}: the {what} would overwrite the {role} {protected}{how}; {hint}")
        folder = next((f for f in _resolved(path).parents if f in self._folders), None)
        if folder is not None:
            raise InputError(
                f"{path}: the {what} would be written into the {self._folders[folder]} {folder}; {hint}"
            )


def check_side_sequence(
    pattern: _Frames | Any,
    frames: Iterable[int],
    what: str,
    protected: ProtectedFiles,
    flag: str | None = None,
) -> None:
    """A side-output *sequence* (e.g. the confidence frames): no frame of it may land on an input or an output
    frame. ``pattern`` has ``path(frame)`` (a :class:`~aifx_core.sequence.FramePattern`)."""
    for frame in frames:
        protected.refuse(pattern.path(frame), f"{what} frame", flag)


def check_frame_paths(pattern: _Frames | Any, frames: Iterable[int], what: str = "output frame") -> None:
    """Refuse, before any work, a frame path that is there and is no regular file (a folder an unpack or a copy
    left, a FIFO): the frame is written as a temp file renamed onto its path, which a folder refuses (EISDIR),
    after the other frames were written, and a plain run took it for a frame made by something else and said to
    pass ``--overwrite``. ``pattern`` has ``path(frame)``; a path not there, or a link to nothing, is written."""
    for frame in frames:
        path = pattern.path(frame)
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{path}: {what} {frame} is {_file_kind(mode)}, not a file; move it away, or choose another "
                "output, and rerun"
            )


def check_side_output(
    path: str | os.PathLike[str],
    what: str,
    protected: ProtectedFiles,
    *,
    suffixes: tuple[str, ...] = (),
    example: str = "",
    flag: str | None = None,
    made: Path | None = None,
    why: str = "so the image libraries cannot open it",
) -> Path:
    """Check a side-output file before any work: a UTF-8 name (as every path that comes in: a contact sheet
    ``sheet\xff.png`` was written where such an output frame is refused), a file name (not a folder) in an
    existing, writable folder, not a FIFO/device, not an input. Returns the path. The file is written later,
    atomically, next to itself. ``made``: the folder the run makes and probes itself (its output folder,
    :func:`check_writable`), whose being there and writable is left to that check, so the side output is
    checked before the folder is made. ``why``: what a name that is not UTF-8 cannot be (see ``check_utf8``).
    """
    text = os.fspath(path)
    check_utf8(text, why)
    target = Path(os.path.expanduser(text))  # (~/out/sheet.png: the folder is the home's, not "./~")
    what_text = f"{what} ({flag})" if flag else what
    if text.endswith(("/", os.sep)) or target.is_dir():
        name = example or f"aifx{suffixes[0] if suffixes else ''}"
        raise InputError(
            f"{text}: the {what_text} path is a folder; give a file inside it, like {target / name}"
        )
    if suffixes and target.suffix.lower() not in suffixes:
        raise InputError(f"{text}: the {what_text} must end with {' or '.join(suffixes)}")
    folder = Path(absolute(target)).parent
    by_run = made is not None and folder == Path(absolute(made))
    if not by_run and not folder.is_dir():
        raise InputError(
            f"{text}: folder {folder} for the {what_text} does not exist; create it or choose another path"
        )
    if os.path.lexists(target):
        info = stat_or_explain(target, what)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{text}: the {what_text} path is {_file_kind(info.st_mode)}; choose a file path"
            )
    protected.refuse(target, what, flag)
    if not by_run and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{text}: cannot write the {what_text} into {folder} (permission denied)")
    return target


def protected_inputs(plate: Any, mask: Any = None) -> ProtectedFiles:
    """The plate's frames and the mask's files of a job (``mask`` is a sequence or ``None``)."""
    protected = ProtectedFiles()
    protected.add_frames(plate, f"{getattr(plate, 'role', 'plate')} frame")
    if mask is not None:
        protected.add_frames(mask, f"{getattr(mask, 'role', 'mask')} frame")
    return protected
