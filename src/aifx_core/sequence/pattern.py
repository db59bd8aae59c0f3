"""Frame patterns: how a sequence on disk is named, in the syntaxes compositors and DCCs use.

``plate.####.exr`` / ``plate.@@@@.exr`` (Nuke, RV, Shake: one character per digit), ``plate.%04d.exr``
(printf, Nuke), ``plate.$F4.exr`` / ``plate.$F.exr`` (Houdini), a folder holding one frame per file, or a
single image with no frame token (a still, used for every frame). The pattern is printed back in the syntax
it was given in, so messages show the user their own spelling.

Frame numbers are formatted like printf ``%0Nd`` (``-5`` with padding 4 is ``-005``), which is what Nuke
and Houdini write. When looking for frames on disk, numbers that are shorter or longer than the padding
(``plate.1.exr``, ``plate.01001.exr`` for ``plate.####.exr``) are accepted as well, as long as every frame
number maps to exactly one file; the file that was found is the one :meth:`FramePattern.path` returns. Where a
frame is on disk both padded and not, the padded file is read, unless that would mix two sequences (an old
render ``plate.0001-0003.exr`` beside a re-render ``plate.1-5.exr``): then it is refused.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InputError
from ..protocol.frames import FRAME_TOKEN, IMAGE_EXTENSIONS, frame_token, token_padding
from ..protocol.job import current_folder, surrogate_path_error

_DIGITS = re.compile(r"\d+")


@dataclass
class FramePattern:
    """Where each frame of a sequence lives.

    ``kind`` is ``"pattern"`` (a file name with a frame token), ``"folder"`` (every image file in a folder is
    one frame, numbered by the last run of digits in its name) or ``"still"`` (one file for every frame).
    ``prefix``/``suffix`` surround the frame number in file names (both inside ``folder``), ``padding`` is
    the minimum digit count, ``token`` the frame token as the user wrote it.
    """

    folder: Path
    prefix: str
    suffix: str
    padding: int = 0
    token: str = ""
    kind: str = "pattern"
    #: Frames found on disk by :meth:`discover` (frame → file); filled lazily.
    _found: dict[int, Path] | None = field(default=None, repr=False, compare=False)
    #: The fewest digits (the sign counts) among the frames :meth:`settled` was given; 0: not settled.
    shortest: int = field(default=0, repr=False, compare=False)

    # -- what the pattern is -------------------------------------------------------------------------------

    @property
    def is_still(self) -> bool:
        return self.kind == "still"

    @property
    def extension(self) -> str:
        """The file extension in lower case with its dot (``".exr"``)."""
        tail = self.prefix if self.is_still else self.suffix
        return os.path.splitext("x" + tail)[1].lower()

    def __str__(self) -> str:
        if self.kind == "folder":
            return f"{self.folder}{os.sep}"
        return str(self.folder / f"{self.prefix}{self.token}{self.suffix}")

    def hash_form(self) -> str:
        """The pattern written with ``#`` padding (``plate.####.exr``), whatever syntax it was given in."""
        if self.is_still:
            return str(self.folder / self.prefix)
        return str(self.folder / f"{self.prefix}{'#' * max(self.padding, 1)}{self.suffix}")

    def settled(self, frames: Iterable[int]) -> FramePattern:
        """This pattern with the padding ``frames`` are really named with: ``#``, ``$F`` and ``%d`` name frame
        1001 ``1001``, as ``####`` does, so over frames of four digits or more (the sign counts: ``-10`` is
        three) they are ``####``, and :meth:`hash_form` (what the resume key and the manifest, lock and cache
        beside an output are named from) is the same for every spelling that names the same files. Over frames
        1-3 ``#`` and ``####`` stay apart: they name other files. The file names and the token shown are
        unchanged."""
        if self.kind != "pattern":
            return self
        shortest = min((len(str(frame)) for frame in frames), default=0)
        return replace(self, padding=max(self.padding, shortest), shortest=shortest)

    def alike(self) -> list[FramePattern]:
        """This :meth:`settled` pattern in the other paddings an aifx of 2026-12-06 or earlier keyed and named an
        output's files by, which name the same files: the padding as typed, and one digit (``#``, ``$F``,
        ``%d``) where the frames have no fewer digits than the padding (``####`` over 1001+). Itself left out."""
        if self.kind != "pattern":
            return []
        match = FRAME_TOKEN.fullmatch(self.token)
        forms = [replace(self, padding=token_padding(match))] if match else []
        if 0 < self.padding <= self.shortest:
            forms.append(replace(self, padding=1))
        seen = {self.hash_form()}
        alike = []
        for form in forms:
            if form.hash_form() not in seen:
                seen.add(form.hash_form())
                alike.append(form)
        return alike

    # -- frames -> files -------------------------------------------------------------------------------------

    def format_number(self, frame: int) -> str:
        """A frame number as it appears in a file name (printf ``%0Nd``)."""
        return f"{frame:0{self.padding}d}"

    def path(self, frame: int) -> Path:
        """The file holding ``frame`` (a still gives its one file for every frame)."""
        if self.is_still:
            return self.folder / self.prefix
        if self._found is None and self.kind == "folder":
            self.discover()
        if self._found is not None and frame in self._found:
            return self._found[frame]
        return self.folder / f"{self.prefix}{self.format_number(frame)}{self.suffix}"

    def discover(self) -> list[int]:
        """Frames that exist on disk, sorted. Lists the folder once (fast on 1000-frame shots).

        A still gives ``[its frame number]`` if the file exists (see :func:`still_frame`), else ``[]``.
        Raises :class:`InputError` when two files claim the same frame.
        """
        if self.is_still:
            file = self.folder / self.prefix
            return [still_frame(file)] if file.is_file() else []
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise InputError(f"{self}: {self.folder} is a file, not a folder; check the path") from None
        except PermissionError:
            raise InputError(
                f"{self}: cannot list {self.folder} (permission denied); check its permissions"
            ) from None
        found = self._scan_folder(names) if self.kind == "folder" else self._scan_pattern(names)
        self._found = found
        return sorted(found)

    def _scan_pattern(self, names: list[str]) -> dict[int, Path]:
        matcher = re.compile(re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix))
        canonical: dict[int, Path] = {}
        other: dict[int, list[str]] = {}
        for name in names:
            match = matcher.fullmatch(name)
            if match is None:
                continue
            digits = match.group(1)
            frame = int(digits)
            if digits == self.format_number(frame):
                canonical[frame] = self.folder / name
            else:
                other.setdefault(frame, []).append(name)
        _check_one_sequence(self, canonical, other)
        for frame, extra in other.items():
            if frame in canonical:
                continue  # the correctly padded file wins, as Nuke would read it (see _check_one_sequence)
            if len(extra) > 1:
                raise InputError(
                    f"{self}: frame {frame} is on disk more than once ({', '.join(sorted(extra))}); "
                    "remove the duplicates"
                )
            canonical[frame] = self.folder / extra[0]
        return canonical

    def _scan_folder(self, names: list[str]) -> dict[int, Path]:
        images = [n for n in names if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_EXTENSIONS]
        for name in images:
            check_utf8(str(self.folder / name))
        found = frames_in_folder(self.folder, images)
        if found:
            # Describe the folder by its first file, so hash_form() and path() of a missing frame read well: the
            # first not negative (plate.-001.exr's '-' is the frame's sign, not the name's), else the sign dropped.
            frame = min((f for f in found if f >= 0), default=min(found))
            first = found[frame].name
            last_run = list(_DIGITS.finditer(first))[-1]
            self.prefix, self.suffix = first[: last_run.start()], first[last_run.end() :]
            self.padding = len(last_run.group())
            if frame < 0:  # printf pads the sign too: -1 in %04d is -001
                self.prefix, self.padding = self.prefix[:-1], self.padding + 1
        return found


def _check_one_sequence(
    pattern: FramePattern, canonical: dict[int, Path], other: dict[int, list[str]]
) -> None:
    """Refuse two sequences with different paddings that would be read as one. Where a frame is on disk both
    as the pattern pads it and otherwise, the padded file is read; that is one sequence as long as every frame
    of the other padding has its padded twin (an output ``plate.#####.exr`` filled beside ``plate.####.exr``
    plates). A frame of the other padding alone would be taken from the other render: an old render
    plate.0001-0003.exr beside a re-render plate.1-5.exr was read as frames 1-3 of the old and 4-5 of the new,
    without a word (a folder given as the plate refuses both files of a frame: :func:`frames_in_folder`)."""
    clash = next((frame for frame in sorted(other) if frame in canonical), None)
    alone = sorted(frame for frame in other if frame not in canonical)
    if clash is None or not alone:
        return
    raise InputError(
        f"{pattern}: {canonical[clash].name} and {other[clash][0]} are both frame {clash}, and "
        f"{other[alone[0]][0]} has no {pattern.format_number(alone[0])} twin: two sequences with different number "
        "paddings are in this folder and would be mixed; move the one you do not want elsewhere"
    )


def check_utf8(path: str, why: str = "so the image libraries cannot open it") -> None:
    """Refuse a path that is not valid UTF-8 (a folder named ``caf\\xe9`` copied from a Latin-1 share): Python
    carries its stray bytes along, but the image libraries take UTF-8 text only, so OpenImageIO failed with a
    traceback, OpenEXR called the file damaged, and an output folder was made before the first frame failed.
    Checked where a path comes in (:func:`parse_pattern`) and where frames come from a folder's listing;
    ``why``: what the name cannot be (the image libraries' words fit no model or saved job)."""
    if _encodes(path):
        return
    refusal = surrogate_path_error(path)  # (\ud800 in a job's JSON: valid JSON, and a name no disk can hold)
    if refusal:
        raise InputError(refusal)
    parts = Path(path).parts
    index = next(i for i, part in enumerate(parts) if not _encodes(part))
    name = shown_name(parts[index])
    kind = "file" if index == len(parts) - 1 else "folder"
    above = str(Path(*parts[:index])) if index else "."
    raise InputError(
        f"{shown_name(path)}: the {kind} name {name} is not valid UTF-8 (made on a Latin-1 system?), {why}; "
        "rename it to UTF-8, e.g. convmv -f latin1 -t utf8 --notest "
        f"{shlex.quote(above)}/*"
    )


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _from_disk(text: str) -> bool:
    """Whether ``text`` is a name the file system could have given: its stray bytes are escapes (U+DC80-U+DCFF,
    Python's ``surrogateescape``). Any other lone surrogate came from text (a JSON ``\\ud800``), which
    :func:`os.fsencode` itself cannot encode."""
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return True


def shown_name(text: str) -> str:
    """``text`` printable on one line whatever it holds, as the user typed it: a name's stray bytes as ``\\xe9``, a lone surrogate
    that no bytes make as ``\\ud800`` (printing either as it is raises UnicodeEncodeError)."""
    if _from_disk(text):
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def still_frame(file: Path) -> int:
    """The frame number a still stands for: the last run of digits in its name, else 1.

    ``plate.1001.exr`` given as a still is frame 1001, so an output ``clean.####.exr`` gets ``clean.1001.exr``.
    """
    runs = _DIGITS.findall(Path(file.name).stem)
    return int(runs[-1]) if runs else 1


def sequence_of_still(still: FramePattern) -> FramePattern | None:
    """The sequence a still's file is a frame of, or None: ``p/plate.1001.png`` beside ``p/plate.1002.png`` is frame
    1001 of ``p/plate.####.png``, typed where the sequence was meant (it was read as a still for every frame).
    Only a name that ends in a frame number counts, its digits alone or after ``.``, ``_`` or ``-``: digits after
    a letter are a version (``dmp_v2.png`` beside ``dmp_v1.png`` is one painting of several), and a file with no
    other of its name in the folder is a still."""
    name = still.prefix
    stem = Path(name).stem
    digits = re.search(r"\d+$", stem)
    if digits is None or stem[: digits.start()][-1:].isalpha():
        return None
    prefix, suffix = stem[: digits.start()], name[len(stem) :]
    if prefix.endswith("-") and prefix[-2:-1] in (".", "_"):  # plate.-005.exr: the frame's sign
        prefix = prefix[:-1]
    fits = re.compile(re.escape(prefix) + r"-?\d+" + re.escape(suffix))
    try:
        others = [n for n in os.listdir(still.folder) if n != name and fits.fullmatch(n)]
    except OSError:
        return None
    if not others:
        return None
    width = len(digits.group())
    return FramePattern(still.folder, prefix, suffix, padding=width, token="#" * width, kind="pattern")


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``frame2`` before ``frame10`` (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frames_in_folder(folder: Path, names: list[str]) -> dict[int, Path]:
    """Map frame number → file for a folder of frames (frame = last digit run of each name).

    All files must share one extension, carry a frame number and be named alike (one prefix and suffix around
    it: :func:`_check_named_alike`), and no two may share a frame number; otherwise the folder is ambiguous and
    this raises :class:`InputError` saying which files clash.
    """
    extensions = sorted({Path(n).suffix.lower() for n in names})
    if len(extensions) > 1:
        raise InputError(
            f"{folder}{os.sep}: holds images of several types ({', '.join(extensions)}); "
            "give a pattern like plate.####.exr instead of the folder"
        )
    found: dict[int, Path] = {}
    shapes: dict[str, tuple[str, str, int]] = {}
    for name in sorted(names, key=natural_key):
        numbered = _numbered(name)
        if numbered is None:
            raise InputError(
                f"{folder}{os.sep}: {name} has no frame number; move it out or give a pattern like plate.####.exr"
            )
        prefix, frame, suffix, width = numbered
        if frame in found:
            raise InputError(
                f"{folder}{os.sep}: {found[frame].name} and {name} are both frame {frame}; "
                "remove one or give a pattern like plate.####.exr"
            )
        found[frame] = folder / name
        shapes[name] = (prefix, suffix, width)
    _check_named_alike(folder, shapes)
    return found


def _numbered(name: str) -> tuple[str, int, str, int] | None:
    """``(prefix, frame, suffix, digits)`` of a frame file's name, the frame its last run of digits (``plate.-5.exr``,
    as Houdini writes negative frames, is frame -5 of ``plate.``); None where the name has no digits."""
    runs = list(_DIGITS.finditer(Path(name).stem))
    if not runs:
        return None
    last = runs[-1]
    prefix, frame = name[: last.start()], int(last.group())
    if last.start() >= 2 and name[last.start() - 1] == "-" and name[last.start() - 2] in "._":
        prefix, frame = prefix[:-1], -frame
    return prefix, frame, name[last.end() :], len(last.group())


def _check_named_alike(folder: Path, shapes: dict[str, tuple[str, str, int]]) -> None:
    """Refuse images in a folder of frames that are not named as most of them are (``reference_v2.png`` among
    ``plate.1001.png``...): the folder was described by its first file, and a stray grab was read as frame 2 of
    the shot, then called a gap of 998 frames to pass ``--skip-missing`` over, which filled it, as a neighbour of
    the real frames too. The sequence is the prefix and suffix most of its files have (the case of the letters
    aside: ``plate.1002.PNG`` saved by another tool is one of them); the others are named, with the pattern
    that reads the sequence alone."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, (prefix, suffix, _width) in shapes.items():
        groups.setdefault((prefix.lower(), suffix.lower()), []).append(name)
    if len(groups) < 2:
        return
    main = max(groups.values(), key=len)  # (the first of equals: the names come in natural order)
    strays = [name for name in shapes if name not in main]
    prefix, suffix, width = shapes[main[0]]
    sequence = folder / f"{prefix}{'#' * width}{suffix}"
    shown = ", ".join(strays[:3]) + (f" and {len(strays) - 3} more" if len(strays) > 3 else "")
    raise InputError(
        f"{folder}{os.sep}: {shown} {'is' if len(strays) == 1 else 'are'} not named like the folder's other "
        f"{len(main)} image(s), the sequence {sequence} (a stray file?); move {'it' if len(strays) == 1 else 'them'} "
        f"out of the folder, or give the sequence as {sequence}"
    )


def parse_pattern(spec: str | os.PathLike[str]) -> FramePattern:
    """Read a sequence spec: a frame pattern, an existing folder of frames, or a single (still) image.

    Only the file name may hold a frame token; more than one token is an :class:`InputError`. A spec with no
    token is a still, unless it names an existing folder. Nothing is checked on disk beyond that, so the
    same function reads output patterns. A relative spec where the folder aifx runs in no longer exists is
    :func:`~.guard.current_folder`'s line, here where every command reads its paths: there ``p/`` was "folder
    not found" and ``aifx info plate.####.exr`` "no frames found", as if the path were wrong.
    """
    text = os.fspath(spec).strip()
    if not text:
        raise InputError("empty sequence path; give a pattern like plate.####.exr, a folder, or an image")
    check_utf8(text)
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        current_folder(text)
    if path.is_dir():
        return _folder_pattern(path)
    if text.endswith(("/", os.sep)):
        raise InputError(f"{text}: folder not found; check the path")
    if path.is_file():
        # An existing file is a still even if its name happens to hold '#', '@' or '%d'.
        return FramePattern(folder=path.parent, prefix=path.name, suffix="", kind="still")
    folder, name = path.parent, path.name
    token = frame_token(name, text)
    # ('#' and '@' are common in folder names, /home/jane@studio.com or shot#12: only a name without a token
    # under a missing folder that has one is a token put in the wrong place.)
    if token is None and FRAME_TOKEN.search(str(folder)) and not folder.exists():
        raise InputError(f"{text}: the frame token must be in the file name, not the folder")
    if token is None:
        return FramePattern(folder=folder, prefix=name, suffix="", kind="still")
    return FramePattern(
        folder=folder,
        prefix=name[: token.start()],
        suffix=name[token.end() :],
        padding=token_padding(token),
        token=token.group(),
        kind="pattern",
    )


def _folder_pattern(folder: Path) -> FramePattern:
    """A folder of frames; ``prefix``/``suffix`` are filled from its first file by :meth:`discover`."""
    return FramePattern(folder=folder, prefix="", suffix="", kind="folder")


def beside_output(output_pattern: str | FramePattern, suffix: str) -> Path:
    """The hidden file (or folder) an output keeps beside its frames: ``out/clean.####.exr`` + ``.aifx.json``
    → ``out/.clean.####.exr.aifx.json``, named for the pattern's ``#`` form, so ``clean.%04d.exr``,
    ``clean.$F4.exr`` and ``clean.####.exr``, which name the same files, share one manifest, lock and cache
    (spelled apart, a second run with other settings took the frames as its own and resumed on them). Given
    the output as opened (:func:`~aifx_core.sequence.reader.output_pattern`, :meth:`FramePattern.settled` over
    the shot), ``clean.#.exr`` and ``clean.$F.exr`` over frames 1001-1100 share them with ``clean.####.exr`` too;
    given as text, the padding is the one typed."""
    if isinstance(output_pattern, FramePattern):
        pattern = Path(output_pattern.hash_form())
    else:
        try:
            pattern = Path(parse_pattern(output_pattern).hash_form())
        except InputError:  # (refused where the output is opened; the name is only a fallback)
            pattern = Path(output_pattern)
    return pattern.parent / f".{pattern.name}{suffix}"


def earlier_beside(output: str | FramePattern, suffix: str) -> list[Path]:
    """Where an older aifx kept what :func:`beside_output` names for ``output`` (as opened), newest first: under
    the ``#`` form of another padding naming the same files (:meth:`FramePattern.alike`:
    ``.clean.#.exr.aifx.json`` for ``clean.####.exr`` over frames 1001+, to 2026-12-06), and under the pattern
    as spelled (``.clean.%04d.exr.aifx.json``, before that).
    Read where the current name is missing, so an output begun before keeps resuming."""
    typed = Path(str(output))
    if isinstance(output, FramePattern):
        names = [beside_output(form, suffix) for form in output.alike()]
    else:
        names = [beside_output(str(output), suffix)]
    names.append(typed.parent / f".{typed.name}{suffix}")
    current = beside_output(output, suffix)
    return [name for i, name in enumerate(names) if name != current and name not in names[:i]]
